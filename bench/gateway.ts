/**
 * tools/call throughput, latency, CPU and memory figures for the gateway path,
 * measured against three comparison targets in one run. Prints what it
 * measures and never fails on a number; run `make bench`, or
 * `bun bench/gateway.ts [--quick] [--json]` after `make build`.
 *
 * Targets, all on 127.0.0.1, all serving one tool `echo` (bench/fixtures):
 *   (a) an SDK McpServer on the Web-standard Streamable HTTP transport under Bun.serve, called directly
 *   (b) (a) as an `http` connector behind dist/mintgate            (tool h__echo)
 *   (c) a bun stdio SDK echo server as a `stdio` connector behind mintgate (tool s__echo)
 *   (d) the same stdio server behind supergateway (stateful Streamable HTTP), the peer
 *   (e) a bare Bun proxy in front of (a) (bench/fixtures/bare-proxy.ts), raw clients only: the floor
 *       of Bun.serve + fetch, which no gateway on this stack goes below; no target is set on it
 *
 * One load generator drives them with two client kinds (raw JSON-RPC POSTs over
 * fetch, and SDK Clients), 16 B and 64 KiB string arguments and concurrency 1,
 * 16 and 64; each concurrent worker holds its own session. Every cell is split
 * into rounds and the targets run one after another inside a round (in a
 * rotating order), so a noisy machine hits them alike.
 *
 * mintgate is set up the way a user would: `init`, `apply -f mintgate.yaml`,
 * `tokens create`, `serve --port 0` on a temporary data directory; call records
 * stay on. supergateway runs under node with bench/fixtures/listen-loopback.cjs
 * preloaded, because it has no option for the listen address. CPU per call is
 * read from /proc/<pid>/stat around each measured slice. The table also goes to
 * a file in the OS temp directory, whose path is printed last.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import {
  BINARY,
  childrenOf,
  clockTicks,
  cpuTicksOf,
  descendantsOf,
  errorText,
  percentile,
  readMemory,
  removeDir,
  required,
  ROOT,
  rows,
  runMintgate,
  serveMintgate,
  startListening,
  startProcess,
  stopAll,
  stopProcess,
  tempDir,
  warnings,
  withTimeout,
  type Memory,
  type Started,
} from "./measure.ts";

const FIXTURES = join(import.meta.dir, "fixtures");
const ECHO_HTTP = join(FIXTURES, "echo-http.ts");
const ECHO_STDIO = join(FIXTURES, "echo-stdio.ts");
const LOOPBACK_PRELOAD = join(FIXTURES, "listen-loopback.cjs");
const BARE_PROXY = join(FIXTURES, "bare-proxy.ts");
const SUPERGATEWAY = join(ROOT, "node_modules", "supergateway", "dist", "index.js");

const QUICK = process.argv.includes("--quick");
const JSON_OUTPUT = process.argv.includes("--json");

/** How each cell's time is cut: `rounds` slices of `sliceMs` measured, each after `warmMs` unmeasured. */
const TIMING = QUICK
  ? { rounds: 1, sliceMs: 300, warmMs: 100, firstWarmMs: 150 }
  : { rounds: 3, sliceMs: 800, warmMs: 200, firstWarmMs: 500 };

const CONCURRENCIES = [1, 16, 64] as const;
const PAYLOAD_BYTES = [16, 64 * 1024] as const;
const CLIENT_KINDS = ["raw", "sdk"] as const;
const IDLE_SESSIONS = QUICK ? 200 : 1000;
const IDLE_WARMUP_SESSIONS = 50;
const SESSION_OPEN_PARALLEL = 16;

/** Bounds, so that nothing can stall or grow the bench without limit. */
const MAX_CALLS_PER_SLICE = 200_000;
const CALL_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 60_000;
const IDLE_PHASE_TIMEOUT_MS = 120_000;
const SETTLE_MS = 1_500;
/** How long the gateway is watched while idle (CPU, then RSS) before any client session. */
const IDLE_WATCH_MS = QUICK ? 1_500 : 3_000;
/** Bun's fetch allows 256 requests at once unless told otherwise; SDK clients each hold a GET stream open. */
const FETCH_LIMIT = "4096";

type ClientKind = (typeof CLIENT_KINDS)[number];
type TargetId = "a" | "b" | "c" | "d" | "e";

const TARGET_NAMES: Record<TargetId, string> = {
  a: "SDK echo server (Bun.serve, web-standard transport), direct",
  b: "mintgate -> http connector -> (a)",
  c: "mintgate -> stdio connector (bun echo-stdio.ts)",
  d: "supergateway --stateful -> stdio (same server), peer",
  e: "bare Bun proxy (Bun.serve + fetch, no MCP, no record) -> (a), raw clients only: the stack's floor",
};

/** Targets that only raw clients drive: the floor (e) forwards bytes, so an SDK client would measure the same again. */
const RAW_ONLY: ReadonlySet<TargetId> = new Set(["e"]);

// ── small helpers ──────────────────────────────────────────────────────────────

