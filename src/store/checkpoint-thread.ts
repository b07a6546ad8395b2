/**
 * A thread that checkpoints the store's WAL on its own connection, once a
 * second (PASSIVE: never waits for readers or writers). A checkpoint copies
 * pages and syncs the file, which took 11–22 ms on the request thread.
 * Started by `moveCheckpointsToThread`; messages in: {path, intervalMs}.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number }>) => {
  const { path, intervalMs } = event.data;
  try {
    const db = new Database(path, { readwrite: true, create: false });
    db.exec("PRAGMA busy_timeout = 5000");
    setInterval(() => {
      try {
        db.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // Busy or closing: the next tick tries again.
      }
    }, intervalMs);
    self.postMessage({ ready: true });
  } catch (error) {
    self.postMessage({ ready: false, error: (error as Error).message });
  }
};
