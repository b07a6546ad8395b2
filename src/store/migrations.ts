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
  {
    version: 2,
    name: "connectors, virtual MCPs, access tokens, call records",
    sql: `
      CREATE TABLE connectors (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('stdio', 'http', 'sse', 'builtin')),
        spec TEXT NOT NULL,
        timeout_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE virtual_mcps (
        id TEXT PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        new_tools TEXT NOT NULL CHECK (new_tools IN ('auto', 'approve')),
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE virtual_mcp_connectors (
        virtual_mcp_id TEXT NOT NULL REFERENCES virtual_mcps(id) ON DELETE CASCADE,
        connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE RESTRICT,
        position INTEGER NOT NULL,
        prefix TEXT NOT NULL,
        curation TEXT NOT NULL,
        PRIMARY KEY (virtual_mcp_id, connector_id)
      );
      CREATE INDEX virtual_mcp_connectors_by_connector ON virtual_mcp_connectors(connector_id);
      CREATE TABLE tool_approvals (
        virtual_mcp_id TEXT NOT NULL REFERENCES virtual_mcps(id) ON DELETE CASCADE,
        connector_id TEXT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
        tool_name TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        approved_at INTEGER NOT NULL,
        approved_by TEXT NOT NULL,
        PRIMARY KEY (virtual_mcp_id, connector_id, tool_name)
      );
      CREATE TABLE access_tokens (
        id TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        virtual_mcp_id TEXT REFERENCES virtual_mcps(id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
      CREATE TABLE call_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        subject TEXT NOT NULL,
        token_id TEXT,
        session_id TEXT,
        virtual_mcp TEXT NOT NULL,
        connector TEXT,
        method TEXT NOT NULL,
        exposed_name TEXT NOT NULL,
        upstream_name TEXT,
        arguments TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied', 'timeout', 'cancelled')),
        error TEXT,
        duration_ms REAL NOT NULL
      );
      CREATE INDEX call_records_by_time ON call_records(at);
      CREATE TABLE connector_catalogues (
        connector_id TEXT PRIMARY KEY REFERENCES connectors(id) ON DELETE CASCADE,
        catalogue TEXT NOT NULL,
        fetched_at INTEGER NOT NULL
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
