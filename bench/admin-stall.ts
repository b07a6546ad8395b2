/**
 * How long the admin API's reads of a large audit trail hold the gateway's tool calls. A copy of DATA_DIR (made by
 * `mintgate init` and filled with records, for example a year of 2 million) gets the builtin demo connector and an
 * access token and is served; one MCP client calls the demo's echo tool back to back while each admin read runs,
 * and the longest call that overlapped the read is printed beside the read's own time. A read that runs on the
 * gateway's event loop shows as a call about as long as the read. Prints figures only; never fails on a number.
 * Usage: `bun bench/admin-stall.ts DATA_DIR [ROUTE_REGEX]` after `make build` (DATA_DIR itself is left unchanged).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, childEnv, DEMO_CONFIG, removeDir, required, runMintgate, serveMintgate, stopAll, tempDir } from "./measure.ts";

const [SOURCE, ONLY] = process.argv.slice(2);
/** Admin reads of the audit trail whose cost grows with it (the person and tool are rare or absent in a big trail). */
const ROUTES = [
  "/audit",
  "/audit?user=rare.person@example.com&limit=500",
  "/audit?user=nobody@example.com",
  "/audit?tool=get_conn3_3&limit=500",
  "/audit/count",
  "/audit/count?user=person290@example.com",
  "/audit/count?tool=get_conn3_3",
  "/audit/export?format=jsonl&user=rare.person@example.com",
  "/audit/export?format=jsonl",
  "/audit/verify",
  "/calls?limit=1000",
  "/auth-events?user=nobody",
  "/auth-events?type=sign_in",
  "/stats?by=person&last=365d",
  "/stats/timeline?last=365d&step=1d",
];
/** Quiet time before each read: the calls in it give the baseline. */
const QUIET_MS = 500;

if (!SOURCE || !required(join(SOURCE, "mintgate.db"), "mintgate init --data DATA_DIR, then fill its audit trail") || !required(BINARY, "make build")) process.exit(2);

const dir = tempDir("mintgate-bench-stall-");
try {
  const data = join(dir, "data");
  cpSync(SOURCE, data, { recursive: true });
  writeFileSync(join(dir, "demo.yaml"), DEMO_CONFIG);
  await runMintgate(BINARY, ["apply", "-f", join(dir, "demo.yaml"), "--data", data], { timeoutMs: 60_000 });
  const { token } = JSON.parse(await runMintgate(BINARY, ["tokens", "create", "--user", "bench@example.com", "--json", "--data", data], { timeoutMs: 60_000 })) as { token: string };
  const adminToken = readFileSync(join(data, "admin.token"), "utf8").trim();
  // The records are up to a year old: the default retention must not prune them at start.
  const served = await serveMintgate(BINARY, data, { timeoutMs: 60_000, env: { ...childEnv(), MINTGATE_AUDIT_RETENTION_DAYS: "3650" } });
  const client = new Client({ name: "bench-admin-stall", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${served.url}/mcp/demo`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));

  // Calls back to back, each one's start and end kept.
  const calls: { start: number; end: number }[] = [];
  let calling = true;
  const caller = (async () => {
    while (calling) {
      const start = performance.now();
      await client.callTool({ name: "echo", arguments: { text: "ping" } });
      calls.push({ start, end: performance.now() });
    }
  })();
  const longestCall = (from: number, to: number) => {
    const overlapping = calls.filter((c) => c.end > from && c.start < to);
    return { count: overlapping.length, maxMs: Math.max(0, ...overlapping.map((c) => c.end - c.start)) };
  };

  console.log(`${"admin read".padEnd(58)} ${"read".padStart(9)} ${"calls".padStart(6)} ${"max call".padStart(9)} ${"quiet max".padStart(9)}`);
  for (const route of ROUTES) {
    if (ONLY && !new RegExp(ONLY).test(route)) continue;
    const quietFrom = performance.now();
    await Bun.sleep(QUIET_MS);
    const from = performance.now();
    const response = await fetch(`${served.url}/admin/api${route}`, { headers: { authorization: `Bearer ${adminToken}` } });
    let bytes = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.byteLength;
    const to = performance.now();
    // The call running when the read ended is counted whole.
    const seen = calls.length;
    while (calls.length === seen) await Bun.sleep(1);
    const during = longestCall(from, to);
    const quiet = longestCall(quietFrom, from);
    const ms = (n: number) => `${n.toFixed(0)} ms`.padStart(9);
    console.log(`${`${route} (${response.status}, ${bytes} B)`.padEnd(58)} ${ms(to - from)} ${String(during.count).padStart(6)} ${ms(during.maxMs)} ${ms(quiet.maxMs)}`);
  }
  calling = false;
  await caller;
  await client.close();
} finally {
  await stopAll();
  removeDir(dir);
}
