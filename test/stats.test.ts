import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UsageAnalytics, type UsageRow } from "../src/analytics/index.ts";
import { appendToChain } from "../src/audit/index.ts";
import { openStore, type AuditOutcome, type NewAuditRow } from "../src/store/index.ts";
import { configuredDataDir, connectMcpClient, runMintgate, startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";

/**
 * Usage analytics: after known calls from two people through real SDK
 * clients, `mintgate stats` (on the data directory) and GET /admin/api/stats
 * count exactly those calls per Virtual MCP, tool, connector and person, and
 * their percentiles are the nearest-rank values of the recorded durations.
 */

const CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: alpha
    name: Alpha
    connectors: [{ connector: demo }]
    access: { everyone: true }
    tools:
      demo__now: { deny: { users: [bob@example.com] } }
  - slug: beta
    name: Beta
    connectors: [{ connector: demo }]
    access: { everyone: true }
`;

/** A row as `mintgate stats --json` and the admin API print it. */
type Row = UsageRow;
interface Report {
  by: string;
  since: string;
  until: string;
  rows: Row[];
}
interface CallRecord {
  at: number;
  subject: string;
  virtualMcp: string;
  connector: string | null;
  method: string;
  exposedName: string;
  outcome: string;
  durationMs: number;
}

const clients: Client[] = [];
let dataDir: string;
let gateway: RunningGateway;
let records: CallRecord[];
let before: number;

const admin = (path: string, token = gateway.adminToken()) => fetch(`${gateway.url}/admin/api${path}`, { headers: { authorization: `Bearer ${token}` } });

async function stats(...args: string[]): Promise<Report> {
  const result = await runMintgate(["stats", "--data", dataDir, "--json", ...args]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Report;
}

/** The nearest-rank percentile (ceil(p·n)-th smallest) of `values`. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

/** What each group's row must say, computed from the audit records themselves. */
function expectedRows(key: (r: CallRecord) => Record<string, string>): Row[] {
  const groups = new Map<string, { key: Record<string, string>; records: CallRecord[] }>();
  for (const record of records) {
    const k = key(record);
    const id = JSON.stringify(k);
    if (!groups.has(id)) groups.set(id, { key: k, records: [] });
    groups.get(id)!.records.push(record);
  }
  return [...groups.values()].map(({ key: k, records: rs }) => {
    const timed = rs.filter((r) => r.outcome !== "denied").map((r) => r.durationMs);
    const count = (o: string) => rs.filter((r) => r.outcome === o).length;
    return {
      ...k,
      calls: rs.length,
      ok: count("ok"),
      errors: count("error") + count("timeout"),
      timeouts: count("timeout"),
      denied: count("denied"),
      cancelled: count("cancelled"),
      p50Ms: percentile(timed, 50),
      p95Ms: percentile(timed, 95),
      p99Ms: percentile(timed, 99),
    };
  });
}

const sortRows = (rows: Row[]) => [...rows].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

beforeAll(async () => {
  dataDir = await configuredDataDir(CONFIG, { label: "mintgate-stats" });
  const tokens: Record<string, string> = {};
  for (const user of ["alice@example.com", "bob@example.com"]) {
    const created = await runMintgate(["tokens", "create", "--user", user, "--json", "--data", dataDir]);
    tokens[user] = (JSON.parse(created.stdout) as { token: string }).token;
  }
  gateway = await startGateway({ dataDir });
  await waitFor("the demo connector", async () => ((await (await admin("/connectors")).json()) as { state: string }[])[0]?.state === "ready");
  before = Date.now();
  const connect = async (slug: string, user: string) => {
    const client = await connectMcpClient(`${gateway.url}/mcp/${slug}`, tokens[user]!);
    clients.push(client);
    return client;
  };
  const alice = await connect("alpha", "alice@example.com");
  const bob = await connect("alpha", "bob@example.com");
  const bobOnBeta = await connect("beta", "bob@example.com");
  for (let i = 0; i < 3; i++) await alice.callTool({ name: "demo__add", arguments: { a: i, b: 1 } });
  await alice.callTool({ name: "demo__echo", arguments: { text: "one" } });
  await alice.callTool({ name: "demo__echo", arguments: { text: "two" } });
  expect((await alice.callTool({ name: "demo__missing", arguments: {} })).isError).toBe(true);
  await Promise.all([bob.callTool({ name: "demo__add", arguments: { a: 1, b: 2 } }), bob.callTool({ name: "demo__add", arguments: { a: 3, b: 4 } })]);
  await expect(bob.callTool({ name: "demo__now", arguments: {} })).rejects.toThrow();
  await bobOnBeta.callTool({ name: "demo__add", arguments: { a: 5, b: 6 } });
  records = ((await (await admin("/calls?limit=1000")).json()) as CallRecord[]).filter((r) => r.method === "tools/call");
  expect(records).toHaveLength(10);
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await gateway?.stop();
});

describe("mintgate stats", () => {
  test("by tool: the calls made, with their outcomes", async () => {
    const report = await stats("--by", "tool");
    expect(report.by).toBe("tool");
    const counts = report.rows.map(({ virtualMcp, tool, connector, calls, ok, errors, denied }) => ({ virtualMcp, tool, connector, calls, ok, errors, denied }));
    expect(sortRows(counts as Row[])).toEqual(
      sortRows([
        { virtualMcp: "alpha", tool: "demo__add", connector: "demo", calls: 5, ok: 5, errors: 0, denied: 0 },
        { virtualMcp: "alpha", tool: "demo__echo", connector: "demo", calls: 2, ok: 2, errors: 0, denied: 0 },
        { virtualMcp: "alpha", tool: "demo__missing", connector: "", calls: 1, ok: 0, errors: 1, denied: 0 },
        { virtualMcp: "alpha", tool: "demo__now", connector: records.find((r) => r.exposedName === "demo__now")!.connector ?? "", calls: 1, ok: 0, errors: 0, denied: 1 },
        { virtualMcp: "beta", tool: "demo__add", connector: "demo", calls: 1, ok: 1, errors: 0, denied: 0 },
      ] as Row[]),
    );
    // Most used first.
    expect(report.rows[0]).toMatchObject({ virtualMcp: "alpha", tool: "demo__add", calls: 5 });
  });

  test("every grouping matches the audit records exactly, percentiles included", async () => {
    const keys: Record<string, (r: CallRecord) => Record<string, string>> = {
      vmcp: (r) => ({ virtualMcp: r.virtualMcp }),
      tool: (r) => ({ virtualMcp: r.virtualMcp, tool: r.exposedName, connector: r.connector ?? "" }),
      connector: (r) => ({ connector: r.connector ?? "" }),
      person: (r) => ({ person: r.subject }),
    };
    for (const [by, key] of Object.entries(keys)) {
      const report = await stats("--by", by, "--last", "1h");
      expect(sortRows(report.rows), by).toEqual(sortRows(expectedRows(key)));
    }
    const people = await stats("--by", "person");
    expect(people.rows.find((r) => r.person === "alice@example.com")).toMatchObject({ calls: 6, ok: 5, errors: 1, denied: 0 });
    expect(people.rows.find((r) => r.person === "bob@example.com")).toMatchObject({ calls: 4, ok: 3, errors: 0, denied: 1 });
    const vmcps = await stats("--by", "vmcp");
    expect(vmcps.rows.map((r) => [r.virtualMcp, r.calls])).toEqual([["alpha", 9], ["beta", 1]]);
    // The denied call has no latency; a tool that was only denied has none at all.
    const denied = (await stats("--by", "tool")).rows.find((r) => r.tool === "demo__now")!;
    expect([denied.p50Ms, denied.p95Ms, denied.p99Ms]).toEqual([null, null, null]);
    // Every percentile is one of the durations that were recorded.
    const durations = new Set(records.map((r) => r.durationMs));
    for (const row of vmcps.rows) for (const p of [row.p50Ms, row.p95Ms, row.p99Ms]) expect(durations.has(p!)).toBe(true);
  });

  test("the window: --since/--until and --last choose the calls counted", async () => {
    const after = new Date(Date.now() + 60_000).toISOString();
    expect((await stats("--since", after, "--until", new Date(Date.now() + 120_000).toISOString())).rows).toEqual([]);
    expect((await stats("--until", new Date(before - 1).toISOString(), "--since", new Date(before - 3_600_000).toISOString())).rows).toEqual([]);
    const all = await stats("--by", "vmcp", "--since", String(before - 1), "--until", after);
    expect(all.rows.reduce((n, r) => n + r.calls, 0)).toBe(10);
    expect(all.since).toBe(new Date(before - 1).toISOString());
    expect(all.until).toBe(after);
    const relative = await stats("--by", "vmcp", "--since", "2h");
    expect(relative.rows.reduce((n, r) => n + r.calls, 0)).toBe(10);
    const defaults = await stats();
    expect(Date.parse(defaults.until) - Date.parse(defaults.since)).toBe(24 * 3_600_000);
  });

  test("a time without a zone is UTC, as every time mintgate shows is, whatever the machine's zone", async () => {
    // As copied from a listing: ISO without the Z.
    const since = new Date(before - 1000).toISOString().slice(0, 19);
    const until = new Date(Date.now() + 60_000).toISOString().slice(0, 19);
    for (const TZ of ["America/New_York", "Asia/Tokyo"]) {
      const report = await runMintgate(["stats", "--data", dataDir, "--json", "--by", "vmcp", "--since", since, "--until", until], { env: { TZ } });
      expect(report.code, report.stderr).toBe(0);
      const parsed = JSON.parse(report.stdout) as Report;
      expect(parsed.since, TZ).toBe(`${since}.000Z`);
      expect(parsed.rows.reduce((n, r) => n + r.calls, 0), TZ).toBe(10);
      const search = await runMintgate(["audit", "search", "--data", dataDir, "--json", "--kind", "mcp", "--since", since, "--until", until.replace("T", " ")], { env: { TZ } });
      expect(search.code, search.stderr).toBe(0);
      expect((JSON.parse(search.stdout) as { method: string }[]).filter((r) => r.method === "tools/call"), TZ).toHaveLength(10);
    }
  });

  test("a readable table without --json", async () => {
    const result = await runMintgate(["stats", "--data", dataDir, "--by", "person"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toStartWith("Tool calls from ");
    expect(lines[1]).toMatch(/^PERSON\s+CALLS\s+ERRORS\s+DENIED\s+P50\s+P95\s+P99$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ["alice@example.com", "6", "1", "0"],
      ["bob@example.com", "4", "0", "1"],
    ]);
    const empty = await runMintgate(["stats", "--data", dataDir, "--since", new Date(Date.now() + 60_000).toISOString(), "--until", new Date(Date.now() + 120_000).toISOString()]);
    expect(empty.stdout).toContain("No tool calls in this window.");
  });

  test("wrong options are usage errors with one sentence that names the flag typed (not the admin API's query parameter)", async () => {
    for (const [args, message] of [
      [["--by", "team"], '--by must be one of vmcp, tool, connector, person, not "team".'],
      [["--last", "yesterday"], '--last must be a duration such as 1h, 24h or 7d, not "yesterday".'],
      [["--last", "1h", "--since", "2h"], "Give either --last or --since/--until, not both."],
      [["--last", "1h", "--until", "2h"], "Give either --last or --since/--until, not both."],
      [["--since", "soon"], '--since must be a time such as 2026-05-01T09:00:00Z, Unix milliseconds, or a duration ago such as 2h, not "soon".'],
      [["--until", "later"], '--until must be a time such as 2026-05-01T09:00:00Z, Unix milliseconds, or a duration ago such as 2h, not "later".'],
      [["--since", "2026-05-02T00:00:00Z", "--until", "2026-05-01T00:00:00Z"], "The window is empty: --since (2026-05-02T00:00:00.000Z) must be before --until (2026-05-01T00:00:00.000Z)."],
    ] as const) {
      const result = await runMintgate(["stats", "--data", dataDir, ...args]);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toBe(`mintgate: ${message}\n`);
    }
  });
});

describe("GET /admin/api/stats", () => {
  test("the same report as the CLI, for the admin token only", async () => {
    for (const by of ["vmcp", "tool", "connector", "person"]) {
      const response = await admin(`/stats?by=${by}&last=1h`);
      expect(response.status).toBe(200);
      const report = (await response.json()) as Report;
      expect(report.by).toBe(by);
      expect(sortRows(report.rows)).toEqual(sortRows((await stats("--by", by)).rows));
    }
    const windowed = (await (await admin(`/stats?by=vmcp&since=${new Date(before - 1).toISOString()}`)).json()) as Report;
    expect(windowed.rows.reduce((n, r) => n + r.calls, 0)).toBe(10);
    const bad = await admin("/stats?by=team");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe('by must be one of vmcp, tool, connector, person, not "team".');
    expect((await admin("/stats", "not-the-admin-token")).status).toBe(401);
    expect((await fetch(`${gateway.url}/admin/api/stats`)).status).toBe(401);
  });

  test("stats read the data directory after the gateway stopped", async () => {
    await gateway.stop();
    const report = await stats("--by", "vmcp");
    expect(report.rows.reduce((n, r) => n + r.calls, 0)).toBe(10);
  });
});

describe("GET /admin/api/stats/timeline", () => {
  test("its totals count the calls of the last hour up to now, as /stats?last=1h does, not from the start of its first aligned bucket", () => {
    // The TUI Overview shows these totals as "Last hour" beside tables read from /stats?last=1h.
    const store = openStore(join(tempDir("mintgate-timeline"), "mintgate.db"), { create: true });
    try {
      // 59 min 40 s before "now", and 40 s into a minute: inside the last hour, before the first 1-minute bucket.
      const at = Date.UTC(2026, 4, 1, 9, 0, 40);
      const now = at + 3_600_000 - 20_000;
      const row = (durationMs: number, outcome: AuditOutcome): NewAuditRow => ({
        at, kind: "mcp", person: "ana@example.com", userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: "alpha", connector: "demo",
        method: "tools/call", exposedName: "demo__add", upstreamName: "add", arguments: null, result: null, resultSize: null, outcome, error: null, durationMs, detail: null,
      });
      appendToChain(store, [row(4, "ok"), row(9, "error")]);
      const analytics = new UsageAnalytics(store, () => now);
      const timeline = analytics.timeline({ last: "1h", step: "1m" });
      const report = analytics.report({ by: "vmcp", last: "1h" });
      expect(report.rows).toMatchObject([{ calls: 2, ok: 1, errors: 1, p50Ms: 4, p95Ms: 9 }]);
      expect(timeline.total).toEqual({ calls: 2, ok: 1, errors: 1, denied: 0, p50Ms: 4, p95Ms: 9 });
      // The buckets stay aligned to whole minutes (this call is before the first of them).
      expect(timeline.buckets).toHaveLength(60);
      expect(Date.parse(timeline.since) % 60_000).toBe(0);
      expect(timeline.buckets.reduce((n, b) => n + b.calls, 0)).toBe(0);
    } finally {
      store.close();
    }
  });
});
