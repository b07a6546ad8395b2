import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { GatewayMetrics, LATENCY_BUCKETS } from "../src/metrics/index.ts";
import { parseExposition, sampleSum, sampleValue, type Family } from "./fixtures/prometheus-text.ts";
import { configuredDataDir, connectMcpClient, runMintgate, startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";

/**
 * /metrics of the real binary: counters and histograms after known calls
 * through SDK clients, connector and session gauges, and who may read it.
 * Every scrape is parsed strictly (test/fixtures/prometheus-text.ts).
 */

const CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo, timeout: 1s }
  - { name: broken, kind: stdio, command: /bin/false }
virtualMcps:
  - slug: metered
    name: Metered
    connectors: [{ connector: demo }]
    access: { everyone: true }
    tools:
      demo__now: { deny: { users: [bob@example.com] } }
  - slug: quiet
    name: Quiet
    connectors: [{ connector: demo }]
    access: { everyone: true }
`;

const METRICS_TOKEN = "scrape-token-0123456789abcdef";

/** A non-loopback address of this machine, to reach a gateway listening on 0.0.0.0 as a remote client would. */
const EXTERNAL_IPV4 = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});

async function token(dataDir: string, user: string): Promise<string> {
  const created = await runMintgate(["tokens", "create", "--user", user, "--json", "--data", dataDir]);
  expect(created.code).toBe(0);
  return (JSON.parse(created.stdout) as { token: string }).token;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Map<string, Family>> {
  const response = await fetch(`${url}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await response.text());
}

const tool = (slug: string, name: string, outcome: string) => ({ virtual_mcp: slug, tool: name, outcome });

