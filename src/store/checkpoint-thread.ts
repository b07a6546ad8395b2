/**
 * A thread that checkpoints the store's WAL on its own connection, once a
 * second (PASSIVE: never waits for readers or writers). A checkpoint copies
 * pages and syncs the file, which took 11–22 ms on the request thread.
 * Started by `moveCheckpointsToThread`; messages in: {path, intervalMs},
 * then {stop: true}, answered once the connection is closed.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number } | { stop: true }>) => {
  if ("stop" in event.data) {
    // Closed, not just dropped with the thread: the gateway's own close can then checkpoint and remove the WAL files.
    clearInterval(timer);
    db?.close();
    db = undefined;
    self.postMessage({ stopped: true });
    return;
  }
  const { path, intervalMs } = event.data;
  try {
    db = new Database(path, { readwrite: true, create: false });
    db.exec("PRAGMA busy_timeout = 5000");
    timer = setInterval(() => {
      try {
        db?.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // Busy or closing: the next tick tries again.
      }
    }, intervalMs);
    self.postMessage({ ready: true });
  } catch (error) {
    self.postMessage({ ready: false, error: (error as Error).message });
  }
};
