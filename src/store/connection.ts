import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema.ts";

export type StoreDb = BunSQLiteDatabase<typeof schema> & { $client: Database };

/** Opens the SQLite file with the settings every connection needs. */
export function openSqlite(path: string, options: { readonly?: boolean; create?: boolean } = {}): Database {
  const db = options.readonly
    ? new Database(path, { readonly: true })
    : new Database(path, { create: options.create ?? false, readwrite: true, strict: true });
  db.exec("PRAGMA busy_timeout = 5000");
  if (!options.readonly) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    // Checkpoints run on a timer (see openStore), not inside whichever write crosses the threshold.
    db.exec("PRAGMA wal_autocheckpoint = 0");
    // A WAL that grew in a burst is cut back to this when it starts over, rather than keeping its size on disk.
    db.exec("PRAGMA journal_size_limit = 67108864");
  }
  return db;
}

export function wrapWithDrizzle(db: Database): StoreDb {
  return drizzle({ client: db, schema });
}