describe("/metrics after known calls", () => {
  let dataDir: string;
  let gateway: RunningGateway;
  let alice: Client;
  let bob: Client;
  const startedBefore = Date.now() / 1000;

  beforeAll(async () => {
    dataDir = await configuredDataDir(CONFIG, { label: "mintgate-metrics" });
    const [aliceToken, bobToken] = [await token(dataDir, "alice@example.com"), await token(dataDir, "bob@example.com")];
    gateway = await startGateway({ dataDir, args: ["--host", "0.0.0.0"] });
    gateway.url = gateway.url.replace("0.0.0.0", "127.0.0.1");
    await waitFor("the demo connector", async () => (await fetch(`${gateway.url}/admin/api/connectors`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } }).then((r) => r.json() as Promise<{ name: string; state: string }[]>)).some((c) => c.name === "demo" && c.state === "ready"));
    alice = await connectMcpClient(`${gateway.url}/mcp/metered`, aliceToken);
    bob = await connectMcpClient(`${gateway.url}/mcp/metered`, bobToken);
    clients.push(alice, bob);

    // alice: 3 ok adds, 1 ok echo, 1 unknown tool (error), 1 countdown past the 1 s timeout.
    for (const [a, b] of [[1, 2], [3, 4], [5, 6]] as const) await alice.callTool({ name: "demo__add", arguments: { a, b } });
    await alice.callTool({ name: "demo__echo", arguments: { text: "hi" } });
    const missing = await alice.callTool({ name: "demo__missing", arguments: {} });
    expect(missing.isError).toBe(true);
    const slow = await alice.callTool({ name: "demo__countdown", arguments: { n: 3, intervalMs: 1000 } });
    expect(slow.isError).toBe(true);
    // bob: 1 ok add, and the tool the policy hides from him (denied).
    await bob.callTool({ name: "demo__add", arguments: { a: 1, b: 1 } });
    await expect(bob.callTool({ name: "demo__now", arguments: {} })).rejects.toThrow();
    // Without a token: two refusals on a configured Virtual MCP, one on a slug that does not exist.
    for (const slug of ["quiet", "quiet", "no-such-vmcp"]) {
      const refused = await fetch(`${gateway.url}/mcp/${slug}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(refused.status).toBe(401);
    }
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  test("tool calls are counted by Virtual MCP, tool and outcome", async () => {
    const m = await scrape(gateway.url);
    expect(sampleValue(m, "mintgate_tool_calls_total", tool("metered", "demo__add", "ok"))).toBe(4);
    expect(sampleValue(m, "mintgate_tool_calls_total", tool("metered", "demo__add", "error"))).toBe(0);
    expect(sampleValue(m, "mintgate_tool_calls_total", tool("metered", "demo__echo", "ok"))).toBe(1);
    expect(sampleValue(m, "mintgate_tool_calls_total", tool("metered", "(unknown)", "error"))).toBe(1);
    expect(sampleValue(m, "mintgate_tool_calls_total", tool("metered", "demo__countdown", "timeout"))).toBe(1);
    expect(sampleSum(m, "mintgate_tool_calls_total", { virtual_mcp: "metered", outcome: "denied" })).toBe(1);
    expect(sampleValue(m, "mintgate_tool_calls_total", { ...tool("metered", "demo__add", "ok"), connector: "demo" })).toBe(4);
    expect(sampleSum(m, "mintgate_tool_calls_total", { virtual_mcp: "quiet" })).toBe(0);
  });

  test("MCP requests are counted by method and outcome", async () => {
    const m = await scrape(gateway.url);
    const calls = (outcome: string) => sampleValue(m, "mintgate_mcp_requests_total", { virtual_mcp: "metered", method: "tools/call", outcome });
    expect([calls("ok"), calls("error"), calls("denied"), calls("timeout"), calls("cancelled")]).toEqual([5, 1, 1, 1, 0]);
    expect(sampleValue(m, "mintgate_mcp_requests_total", { virtual_mcp: "metered", method: "initialize", outcome: "ok" })).toBe(2);
  });

  test("the latency histogram holds every call that was not denied", async () => {
    const m = await scrape(gateway.url);
    const labels = { virtual_mcp: "metered" };
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_count", labels)).toBe(7);
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(7);
    // The timed-out countdown took longer than its 1 s timeout; the other six are quick calls.
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_bucket", { ...labels, le: "1" })).toBe(6);
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_sum", labels)).toBeGreaterThanOrEqual(1);
    const les = m.get("mintgate_tool_call_duration_seconds")!.samples.filter((s) => s.name.endsWith("_bucket") && s.labels.virtual_mcp === "metered").map((s) => s.labels.le);
    expect(les).toEqual([...LATENCY_BUCKETS.map(String), "+Inf"]);
  });

  test("HTTP responses of the MCP endpoints are counted by Virtual MCP and status class", async () => {
    const m = await scrape(gateway.url);
    expect(sampleValue(m, "mintgate_http_requests_total", { virtual_mcp: "quiet", status_class: "4xx" })).toBe(2);
    expect(sampleValue(m, "mintgate_http_requests_total", { virtual_mcp: "(unknown)", status_class: "4xx" })).toBe(1);
    expect(sampleValue(m, "mintgate_http_requests_total", { virtual_mcp: "metered", status_class: "2xx" })).toBeGreaterThanOrEqual(10);
    expect(sampleValue(m, "mintgate_http_requests_total", { virtual_mcp: "no-such-vmcp" })).toBeUndefined();
  });

  test("connector states, restarts, sessions, the audit queue and the process", async () => {
    let m = await scrape(gateway.url);
    const state = (connector: string, s: string) => sampleValue(m, "mintgate_connector_state", { connector, state: s });
    expect([state("demo", "starting"), state("demo", "ready"), state("demo", "failed"), state("demo", "stopped")]).toEqual([0, 1, 0, 0]);
    expect(sampleValue(m, "mintgate_connector_restarts_total", { connector: "demo" })).toBe(0);
    // /bin/false exits at once: the connector fails and is restarted with backoff.
    expect(sampleSum(m, "mintgate_connector_state", { connector: "broken" })).toBe(1);
    expect(state("broken", "ready")).toBe(0);
    m = await waitFor("a restart of the broken connector", async () => {
      const scraped = await scrape(gateway.url);
      return (sampleValue(scraped, "mintgate_connector_restarts_total", { connector: "broken" }) ?? 0) >= 1 && scraped;
    });

    expect(sampleValue(m, "mintgate_sessions", { virtual_mcp: "metered" })).toBe(2);
    expect(sampleValue(m, "mintgate_sessions", { virtual_mcp: "quiet" })).toBe(0);
    await (bob.transport as StreamableHTTPClientTransport).terminateSession();
    m = await scrape(gateway.url);
    expect(sampleValue(m, "mintgate_sessions", { virtual_mcp: "metered" })).toBe(1);

    expect(sampleValue(m, "mintgate_audit_queue_depth")).toBe(0);
    // No call is being received or run (held bodies are counted in robustness.test.ts).
    expect(sampleValue(m, "mintgate_request_body_bytes_in_flight")).toBe(0);
    expect(sampleValue(m, "process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(sampleValue(m, "process_cpu_seconds_total")).toBeGreaterThan(0);
    const start = sampleValue(m, "process_start_time_seconds")!;
    expect(start).toBeGreaterThanOrEqual(Math.floor(startedBefore));
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    expect(m.get("mintgate_build_info")!.samples).toHaveLength(1);
    for (const [name, family] of m) {
      expect(family.help, `HELP of ${name}`).toBeTruthy();
      if (family.type === "counter") expect(name).toEndWith("_total");
    }
    // A restart an admin asks for counts too (the README and the HELP text say so).
    const restart = await fetch(`${gateway.url}/admin/api/connectors/demo/restart`, { method: "POST", headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    expect(restart.status).toBe(200);
    expect(sampleValue(await scrape(gateway.url), "mintgate_connector_restarts_total", { connector: "demo" })).toBe(1);
  });

  test("only loopback clients that connect directly may read it by default", async () => {
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      const response = await fetch(`${gateway.url}/metrics`, { headers: { [header]: header === "forwarded" ? "for=203.0.113.9" : "203.0.113.9" } });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { message: string }).message).toContain("metrics token");
    }
  });

  test("a web page reached through DNS rebinding (loopback peer, foreign Host) may not read it", async () => {
    const port = new URL(gateway.url).port;
    const rebound = await fetch(`${gateway.url}/metrics`, { headers: { host: `attacker.example:${port}` } });
    expect(rebound.status).toBe(403);
    const body = await rebound.text();
    expect(body).not.toContain("mintgate_");
    expect((JSON.parse(body) as { message: string }).message).toContain("attacker.example");
    // Local scrapers by address or by localhost still need nothing.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) expect((await fetch(`${gateway.url}/metrics`, { headers: { host } })).status).toBe(200);
  });

  test.skipIf(EXTERNAL_IPV4 === undefined)("a client on another address is refused with 403 (no token is set)", async () => {
    const port = new URL(gateway.url).port;
    const response = await fetch(`http://${EXTERNAL_IPV4}:${port}/metrics`);
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(((await response.json()) as { error: string }).error).toBe("forbidden");
    // The MCP endpoints stay reachable from there as before: only /metrics is loopback-only.
    expect((await fetch(`http://${EXTERNAL_IPV4}:${port}/healthz`)).status).toBe(200);
  });
});

