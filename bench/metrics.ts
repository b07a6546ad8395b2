/**
 * The cost /metrics adds to the request path, in isolation: one
 * GatewayMetrics.observe (what the audit log's record hook calls for every
 * MCP request) and one countHttpResponse (per MCP endpoint response), plus
 * the time to render a scrape with many series. Prints figures; asserts nothing.
 * Run: `bun bench/metrics.ts`.
 */
import { GatewayMetrics } from "../src/metrics/index.ts";

const VMCPS = 20;
const TOOLS = 50;
const metrics = new GatewayMetrics(
  {
    connectors: () => Array.from({ length: 10 }, (_, i) => ({ name: `c${i}`, state: { status: "ready" }, restarts: i })),
    sessions: () => Array.from({ length: VMCPS }, (_, i) => [`vmcp-${i}`, i] as const),
    auditQueueDepth: () => 0,
    isVirtualMcp: (slug) => slug.startsWith("vmcp-"),
  },
  { version: "bench", startTimeSeconds: Date.now() / 1000 },
);
const outcomes = ["ok", "ok", "ok", "error", "denied", "timeout"];
const requests = Array.from({ length: 4096 }, (_, i) => ({
  virtualMcp: `vmcp-${i % VMCPS}`,
  connector: `c${i % 10}`,
  method: i % 5 === 0 ? "tools/list" : "tools/call",
  exposedName: `c${i % 10}__tool${i % TOOLS}`,
  outcome: outcomes[i % outcomes.length]!,
  durationMs: (i % 997) * 0.37,
}));

function measure(label: string, n: number, run: (i: number) => void): void {
  for (let i = 0; i < 100_000; i++) run(i); // warm up (and create every series)
  const start = Bun.nanoseconds();
  for (let i = 0; i < n; i++) run(i);
  const ns = (Bun.nanoseconds() - start) / n;
  console.log(`${label.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns per call`);
}

measure("observe (record hook, every MCP request)", 5_000_000, (i) => metrics.observe(requests[i & 4095]!));
measure("countHttpResponse (every /mcp response)", 5_000_000, (i) => metrics.countHttpResponse(`vmcp-${i % VMCPS}`, 200));
const start = Bun.nanoseconds();
let text = "";
for (let i = 0; i < 100; i++) text = metrics.render();
console.log(`${"render a scrape".padEnd(44)} ${((Bun.nanoseconds() - start) / 100 / 1e6).toFixed(2).padStart(8)} ms (${text.split("\n").length} lines, ${(text.length / 1024).toFixed(0)} KiB)`);
