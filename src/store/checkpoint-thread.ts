/**
 * A thread that checkpoints the store's WAL on its own connection, once a
 * second (PASSIVE: never waits for readers or writers), and starts the WAL
 * over once it passes its limit. A checkpoint copies pages and syncs the
 * file, which took 11–22 ms on the request thread.
 * Started by `moveCheckpointsToThread`; messages in: {path, intervalMs,
 * walLimitBytes}, then {stop: true}, answered once the connection is closed.
 * Messages out, besides those answers: {diskFull: true} when checkpoints
 * start failing for lack of disk space (the database file cannot grow, so
 * the WAL cannot be started over and grows instead), {diskFull: false} once
 * one succeeds again; once each, however many ticks fail in between.
 */
import { Database } from "bun:sqlite";

declare const self: Worker;

/** Passive passes at most before the WAL is started over, and the backlog that counts as caught up. */
const CATCH_UP_PASSES = 4;
const CAUGHT_UP_BYTES = 1024 * 1024;

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
/** Whether the last checkpoint failed for lack of disk space (told to the gateway when this changes). */
let diskFull = false;

function noteDiskFull(full: boolean): void {
  if (full === diskFull) return;
  diskFull = full;
  self.postMessage({ diskFull: full });
}

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
    // The longest the start-over waits (writers held off meanwhile) for a reader that began just before it.
    connection.exec("PRAGMA busy_timeout = 250");
    const pageBytes = (connection.query("PRAGMA page_size").get() as { page_size: number }).page_size;
    const passive = connection.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    const restart = connection.prepare("PRAGMA wal_checkpoint(RESTART)");
    timer = setInterval(() => {
      try {
        const first = passive.get() as { log: number; checkpointed: number };
        noteDiskFull(false);
        // Under sustained writes a passive checkpoint never catches up, so the WAL is never started over and
        // grows by every commit (300 MB in 80,000 calls). Past the limit it is started over, which holds writers
        // off while the frames not yet copied are copied and the database synced. Passive passes first, each
        // copying what came in during the one before, leave that last step little to do: it held the gateway's
        // event loop 50–120 ms at 64 KiB per call when it followed a single pass.
        if (first.log * pageBytes <= walLimitBytes) return;
        let last = first;
        for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
          const next = passive.get() as { log: number; checkpointed: number };
          const copied = next.checkpointed - last.checkpointed;
          last = next;
          if (copied * pageBytes <= CAUGHT_UP_BYTES) break;
        }
        // A reader still on older frames (a backup, an export, a sqlite3 shell) stopped the pass short: starting
        // over would hold writers off until that reader ends. The WAL keeps growing meanwhile, as it must.
        if (last.checkpointed < last.log) return;
        restart.get();
      } catch (error) {
        // Busy or closing: the next tick tries again. Out of disk space: said once, and the next tick tries again too.
        if ((error as { code?: unknown }).code === "SQLITE_FULL") noteDiskFull(true);
      }
    }, intervalMs);
    self.postMessage({ ready: true });
  } catch (error) {
    self.postMessage({ ready: false, error: (error as Error).message });
  }
};
