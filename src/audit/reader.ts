import type { Store } from "../store/index.ts";
import type { ReadAnswer, ReadArgs, ReadName } from "./reads.ts";

/**
 * Where the reader thread's module is. In the compiled binary every module is one file at the root of Bun's
 * embedded file system, and the thread's module is an entrypoint of its own beside it (src/build/compile.ts);
 * from source it is the file next to this one.
 */
const READER_THREAD = import.meta.url.includes("/$bunfs/")
  ? new URL("./audit/reader-thread.js", import.meta.url).href
  : new URL("./reader-thread.ts", import.meta.url).href;

/** The reader thread, started at the first read and kept: the TUI's Overview asks four times every 5 s. */
let readerThread: { worker: Worker; nextId: number; waiting: Map<number, (message: { answer?: unknown; error?: string }) => void> } | undefined;

/**
 * Runs one of the reads of src/audit/reads.ts on the reader thread, with a read-only connection of its own, for
 * the serving gateway: the requests it answers meanwhile (tool calls among them) do not wait for a read that
 * walks a year of audit records. One thread serves every read of the process, in the order asked
 * (a verification lets the reads asked meanwhile run between its pages).
 */
export function readInThread<N extends ReadName>(store: Store, read: N, ...args: ReadArgs<N>): Promise<ReadAnswer<N>> {
  if (!readerThread) {
    const worker = new Worker(READER_THREAD);
    // An idle reader thread must not keep the process alive at shutdown.
    worker.unref();
    const thread = { worker, nextId: 1, waiting: new Map<number, (message: { answer?: unknown; error?: string }) => void>() };
    worker.onmessage = (event: MessageEvent<{ id: number; answer?: unknown; error?: string }>) => {
      thread.waiting.get(event.data.id)?.(event.data);
      thread.waiting.delete(event.data.id);
    };
    worker.onerror = (event) => {
      // The thread is gone: every read waiting is answered with why, and the next one starts another.
      for (const answer of thread.waiting.values()) answer({ error: event.message });
      if (readerThread === thread) readerThread = undefined;
      worker.terminate();
    };
    readerThread = thread;
  }
  const thread = readerThread;
  const id = thread.nextId++;
  return new Promise<ReadAnswer<N>>((resolve, reject) => {
    thread.waiting.set(id, (message) => (message.error === undefined ? resolve(message.answer as ReadAnswer<N>) : reject(new Error(`the database could not be read: ${message.error}`))));
    thread.worker.postMessage({ id, path: store.path, read, args });
  });
}
