/**
 * Data directories made and used by older mintgate versions, opened by this
 * binary. Each test builds a database as an older schema had it (the tables
 * of migrations 1..N, from src/store/migrations.ts), holding the rows this
 * binary wrote plus rows shaped as the older versions wrote them, puts it in
 * a real data directory and runs dist/mintgate on it.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS, LATEST_SCHEMA_VERSION } from "../src/store/migrations.ts";
import { hashToken } from "../src/secrets/index.ts";
import { BINARY, cleanEnv, configuredDataDir, connectMcpClient, runMintgate, startGateway, waitFor } from "./harness.ts";

/** Two Virtual MCPs as versions before access policies wrote them: no access rule. */
const OLD_CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: open
    name: Open
    description: Everything
    connectors: [{ connector: demo, prefix: d }]
  - slug: held
    name: Held
    description: Approval needed
    newTools: approve
    connectors: [{ connector: demo, include: [echo, add] }]
`;

/**
 * Rewrites DIR/mintgate.db as schema `version` had it: the tables its
 * migrations made, holding what the current database has in them (a table
 * that is a view today, such as call_records, starts empty), then `oldRows`
 * adds rows as the older versions wrote them.
 */
/** `count` calls in the call_records table of before the audit trail, each with `randomBytes` random bytes (hex) of arguments. */
function addOldCalls(db: Database, count: number, randomBytes: number): void {
  db.exec(`
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
    INSERT INTO call_records (at, subject, token_id, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, outcome, error, duration_ms)
    SELECT ${T0} + i * 10, 'ann@example.com', 't-1', 's-1', 'open', 'demo', 'tools/call', 'd__echo', 'echo', '{"text":"' || hex(randomblob(${randomBytes})) || '"}', 'ok', NULL, 0.5 FROM n;
  `);
}

function makeOld(dataDir: string, version: number, oldRows: (db: Database) => void = () => {}): void {
  const path = join(dataDir, "mintgate.db");
  const oldPath = join(dataDir, "old.db");
  const db = new Database(oldPath, { create: true });
  try {
    for (const migration of MIGRATIONS.filter((m) => m.version <= version)) {
      if (migration.sql.trim() !== "") db.exec(migration.sql);
      migration.run?.(db);
    }
    db.exec(`PRAGMA user_version = ${version}`);
    db.exec(`ATTACH DATABASE '${path}' AS current`);
    const tables = db.query("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'").all() as { name: string }[];
    for (const { name } of tables) {
      const kind = db.query("SELECT type FROM current.sqlite_master WHERE name = ?").get(name) as { type: string } | null;
      if (kind?.type !== "table") continue;
      const columns = (db.query(`PRAGMA main.table_info(${name})`).all() as { name: string }[]).map((c) => c.name).join(", ");
      db.exec(`INSERT INTO main.${name} (${columns}) SELECT ${columns} FROM current.${name}`);
    }
    db.exec("DETACH DATABASE current");
    oldRows(db);
  } finally {
    db.close();
  }
  for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  renameSync(oldPath, path);
}

const schemaVersion = (dataDir: string) => {
  const db = new Database(join(dataDir, "mintgate.db"), { readonly: true });
  try {
    return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
};

async function mintgate(args: string[], dataDir: string, stdin?: string) {
  const result = await runMintgate([...args, "--data", dataDir], stdin === undefined ? {} : { stdin });
  if (result.code !== 0) throw new Error(`mintgate ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

const initialize = (url: string, token: string) =>
  fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
  });

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