describe("/metrics protection settings", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await configuredDataDir(CONFIG, { label: "mintgate-metrics-access" });
  });

  test("--metrics token: every client needs the token, loopback too", async () => {
    const file = join(tempDir(), "metrics.token");
    writeFileSync(file, `${METRICS_TOKEN}\n`);
    const gateway = await startGateway({ dataDir, args: ["--metrics", "token", "--metrics-token-file", file] });
    try {
      const missing = await fetch(`${gateway.url}/metrics`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="mintgate-metrics"');
      expect(((await missing.json()) as { error: string }).error).toBe("unauthorized");
      expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: "Bearer wrong-token-0123456789abcdef" } })).status).toBe(401);
      expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Basic ${btoa(`x:${METRICS_TOKEN}`)}` } })).status).toBe(401);
      const m = await scrape(gateway.url, { authorization: `Bearer ${METRICS_TOKEN}` });
      expect(sampleValue(m, "mintgate_connector_state", { connector: "demo", state: "ready" }) ?? 0).toBeLessThanOrEqual(1);
      // Through a proxy, the token is what counts.
      await scrape(gateway.url, { authorization: `Bearer ${METRICS_TOKEN}`, "x-forwarded-for": "203.0.113.9" });
    } finally {
      await gateway.stop();
    }
  });

  test.skipIf(EXTERNAL_IPV4 === undefined)("loopback mode with MINTGATE_METRICS_TOKEN: remote scrapes with the token are allowed", async () => {
    const gateway = await startGateway({ dataDir, args: ["--host", "0.0.0.0"], env: { MINTGATE_METRICS_TOKEN: METRICS_TOKEN } });
    try {
      const remote = `http://${EXTERNAL_IPV4}:${new URL(gateway.url).port}`;
      const refused = await fetch(`${remote}/metrics`);
      expect(refused.status).toBe(401);
      expect((await fetch(`${remote}/metrics`, { headers: { authorization: "Bearer not-the-token-0123456789" } })).status).toBe(401);
      await scrape(remote, { authorization: `Bearer ${METRICS_TOKEN}` });
      // On this machine no token is needed.
      await scrape(gateway.url.replace("0.0.0.0", "127.0.0.1"));
    } finally {
      await gateway.stop();
    }
  });

  test("a reverse proxy on this machine (a trusted proxy) is not a local scraper, even when it sends no X-Forwarded-For", async () => {
    const gateway = await startGateway({ dataDir, args: ["--trusted-proxies", "127.0.0.1"] });
    try {
      const proxied = await fetch(`${gateway.url}/metrics`);
      expect(proxied.status).toBe(403);
      expect(await proxied.text()).not.toContain("mintgate_");
    } finally {
      await gateway.stop();
    }
  });

  test("--metrics off: nothing is served at /metrics", async () => {
    const gateway = await startGateway({ dataDir, args: ["--metrics", "off"] });
    try {
      const response = await fetch(`${gateway.url}/metrics`);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe("not_found");
    } finally {
      await gateway.stop();
    }
  });

  test("bad settings stop the start with one sentence", async () => {
    const mode = await runMintgate(["serve", "--data", dataDir, "--port", "0", "--metrics", "public"]);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toBe('mintgate: --metrics must be loopback, token or off, not "public".\n');
    const noToken = await runMintgate(["serve", "--data", dataDir, "--port", "0"], { env: { MINTGATE_METRICS: "token" } });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain("--metrics token needs a token");
    const short = await runMintgate(["serve", "--data", dataDir, "--port", "0"], { env: { MINTGATE_METRICS_TOKEN: "short" } });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("shorter than 16 characters");
  });
});

