/**
 * A thread that checkpoints the store's WAL on its own connection, once a
 * second (PASSIVE: never waits for readers or writers). A checkpoint copies
 * pages and syncs the file, which took 11–22 ms on the request thread.
 * Started by `moveCheckpointsToThread`; messages in: {path, intervalMs,
 * walLimitBytes}, then {stop: true}, answered once the connection is closed.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number; walLimitBytes: number } | { stop: true }>) => {
  if ("stop" in event.data) {
    // Closed, not just dropped with the thread: the gateway's own close can then checkpoint and remove the WAL files.
    clearInterval(timer);
    db?.close();
    db = undefined;
    self.postMessage({ stopped: true });
    return;
  }
  const { path, intervalMs, walLimitBytes } = event.data;
  try {
    const connection = new Database(path, { readwrite: true, create: false });
    db = connection;
    connection.exec("PRAGMA busy_timeout = 5000");
    const pageBytes = (connection.query("PRAGMA page_size").get() as { page_size: number }).page_size;
    const passive = connection.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    timer = setInterval(() => {
      try {
        const { log } = passive.get() as { log: number };
        // Under sustained writes a passive checkpoint never catches up, so the WAL is never started over and
        // grows by every commit (300 MB in 80,000 calls). Past the limit, writers wait once while the WAL is
        // checkpointed whole and emptied.
        if (log * pageBytes > walLimitBytes) connection.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } catch {
        // Busy or closing: the next tick tries again.
      }
    }, intervalMs);
    self.postMessage({ ready: true });
  } catch (error) {
    self.postMessage({ ready: false, error: (error as Error).message });
  }
};