/** Runs `task` for every item, at most `parallel` at a time. */
async function forEachLimited<T>(items: readonly T[], parallel: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
}

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function runCli(args: string[]): Promise<string> {
  return runMintgate(BINARY, args, { timeoutMs: START_TIMEOUT_MS });
}

// ── clients ────────────────────────────────────────────────────────────────────

interface Payload {
  bytes: number;
  label: string;
  text: string;
  /** `text` as a JSON string literal, made once. */
  json: string;
}

const payloadLabel = (bytes: number) => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);

function makePayload(bytes: number): Payload {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  let text = "";
  for (let i = 0; i < bytes; i++) text += alphabet[(i * 7 + 3) % alphabet.length];
  return { bytes, label: payloadLabel(bytes), text, json: JSON.stringify(text) };
}

interface ClientSession {
  /** One tools/call of the echo tool; rejects unless the text comes back whole. */
  call(tool: string, payload: Payload): Promise<void>;
  close(): Promise<void>;
}

interface RpcMessage {
  id?: number | string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** The JSON-RPC answer with `id`, from a JSON body or an SSE stream of `data:` lines. */
async function readRpcResponse(response: Response, id: number): Promise<RpcMessage> {
  const type = response.headers.get("content-type") ?? "";
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
  if (type.includes("text/event-stream")) {
    for (const line of text.split("\n")) {
      if (!line.startsWith("data:")) continue;
      const message = JSON.parse(line.slice(5)) as RpcMessage;
      if (message.id === id) return message;
    }
    throw new Error(`no answer to request ${id} in the event stream (${text.length} bytes)`);
  }
  return JSON.parse(text) as RpcMessage;
}

function checkEcho(result: Record<string, unknown> | undefined, payload: Payload): void {
  const content = result?.content as { type?: string; text?: string }[] | undefined;
  const text = content?.[0]?.text;
  if (result?.isError === true) throw new Error(`the tool failed: ${String(text).slice(0, 300)}`);
  if (text?.length !== payload.text.length) throw new Error(`echo came back with ${text?.length ?? "no"} characters, not ${payload.text.length}`);
}

/** A hand-written Streamable HTTP client: one session, plain fetch POSTs. */
class RawSession implements ClientSession {
  private nextId = 1;

  private constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  static async open(url: string, extraHeaders: Record<string, string>): Promise<RawSession> {
    const base = { ...extraHeaders, accept: "application/json, text/event-stream", "content-type": "application/json" };
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "mintgate-bench-raw", version: "1.0.0" } },
    });
    const response = await fetch(url, { method: "POST", headers: base, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    const sessionId = response.headers.get("mcp-session-id");
    const message = await readRpcResponse(response, 0);
    if (message.error) throw new Error(`initialize: ${message.error.message}`);
    if (!sessionId) throw new Error("initialize answered without an Mcp-Session-Id header");
    const version = typeof message.result?.protocolVersion === "string" ? message.result.protocolVersion : LATEST_PROTOCOL_VERSION;
    const headers = { ...base, "mcp-session-id": sessionId, "mcp-protocol-version": version };
    const initialized = await fetch(url, {
      method: "POST",
      headers,
      body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    await initialized.arrayBuffer();
    if (initialized.status !== 202 && initialized.status !== 200) throw new Error(`notifications/initialized answered HTTP ${initialized.status}`);
    return new RawSession(url, headers);
  }

  async request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const response = await fetch(this.url, {
      method: "POST",
      headers: this.headers,
      body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    const message = await readRpcResponse(response, id);
    if (message.error) throw new Error(`${method}: ${message.error.message}`);
    return message.result ?? {};
  }

  async call(tool: string, payload: Payload): Promise<void> {
    const id = this.nextId++;
    const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":${JSON.stringify(tool)},"arguments":{"text":${payload.json}}}}`;
    const response = await fetch(this.url, { method: "POST", headers: this.headers, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
    const message = await readRpcResponse(response, id);
    if (message.error) throw new Error(`tools/call: ${message.error.message}`);
    checkEcho(message.result, payload);
  }

  async close(): Promise<void> {
    const response = await fetch(this.url, { method: "DELETE", headers: this.headers, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }).catch(() => null);
    await response?.arrayBuffer().catch(() => {});
  }
}

/** The official SDK Client on its Streamable HTTP client transport. */
class SdkSession implements ClientSession {
  private constructor(
    private readonly client: Client,
    private readonly transport: StreamableHTTPClientTransport,
  ) {}

  static async open(url: string, extraHeaders: Record<string, string>): Promise<SdkSession> {
    const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: extraHeaders } });
    const client = new Client({ name: "mintgate-bench-sdk", version: "1.0.0" });
    await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
    return new SdkSession(client, transport);
  }

  async call(tool: string, payload: Payload): Promise<void> {
    const result = await this.client.callTool({ name: tool, arguments: { text: payload.text } }, undefined, { timeout: CALL_TIMEOUT_MS });
    checkEcho(result as Record<string, unknown>, payload);
  }

  async close(): Promise<void> {
    await withTimeout(this.transport.terminateSession(), CALL_TIMEOUT_MS, "DELETE session").catch(() => {});
    await this.client.close().catch(() => {});
  }
}

/** Opens `count` sessions, SESSION_OPEN_PARALLEL at a time, adding each to `into` as soon as it is open. */
async function openSessions<S>(count: number, open: () => Promise<S>, into: S[], what: string): Promise<void> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  await withTimeout(
    forEachLimited(indexes, SESSION_OPEN_PARALLEL, async () => {
      into.push(await open());
    }),
    IDLE_PHASE_TIMEOUT_MS,
    what,
  );
}

function closeSessions(sessions: readonly ClientSession[], what: string): Promise<void> {
  return withTimeout(forEachLimited(sessions, SESSION_OPEN_PARALLEL, (s) => s.close()), IDLE_PHASE_TIMEOUT_MS, what);
}

/** Sessions per endpoint and client kind, opened as cells need them and kept for the whole run. */
class SessionPools {
  private readonly pools = new Map<string, ClientSession[]>();

  async ensure(kind: ClientKind, url: string, headers: Record<string, string>, count: number): Promise<ClientSession[]> {
    const key = `${kind} ${url}`;
    const pool = this.pools.get(key) ?? [];
    this.pools.set(key, pool);
    const open = () => (kind === "raw" ? RawSession.open(url, headers) : SdkSession.open(url, headers));
    await openSessions(Math.max(0, count - pool.length), open, pool, `opening ${count} ${kind} sessions to ${url}`);
    return pool.slice(0, count);
  }

  count(url: string): number {
    let total = 0;
    for (const [key, pool] of this.pools) if (key.endsWith(` ${url}`)) total += pool.length;
    return total;
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()].flat();
    this.pools.clear();
    await closeSessions(all, "closing sessions").catch((error) => warnings.push(errorText(error)));
  }
}

