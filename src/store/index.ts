import type { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { configError, isDatabaseBusy } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { openSqlite, wrapWithDrizzle } from "./connection.ts";
import { assertSchemaNotNewer, LATEST_SCHEMA_VERSION, migrate, schemaVersionOf } from "./migrations.ts";
import { AdminTokenRepository } from "./repositories/admin-tokens.ts";
import { SecretRepository } from "./repositories/secrets.ts";
import { AccessTokenRepository } from "./repositories/access-tokens.ts";
import { CallRecordRepository } from "./repositories/call-records.ts";
import { GatewayConfigRepository } from "./repositories/gateway-config.ts";
import { AuthEventRepository } from "./repositories/auth-events.ts";
import { AuditRecordRepository } from "./repositories/audit-records.ts";
import { UserRepository } from "./repositories/users.ts";
import { IdentityProviderRepository } from "./repositories/identity-providers.ts";
import { OAuthClientRepository } from "./repositories/oauth-clients.ts";
import { OAuthGrantRepository } from "./repositories/oauth-grants.ts";
import { UsageStatsRepository } from "./repositories/usage-stats.ts";

import type { KeyVersionRow } from "./repositories/secrets.ts";
export type { SecretRow, SealedValue, KeyVersionRow } from "./repositories/secrets.ts";
export type { AdminTokenRow } from "./repositories/admin-tokens.ts";
export type { AccessTokenRow } from "./repositories/access-tokens.ts";
export type { CallRecord, CallOutcome } from "./repositories/call-records.ts";
export type { ToolApproval } from "./repositories/gateway-config.ts";
export type { AuthEventRow, NewAuthEvent } from "./repositories/auth-events.ts";
export { auditHash, legacyAuditHash, appendAuditRows, GENESIS_HASH } from "./repositories/audit-records.ts";
export type { AuditRow, NewAuditRow, AuditKind, AuditOutcome, AuditFilter, AuditCheckpointRow } from "./repositories/audit-records.ts";
export { AUDIT_KINDS, AUDIT_OUTCOMES } from "./repositories/audit-records.ts";
export type { AuditRecordRepository, AuthEventRepository };
export type { UserRow, UserIdentityRow, UserGroupRow } from "./repositories/users.ts";
export type { IdentityProviderRow } from "./repositories/identity-providers.ts";
export type { OAuthClientRow, OAuthClientKind } from "./repositories/oauth-clients.ts";
export type { OAuthTokenLookup, OAuthCodeRow, OAuthGrantRow, GrantListing, OAuthConsentRow } from "./repositories/oauth-grants.ts";
export type { SecretRepository, AdminTokenRepository };
export { USAGE_GROUPINGS, type UsageGrouping, type UsageRow, type UsageTimeline, type UsageStatsRepository } from "./repositories/usage-stats.ts";
export { LATEST_SCHEMA_VERSION };

/** The open store: repositories plus a transaction boundary. Drizzle stays inside. */
export interface Store {
  readonly path: string;
  readonly secrets: SecretRepository;
  readonly adminTokens: AdminTokenRepository;
  readonly gatewayConfig: GatewayConfigRepository;
  readonly accessTokens: AccessTokenRepository;
  readonly callRecords: CallRecordRepository;
  readonly authEvents: AuthEventRepository;
  /** The audit trail (src/audit writes it through `appendAuditRows`). */
  readonly audit: AuditRecordRepository;
  readonly users: UserRepository;
  readonly identityProviders: IdentityProviderRepository;
  readonly oauthClients: OAuthClientRepository;
  readonly oauthGrants: OAuthGrantRepository;
  /** Usage analytics read from the audit trail (src/analytics). */
  readonly usage: UsageStatsRepository;
  readonly schemaVersion: number;
  /** Runs fn in one immediate (write-locking) transaction. */
  transaction<T>(fn: () => T): T;
  /**
   * Runs fn in one read transaction: all its reads see the database as of the
   * first, while other connections (a serving gateway) go on committing.
   */
  readSnapshot<T>(fn: () => T): T;
  /** Changes whenever another connection (another process) commits; see `watchStore`. */
  dataVersion(): number;
  /** Stops this connection's WAL checkpoints (the checkpoint thread runs them instead). */
  stopCheckpoints(): void;
  /**
   * Writes a consistent copy of the whole database to `path` (which must not
   * exist, or be empty), while other connections go on reading and writing.
   */
  backupTo(path: string): void;
  /** True while the connection is open and the schema is current. */
  isReady(): boolean;
  close(): void;
}

const CHECKPOINT_INTERVAL_MS = 1000;
/** The WAL's size past which the checkpoint thread starts it over even while writes go on. */
const WAL_LIMIT_BYTES = 64 * 1024 * 1024;

/** Opens (creating if asked) the database and applies pending migrations. */
export function openStore(path: string, options: { create?: boolean } = {}): Store {
  const exists = existsSync(path);
  if (!exists && !options.create) {
    throw configError(`No database at ${path}; run \`mintgate init\` first or point --data at your data directory.`);
  }
  let sqlite;
  try {
    sqlite = openSqlite(path, { create: options.create ?? false });
  } catch (error) {
    // Busy is no matter of permissions: said as such where errors are turned into sentences.
    if (isDatabaseBusy(error)) throw error;
    throw configError(`Cannot open the database ${path} (${(error as Error).message}); check the file's permissions.`, error);
  }
  if (!exists) chmodSync(path, 0o600);
  try {
    const before = exists ? schemaVersionOf(sqlite) : undefined;
    // Once per upgrade, whichever command opens the database first (CLI commands log warnings only): the admin
    // sees it happened, and that there is no way back short of a backup.
    // Each migration by its name (no name holds "; "), which says what it changes: some change rows (revoke a disabled person's sign-ins), not only tables.
    const applied = migrate(sqlite, path);
    if (applied.length > 0 && before !== undefined) {
      log.warn("database upgraded; older mintgate versions can no longer open it", {
        path,
        fromSchema: before,
        toSchema: LATEST_SCHEMA_VERSION,
        migrations: applied.map((m) => `${m.version} ${m.name}`).join("; "),
      });
    }
  } catch (error) {
    sqlite.close();
    throw error;
  }
  const db = wrapWithDrizzle(sqlite);
  let open = true;
  // A PASSIVE checkpoint never waits for readers or writers; on a timer it keeps the WAL
  // short without landing in the middle of a request.
  const checkpoints = setInterval(() => {
    if (open) sqlite.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }, CHECKPOINT_INTERVAL_MS);
  checkpoints.unref();
  const dataVersion = sqlite.prepare("PRAGMA data_version");
  return {
    path,
    secrets: new SecretRepository(db),
    adminTokens: new AdminTokenRepository(db),
    gatewayConfig: new GatewayConfigRepository(db),
    accessTokens: new AccessTokenRepository(db),
    callRecords: new CallRecordRepository(db),
    authEvents: new AuthEventRepository(db),
    audit: new AuditRecordRepository(db),
    users: new UserRepository(db),
    identityProviders: new IdentityProviderRepository(db),
    oauthClients: new OAuthClientRepository(db),
    oauthGrants: new OAuthGrantRepository(db),
    usage: new UsageStatsRepository(db),
    schemaVersion: schemaVersionOf(sqlite),
    transaction: immediateTransactions(sqlite),
    readSnapshot: (fn) => sqlite.transaction(fn).deferred(),
    dataVersion: () => (dataVersion.get() as { data_version: number }).data_version,
    stopCheckpoints: () => clearInterval(checkpoints),
    // VACUUM INTO reads one snapshot (a read transaction: writers are not blocked) and writes it compacted.
    backupTo: (target) => void sqlite.query("VACUUM INTO ?").run(target),
    isReady: () => open && schemaVersionOf(sqlite) === LATEST_SCHEMA_VERSION,
    close() {
      if (!open) return;
      open = false;
      clearInterval(checkpoints);
      sqlite.close();
    },
  };
}

/** What can be learned about a database without writing to it. */
export interface StoreInspection {
  schemaVersion: number;
  /** No table, index or anything else: a file SQLite takes for a new database (an empty one included). */
  empty: boolean;
  currentKey: KeyVersionRow | undefined;
  /** The names of the secrets encrypted with it, for the sentence that refuses a wrong or missing key. */
  secretNames: string[];
}

/**
 * Reads the database without writing to it: used to check the schema version
 * and the master key before anything may modify the file. The data directory's
 * own database (`inPlace`) is opened read-write though only read, as found (not
 * switched to WAL): a read-only connection to a database in WAL mode makes its
 * -wal and -shm files and cannot remove them, so each refusal (a newer schema,
 * a wrong key) left them behind; a read-write one removes them on close when it
 * is the last (after copying in what a killed process left in the WAL, which
 * changes no row), and SQLite falls back to read-only for a file it may not
 * write. A backup to restore is opened read-only: it may lie where mintgate may
 * not write.
 */
export function inspectStore(path: string, options: { inPlace?: boolean } = {}): StoreInspection {
  const sqlite = openSqlite(path, options.inPlace ? { asFound: true } : { readonly: true });
  try {
    const schemaVersion = assertSchemaNotNewer(sqlite, path);
    // key_versions and secrets exist from schema version 1 on.
    if (schemaVersion < 1) {
      const empty = sqlite.query("SELECT 1 FROM sqlite_master LIMIT 1").get() === null;
      return { schemaVersion, empty, currentKey: undefined, secretNames: [] };
    }
    const currentKey = new SecretRepository(wrapWithDrizzle(sqlite)).currentKeyVersion();
    // The name alone: this runs before migrations, on a database of any earlier schema.
    const secretNames = (sqlite.query("SELECT name FROM secrets ORDER BY name").all() as { name: string }[]).map((row) => row.name);
    return { schemaVersion, empty: false, currentKey, secretNames };
  } finally {
    sqlite.close();
  }
}

/** What a backup holds, read back from the copy itself. */
export interface BackupCheck {
  schemaVersion: number;
  /** The master key version its secrets are encrypted under (the key that must go with it). */
  keyVersion: number | undefined;
  auditRecords: number;
}

/** Reads a database copy back: SQLite's integrity check, then what it holds. Throws when the copy is damaged. */
export function checkBackup(path: string): BackupCheck {
  const sqlite = openSqlite(path, { readonly: true });
  try {
    const problems = (sqlite.query("PRAGMA quick_check").all() as { quick_check: string }[]).map((row) => row.quick_check);
    if (problems.length !== 1 || problems[0] !== "ok") throw new Error(`the copy at ${path} fails SQLite's integrity check: ${problems.slice(0, 3).join("; ")}`);
    const schemaVersion = assertSchemaNotNewer(sqlite, path);
    // Every mintgate database has run migration 1: version 0 is some other program's SQLite file.
    if (schemaVersion === 0) throw new Error("it is an SQLite database, but not one mintgate wrote");
    const keyVersion = schemaVersion >= 1 ? new SecretRepository(wrapWithDrizzle(sqlite)).currentKeyVersion()?.version : undefined;
    // Before schema 4 (a copy the sqlite3 shell made, as the README once advised) the trail was two tables, which migration 4 merges.
    const auditRecords = (sqlite.query(schemaVersion >= 4 ? "SELECT count(*) AS n FROM audit_records" : "SELECT (SELECT count(*) FROM call_records) + (SELECT count(*) FROM auth_events) AS n").get() as { n: number }).n;
    return { schemaVersion, keyVersion, auditRecords };
  } finally {
    sqlite.close();
  }
}

/**
 * Writes one consistent snapshot of the database at `source` to the new file `target`, through SQLite: commits still in
 * its write-ahead log (a gateway killed before its checkpoint) are in the copy, where a copy of the file alone lost them.
 */
export function snapshotDatabase(source: string, target: string): void {
  const sqlite = openSqlite(source, { readonly: true });
  try {
    sqlite.query("VACUUM INTO ?").run(target);
  } finally {
    sqlite.close();
  }
}

/**
 * Runs fn in BEGIN IMMEDIATE … COMMIT with statements prepared once: Bun's
 * `db.transaction(fn)` builds four wrapper functions and their properties on
 * every call, and the audit trail's group commit calls this for every batch.
 * Inside a transaction already, Bun's savepoints nest it as before.
 */
function immediateTransactions(sqlite: Database): <T>(fn: () => T) => T {
  const begin = sqlite.prepare("BEGIN IMMEDIATE");
  const commit = sqlite.prepare("COMMIT");
  const rollback = sqlite.prepare("ROLLBACK");
  return <T>(fn: () => T): T => {
    if (sqlite.inTransaction) return sqlite.transaction(fn).immediate();
    begin.run();
    try {
      const result = fn();
      commit.run();
      return result;
    } catch (error) {
      if (sqlite.inTransaction) rollback.run();
      throw error;
    }
  };
}

/**
 * Calls `onChange` after another process commits to the store (for example
 * `mintgate apply` run beside a serving gateway). Returns a function that stops watching.
 */
export function watchStore(store: Store, onChange: () => void, intervalMs = 1000): () => void {
  let seen = store.dataVersion();
  const timer = setInterval(() => {
    const now = store.dataVersion();
    if (now !== seen) {
      seen = now;
      onChange();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Where the checkpoint thread's module is. In the compiled binary every module
 * is one file at the root of Bun's embedded file system, and the thread's
 * module is a second entrypoint beside it (src/build/compile.ts); from source
 * it is the file next to this one.
 */
const CHECKPOINT_THREAD = import.meta.url.includes("/$bunfs/")
  ? new URL("./store/checkpoint-thread.js", import.meta.url).href
  : new URL("./checkpoint-thread.ts", import.meta.url).href;

/** A read-only connection of its own to the database at `path`, for reads that walk the audit trail (see openReader). */
export interface StoreReader {
  audit: AuditRecordRepository;
  authEvents: AuthEventRepository;
  usage: UsageStatsRepository;
  close(): void;
}

/**
 * Opens a read-only connection to the database at `path` (the audit reader thread's, src/audit/reader-thread.ts).
 * `snapshot`: it holds one read transaction until closed, so a long read that yields between pages (verifying the
 * chain) sees the database as it was when it began, while the gateway goes on committing.
 */
export function openReader(path: string, options: { snapshot?: boolean } = {}): StoreReader {
  const sqlite = openSqlite(path, { readonly: true });
  const db = wrapWithDrizzle(sqlite);
  if (options.snapshot) sqlite.exec("BEGIN");
  return {
    audit: new AuditRecordRepository(db),
    authEvents: new AuthEventRepository(db),
    usage: new UsageStatsRepository(db),
    close: () => {
      if (options.snapshot) sqlite.exec("COMMIT");
      sqlite.close();
    },
  };
}

/**
 * Moves the store's WAL checkpoints to a thread of their own, so a
 * checkpoint's I/O never lands in the middle of a request (the gateway does
 * this; short-lived commands keep the in-thread timer). If the thread cannot
 * start, the in-thread timer stays. Returns a function that closes the thread's connection and ends it.
 */
export async function moveCheckpointsToThread(
  store: Store,
  options: {
    walLimitBytes?: number;
    /** Told when checkpoints start failing for lack of disk space (true) and when one succeeds again (false). */
    onDiskFull?: (full: boolean) => void;
  } = {},
): Promise<() => Promise<void>> {
  const worker = new Worker(CHECKPOINT_THREAD);
  const started = await new Promise<{ ready: boolean; error?: string }>((resolve) => {
    worker.onmessage = (event: MessageEvent<{ ready: boolean; error?: string }>) => resolve(event.data);
    worker.onerror = (event) => resolve({ ready: false, error: event.message });
    worker.postMessage({ path: store.path, intervalMs: CHECKPOINT_INTERVAL_MS, walLimitBytes: options.walLimitBytes ?? WAL_LIMIT_BYTES });
  });
  if (!started.ready) {
    worker.terminate();
    throw new Error(`the checkpoint thread did not start: ${started.error ?? "unknown"}`);
  }
  // Unreferenced: the thread never keeps the process alive on its own.
  worker.unref();
  store.stopCheckpoints();
  worker.onmessage = (event: MessageEvent<{ diskFull?: boolean }>) => {
    if (typeof event.data.diskFull === "boolean") options.onDiskFull?.(event.data.diskFull);
  };
  return async () => {
    const stopped = new Promise<void>((resolve) => (worker.onmessage = (event: MessageEvent<{ stopped?: boolean }>) => event.data.stopped && resolve()));
    worker.postMessage({ stop: true });
    // Bounded: a thread that does not answer (a busy machine) is ended anyway, and only its WAL files stay behind.
    await Promise.race([stopped, Bun.sleep(3000)]);
    worker.terminate();
  };
}
