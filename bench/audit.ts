/**
 * The audit trail's cost. Prints:
 *   1. durable records/s of the audit path alone (AuditLog.record → group commit → hash chain → SQLite WAL),
 *   2. the gateway's calls/s at c=16 and p99 at c=1 with the audit trail on and off.
 * "Off" is MINTGATE_BENCH_UNSAFE_AUDIT_OFF=1, read by `mintgate serve` for this benchmark only
 * (it logs a warning; nothing is recorded). Targets: ≥ 50,000 records/s; on ≥ 0.9× off at c=16; p99 at c=1 grows ≤ 1 ms.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { join } from "node:path";
import { AuditLog } from "../src/audit/index.ts";
import { openStore } from "../src/store/index.ts";
import { BINARY, childEnv, DEMO_CONFIG, percentile, removeDir, runMintgate, serveMintgate, stopAll, stopProcess, tempDir } from "./measure.ts";

const SECONDS = Number(process.env.AUDIT_BENCH_SECONDS ?? 3);

async function isolated(): Promise<number> {
  const dir = tempDir("mintgate-bench-audit-");
  const store = openStore(join(dir, "mintgate.db"), { create: true });
  const log = new AuditLog(store);
  const entry = (i: number) => ({
    at: Date.now(), subject: "bench@example.com", tokenId: "tok", sessionId: "sess", virtualMcp: "demo", connector: "demo", method: "tools/call",
    exposedName: "add", upstreamName: "add", arguments: { a: i, b: 2 }, outcome: "ok" as const, error: null, durationMs: 0.4, result: { content: [{ type: "text", text: String(i) }] },
  });
  let done = 0;
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  // 512 requests in flight, like a busy gateway: each awaits its own commit.
  await Promise.all(
    Array.from({ length: 512 }, async () => {
      while (performance.now() < until) {
        await log.record(entry(done));
        done++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const count = store.audit.count();
  store.close();
  removeDir(dir);
  if (count !== done) throw new Error(`expected ${done} records, found ${count}`);
  return done / seconds;
}

async function connect(url: string, token: string): Promise<Client> {
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const client = new Client({ name: "bench-audit", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

async function gateway(auditOn: boolean): Promise<{ callsPerSecond: number; p99c1: number }> {
  const dir = join(tempDir("mintgate-bench-audit-gw-"), "data");
  await runMintgate(BINARY, ["init", "--data", dir], { timeoutMs: 30_000 });
  await Bun.write(join(dir, "..", "m.yaml"), DEMO_CONFIG);
  await runMintgate(BINARY, ["apply", "-f", join(dir, "..", "m.yaml"), "--data", dir], { timeoutMs: 30_000 });
  const { token } = JSON.parse(await runMintgate(BINARY, ["tokens", "create", "--user", "bench@example.com", "--json", "--data", dir], { timeoutMs: 30_000 })) as { token: string };
  const env = { ...childEnv(), ...(auditOn ? {} : { MINTGATE_BENCH_UNSAFE_AUDIT_OFF: "1" }) };
  const served = await serveMintgate(BINARY, dir, { timeoutMs: 30_000, env });
  const clients = await Promise.all(Array.from({ length: 16 }, () => connect(`${served.url}/mcp/demo`, token)));
  const call = (c: Client, i: number) => c.callTool({ name: "add", arguments: { a: i, b: 1 } });
  for (const c of clients) for (let i = 0; i < 50; i++) await call(c, i); // warm-up
  let calls = 0;
  const until = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < until) {
        await call(c, calls);
        calls++;
      }
    }),
  );
  const callsPerSecond = calls / ((performance.now() - started) / 1000);
  const latencies: number[] = [];
  const one = clients[0]!;
  const endC1 = performance.now() + SECONDS * 1000;
  while (performance.now() < endC1) {
    const t = performance.now();
    await call(one, latencies.length);
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await stopProcess(served.proc);
  removeDir(join(dir, ".."));
  return { callsPerSecond, p99c1: percentile(latencies, 99) };
}

try {
  const perSecond = await isolated();
  console.log(`audit path alone:   ${Math.round(perSecond).toLocaleString("en")} durable records/s   (target ≥ 50,000)  ${perSecond >= 50_000 ? "ok" : "BELOW TARGET"}`);
  // Alternate off/on twice and keep each side's best run, so drift on a shared machine hurts both alike.
  const off = [await gateway(false), await gateway(true), await gateway(false), await gateway(true)];
  const best = (runs: { callsPerSecond: number; p99c1: number }[]) => ({ callsPerSecond: Math.max(...runs.map((r) => r.callsPerSecond)), p99c1: Math.min(...runs.map((r) => r.p99c1)) });
  const a = best([off[0]!, off[2]!]);
  const b = best([off[1]!, off[3]!]);
  const ratio = b.callsPerSecond / a.callsPerSecond;
  const growth = b.p99c1 - a.p99c1;
  console.log(`gateway c=16:       audit off ${Math.round(a.callsPerSecond)} calls/s, on ${Math.round(b.callsPerSecond)} calls/s, ratio ${ratio.toFixed(3)}   (target ≥ 0.9)  ${ratio >= 0.9 ? "ok" : "BELOW TARGET"}`);
  console.log(`gateway c=1 p99:    audit off ${a.p99c1.toFixed(3)} ms, on ${b.p99c1.toFixed(3)} ms, growth ${growth.toFixed(3)} ms   (target ≤ 1 ms)  ${growth <= 1 ? "ok" : "ABOVE TARGET"}`);
} finally {
  await stopAll();
}