describe("a data directory from before the audit trail (schema 3)", () => {
  test("keeps its configuration, approvals, tokens and call records, and a second start changes nothing", async () => {
    const dataDir = await configuredDataDir(OLD_CONFIG, { label: "mintgate-upgrade", people: [{ email: "ann@example.com", password: "correct horse battery staple" }] });
    const { id: tokenId, token } = JSON.parse(await mintgate(["tokens", "create", "--user", "ann@example.com", "--json"], dataDir)) as { id: string; token: string };
    // An approval, made by a gateway as any version made them.
    const gateway = await startGateway({ dataDir });
    // Once the demo connector's tools are known (a moment after the listening line).
    await waitFor("demo__echo to be approved", async () => (await runMintgate(["approve", "held", "demo__echo", "--data", dataDir])).code === 0, 100, 100);
    await gateway.stop();
    const exported = await mintgate(["export"], dataDir);

    makeOld(dataDir, 3, (db) => {
      const call = db.prepare(
        "INSERT INTO call_records (at, subject, token_id, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, outcome, error, duration_ms) VALUES (?, 'ann@example.com', ?, 's-1', ?, ?, 'tools/call', ?, ?, ?, ?, ?, ?)",
      );
      call.run(T0 + 2000, tokenId, "open", "demo", "d__echo", "echo", '{"text":"hi"}', "ok", null, 1.5);
      call.run(T0 + 1000, tokenId, "open", "demo", "d__add", "add", '{"a":1,"b":2}', "ok", null, 0.5);
      call.run(T0 + 3000, tokenId, "held", null, "demo__add", null, "{}", "error", 'There is no tool "demo__add" in virtual MCP "held".', 0.01);
      const event = db.prepare("INSERT INTO auth_events (at, type, outcome, user_id, email, client_id, provider, ip, reason, detail) VALUES (?, ?, ?, NULL, ?, NULL, ?, '127.0.0.1', ?, ?)");
      event.run(T0 + 2000, "sign_in", "refused", "ann@example.com", "local", "wrong password", null);
      event.run(T0, "token_refused", "refused", "ann@example.com", null, "The access token was revoked.", JSON.stringify({ token: "old-token" }));
    });
    expect(schemaVersion(dataDir)).toBe(3);

    // Read-only commands open it too; the first one migrates, and says so once.
    const verify = await runMintgate(["audit", "verify", "--data", dataDir]);
    expect(verify.stdout).toContain("intact: 5 records (1–5), 0 retention checkpoints.\n");
    expect(verify.stderr).toMatch(new RegExp(`warn  database upgraded; older mintgate versions can no longer open it path=\\S+ fromSchema=3 toSchema=${LATEST_SCHEMA_VERSION} migrations="(.+)"\\n$`));
    // What each migration changed, by its name: the admin learns, say, that disabled people's sign-ins were revoked.
    const applied = verify.stderr.match(/migrations="(.+)"/)![1]!.split("; ");
    expect(applied.map((m) => Number(m.split(" ")[0]))).toEqual(MIGRATIONS.filter((m) => m.version > 3).map((m) => m.version));
    expect(applied).toContain("5 access policies");
    expect(applied).toContain("7 rows older versions left as this one no longer writes them: disabled people's sign-ins, token subjects in capitals");
    expect(schemaVersion(dataDir)).toBe(LATEST_SCHEMA_VERSION);
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).stderr).toBe("");
    const records = (JSON.parse(await mintgate(["audit", "search", "--json"], dataDir)) as Record<string, unknown>[]).reverse();
    // In time order; a call before an auth event of the same millisecond.
    expect(records.map((r) => [r.id, r.kind, r.method, r.exposedName ?? null, r.outcome])).toEqual([
      [1, "auth", "token_refused", null, "refused"],
      [2, "mcp", "tools/call", "d__add", "ok"],
      [3, "mcp", "tools/call", "d__echo", "ok"],
      [4, "auth", "sign_in", null, "refused"],
      [5, "mcp", "tools/call", "demo__add", "error"],
    ]);
    expect(records[2]).toMatchObject({ person: "ann@example.com", tokenId, sessionId: "s-1", virtualMcp: "open", connector: "demo", upstreamName: "echo", arguments: '{"text":"hi"}', durationMs: 1.5 });
    expect(records[3]).toMatchObject({ person: "ann@example.com", error: "wrong password", ip: "127.0.0.1", detail: '{"provider":"local","detail":null}' });
    expect(JSON.parse(records[0]!.detail as string)).toEqual({ provider: null, detail: { token: "old-token" } });

    // The configuration as it was, plus the rule that keeps both Virtual MCPs open to whoever could use them.
    const after = await mintgate(["export"], dataDir);
    expect(after.match(/ {4}access:\n {6}everyone: true\n/g)).toHaveLength(2);
    expect(after.replaceAll("    access:\n      everyone: true\n", "")).toBe(exported);

    const again = await startGateway({ dataDir });
    try {
      const open = await connectMcpClient(`${again.url}/mcp/open`, token);
      expect(await open.callTool({ name: "d__add", arguments: { a: 2, b: 3 } })).toMatchObject({ content: [{ type: "text", text: "5" }] });
      await open.close();
      const held = await connectMcpClient(`${again.url}/mcp/held`, token);
      expect((await held.listTools()).tools.map((t) => t.name)).toEqual(["demo__echo"]);
      await held.close();
    } finally {
      await again.stop();
    }
    const verified = await mintgate(["audit", "verify"], dataDir);
    expect(verified).toContain("intact");
    const count = Number(verified.match(/intact: (\d+) record/)![1]);
    expect(count).toBeGreaterThan(5);

    // A second open migrates nothing and changes nothing.
    const db = new Database(join(dataDir, "mintgate.db"), { readonly: true });
    const snapshot = () => JSON.stringify([db.query("SELECT * FROM audit_records ORDER BY id").all(), db.query("SELECT slug, policy FROM virtual_mcps ORDER BY slug").all(), db.query("SELECT * FROM tool_approvals").all()]);
    const before = snapshot();
    expect(await mintgate(["export"], dataDir)).toBe(after);
    expect(snapshot()).toBe(before);
    db.close();
  });

  test("a large table of call records is moved into the audit trail in bounded memory", async () => {
    const dataDir = await configuredDataDir(OLD_CONFIG, { label: "mintgate-upgrade-large" });
    const small = join(dataDir, "..", "small");
    await mintgate(["init"], small);
    makeOld(small, 3);
    // 100,000 calls with 1 KB of arguments each (versions before the audit trail kept up to 4 KiB, and every call, for good).
    makeOld(dataDir, 3, (db) => addOldCalls(db, 100_000, 500));
    const peakMemory = async (dir: string) => {
      const child = Bun.spawn([BINARY, "export", "--data", dir], { env: cleanEnv(), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
      if (code !== 0) throw new Error(`mintgate export exited ${code}: ${stderr}`);
      return child.resourceUsage()!.maxRSS;
    };
    const baseline = await peakMemory(small);
    const peak = await peakMemory(dataDir);
    // In bytes. Holding every row at once took ~350 MiB more than the empty database.
    expect((peak - baseline) / 2 ** 20).toBeLessThan(100);
    expect(await mintgate(["audit", "verify"], dataDir)).toContain("intact: 100000 records (1–100000)");
  });
});

