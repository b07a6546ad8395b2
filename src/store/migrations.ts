import type { Database } from "bun:sqlite";
import { canonicalEmail } from "../email/index.ts";
import { configError, conflict } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { auditHash, GENESIS_HASH } from "./repositories/audit-records.ts";

/**
 * Forward-only schema migrations, embedded in the binary. The database's
 * `PRAGMA user_version` is the number of the last one applied. Append only:
 * never edit a migration that has shipped.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: string; /** Runs after the SQL, in the same transaction. */ run?: (db: Database) => void }[] = [
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
  {
    version: 3,
    name: "people, sign-in providers, OAuth clients, grants and auth events",
    sql: `
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        name TEXT,
        role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        password_hash TEXT,
        disabled_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_sign_in_at INTEGER
      );
      CREATE INDEX users_by_email ON users(email);
      CREATE TABLE identity_providers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('okta', 'google', 'entra', 'oidc')),
        issuer TEXT NOT NULL,
        client_id TEXT NOT NULL,
        client_secret_name TEXT NOT NULL,
        settings TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE user_identities (
        provider TEXT NOT NULL,
        subject TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        email TEXT,
        claims TEXT,
        created_at INTEGER NOT NULL,
        last_sign_in_at INTEGER,
        PRIMARY KEY (provider, subject)
      );
      CREATE INDEX user_identities_by_user ON user_identities(user_id);
      CREATE TABLE user_groups (
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        group_name TEXT NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (user_id, group_name, source)
      );
      CREATE TABLE oauth_clients (
        client_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('cimd', 'dcr', 'static')),
        name TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        grant_types TEXT NOT NULL,
        token_endpoint_auth_method TEXT NOT NULL,
        secret_hash TEXT,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE TABLE oauth_consents (
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_id)
      );
      CREATE TABLE oauth_grants (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        virtual_mcp_id TEXT NOT NULL REFERENCES virtual_mcps(id) ON DELETE CASCADE,
        scope TEXT NOT NULL,
        refreshable INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        revoked_reason TEXT
      );
      CREATE INDEX oauth_grants_by_user ON oauth_grants(user_id);
      CREATE TABLE oauth_codes (
        code_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        virtual_mcp_id TEXT NOT NULL REFERENCES virtual_mcps(id) ON DELETE CASCADE,
        redirect_uri TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        grant_id TEXT
      );
      CREATE TABLE oauth_tokens (
        token_hash TEXT PRIMARY KEY,
        grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER,
        revoked_at INTEGER
      );
      CREATE INDEX oauth_tokens_by_grant ON oauth_tokens(grant_id);
      CREATE TABLE auth_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        type TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
        user_id TEXT,
        email TEXT,
        client_id TEXT,
        provider TEXT,
        ip TEXT,
        reason TEXT,
        detail TEXT
      );
      CREATE INDEX auth_events_by_time ON auth_events(at);
    `,
  },
  {
    version: 4,
    name: "the audit trail: one hash-chained table for MCP requests, auth events and admin changes, with retention checkpoints",
    sql: `
      CREATE TABLE audit_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('mcp', 'auth', 'admin')),
        person TEXT,
        user_id TEXT,
        client_id TEXT,
        token_id TEXT,
        ip TEXT,
        session_id TEXT,
        virtual_mcp TEXT,
        connector TEXT,
        method TEXT NOT NULL,
        exposed_name TEXT,
        upstream_name TEXT,
        arguments TEXT,
        result TEXT,
        result_size INTEGER,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'error', 'denied', 'timeout', 'cancelled', 'refused')),
        error TEXT,
        duration_ms REAL,
        detail TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_records_by_time ON audit_records(at);
      CREATE INDEX audit_records_by_vmcp ON audit_records(virtual_mcp, at);
      CREATE INDEX audit_records_by_person ON audit_records(person, at);
      CREATE TABLE audit_checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        last_id INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        last_at INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        key_version INTEGER NOT NULL,
        signature TEXT NOT NULL
      );
    `,
    run: (db) => moveRecordsIntoAuditTrail(db),
  },
  {
    version: 5,
    name: "access policies",
    // Virtual MCPs that exist before policies keep working for everyone who
    // could use them: they get an explicit "everyone" rule (shown by export).
    // New ones without an access rule are reachable by admins only.
    sql: `
      ALTER TABLE virtual_mcps ADD COLUMN policy TEXT;
      UPDATE virtual_mcps SET policy = '{"access":{"everyone":true}}';
    `,
  },
  {
    version: 6,
    name: "the audit trail loses its index on (person, at)",
    // Every search by person compares with COLLATE NOCASE, which that (BINARY)
    // index cannot serve: it was only ever scanned whole for a count by person,
    // yet every group commit wrote one of its pages (5 pages a commit, now 4).
    sql: `
      DROP INDEX IF EXISTS audit_records_by_person;
    `,
  },
  {
    version: 7,
    name: "rows older versions left as this one no longer writes them: disabled people's sign-ins, token subjects in capitals",
    // Before disabling a person revoked their AI clients' sign-ins, `users disable` only
    // set disabled_at: enabling such a person brought back every token they (or a thief)
    // held. Their active grants are revoked as disabling does now, at the time they were
    // disabled.
    sql: `
      UPDATE oauth_grants
        SET revoked_at = (SELECT disabled_at FROM users WHERE users.id = oauth_grants.user_id), revoked_reason = 'person disabled'
        WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE disabled_at IS NOT NULL);
    `,
    run: (db) => lowerCaseTokenSubjects(db),
  },
  {
    version: 8,
    name: "people's emails in one Unicode form (NFC), as they are kept now",
    sql: "",
    run: (db) => canonicaliseStoredEmails(db),
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

/**
 * Applies every pending migration in one transaction; returns the ones that ran.
 * The version is read again once the write lock is held: another process
 * (a gateway and a cron job started on the new binary together) may have
 * migrated while this one waited for the lock, and running its migrations
 * a second time fails ("table audit_records already exists").
 */
export function migrate(db: Database, path: string): (typeof MIGRATIONS)[number][] {
  const found = assertSchemaNotNewer(db, path);
  if (!MIGRATIONS.some((m) => m.version > found)) return [];
  try {
    return db
      .transaction(() => {
        const pending = MIGRATIONS.filter((m) => m.version > assertSchemaNotNewer(db, path));
        for (const migration of pending) {
          // A migration may be JavaScript only (its SQL empty), which exec refuses.
          if (migration.sql.trim() !== "") db.exec(migration.sql);
          migration.run?.(db);
          db.exec(`PRAGMA user_version = ${migration.version}`);
        }
        return pending;
      })
      .immediate();
  } catch (error) {
    // The busy timeout ran out waiting for the write lock: moving a long history of calls into the audit trail holds it for minutes.
    if ((error as { code?: unknown }).code !== "SQLITE_BUSY") throw error;
    throw conflict(
      `Another mintgate process is upgrading the database ${path} from schema ${found} to ${LATEST_SCHEMA_VERSION}, which takes a while for a long audit trail; run this again once it has finished.`,
    );
  }
}

/**
 * v4: call_records and auth_events rows move into audit_records, in time
 * order (a call before an auth event of the same millisecond, then by id),
 * chained; the old tables become read-only views of the new one so existing
 * readers keep working. The rows are read one at a time, merged by SQLite
 * along each table's index on `at`: versions before the audit trail kept
 * every call for good, and holding millions of them at once ran out of memory.
 */
function moveRecordsIntoAuditTrail(db: Database): void {
  const rows = db.query(`
    SELECT 0 AS source, id, at, 'mcp' AS kind, subject AS person, NULL AS userId, NULL AS clientId, token_id AS tokenId, NULL AS ip, session_id AS sessionId,
      virtual_mcp AS virtualMcp, connector, method, exposed_name AS exposedName, upstream_name AS upstreamName, arguments, outcome, error, duration_ms AS durationMs,
      NULL AS provider, NULL AS detail
    FROM call_records
    UNION ALL
    SELECT 1, id, at, 'auth', email, user_id, client_id, NULL, ip, NULL, NULL, NULL, type, NULL, NULL, NULL, outcome, reason, NULL, provider, detail
    FROM auth_events
    ORDER BY at, source, id
  `);
  const insert = db.prepare(
    "INSERT INTO audit_records (id, at, kind, person, user_id, client_id, token_id, ip, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, result, result_size, outcome, error, duration_ms, detail, prev_hash, hash) " +
      "VALUES ($id, $at, $kind, $person, $userId, $clientId, $tokenId, $ip, $sessionId, $virtualMcp, $connector, $method, $exposedName, $upstreamName, $arguments, $result, $resultSize, $outcome, $error, $durationMs, $detail, $prevHash, $hash)",
  );
  let prevHash = GENESIS_HASH;
  let id = 0;
  for (const old of rows.iterate() as IterableIterator<Record<string, string | number | null>>) {
    const row = {
      at: old.at, kind: old.kind, person: old.person, userId: old.userId, clientId: old.clientId, tokenId: old.tokenId, ip: old.ip, sessionId: old.sessionId,
      virtualMcp: old.virtualMcp, connector: old.connector, method: old.method, exposedName: old.exposedName, upstreamName: old.upstreamName, arguments: old.arguments,
      result: null, resultSize: null, outcome: old.outcome, error: old.error, durationMs: old.durationMs,
      detail: old.kind === "auth" ? authDetail(old.provider as string | null, old.detail as string | null) : null,
    };
    const sealed = { ...row, id: ++id, prevHash } as Parameters<typeof auditHash>[0];
    const hash = auditHash(sealed);
    insert.run({ ...sealed, hash } as unknown as Record<string, string | number | null>);
    prevHash = hash;
  }
  db.exec(`
    DROP TABLE call_records;
    DROP TABLE auth_events;
    CREATE VIEW call_records AS
      SELECT id, at, person AS subject, token_id, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, outcome, error, duration_ms
      FROM audit_records WHERE kind = 'mcp';
    CREATE VIEW auth_events AS
      SELECT id, at, method AS type, outcome, user_id, person AS email, client_id, json_extract(detail, '$.provider') AS provider, ip, error AS reason, json_extract(detail, '$.detail') AS detail
      FROM audit_records WHERE kind = 'auth';
  `);
}

/**
 * v7: personal access tokens were stored for the email as typed until they
 * were stored lower-case, as people's emails are. One made for
 * `Ann@Example.com` then acted as a second person: in new records and stats
 * by person, in the per-person session limit, and under no one in the TUI's
 * People screen. Lower-cased as `tokens create` does (in JavaScript, as it
 * does: SQLite's lower() knows only ASCII).
 */
function lowerCaseTokenSubjects(db: Database): void {
  const update = db.prepare("UPDATE access_tokens SET subject = ? WHERE id = ?");
  for (const row of db.query("SELECT id, subject FROM access_tokens").all() as { id: string; subject: string }[]) {
    const lower = row.subject.toLowerCase();
    if (lower !== row.subject) update.run(lower, row.id);
  }
}

/**
 * v8: emails were kept trimmed and lower-case but in whatever Unicode form they came in, so "josé" with a
 * precomposed é and with e + U+0301 were two people (two accounts, a token or policy entry that named one
 * and not the other). People's and identities' emails, local sign-in names, token subjects and policies'
 * users lists are put in canonical form (canonicalEmail), as they are kept now. Where two people's rows
 * would end up with one email, both are left as they were and a warning names them: an admin decides
 * which one stays. The audit trail is hash-chained and stays as written (its person search finds both forms).
 */
function canonicaliseStoredEmails(db: Database): void {
  const people = db.query("SELECT id, email FROM users ORDER BY created_at").all() as { id: string; email: string }[];
  const byCanonical = new Map<string, { id: string; email: string }[]>();
  for (const person of people) {
    const canonical = canonicalEmail(person.email);
    byCanonical.set(canonical, [...(byCanonical.get(canonical) ?? []), person]);
  }
  const leftAsWritten = new Set<string>();
  for (const [canonical, rows] of byCanonical) {
    if (new Set(rows.map((r) => r.email)).size > 1) {
      leftAsWritten.add(canonical);
      log.warn("people whose emails differ only in how Unicode writes them were left as they were; keep one: `mintgate users disable ID` the other", {
        email: canonical,
        people: rows.map((r) => `${r.id} ${escapedBeyondAscii(r.email)}`).join(", "),
      });
    }
  }
  const changeable = (email: string) => email !== canonicalEmail(email) && !leftAsWritten.has(canonicalEmail(email));
  const setUserEmail = db.prepare("UPDATE users SET email = ? WHERE id = ?");
  for (const person of people) if (changeable(person.email)) setUserEmail.run(canonicalEmail(person.email), person.id);
  const identities = db.query("SELECT provider, subject, email FROM user_identities").all() as { provider: string; subject: string; email: string | null }[];
  const setIdentityEmail = db.prepare("UPDATE user_identities SET email = ? WHERE provider = ? AND subject = ?");
  const setLocalSubject = db.prepare("UPDATE user_identities SET subject = ? WHERE provider = 'local' AND subject = ?");
  for (const identity of identities) {
    if (identity.email !== null && changeable(identity.email)) setIdentityEmail.run(canonicalEmail(identity.email), identity.provider, identity.subject);
    // A local account signs in by its email: the sign-in form's (canonical) email must find it.
    if (identity.provider === "local" && changeable(identity.subject)) setLocalSubject.run(canonicalEmail(identity.subject), identity.subject);
  }
  const setTokenSubject = db.prepare("UPDATE access_tokens SET subject = ? WHERE id = ?");
  for (const token of db.query("SELECT id, subject FROM access_tokens").all() as { id: string; subject: string }[]) {
    if (changeable(token.subject)) setTokenSubject.run(canonicalEmail(token.subject), token.id);
  }
  // Policies name emails, never rows, so they always take the canonical form: the gateway compares it with the caller's.
  const setPolicy = db.prepare("UPDATE virtual_mcps SET policy = ? WHERE id = ?");
  for (const vmcp of db.query("SELECT id, policy FROM virtual_mcps WHERE policy IS NOT NULL").all() as { id: string; policy: string }[]) {
    const policy = JSON.parse(vmcp.policy) as Record<string, unknown>;
    const rules: unknown[] = [policy.access];
    for (const section of ["tools", "prompts", "resources"]) {
      for (const rule of Object.values((policy[section] ?? {}) as Record<string, { allow?: unknown; deny?: unknown }>)) rules.push(rule.allow, rule.deny);
    }
    let changed = false;
    for (const match of rules as ({ users?: string[] } | undefined)[]) {
      if (!match?.users) continue;
      const users = [...new Set(match.users.map(canonicalEmail))];
      if (users.length !== match.users.length || users.some((u, i) => u !== match.users![i])) {
        match.users = users;
        changed = true;
      }
    }
    if (changed) setPolicy.run(JSON.stringify(policy), vmcp.id);
  }
}

/** An email with its characters beyond printable ASCII written by code point (é as <U+00E9>): two spellings that look the same on screen show how they differ. */
function escapedBeyondAscii(email: string): string {
  // By code point (u flag), so a character beyond U+FFFF is one <U+1F600>, not two halves of a surrogate pair.
  return email.replace(/[^\x20-\x7e]/gu, (c) => `<U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}>`);
}

/** How an auth event's provider and detail are kept in audit_records.detail. */
export function authDetail(provider: string | null, detail: string | null): string | null {
  if (provider === null && detail === null) return null;
  return JSON.stringify({ provider, detail: detail === null ? null : (JSON.parse(detail) as unknown) });
}
