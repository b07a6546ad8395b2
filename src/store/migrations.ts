import type { Database } from "bun:sqlite";
import { configError } from "../errors/index.ts";

/**
 * Forward-only schema migrations, embedded in the binary. The database's
 * `PRAGMA user_version` is the number of the last one applied. Append only:
 * never edit a migration that has shipped.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "secrets and admin tokens",
    sql: `
      CREATE TABLE key_versions (
        version INTEGER PRIMARY KEY,
        check_nonce BLOB NOT NULL,
        check_ciphertext BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE secrets (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        key_version INTEGER NOT NULL REFERENCES key_versions(version),
        nonce BLOB NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE admin_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
    `,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export function schemaVersionOf(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Refuses a database written by a newer mintgate before anything touches it. */
export function assertSchemaNotNewer(db: Database, path: string): number {
  const version = schemaVersionOf(db);
  if (version > LATEST_SCHEMA_VERSION) {
    throw configError(
      `The database ${path} has schema version ${version}, newer than this mintgate understands (${LATEST_SCHEMA_VERSION}); run the newer mintgate release or restore a backup of the data directory.`,
    );
  }
  return version;
}

/** Applies every pending migration in one transaction; returns how many ran. */
export function migrate(db: Database, path: string): number {
  const current = assertSchemaNotNewer(db, path);
  const pending = MIGRATIONS.filter((m) => m.version > current);
  if (pending.length === 0) return 0;
  db.transaction(() => {
    for (const migration of pending) {
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    }
  }).immediate();
  return pending.length;
}
