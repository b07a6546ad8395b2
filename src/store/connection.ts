import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { isDatabaseBusy } from "../errors/index.ts";
import * as schema from "./schema.ts";

export type StoreDb = BunSQLiteDatabase<typeof schema> & { $client: Database };

/**
 * Opens the SQLite file with the settings every connection needs. `asFound`: read-write but with none of
 * the settings that change the file (journal mode), for a connection that only reads (see inspectStore).
 */
export function openSqlite(path: string, options: { readonly?: boolean; create?: boolean; asFound?: boolean } = {}): Database {
  const db = options.readonly
    ? new Database(path, { readonly: true })
    : new Database(path, { create: options.create ?? false, readwrite: true, strict: true });
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (!options.readonly && !options.asFound) {
    useWriteAheadLog(db);
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    // Checkpoints run on a timer (see openStore), not inside whichever write crosses the threshold.
    db.exec("PRAGMA wal_autocheckpoint = 0");
    // A WAL that grew in a burst is cut back to this when it starts over, rather than keeping its size on disk.
    db.exec("PRAGMA journal_size_limit = 67108864");
  }
  return db;
}

/** How long a connection waits for another's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Switches a database in rollback-journal mode (a copy the sqlite3 shell made) to WAL; a no-op for one in WAL already.
 * The switch takes the file's exclusive lock: when two processes make it at once, SQLite answers one of them
 * SQLITE_BUSY at once rather than wait (both waiting would deadlock), so that one tries again until the busy timeout.
 */
function useWriteAheadLog(db: Database): void {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (error) {
      if (!isDatabaseBusy(error) || Date.now() >= deadline) throw error;
      Bun.sleepSync(10);
    }
  }
}

export function wrapWithDrizzle(db: Database): StoreDb {
  return drizzle({ client: db, schema });
}