describe("the first start after an upgrade", () => {
  test("two commands that open the old database at once: one migrates, the other waits for it and migrates nothing", async () => {
    const dataDir = await configuredDataDir(OLD_CONFIG, { label: "mintgate-upgrade-race" });
    // Enough calls that moving them into the audit trail takes a moment, for the second command to arrive meanwhile.
    makeOld(dataDir, 3, (db) => addOldCalls(db, 20_000, 200));
    // A gateway started on the new binary while a cron job runs `audit verify` (or `backup`): both find schema 3.
    const results = await Promise.all([0, 1, 2].map(() => runMintgate(["audit", "verify", "--data", dataDir])));
    for (const result of results) {
      // Its stderr in the failure: a command that lost the race says why there.
      expect(result.stdout, `exit code ${result.code}, stderr: ${result.stderr}`).toContain("intact: 20000 records (1–20000)");
      expect(result.code).toBe(0);
    }
    expect(results.filter((r) => r.stderr.includes("database upgraded"))).toHaveLength(1);
    expect(schemaVersion(dataDir)).toBe(LATEST_SCHEMA_VERSION);
  });

  test("a command that waits longer than its busy timeout for another's upgrade says so, rather than 'Internal error'", async () => {
    const dataDir = await configuredDataDir(OLD_CONFIG, { label: "mintgate-upgrade-busy" });
    makeOld(dataDir, 3);
    // Upgrading 600,000 calls of an older version holds the write lock for 13 s: this connection holds it as that process would.
    const upgrading = new Database(join(dataDir, "mintgate.db"));
    upgrading.exec("PRAGMA journal_mode = WAL");
    upgrading.exec("BEGIN IMMEDIATE");
    try {
      const waited = await runMintgate(["tokens", "list", "--data", dataDir]);
      expect(waited.code).toBe(1);
      expect(waited.stderr).toBe(
        `mintgate: Another mintgate process is upgrading the database ${join(dataDir, "mintgate.db")} from schema 3 to ${LATEST_SCHEMA_VERSION}, which takes a while for a long audit trail; run this again once it has finished.\n`,
      );
    } finally {
      upgrading.exec("ROLLBACK");
      upgrading.close();
    }
    expect(schemaVersion(dataDir)).toBe(3);
    await mintgate(["tokens", "list"], dataDir);
    expect(schemaVersion(dataDir)).toBe(LATEST_SCHEMA_VERSION);
  });
});