describe("mintgate_connector_restarts_total", () => {
  test("only goes up: a connector whose upstream is redefined keeps its count, and the redefinition counts as a restart", async () => {
    const echo = (env: Record<string, string>) => ({ name: "echo", kind: "stdio", command: process.execPath, args: [join(import.meta.dir, "fixtures/echo-stdio.ts")], env });
    const dataDir = await configuredDataDir({ connectors: [echo({ FLAVOUR: "first" })], virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "echo" }] }] }, { label: "mintgate-restarts" });
    const gateway = await startGateway({ dataDir });
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${gateway.url}/admin/api${path}`, { method, headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const restarts = async () => sampleValue(await scrape(gateway.url), "mintgate_connector_restarts_total", { connector: "echo" });
    try {
      expect((await admin("POST", "/connectors/echo/restart")).status).toBe(200);
      expect(await restarts()).toBe(1);
      // A new env starts a new upstream process: the PUT answers once the gateway has replaced the connector.
      expect((await admin("PUT", "/connectors/echo", echo({ FLAVOUR: "second" }))).status).toBe(200);
      expect(gateway.output()).toContain("connector restarting connector=echo");
      expect(await restarts()).toBe(2);
    } finally {
      await gateway.stop();
    }
  });
});

describe("the exposition format", () => {
  test("label values with quotes, backslashes and line feeds are escaped and parse back", () => {
    const odd = 'a"b\\c\nd';
    const metrics = new GatewayMetrics(
      {
        connectors: () => [{ name: odd, state: { status: "failed" }, restarts: 3 }],
        sessions: () => [[odd, 2]],
        auditQueueDepth: () => 5,
        isVirtualMcp: () => true,
      },
      { version: "1.0.0", startTimeSeconds: 1_700_000_000 },
    );
    metrics.observe({ virtualMcp: odd, connector: odd, method: "tools/call", exposedName: odd, outcome: "ok", durationMs: 12 });
    metrics.observe({ virtualMcp: odd, connector: odd, method: "made/up", exposedName: "", outcome: "weird", durationMs: 1 });
    metrics.countHttpResponse(odd, 503);
    const m = parseExposition(metrics.render());
    expect(sampleValue(m, "mintgate_tool_calls_total", { virtual_mcp: odd, tool: odd, connector: odd, outcome: "ok" })).toBe(1);
    // Methods outside MCP's share one series; unknown outcomes count as errors.
    expect(sampleValue(m, "mintgate_mcp_requests_total", { virtual_mcp: odd, method: "other", outcome: "error" })).toBe(1);
    expect(sampleValue(m, "mintgate_connector_state", { connector: odd, state: "failed" })).toBe(1);
    expect(sampleValue(m, "mintgate_connector_restarts_total", { connector: odd })).toBe(3);
    expect(sampleValue(m, "mintgate_sessions", { virtual_mcp: odd })).toBe(2);
    expect(sampleValue(m, "mintgate_http_requests_total", { virtual_mcp: odd, status_class: "5xx" })).toBe(1);
    expect(sampleValue(m, "mintgate_audit_queue_depth")).toBe(5);
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_bucket", { virtual_mcp: odd, le: "0.01" })).toBe(0);
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_bucket", { virtual_mcp: odd, le: "0.025" })).toBe(1);
    expect(sampleValue(m, "mintgate_tool_call_duration_seconds_sum", { virtual_mcp: odd })).toBe(0.012);
  });

  test("a tool that moves to another connector is counted under the connector that served each call", () => {
    const metrics = new GatewayMetrics({ connectors: () => [], sessions: () => [], auditQueueDepth: () => 0, isVirtualMcp: () => true }, { version: "1.0.0", startTimeSeconds: 1_700_000_000 });
    metrics.observe({ virtualMcp: "v", connector: "old", method: "tools/call", exposedName: "t__search", outcome: "ok", durationMs: 1 });
    metrics.observe({ virtualMcp: "v", connector: "new", method: "tools/call", exposedName: "t__search", outcome: "ok", durationMs: 1 });
    metrics.observe({ virtualMcp: "v", connector: "new", method: "tools/call", exposedName: "t__search", outcome: "ok", durationMs: 1 });
    const m = parseExposition(metrics.render());
    expect(sampleValue(m, "mintgate_tool_calls_total", { virtual_mcp: "v", tool: "t__search", connector: "old", outcome: "ok" })).toBe(1);
    expect(sampleValue(m, "mintgate_tool_calls_total", { virtual_mcp: "v", tool: "t__search", connector: "new", outcome: "ok" })).toBe(2);
  });

  test("the reader used here rejects what Prometheus rejects", () => {
    const bad = [
      "no_newline 1",
      "metric{a=\"x\"} one\n",
      "metric{a=x} 1\n",
      'metric{a="\\t"} 1\n',
      'metric{__a="x"} 1\n',
      'metric{a="x",a="y"} 1\n',
      "metric 1\nmetric 2\n",
      "# TYPE c counter\nc 1\n# TYPE c counter\n",
      "a 1\nb 1\na 2\n",
      "# TYPE c counter\nc -1\n",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
      "1metric 1\n",
      "# TYPE x countr\n",
    ];
    for (const text of bad) expect(() => parseExposition(text), JSON.stringify(text)).toThrow();
    const good = parseExposition('# HELP x A \\\\ help\\nline.\n# TYPE x gauge\nx{a="q\\"",} -Inf 1700000000000\n# a comment\n\ny NaN\n');
    expect(good.get("x")!.help).toBe("A \\ help\nline.");
    expect(good.get("x")!.samples[0]).toEqual({ name: "x", labels: { a: 'q"' }, value: -Infinity });
  });
});