// ── the systems under test ─────────────────────────────────────────────────────

interface Target {
  id: TargetId;
  url: string;
  tool: string;
  headers: Record<string, string>;
  /** The proxy process whose own CPU is counted (mintgate or supergateway); none for (a). */
  proxyPid: number | null;
  /** The processes that run the echo tool, found right before each slice. */
  serverPids: () => number[];
}

interface Setup {
  dir: string;
  version: string;
  echoHttp: Started;
  echoHttpUrl: string;
  gateway: Started;
  gatewayUrl: string;
  token: string;
  supergateway: Started;
  supergatewayUrl: string;
  bareProxy: Started;
  targets: Target[];
}

async function startBareProxy(upstreamUrl: string): Promise<{ server: Started; url: string }> {
  const { started, match } = await startListening([process.execPath, BARE_PROXY, upstreamUrl], /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, "bare-proxy.ts", {
    timeoutMs: START_TIMEOUT_MS,
  });
  return { server: started, url: match[1]! };
}

async function startEchoHttp(): Promise<{ server: Started; url: string }> {
  const { started, match } = await startListening([process.execPath, ECHO_HTTP], /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/, "echo-http.ts", {
    timeoutMs: START_TIMEOUT_MS,
  });
  return { server: started, url: match[1]! };
}

function configYaml(echoHttpUrl: string): string {
  const q = (text: string) => JSON.stringify(text);
  return [
    "connectors:",
    "  - name: echo-http",
    "    kind: http",
    `    url: ${q(echoHttpUrl)}`,
    "  - name: echo-stdio",
    "    kind: stdio",
    `    command: ${q(process.execPath)}`,
    `    args: [${q(ECHO_STDIO)}]`,
    "virtualMcps:",
    "  - slug: bench",
    "    name: Bench",
    "    access: { everyone: true }",
    "    connectors:",
    "      - connector: echo-http",
    "        prefix: h",
    "      - connector: echo-stdio",
    "        prefix: s",
    "",
  ].join("\n");
}

async function startGateway(dir: string, echoHttpUrl: string): Promise<{ gateway: Started; url: string; version: string; token: string }> {
  const data = join(dir, "data");
  await runCli(["init", "--data", data]);
  const configFile = join(dir, "mintgate.yaml");
  writeFileSync(configFile, configYaml(echoHttpUrl));
  await runCli(["apply", "-f", configFile, "--data", data]);
  const created = JSON.parse(await runCli(["tokens", "create", "--user", "bench@example.com", "--json", "--data", data])) as { token?: string };
  if (typeof created.token !== "string") throw new Error("`mintgate tokens create --json` printed no token");
  const gateway = await serveMintgate(BINARY, data, { timeoutMs: START_TIMEOUT_MS });
  return { gateway, url: gateway.url, version: gateway.version, token: created.token };
}