describe("restoring a copy made by an older version", () => {
  test("a copy from before the audit trail (the sqlite3 shell's .backup the README once advised) is restored and upgraded", async () => {
    const dataDir = await configuredDataDir(OLD_CONFIG, { label: "mintgate-upgrade-restore" });
    const exported = await mintgate(["export"], dataDir);
    makeOld(dataDir, 3, (db) => {
      db.query(
        "INSERT INTO call_records (at, subject, token_id, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, outcome, error, duration_ms) VALUES (?, 'ann@example.com', 't-1', 's-1', 'open', 'demo', 'tools/call', 'd__echo', 'echo', '{}', 'ok', NULL, 1)",
      ).run(T0);
    });
    const copy = join(dataDir, "..", "old-copy.db");
    renameSync(join(dataDir, "mintgate.db"), copy);
    // The directory goes on with a current database (the upgraded binary ran on it), then the old copy is restored.
    await mintgate(["init"], dataDir);
    const restored = await runMintgate(["restore", copy, "--json", "--data", dataDir]);
    expect(restored.stderr).toContain("database upgraded");
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ schemaVersion: 3, auditRecords: 1 });
    expect(schemaVersion(dataDir)).toBe(LATEST_SCHEMA_VERSION);
    // The call, then the restore's own record.
    expect(await mintgate(["audit", "verify"], dataDir)).toContain("intact: 2 records (1–2)");
    expect((await mintgate(["export"], dataDir)).replaceAll("    access:\n      everyone: true\n", "")).toBe(exported.replaceAll("    access:\n      everyone: true\n", ""));
  });
});

