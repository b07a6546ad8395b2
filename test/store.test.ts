import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { getTableConfig, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { appendToChain } from "../src/audit/index.ts";
import { AccessTokenService, sweepAuthRows } from "../src/auth/index.ts";
import { LATEST_SCHEMA_VERSION, moveCheckpointsToThread, openStore, inspectStore, type NewAuditRow } from "../src/store/index.ts";
import * as schema from "../src/store/schema.ts";
import { fileHash, tempDir } from "./harness.ts";

describe("store", () => {
  test("a new database is migrated, in WAL mode, with foreign keys and a busy timeout", () => {
    const path = join(tempDir(), "mintgate.db");
    const store = openStore(path, { create: true });
    expect(store.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(store.isReady()).toBe(true);
    store.close();
    expect(store.isReady()).toBe(false);

    const sqlite = new Database(path);
    expect(sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(sqlite.query("PRAGMA user_version").get()).toEqual({ user_version: LATEST_SCHEMA_VERSION });
    sqlite.close();
  });

  test("the drizzle schema matches the tables the migrations create", () => {
    const path = join(tempDir(), "mintgate.db");
    openStore(path, { create: true }).close();
    const sqlite = new Database(path, { readonly: true });
    for (const table of Object.values(schema) as SQLiteTable[]) {
      const config = getTableConfig(table);
      const actual = sqlite.query(`PRAGMA table_info(${config.name})`).all() as { name: string; notnull: number; pk: number }[];
      expect(actual.map((c) => c.name).sort()).toEqual(config.columns.map((c) => c.name).sort());
      for (const column of config.columns) {
        const row = actual.find((c) => c.name === column.name)!;
        expect({ table: config.name, column: column.name, notNull: row.notnull === 1 || row.pk === 1 }).toEqual({
          table: config.name,
          column: column.name,
          notNull: column.notNull,
        });
      }
    }
    sqlite.close();
  });

  test("foreign keys are enforced", () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    expect(() => store.secrets.put("X", 42, { nonce: new Uint8Array(12), ciphertext: new Uint8Array(17) }, Date.now())).toThrow(/FOREIGN KEY/);
    store.close();
  });

  test("a failing transaction leaves nothing behind", () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    store.secrets.addKeyVersion(1, { nonce: new Uint8Array(12), ciphertext: new Uint8Array(17) }, 1);
    expect(() =>
      store.transaction(() => {
        store.secrets.put("A", 1, { nonce: new Uint8Array(12), ciphertext: new Uint8Array(17) }, 1);
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(store.secrets.count()).toBe(0);
    store.close();
  });

  test("opening an existing database twice does not rewrite it", () => {
    const path = join(tempDir(), "mintgate.db");
    openStore(path, { create: true }).close();
    const before = fileHash(path);
    openStore(path).close();
    expect(inspectStore(path).schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(fileHash(path)).toBe(before);
  });

  test("a missing database is an error unless asked to create it", () => {
    expect(() => openStore(join(tempDir(), "absent.db"))).toThrow("run `mintgate init` first");
  });

  test("a newer schema is refused by both the read-only check and the open", () => {
    const path = join(tempDir(), "mintgate.db");
    openStore(path, { create: true }).close();
    const sqlite = new Database(path);
    sqlite.exec(`PRAGMA user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    sqlite.close();
    expect(() => inspectStore(path)).toThrow("newer than this mintgate understands");
    expect(() => openStore(path)).toThrow("newer than this mintgate understands");
  });
});

/** A new store whose WAL the checkpoint thread keeps under `walLimitBytes`. */
async function storeWithCheckpointThread(walLimitBytes: number) {
  const path = join(tempDir(), "mintgate.db");
  const store = openStore(path, { create: true });
  return { path, store, stop: await moveCheckpointsToThread(store, { walLimitBytes }) };
}

/** A small call record, as the gateway commits one per call. */
const row = (): NewAuditRow => ({
  at: Date.now(), kind: "mcp", person: "ada@example.com", userId: null, clientId: null, tokenId: "t", ip: "127.0.0.1", sessionId: "s", virtualMcp: "v", connector: "c",
  method: "tools/call", exposedName: "c__echo", upstreamName: "echo", arguments: '{"text":"hello"}', result: '{"content":[]}', resultSize: 14, outcome: "ok", error: null, durationMs: 1, detail: null,
});

describe("the write-ahead log under sustained writes", () => {
  test("the checkpoint thread starts it over past its limit, so it stays bounded while commits go on", async () => {
    const { path, store, stop } = await storeWithCheckpointThread(1024 * 1024);
    // The WAL header counts how often the log was started over (its checkpoint sequence number, bytes 12–15).
    const restarts = () => {
      const header = Buffer.alloc(16);
      const fd = openSync(`${path}-wal`, "r");
      try {
        readSync(fd, header, 0, 16, 0);
      } finally {
        closeSync(fd);
      }
      return header.readUInt32BE(12);
    };
    let largest = 0;
    let before: number | undefined;
    // A commit a row, without a quiet moment: a passive checkpoint alone never gets the WAL started over, so it only grows.
    const until = Date.now() + 3_500;
    for (let i = 0; Date.now() < until; i++) {
      appendToChain(store, [row()]);
      before ??= restarts();
      if (i % 20 === 0) largest = Math.max(largest, statSync(`${path}-wal`).size);
      // Between commits the write lock is free, as between a gateway's group commits.
      await Bun.sleep(1);
    }
    const after = restarts();
    await stop();
    store.close();
    // Started over about once a second; without that it grows by every commit (tens of MB in these seconds).
    expect(after - before!).toBeGreaterThanOrEqual(2);
    expect(largest).toBeLessThan(32 * 1024 * 1024);
  });

  test("a long reader (a backup, an export, a sqlite3 shell) does not hold commits up while the WAL is past its limit", async () => {
    const { path, store, stop } = await storeWithCheckpointThread(256 * 1024);
    const commitFor = async (ms: number) => {
      let slowest = 0;
      for (const until = Date.now() + ms; Date.now() < until; ) {
        const started = performance.now();
        appendToChain(store, [row()]);
        slowest = Math.max(slowest, performance.now() - started);
        await Bun.sleep(1);
      }
      return slowest;
    };
    await commitFor(500);
    // Another connection keeps one snapshot open (this thread holds it, so a commit that waits for it waits for good).
    const reader = new Database(path, { readonly: true });
    reader.exec("BEGIN");
    reader.query("SELECT count(*) FROM audit_records").get();
    let slowest: number;
    try {
      slowest = await commitFor(2_500);
    } finally {
      reader.exec("COMMIT");
      reader.close();
    }
    await stop();
    store.close();
    // Starting the WAL over under that reader held every commit until the 5 s busy timeout gave up ("database is locked").
    expect(slowest).toBeLessThan(1_000);
  });
});

describe("OAuth housekeeping", () => {
  const DAY = 86_400_000;
  const now = Date.UTC(2026, 5, 1);

  test("deletes expired codes and tokens, replaced sign-ins, unused self-registered clients and their consents; keeps what can still be used", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const sqlite = new Database(store.path);
    sqlite.run("INSERT INTO users (id, email, role, created_at, updated_at) VALUES ('u1', 'ada@example.com', 'member', 0, 0)");
    sqlite.run("INSERT INTO virtual_mcps (id, slug, name, description, new_tools, created_at, updated_at) VALUES ('v1', 'docs', 'Docs', '', 'auto', 0, 0)");
    sqlite.close();
    const grants = store.oauthGrants;
    const client = (clientId: string, kind: "dcr" | "cimd" | "static", createdAt: number, lastUsedAt: number | null) =>
      store.oauthClients.add({ clientId, kind, name: clientId, redirectUris: "[]", grantTypes: "[]", tokenEndpointAuthMethod: "none", secretHash: null, metadata: "{}", createdAt, updatedAt: createdAt, lastUsedAt });
    const grant = (id: string, clientId: string, createdAt: number, revokedAt: number | null = null) =>
      grants.addGrant({ id, clientId, userId: "u1", virtualMcpId: "v1", scope: "mcp", refreshable: 1, createdAt, revokedAt });
    const token = (hash: string, grantId: string, kind: "access" | "refresh", expiresAt: number, extra: { rotatedAt?: number; revokedAt?: number } = {}) =>
      grants.addToken({ tokenHash: hash, grantId, kind, createdAt: expiresAt - DAY, expiresAt, ...extra });
    const code = (hash: string, expiresAt: number) =>
      grants.addCode({ codeHash: hash, clientId: "dcr-used", userId: "u1", virtualMcpId: "v1", redirectUri: "http://127.0.0.1/cb", codeChallenge: "x", scope: "mcp", createdAt: expiresAt - 60_000, expiresAt });

    // Clients: a DCR client in use, one signed in to long ago and unused since, ones that never completed a sign-in.
    client("dcr-used", "dcr", now - 200 * DAY, now - DAY);
    client("dcr-stale", "dcr", now - 200 * DAY, now - 120 * DAY);
    client("dcr-never-old", "dcr", now - 2 * DAY, null);
    client("dcr-never-new", "dcr", now - 3_600_000, null);
    client("https://app.example/cimd.json", "cimd", now - 2 * DAY, now - 2 * DAY);
    client("static-never", "static", now - 300 * DAY, null);
    // A year of sign-ins of dcr-used, each replaced by the next; the last one live, with a rotated and a current refresh token.
    for (let month = 12; month >= 1; month--) {
      grant(`g${month}`, "dcr-used", now - month * 30 * DAY, month % 3 === 0 ? now - month * 30 * DAY + DAY : null);
      token(`a${month}`, `g${month}`, "access", now - month * 30 * DAY + 3_600_000);
      token(`r${month}`, `g${month}`, "refresh", now - month * 30 * DAY + 20 * DAY, { rotatedAt: now - month * 30 * DAY + 3_600_000 });
    }
    grant("g-live", "dcr-used", now - 10 * DAY);
    token("a-live", "g-live", "access", now + 3_600_000);
    token("r-rotated", "g-live", "refresh", now + 20 * DAY, { rotatedAt: now - 3_600_000 });
    token("r-live", "g-live", "refresh", now + 29 * DAY);
    token("a-recent-expired", "g-live", "access", now - DAY, { revokedAt: now - 2 * DAY });
    grant("g-stale", "dcr-stale", now - 150 * DAY);
    token("r-stale", "g-stale", "refresh", now - 120 * DAY);
    code("c-old", now - 8 * DAY);
    code("c-recent", now - 60_000);
    grants.saveConsent({ userId: "u1", clientId: "dcr-used", scope: "mcp", grantedAt: now - 200 * DAY });
    grants.saveConsent({ userId: "u1", clientId: "dcr-never-old", scope: "mcp", grantedAt: now - 2 * DAY });

    const report = await sweepAuthRows(store, { now });

    const sqliteAfter = new Database(store.path, { readonly: true });
    const column = (sql: string) => (sqliteAfter.query(sql).all() as Record<string, string>[]).map((r) => Object.values(r)[0]).sort();
    expect(column("SELECT code_hash FROM oauth_codes")).toEqual(["c-recent"]);
    expect(column("SELECT token_hash FROM oauth_tokens")).toEqual(["a-live", "a-recent-expired", "r-live", "r-rotated"]);
    // g-stale has no token left, yet it is the newest (only) sign-in of its person, client and Virtual MCP.
    expect(column("SELECT id FROM oauth_grants")).toEqual(["g-live", "g-stale"]);
    expect(column("SELECT client_id FROM oauth_clients")).toEqual(["dcr-never-new", "dcr-used", "static-never"]);
    expect(column("SELECT client_id FROM oauth_consents")).toEqual(["dcr-used"]);
    expect(report).toEqual({ codes: 1, tokens: 25, grants: 12, clients: 3, consents: 1, personalTokens: 0 });
    sqliteAfter.close();
    // The live sign-in still works.
    expect(grants.findToken("r-live")?.grantRevokedAt).toBeNull();
    // Nothing left to do: a second sweep deletes nothing.
    expect(await sweepAuthRows(store, { now })).toEqual({ codes: 0, tokens: 0, grants: 0, clients: 0, consents: 0, personalTokens: 0 });
    store.close();
  });

  test("deletes personal access tokens 90 days after they expired or were revoked; until then they are listed and refused as such", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    let clock = now - 200 * DAY;
    const tokens = new AccessTokenService(store, () => clock);
    const made = (lifetimeMs?: number) => tokens.create({ subject: "ada@example.com", lifetimeMs });
    const revokedLongAgo = made();
    const revokedRecently = made();
    const expiredLongAgo = made(109 * DAY);
    const expiredRecently = made(111 * DAY);
    const revokedAfterExpiring = made(100 * DAY);
    const active = made();
    const future = made(230 * DAY);
    clock = now - 91 * DAY;
    tokens.revoke(revokedLongAgo.id);
    clock = now - 89 * DAY;
    tokens.revoke(revokedRecently.id);
    clock = now - 10 * DAY;
    tokens.revoke(revokedAfterExpiring.id);
    // More than one batch of them.
    const sqlite = new Database(store.path);
    const insert = sqlite.prepare("INSERT INTO access_tokens (id, subject, token_hash, created_at, revoked_at) VALUES (?, 'bob@example.com', ?, 0, ?)");
    sqlite.transaction(() => {
      for (let i = 0; i < 1_200; i++) insert.run(`old${i}`, `hash${i}`, now - 100 * DAY);
    })();
    sqlite.close();

    clock = now;
    const report = await sweepAuthRows(store, { now });
    expect(report.personalTokens).toBe(1_203);
    const listed = tokens.list();
    expect(listed.map((t) => t.id).sort()).toEqual([revokedRecently.id, expiredRecently.id, active.id, future.id].sort());
    // What `tokens list` shows as revoked and expired is still there.
    expect(listed.find((t) => t.id === revokedRecently.id)!.revokedAt).toBe(new Date(now - 89 * DAY).toISOString());
    expect(listed.find((t) => t.id === expiredRecently.id)!.expiresAt).toBe(new Date(now - 89 * DAY).toISOString());
    // A kept one is refused for what it is, and recorded; a deleted one is a token the gateway does not know.
    const refusal = (token: string) => {
      try {
        tokens.verify(`Bearer ${token}`, "docs");
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(refusal(revokedRecently.token)).toBe("The access token was revoked.");
    expect(refusal(expiredRecently.token)).toBe("The access token has expired.");
    expect(refusal(revokedLongAgo.token)).toBe("The access token is not valid.");
    expect(refusal(expiredLongAgo.token)).toBe("The access token is not valid.");
    expect(refusal(active.token)).toBe("accepted");
    expect(store.authEvents.list({ type: "token_refused" }).map((e) => e.reason).sort()).toEqual(["The access token has expired.", "The access token was revoked."]);
    expect((await sweepAuthRows(store, { now })).personalTokens).toBe(0);
    store.close();
  });

  test("deletes in batches, and stops between them when told", async () => {
    const store = openStore(join(tempDir(), "mintgate.db"), { create: true });
    const sqlite = new Database(store.path);
    sqlite.run("INSERT INTO users (id, email, role, created_at, updated_at) VALUES ('u1', 'ada@example.com', 'member', 0, 0)");
    sqlite.run("INSERT INTO virtual_mcps (id, slug, name, description, new_tools, created_at, updated_at) VALUES ('v1', 'docs', 'Docs', '', 'auto', 0, 0)");
    sqlite.run("INSERT INTO oauth_grants (id, client_id, user_id, virtual_mcp_id, scope, refreshable, created_at) VALUES ('g', 'c', 'u1', 'v1', 'mcp', 1, 0)");
    const insert = sqlite.prepare("INSERT INTO oauth_tokens (token_hash, grant_id, kind, created_at, expires_at) VALUES (?, 'g', 'access', 0, ?)");
    sqlite.transaction(() => {
      for (let i = 0; i < 2_500; i++) insert.run(`t${i}`, now - 30 * DAY);
    })();
    sqlite.close();
    let batches = 0;
    // stopped() is asked before each batch: the third time, two batches (2,000 tokens) are gone.
    const report = await sweepAuthRows(store, { now, stopped: () => ++batches > 3 });
    expect(report.tokens).toBe(2_000);
    expect(await sweepAuthRows(store, { now })).toMatchObject({ tokens: 500 });
    store.close();
  });
});