/** Polls tools/list on one session until both connectors' tools show up. */
async function waitForTools(url: string, headers: Record<string, string>, tools: string[], gateway: Started): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let session: RawSession | undefined;
  let last = "";
  try {
    for (let attempt = 0; attempt < 10_000 && performance.now() < deadline; attempt++) {
      try {
        session ??= await RawSession.open(url, headers);
        const result = await session.request("tools/list", {});
        const names = ((result.tools as { name: string }[] | undefined) ?? []).map((t) => t.name);
        if (tools.every((t) => names.includes(t))) return;
        last = `tools so far: ${names.join(", ") || "none"}`;
      } catch (error) {
        last = errorText(error);
      }
      await Bun.sleep(50);
    }
    throw new Error(`the gateway's tools did not show up within ${READY_TIMEOUT_MS} ms (${last})\n${gateway.stderrTail()}`);
  } finally {
    await session?.close();
  }
}

async function startSupergateway(): Promise<{ server: Started; url: string }> {
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  const server = startProcess(
    [
      "node",
      "--require",
      LOOPBACK_PRELOAD,
      SUPERGATEWAY,
      "--stdio",
      `${quote(process.execPath)} ${quote(ECHO_STDIO)}`,
      "--outputTransport",
      "streamableHttp",
      "--stateful",
      "--port",
      "0",
      "--logLevel",
      "none",
    ],
    // supergateway exits when its stdin closes, so it gets a pipe that stays open.
    { stdinPipe: true },
  );
  // The preload reports the port on stderr; stderrTail() sees it once the drain has read it.
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    const match = server.stderrTail().match(/bench-listening (\d+)/);
    if (match) return { server, url: `http://127.0.0.1:${match[1]}/mcp` };
    if (server.proc.exitCode !== null) break;
    await Bun.sleep(20);
  }
  throw new Error(`supergateway did not start listening:\n${server.stderrTail()}`);
}

async function setUp(): Promise<Setup> {
  const dir = tempDir("mintgate-bench-gateway-");
  progress("starting (a) echo-http, mintgate, supergateway and the bare proxy");
  const { server: echoHttp, url: echoHttpUrl } = await startEchoHttp();
  const { gateway, url: gatewayUrl, version, token } = await startGateway(dir, echoHttpUrl);
  const auth = { authorization: `Bearer ${token}` };
  const mcpUrl = `${gatewayUrl}/mcp/bench`;
  await waitForTools(mcpUrl, auth, ["h__echo", "s__echo"], gateway);
  const { server: supergateway, url: supergatewayUrl } = await startSupergateway();
  const { server: bareProxy, url: bareProxyUrl } = await startBareProxy(echoHttpUrl);
  const gatewayPid = gateway.proc.pid;
  const targets: Target[] = [
    { id: "a", url: echoHttpUrl, tool: "echo", headers: {}, proxyPid: null, serverPids: () => [echoHttp.proc.pid] },
    { id: "b", url: mcpUrl, tool: "h__echo", headers: auth, proxyPid: gatewayPid, serverPids: () => [echoHttp.proc.pid] },
    { id: "c", url: mcpUrl, tool: "s__echo", headers: auth, proxyPid: gatewayPid, serverPids: () => descendantsOf(gatewayPid) },
    { id: "d", url: supergatewayUrl, tool: "echo", headers: {}, proxyPid: supergateway.proc.pid, serverPids: () => descendantsOf(supergateway.proc.pid) },
    { id: "e", url: bareProxyUrl, tool: "echo", headers: {}, proxyPid: bareProxy.proc.pid, serverPids: () => [echoHttp.proc.pid] },
  ];
  return { dir, version, echoHttp, echoHttpUrl, gateway, gatewayUrl, token, supergateway, supergatewayUrl, bareProxy, targets };
}

// ── measuring ──────────────────────────────────────────────────────────────────

interface Cell {
  kind: ClientKind;
  payload: number;
  concurrency: number;
  target: TargetId;
  calls: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  latencies: number[];
  proxyTicks: number;
  serverTicks: number;
  clientMicros: number;
}

interface CellSummary extends Pick<Cell, "kind" | "concurrency" | "target" | "calls" | "errors" | "firstError" | "seconds"> {
  payloadBytes: number;
  callsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** CPU time per completed call, in µs: the proxy's own (mintgate/supergateway), the echo server(s)', the load generator's. */
  proxyCpuUs: number | null;
  serverCpuUs: number;
  clientCpuUs: number;
}

/** Closed-loop workers, one per session, until `until` (performance.now()) or the call bound. */
async function drive(sessions: ClientSession[], tool: string, payload: Payload, until: number, cell: Cell | null): Promise<number> {
  let attempts = 0;
  let completed = 0;
  await Promise.all(
    sessions.map(async (session) => {
      while (performance.now() < until && attempts < MAX_CALLS_PER_SLICE) {
        attempts++;
        const before = performance.now();
        try {
          await session.call(tool, payload);
          completed++;
          cell?.latencies.push(performance.now() - before);
        } catch (error) {
          if (cell) {
            cell.errors++;
            cell.firstError ??= errorText(error);
          }
        }
      }
    }),
  );
  return completed;
}