describe("rows that versions before this one wrote differently", () => {
  /** An AI client's sign-in (grant, access token and approval) for a person, as any version wrote it. */
  function signIn(db: Database, email: string, slug: string, accessToken: string, now: number): string {
    const { id: userId } = db.query("SELECT id FROM users WHERE email = ?").get(email) as { id: string };
    const { id: vmcpId } = db.query("SELECT id FROM virtual_mcps WHERE slug = ?").get(slug) as { id: string };
    const clientId = `mgc_client_of_${email.split("@")[0]}`;
    const grantId = crypto.randomUUID();
    db.query(
      "INSERT INTO oauth_clients (client_id, kind, name, redirect_uris, grant_types, token_endpoint_auth_method, secret_hash, metadata, created_at, updated_at) VALUES (?, 'dcr', 'AI client', '[\"http://127.0.0.1:9/callback\"]', '[\"authorization_code\",\"refresh_token\"]', 'none', NULL, '{}', ?, ?)",
    ).run(clientId, now, now);
    db.query("INSERT INTO oauth_consents (user_id, client_id, scope, granted_at) VALUES (?, ?, 'mcp', ?)").run(userId, clientId, now);
    db.query("INSERT INTO oauth_grants (id, client_id, user_id, virtual_mcp_id, scope, refreshable, created_at) VALUES (?, ?, ?, ?, 'mcp', 1, ?)").run(grantId, clientId, userId, vmcpId, now);
    db.query("INSERT INTO oauth_tokens (token_hash, grant_id, kind, created_at, expires_at) VALUES (?, ?, 'access', ?, ?)").run(hashToken(accessToken), grantId, now, now + 3_600_000);
    return grantId;
  }

  test("a person disabled by a version that left their AI clients signed in does not get those sign-ins back when enabled", async () => {
    const people = ["ann@example.com", "bob@example.com"].map((email) => ({ email, password: "correct horse battery staple" }));
    const dataDir = await configuredDataDir(OLD_CONFIG, { label: "mintgate-upgrade-disabled", people });
    const now = Date.now();
    const annToken = "mgt_at_ann-signed-in-before-she-was-disabled";
    const bobToken = "mgt_at_bob-signed-in-and-still-enabled";
    let annGrant = "";
    // Until disabling a person revoked their sign-ins, `users disable` only set disabled_at.
    makeOld(dataDir, 3, (db) => {
      annGrant = signIn(db, "ann@example.com", "open", annToken, now - 120_000);
      signIn(db, "bob@example.com", "open", bobToken, now - 120_000);
      db.query("UPDATE users SET disabled_at = ?, updated_at = ? WHERE email = 'ann@example.com'").run(now - 60_000, now - 60_000);
    });

    const grants = JSON.parse(await mintgate(["tokens", "list", "--json"], dataDir)) as { oauth: { id: string; email: string; revokedAt: string | null; revokedReason: string | null }[] };
    expect(grants.oauth.find((g) => g.email === "ann@example.com")).toMatchObject({ id: annGrant, revokedAt: new Date(now - 60_000).toISOString(), revokedReason: "person disabled" });
    expect(grants.oauth.find((g) => g.email === "bob@example.com")).toMatchObject({ revokedAt: null });

    await mintgate(["users", "enable", "ann@example.com"], dataDir);
    const gateway = await startGateway({ dataDir });
    try {
      const refused = await initialize(`${gateway.url}/mcp/open`, annToken);
      expect(refused.status).toBe(401);
      expect(await refused.text()).toContain("revoked");
      expect((await initialize(`${gateway.url}/mcp/open`, bobToken)).status).toBe(200);
    } finally {
      await gateway.stop();
    }
  });

  test("personal access tokens made for an email typed in capitals act for the person in lower case, as new ones do", async () => {
    const dataDir = await configuredDataDir(
      { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "demo", name: "Demo", access: { everyone: true }, connectors: [{ connector: "demo", prefix: "" }] }] },
      { label: "mintgate-upgrade-case", people: [{ email: "ann@example.com", password: "correct horse battery staple" }] },
    );
    const { id, token } = JSON.parse(await mintgate(["tokens", "create", "--user", "ann@example.com", "--json"], dataDir)) as { id: string; token: string };
    // Stored as typed until tokens were stored lower-case.
    makeOld(dataDir, 5, (db) => void db.query("UPDATE access_tokens SET subject = 'Ann@Example.COM' WHERE id = ?").run(id));

    const listed = JSON.parse(await mintgate(["tokens", "list", "--json"], dataDir)) as { personal: { id: string; subject: string }[] };
    // The TUI's People screen lists a person's tokens by this subject.
    expect(listed.personal).toEqual([expect.objectContaining({ id, subject: "ann@example.com" })]);
    const gateway = await startGateway({ dataDir });
    try {
      const client = await connectMcpClient(`${gateway.url}/mcp/demo`, token);
      await client.callTool({ name: "echo", arguments: { text: "hi" } });
      await client.close();
    } finally {
      await gateway.stop();
    }
    const records = JSON.parse(await mintgate(["audit", "search", "--kind", "mcp", "--json"], dataDir)) as { person: string; tokenId: string }[];
    expect(records.length).toBeGreaterThan(0);
    for (const record of records) expect(record).toMatchObject({ person: "ann@example.com", tokenId: id });
  });
});

describe("emails older versions kept in whatever Unicode form they came in", () => {
  test("are put in one form (NFC) in people, sign-in names, tokens and policies; two people that would become one email are left as they were, and named", async () => {
    const ann = "\u00e5sa@example.com";
    const annApart = "a\u030asa@example.com";
    const jose = "jos\u00e9@example.com";
    const joseApart = "jose\u0301@example.com";
    const dataDir = await configuredDataDir(
      { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "demo", name: "Demo", access: { users: ["ada@example.com"] }, connectors: [{ connector: "demo", prefix: "" }] }] },
      { label: "mintgate-upgrade-unicode", people: [ann, jose].map((email) => ({ email, password: "correct horse battery staple" })) },
    );
    const { id: tokenId } = JSON.parse(await mintgate(["tokens", "create", "--user", ann, "--json"], dataDir)) as { id: string };
    const { id: joseId } = JSON.parse(await mintgate(["users", "show", jose, "--json"], dataDir)) as { id: string };
    // As an older version kept them: Åsa as an SSO provider sent her (å as a + U+030A), everywhere; José twice, once in each form.
    makeOld(dataDir, 7, (db) => {
      db.query("UPDATE users SET email = ? WHERE email = ?").run(annApart, ann);
      db.query("UPDATE user_identities SET subject = ?, email = ? WHERE subject = ?").run(annApart, annApart, ann);
      db.query("UPDATE access_tokens SET subject = ? WHERE id = ?").run(annApart, tokenId);
      db.query("UPDATE virtual_mcps SET policy = ?").run(JSON.stringify({ access: { users: ["ada@example.com", annApart, ann, joseApart] } }));
      const now = Date.now();
      db.query("INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) VALUES ('jose-apart', ?, NULL, 'member', NULL, ?, ?)").run(joseApart, now, now);
      db.query("INSERT INTO user_identities (provider, subject, user_id, email, created_at) VALUES ('local', ?, 'jose-apart', ?, ?)").run(joseApart, joseApart, now);
    });

    const listed = await runMintgate(["users", "list", "--json", "--data", dataDir]);
    expect(listed.stderr).toContain(
      `warn  people whose emails differ only in how Unicode writes them were left as they were; keep one: \`mintgate users disable ID\` the other email=${jose} people="${joseId} jos<U+00E9>@example.com, jose-apart jose<U+0301>@example.com"\n`,
    );
    expect(listed.stderr.match(/ warn /g)).toHaveLength(2);
    const people = JSON.parse(listed.stdout) as { id: string; email: string; identities: { subject: string; email: string }[] }[];
    expect(people.map((p) => [p.email, p.identities.map((i) => [i.subject, i.email])])).toEqual([
      [ann, [[ann, ann]]],
      [joseApart, [[joseApart, joseApart]]],
      [jose, [[jose, jose]]],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
    const tokens = JSON.parse(await mintgate(["tokens", "list", "--json"], dataDir)) as { personal: { id: string; subject: string }[] };
    expect(tokens.personal).toEqual([expect.objectContaining({ id: tokenId, subject: ann })]);
    expect(await mintgate(["export"], dataDir)).toContain(`    access:\n      users: [ada@example.com, ${ann}, ${jose}]\n`);
    // Both Josés are the one the policy names; Åsa is one person whichever way her address is typed.
    for (const typed of [annApart, joseApart]) expect(await mintgate(["policy", "explain", "--user", typed, "--vmcp", "demo"], dataDir)).toContain('virtual MCP "demo": allowed');
    expect(JSON.parse(await mintgate(["users", "show", annApart, "--json"], dataDir))).toMatchObject({ email: ann });
  });
});