async function runSlice(pools: SessionPools, target: Target, cell: Cell, payload: Payload, warmMs: number): Promise<void> {
  const sessions = await pools.ensure(cell.kind, target.url, target.headers, cell.concurrency);
  await drive(sessions, target.tool, payload, performance.now() + warmMs, null);
  const serverPids = target.serverPids();
  const proxyBefore = target.proxyPid === null ? 0 : cpuTicksOf([target.proxyPid]);
  const serverBefore = cpuTicksOf(serverPids);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const completed = await drive(sessions, target.tool, payload, started + TIMING.sliceMs, cell);
  cell.seconds += (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  cell.clientMicros += client.user + client.system;
  if (target.proxyPid !== null) cell.proxyTicks += cpuTicksOf([target.proxyPid]) - proxyBefore;
  cell.serverTicks += cpuTicksOf(serverPids) - serverBefore;
  cell.calls += completed;
}

function summarize(cell: Cell, hasProxy: boolean): CellSummary {
  const sorted = Float64Array.from(cell.latencies).sort();
  const perCall = (micros: number) => (cell.calls > 0 ? micros / cell.calls : NaN);
  const tickUs = 1e6 / clockTicks();
  return {
    kind: cell.kind,
    payloadBytes: cell.payload,
    concurrency: cell.concurrency,
    target: cell.target,
    calls: cell.calls,
    errors: cell.errors,
    firstError: cell.firstError,
    seconds: cell.seconds,
    callsPerSecond: cell.seconds > 0 ? cell.calls / cell.seconds : NaN,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    proxyCpuUs: hasProxy ? perCall(cell.proxyTicks * tickUs) : null,
    serverCpuUs: perCall(cell.serverTicks * tickUs),
    clientCpuUs: perCall(cell.clientMicros),
  };
}

interface IdleSessions {
  count: number;
  rssBeforeKiB: number;
  rssAfterKiB: number;
  kibPerSession: number;
  seconds: number;
  gatewayChildren: number;
  upstreamSessionsOfGateway: number;
}

/** How many sessions mintgate holds open on the http upstream (a), from its /stats. */
async function gatewaySessionsOn(echoHttpUrl: string): Promise<number> {
  const response = await fetch(new URL("/stats", echoHttpUrl), { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  return ((await response.json()) as { sessions: Record<string, number> }).sessions["mintgate"] ?? 0;
}

/** RSS of the gateway with `IDLE_SESSIONS` initialized raw sessions held open, against a baseline after a warm-up. */
async function measureIdleSessions(setup: Setup, url: string, headers: Record<string, string>): Promise<IdleSessions> {
  const pid = setup.gateway.proc.pid;
  const open = async (count: number) => {
    const sessions: RawSession[] = [];
    await openSessions(count, () => RawSession.open(url, headers), sessions, `opening ${count} idle sessions`);
    return sessions;
  };
  const closeAll = (sessions: RawSession[]) => closeSessions(sessions, "closing idle sessions");

  // A first batch so that code paths are compiled and pools sized before the baseline.
  await closeAll(await open(IDLE_WARMUP_SESSIONS));
  await Bun.sleep(SETTLE_MS);
  const before = readMemory(pid);
  const started = performance.now();
  const sessions = await open(IDLE_SESSIONS);
  const seconds = (performance.now() - started) / 1000;
  await Bun.sleep(SETTLE_MS);
  const after = readMemory(pid);
  const gatewayChildren = childrenOf(pid).length;
  const upstream = await gatewaySessionsOn(setup.echoHttpUrl);
  await closeAll(sessions);
  const rssBeforeKiB = before?.rssKiB ?? NaN;
  const rssAfterKiB = after?.rssKiB ?? NaN;
  return {
    count: IDLE_SESSIONS,
    rssBeforeKiB,
    rssAfterKiB,
    kibPerSession: (rssAfterKiB - rssBeforeKiB) / IDLE_SESSIONS,
    seconds,
    gatewayChildren,
    upstreamSessionsOfGateway: upstream,
  };
}

interface ProcessCheck {
  /** Client sessions the load generator holds open to the gateway, and the gateway's child processes then. */
  gatewayClientSessions: number;
  gatewayChildren: number;
  gatewayUpstreamHttpSessions: number;
  supergatewayClientSessions: number;
  supergatewayChildren: number;
  supergatewayDescendants: number;
  supergatewayTreeRssKiB: number;
}

async function processCheck(setup: Setup, pools: SessionPools): Promise<ProcessCheck> {
  const sgPid = setup.supergateway.proc.pid;
  const descendants = descendantsOf(sgPid);
  let treeRss = readMemory(sgPid)?.rssKiB ?? 0;
  for (const pid of descendants) treeRss += readMemory(pid)?.rssKiB ?? 0;
  return {
    gatewayClientSessions: pools.count(`${setup.gatewayUrl}/mcp/bench`),
    gatewayChildren: childrenOf(setup.gateway.proc.pid).length,
    gatewayUpstreamHttpSessions: await gatewaySessionsOn(setup.echoHttpUrl),
    supergatewayClientSessions: pools.count(setup.supergatewayUrl),
    supergatewayChildren: childrenOf(sgPid).length,
    supergatewayDescendants: descendants.length,
    supergatewayTreeRssKiB: treeRss,
  };
}

interface Report {
  version: string;
  platform: string;
  bun: string;
  node: string;
  cpus: number;
  clockTicks: number;
  quick: boolean;
  timing: typeof TIMING;
  targets: Record<TargetId, string>;
  cells: CellSummary[];
  memory: {
    idle: Memory | null;
    /** The gateway's CPU while idle, in ms per second. */
    idleCpuMsPerS: number;
    /** Idle RSS of other processes, for reference: (a)'s Bun process and supergateway's node process (no sessions). */
    reference: { echoHttp: Memory | null; supergateway: Memory | null };
    idleSessions: IdleSessions;
    afterLoad: Memory | null;
  };
  gatewayChildrenIdle: number;
  processes: ProcessCheck;
  seconds: number;
  warnings: string[];
}

async function measure(): Promise<Report> {
  const startedAt = performance.now();
  const setup = await setUp();
  const pools = new SessionPools();
  try {
    const gatewayPid = setup.gateway.proc.pid;
    const mcpUrl = `${setup.gatewayUrl}/mcp/bench`;
    const auth = { authorization: `Bearer ${setup.token}` };

    const idleTicksBefore = cpuTicksOf([gatewayPid]);
    const idleStarted = performance.now();
    await Bun.sleep(IDLE_WATCH_MS);
    const idleCpuMsPerS = ((cpuTicksOf([gatewayPid]) - idleTicksBefore) * (1000 / clockTicks())) / ((performance.now() - idleStarted) / 1000);
    const idle = readMemory(gatewayPid);
    const reference = { echoHttp: readMemory(setup.echoHttp.proc.pid), supergateway: readMemory(setup.supergateway.proc.pid) };
    const gatewayChildrenIdle = childrenOf(gatewayPid).length;
    progress(`gateway idle RSS ${((idle?.rssKiB ?? NaN) / 1024).toFixed(1)} MiB; opening ${IDLE_SESSIONS} idle sessions`);
    const idleSessions = await measureIdleSessions(setup, mcpUrl, auth);

    const payloads = PAYLOAD_BYTES.map(makePayload);
    const cells = new Map<string, Cell>();
    const cellOf = (kind: ClientKind, payload: number, concurrency: number, target: TargetId): Cell => {
      const key = `${kind}/${payload}/${concurrency}/${target}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = { kind, payload, concurrency, target, calls: 0, errors: 0, firstError: null, seconds: 0, latencies: [], proxyTicks: 0, serverTicks: 0, clientMicros: 0 };
        cells.set(key, cell);
      }
      return cell;
    };

    let sliceIndex = 0;
    for (let round = 0; round < TIMING.rounds; round++) {
      for (const kind of CLIENT_KINDS) {
        progress(`round ${round + 1}/${TIMING.rounds}, ${kind} clients (${((performance.now() - startedAt) / 1000).toFixed(0)} s so far)`);
        for (const payload of payloads) {
          for (const concurrency of CONCURRENCIES) {
            // Rotate the order so that no target always runs right after the same other one.
            const shift = sliceIndex++ % setup.targets.length;
            const order = [...setup.targets.slice(shift), ...setup.targets.slice(0, shift)];
            for (const target of order) {
              if (kind !== "raw" && RAW_ONLY.has(target.id)) continue;
              const warmMs = TIMING.warmMs + (round === 0 ? TIMING.firstWarmMs : 0);
              await runSlice(pools, target, cellOf(kind, payload.bytes, concurrency, target.id), payload, warmMs);
            }
          }
        }
      }
    }

    const afterLoad = readMemory(gatewayPid);
    const processes = await processCheck(setup, pools);
    const summaries = [...cells.values()].map((cell) => summarize(cell, cell.target !== "a"));
    return {
      version: setup.version,
      platform: `${process.platform} ${process.arch}`,
      bun: Bun.version,
      node: spawnSync("node", ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "?",
      cpus: cpus().length,
      clockTicks: clockTicks(),
      quick: QUICK,
      timing: TIMING,
      targets: TARGET_NAMES,
      cells: summaries,
      memory: { idle, idleCpuMsPerS, reference, idleSessions, afterLoad },
      gatewayChildrenIdle,
      processes,
      seconds: (performance.now() - startedAt) / 1000,
      warnings,
    };
  } finally {
    progress("closing sessions and stopping servers");
    await pools.closeAll();
    // supergateway ends its children when its stdin closes or on SIGTERM.
    const sgStdin = setup.supergateway.proc.stdin;
    if (sgStdin && typeof sgStdin !== "number") await Promise.resolve(sgStdin.end()).catch(() => {});
    await Promise.all([setup.supergateway.proc, setup.gateway.proc, setup.bareProxy.proc, setup.echoHttp.proc].map(stopProcess));
    removeDir(setup.dir);
  }
}

// ── printing ───────────────────────────────────────────────────────────────────

const fixed = (value: number | null, digits: number) => (value === null || !Number.isFinite(value) ? "-" : value.toFixed(digits));
const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

function formatReport(r: Report): string {
  const lines: string[] = [];
  const find = (kind: ClientKind, payload: number, concurrency: number, target: TargetId) =>
    r.cells.find((c) => c.kind === kind && c.payloadBytes === payload && c.concurrency === concurrency && c.target === target);

  lines.push(
    `mintgate ${r.version} gateway benchmark — ${r.platform}, ${r.cpus} CPUs, bun ${r.bun}, node ${r.node}${r.quick ? " (--quick)" : ""}`,
    `each cell: ${r.timing.rounds} round(s) × ${r.timing.sliceMs} ms measured, ${r.timing.warmMs} ms warm-up before each (+${r.timing.firstWarmMs} ms in round 1); targets interleaved per round`,
    ...(["a", "b", "c", "d", "e"] as const).map((id) => `  (${id}) ${r.targets[id]}`),
    "CPU µs/call from /proc/<pid>/stat utime+stime (CLK_TCK " + r.clockTicks + "): proxy = mintgate, supergateway or the bare proxy process itself; server = echo server process(es); client = this load generator",
    "",
  );

  const header =
    "client payload   conc | target  calls/s   p50 ms   p95 ms   p99 ms | proxy µs/call  server µs/call  client µs/call | calls  errors";
  lines.push(header, "-".repeat(header.length));
  for (const kind of CLIENT_KINDS) {
    for (const payload of PAYLOAD_BYTES) {
      for (const concurrency of CONCURRENCIES) {
        for (const target of ["a", "b", "c", "d", "e"] as const) {
          const c = find(kind, payload, concurrency, target);
          if (!c) continue;
          lines.push(
            `${kind.padEnd(6)} ${payloadLabel(payload).padEnd(8)} ${String(concurrency).padStart(4)} | (${target})   ${fixed(c.callsPerSecond, 0).padStart(8)} ${fixed(c.p50Ms, 2).padStart(8)} ${fixed(c.p95Ms, 2).padStart(8)} ${fixed(c.p99Ms, 2).padStart(8)} | ${fixed(c.proxyCpuUs, 0).padStart(13)} ${fixed(c.serverCpuUs, 0).padStart(15)} ${fixed(c.clientCpuUs, 0).padStart(15)} | ${String(c.calls).padStart(6)} ${String(c.errors).padStart(6)}${c.firstError ? `  first error: ${c.firstError.slice(0, 160)}` : ""}`,
          );
        }
      }
      lines.push("");
    }
  }

  lines.push("Ratios of calls/s                      (b)/(a)   target        (c)/(d)   target");
  for (const kind of CLIENT_KINDS) {
    for (const payload of PAYLOAD_BYTES) {
      for (const concurrency of CONCURRENCIES) {
        const [a, b, c, d] = (["a", "b", "c", "d"] as const).map((t) => find(kind, payload, concurrency, t));
        const ba = a && b ? b.callsPerSecond / a.callsPerSecond : NaN;
        const cd = c && d ? c.callsPerSecond / d.callsPerSecond : NaN;
        const baTarget = kind === "raw" && concurrency === 16 ? `≥ 0.5  ${verdict(ba >= 0.5)}` : "";
        const cdTarget = concurrency === 16 ? `≥ 5    ${verdict(cd >= 5)}` : "";
        lines.push(`  ${kind.padEnd(4)} ${payloadLabel(payload).padEnd(7)} c=${String(concurrency).padEnd(3)}                ${fixed(ba, 2).padStart(7)}   ${baTarget.padEnd(13)} ${fixed(cd, 2).padStart(7)}   ${cdTarget}`);
      }
    }
  }
  lines.push("");

  lines.push("Latency (b) adds over (a) at c=1        p50 ms    target           p99 ms    target");
  for (const kind of CLIENT_KINDS) {
    for (const payload of PAYLOAD_BYTES) {
      const a = find(kind, payload, 1, "a");
      const b = find(kind, payload, 1, "b");
      const p50 = a && b ? b.p50Ms - a.p50Ms : NaN;
      const p99 = a && b ? b.p99Ms - a.p99Ms : NaN;
      lines.push(
        `  ${kind.padEnd(4)} ${payloadLabel(payload).padEnd(7)}                      ${fixed(p50, 3).padStart(7)}   ≤ 0.3  ${verdict(p50 <= 0.3).padEnd(7)}  ${fixed(p99, 3).padStart(7)}   ≤ 2    ${verdict(p99 <= 2)}`,
      );
    }
  }
  lines.push("");

  lines.push("Gateway CPU per tools/call (µs)        (b) c=1   c=16   c=64    (c) c=1   c=16   c=64    target");
  for (const kind of CLIENT_KINDS) {
    for (const payload of PAYLOAD_BYTES) {
      const limit = payload >= 1024 ? 300 : 100;
      const values = (target: TargetId) => CONCURRENCIES.map((conc) => find(kind, payload, conc, target)?.proxyCpuUs ?? NaN);
      const b = values("b");
      const c = values("c");
      const all = [...b, ...c];
      const met = all.filter((v) => v <= limit).length;
      lines.push(
        `  ${kind.padEnd(4)} ${payloadLabel(payload).padEnd(7)}                   ${b.map((v) => fixed(v, 0).padStart(6)).join(" ")}    ${c.map((v) => fixed(v, 0).padStart(6)).join(" ")}    ≤ ${limit}: ${met === all.length ? "met" : `MISSED in ${all.length - met}/${all.length} cells`}`,
      );
    }
  }
  for (const payload of PAYLOAD_BYTES) {
    const floor = CONCURRENCIES.map((conc) => find("raw", payload, conc, "e")?.proxyCpuUs ?? NaN);
    lines.push(`  floor: (e) bare proxy, raw ${payloadLabel(payload).padEnd(7)}   ${floor.map((v) => fixed(v, 0).padStart(6)).join(" ")}    (Bun.serve + fetch alone; not a target)`);
  }
  lines.push("");

  const mib = (kib: number | undefined) => (kib === undefined || !Number.isFinite(kib) ? "n/a" : `${(kib / 1024).toFixed(1)} MiB (${((kib * 1024) / 1e6).toFixed(1)} MB)`);
  const idleMB = ((r.memory.idle?.rssKiB ?? NaN) * 1024) / 1e6;
  const row = rows(50);
  const s = r.memory.idleSessions;
  lines.push(
    "Gateway memory",
    row("  idle RSS (connectors ready, no client session)", `${mib(r.memory.idle?.rssKiB)}   target ≤ 60 MB: ${verdict(idleMB <= 60)}`),
    row("    for reference, idle RSS of (a) echo-http", `${mib(r.memory.reference.echoHttp?.rssKiB)}  (bun + SDK + zod, 1 session)`),
    row("    and of supergateway (node, no session)", mib(r.memory.reference.supergateway?.rssKiB)),
    row("  idle CPU", `${fixed(r.memory.idleCpuMsPerS, 1)} ms/s  (over ${(IDLE_WATCH_MS / 1000).toFixed(1)} s; one clock tick = ${(1000 / r.clockTicks).toFixed(0)} ms)`),
    row(`  RSS before / with ${s.count} idle sessions`, `${mib(s.rssBeforeKiB)} / ${mib(s.rssAfterKiB)}  (opened in ${s.seconds.toFixed(2)} s)`),
    row("  per idle session", `${fixed(s.kibPerSession, 1)} KiB   target ≤ 100 KiB: ${verdict(s.kibPerSession <= 100)}`),
    row("  RSS after the load / peak (VmHWM) of the run", `${mib(r.memory.afterLoad?.rssKiB)} / ${mib(r.memory.afterLoad?.hwmKiB)}`),
    "",
  );

  const p = r.processes;
  lines.push(
    "Upstream processes / sessions per client session",
    `  mintgate child processes: idle ${r.gatewayChildrenIdle}, with ${s.count} idle client sessions ${s.gatewayChildren}, with ${p.gatewayClientSessions} client sessions after the load ${p.gatewayChildren}   (target 1: ${verdict(r.gatewayChildrenIdle === 1 && s.gatewayChildren === 1 && p.gatewayChildren === 1)})`,
    `  mintgate sessions on the http upstream (a): ${s.upstreamSessionsOfGateway} with ${s.count} client sessions, ${p.gatewayUpstreamHttpSessions} with ${p.gatewayClientSessions}`,
    `  supergateway: ${p.supergatewayClientSessions} client sessions -> ${p.supergatewayChildren} child processes (${p.supergatewayDescendants} descendants), tree RSS ${mib(p.supergatewayTreeRssKiB)}`,
    "",
    `total ${r.seconds.toFixed(0)} s`,
    ...r.warnings.map((w) => `warning: ${w}`),
  );
  return lines.join("\n");
}

// ── main ───────────────────────────────────────────────────────────────────────

async function main(): Promise<number> {
  if (!required(BINARY, "make build") || !required(SUPERGATEWAY, "make install")) return 1;
  try {
    const report = await measure();
    const text = formatReport(report);
    const file = join(tmpdir(), `mintgate-bench-gateway-${new Date().toISOString().replaceAll(":", "-").replace(/\..*$/, "")}.txt`);
    writeFileSync(file, text + "\n");
    if (JSON_OUTPUT) {
      process.stdout.write(JSON.stringify(report) + "\n");
      process.stderr.write(`table written to ${file}\n`);
    } else {
      process.stdout.write(`${text}\n\ntable written to ${file}\n`);
    }
    return 0;
  } finally {
    await stopAll();
  }
}

if (process.env.BUN_CONFIG_MAX_HTTP_REQUESTS === undefined) {
  // Bun reads its fetch concurrency limit at start-up only: run again with it raised.
  const child = Bun.spawn([process.execPath, ...process.argv.slice(1)], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: FETCH_LIMIT },
    stdio: ["inherit", "inherit", "inherit"],
  });
  process.exitCode = await child.exited;
} else {
  process.exitCode = await main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  });
}
