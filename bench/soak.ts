/**
 * Soak: runs dist/mintgate for N minutes (default 10) under a mix of real traffic and admin churn, samples the
 * process every 10 s, and prints the samples as a table and a verdict line on what did not come back once the
 * load stopped. It looks for leaks and error paths, not speed: it prints figures and asserts no timing.
 * Run after `make build`: `bun bench/soak.ts [--minutes N]`.
 *
 * The gateway has four connectors (the builtin demo, two stdio fixtures, the bench's Streamable HTTP echo server)
 * in two Virtual MCPs, and a 20 s --session-idle-timeout so that sessions dropped without DELETE end within the run.
 * Load: SDK clients on Streamable HTTP and legacy SSE (lists, small and 64 KiB calls, resource reads, prompts,
 * calls cancelled mid-way, sessions closed with DELETE or just dropped, sessions whose token is revoked under
 * them), sessionless 2026-07-28 requests; churn: `mintgate apply` of a changed mintgate.yaml every 30 s (a tool
 * renamed, a connector's env changed so it restarts, a connector detached and attached), connector restarts
 * through the admin API, a stdio child killed with SIGKILL, tokens created and revoked, /metrics and the admin
 * API polled. Each sample: RSS, open fds, threads, child processes, the gauges in /metrics, the database and its
 * WAL, and the gateway's warn/error lines so far. The load runs in two equal phases; after each, every client stops,
 * the run waits for the sessions gauge to reach 0, checks that one person may again run --requests-per-person
 * requests at once, and samples the quiet gateway: the first phase takes the warm-up, so what the second leaves on
 * top of the first's idle figures is growth; the http upstream is asked how many sessions the gateway holds there
 * (one: a restart ends the old one). Last, `mintgate audit verify` checks the chain.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, childEnv, descendantsOf, errorText, readMemory, removeDir, required, ROOT, runMintgate, startListening, stopAll, tempDir, withTimeout } from "./measure.ts";

const minutesFlag = process.argv.indexOf("--minutes");
const MINUTES = minutesFlag === -1 ? 10 : Number(process.argv[minutesFlag + 1]);
if (!Number.isFinite(MINUTES) || MINUTES <= 0) {
  process.stderr.write("--minutes takes a positive number, e.g. --minutes 10.\n");
  process.exit(2);
}
if (!required(BINARY, "make build")) process.exit(1);

const SAMPLE_MS = 10_000;
const APPLY_EVERY_MS = 30_000;
const IDLE_TIMEOUT_S = 20;
/** A request the SDK gives up on after this long counts as hung: every connector's timeout is shorter. */
const REQUEST_TIMEOUT_MS = 30_000;
const CONNECTOR_TIMEOUT = "10s";
/** Low, so that a request the gateway forgets to give back shows within the run as refusals, and in the check at the end. */
const REQUESTS_PER_PERSON = 30;
const BIG_TEXT = "x".repeat(64 * 1024);
const RAW_STDIO = join(ROOT, "test", "fixtures", "raw-stdio.ts");
const ECHO_STDIO = join(ROOT, "test", "fixtures", "echo-stdio.ts");
const ECHO_HTTP = join(ROOT, "bench", "fixtures", "echo-http.ts");
const progress = (line: string) => process.stderr.write(`[soak] ${line}\n`);
// A failure of the driver itself, or Ctrl-C, still stops the gateway and the upstreams it started.
process.on("uncaughtException", (error) => {
  process.stderr.write(`soak failed: ${error.stack ?? error.message}\n`);
  void stopAll().finally(() => process.exit(1));
});
process.on("SIGINT", () => void stopAll().finally(() => process.exit(130)));

// ── set-up ─────────────────────────────────────────────────────────────────────

const work = tempDir("mintgate-soak-");
const dataDir = join(work, "data");
const configFile = join(work, "mintgate.yaml");
const upstream = await startListening([process.execPath, ECHO_HTTP], /listening on (\S+)/, "echo-http", { timeoutMs: 30_000 });
const upstreamUrl = upstream.match[1]!;

/** Round r of the configuration: every apply renames a tool back or forth, and changes what restarts or attaches. */
function config(round: number): string {
  const rename = round % 2 === 1 ? `, rename: { echo: echo_renamed }` : "";
  const webAttached = round % 4 < 2;
  return `connectors:
  - { name: demo, kind: builtin, server: demo }
  - { name: raw, kind: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(RAW_STDIO)}], timeout: ${CONNECTOR_TIMEOUT} }
  - { name: echo, kind: stdio, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(ECHO_STDIO)}], env: { ROUND: "${Math.floor(round / 3)}" }, timeout: ${CONNECTOR_TIMEOUT} }
  - { name: web, kind: http, url: ${JSON.stringify(upstreamUrl)}, timeout: ${CONNECTOR_TIMEOUT} }
virtualMcps:
  - slug: alpha
    name: Alpha
    access: { everyone: true }
    connectors: [{ connector: demo, prefix: d }, { connector: raw, prefix: r${rename} }]
  - slug: beta
    name: Beta
    access: { everyone: true }
    connectors: [{ connector: echo, prefix: e }${webAttached ? ", { connector: web, prefix: w }" : ""}]
`;
}

async function apply(round: number): Promise<void> {
  writeFileSync(configFile, config(round));
  await runMintgate(BINARY, ["apply", "-f", configFile, "--data", dataDir], { timeoutMs: 60_000 });
}

await runMintgate(BINARY, ["init", "--data", dataDir], { timeoutMs: 30_000 });
await apply(0);
const { token } = JSON.parse(await runMintgate(BINARY, ["tokens", "create", "--user", "soak@example.com", "--json", "--data", dataDir], { timeoutMs: 30_000 })) as { token: string };
const logFile = join(work, "gateway.log");
const { started: gateway, match: listening } = await startListening([BINARY, "serve", "--data", dataDir, "--host", "127.0.0.1", "--port", "0"], /listening on (http:\/\/[^\s"]+)/, "mintgate serve", {
  timeoutMs: 30_000,
  env: { ...childEnv(), MINTGATE_SESSION_IDLE_TIMEOUT: `${IDLE_TIMEOUT_S}s`, MINTGATE_REQUESTS_PER_PERSON: String(REQUESTS_PER_PERSON), MINTGATE_LOG_FORMAT: "json" },
  stderrFile: logFile,
});
const gatewayUrl = listening[1]!;
const pid = gateway.proc.pid;
const adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
const logLines = () => readFileSync(logFile, "utf8").split("\n").filter((line) => line !== "");

const levelOf = (line: string): string => {
  try {
    return String((JSON.parse(line) as { level?: unknown }).level ?? "none");
  } catch {
    return "raw"; // not a log line: an uncaught error or a runtime's message
  }
};

// ── measuring ──────────────────────────────────────────────────────────────────

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${gatewayUrl}/admin/api${path}`, { ...init, headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json", ...init.headers } });

interface Gauges {
  sessions: number;
  auditQueue: number;
  bodyBytes: number;
  connectorsReady: number;
  connectorsFailed: number;
  restarts: number;
}

async function gauges(): Promise<Gauges> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  const sum = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((total, match) => total + Number(match[1]), 0);
  return {
    sessions: sum(/^mintgate_sessions\{[^}]*\} (\S+)$/gm),
    auditQueue: sum(/^mintgate_audit_queue_depth (\S+)$/gm),
    bodyBytes: sum(/^mintgate_request_body_bytes_in_flight (\S+)$/gm),
    connectorsReady: sum(/^mintgate_connector_state\{[^}]*state="ready"\} (\S+)$/gm),
    connectorsFailed: sum(/^mintgate_connector_state\{[^}]*state="failed"\} (\S+)$/gm),
    restarts: sum(/^mintgate_connector_restarts_total\{[^}]*\} (\S+)$/gm),
  };
}

const fileSize = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

interface Sample extends Gauges {
  /** Set on the idle samples between and after the load phases. */
  label?: string;
  at: number;
  rssMiB: number;
  fds: number;
  threads: number;
  children: number;
  dbKiB: number;
  walKiB: number;
  warn: number;
  error: number;
  other: number;
  calls: number;
  failures: number;
}

const counts = { calls: 0, failures: 0, hung: 0, cancelled: 0, sessionsOpened: 0, deleted: 0, dropped: 0, applies: 0, restarts: 0, kills: 0, tokens: 0, revokedUnder: 0, modern: 0, sse: 0 };
const failureKinds = new Map<string, number>();
function failed(what: string, error: unknown): void {
  counts.failures++;
  const key = `${what}: ${errorText(error).replace(/\d+/g, "N").slice(0, 160)}`;
  failureKinds.set(key, (failureKinds.get(key) ?? 0) + 1);
  if (/timed out|Request timed out|took longer/i.test(errorText(error))) counts.hung++;
}

const started = Date.now();
async function sample(): Promise<Sample> {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const levels = logLines().map(levelOf);
  return {
    at: Math.round((Date.now() - started) / 1000),
    rssMiB: (readMemory(pid)?.rssKiB ?? NaN) / 1024,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: Number(status.match(/^Threads:\s+(\d+)/m)?.[1]),
    children: descendantsOf(pid).length,
    ...(await gauges()),
    dbKiB: fileSize(join(dataDir, "mintgate.db")) / 1024,
    walKiB: fileSize(join(dataDir, "mintgate.db-wal")) / 1024,
    warn: levels.filter((level) => level === "warn").length,
    error: levels.filter((level) => level === "error").length,
    other: levels.filter((level) => level === "raw").length,
    calls: counts.calls,
    failures: counts.failures,
  };
}

// ── load ───────────────────────────────────────────────────────────────────────

/** When the current load phase ends. */
let deadline = 0;
const running = () => Date.now() < deadline;
const pause = (ms: number) => Bun.sleep(ms * (0.5 + Math.random()));
const withToken = (value: string) => ({ requestInit: { headers: { Authorization: `Bearer ${value}` } } });
const options = { timeout: REQUEST_TIMEOUT_MS };
/** Clients open now, so that the end can close them all. */
const openClients = new Set<{ client: Client; transport: StreamableHTTPClientTransport | SSEClientTransport }>();

/** Connects an SDK client over `transport`, counted and kept among the open clients. */
async function connected<T extends StreamableHTTPClientTransport | SSEClientTransport>(transport: T, name: string) {
  const client = new Client({ name, version: "1.0.0" });
  await client.connect(transport, options);
  counts.sessionsOpened++;
  const entry = { client, transport };
  openClients.add(entry);
  return entry;
}

function openStreamable(slug: string, bearer = token) {
  return connected(new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/${slug}`), withToken(bearer)), "soak");
}

function openLegacy(slug: string) {
  const authorization = `Bearer ${token}`;
  const transport = new SSEClientTransport(new URL(`${gatewayUrl}/sse/${slug}`), {
    requestInit: { headers: { Authorization: authorization } },
    eventSourceInit: {
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        headers.set("Authorization", authorization);
        return fetch(url, { ...init, headers });
      },
    },
  });
  return connected(transport, "soak-legacy");
}

/** Closes with DELETE (Streamable HTTP), or drops the connection and leaves the session to the idle timeout. */
async function close(entry: { client: Client; transport: StreamableHTTPClientTransport | SSEClientTransport }, withDelete: boolean) {
  openClients.delete(entry);
  if (withDelete && entry.transport instanceof StreamableHTTPClientTransport) {
    await entry.transport.terminateSession().catch((error) => failed("DELETE", error));
    counts.deleted++;
  } else counts.dropped++;
  await entry.client.close().catch(() => {});
}

async function call(client: Client, name: string, args: Record<string, unknown>) {
  counts.calls++;
  return client.callTool({ name, arguments: args }, undefined, options);
}

/** A call cancelled once it has reached its tool (its first progress), as a person pressing stop does. */
async function cancelledCall(client: Client, name: string, args: Record<string, unknown>) {
  const controller = new AbortController();
  counts.calls++;
  const result = client.callTool({ name, arguments: args }, undefined, { ...options, signal: controller.signal, onprogress: () => controller.abort("soak cancels") });
  await result.then(
    () => {},
    (error) => {
      if (controller.signal.aborted) counts.cancelled++;
      else throw error;
    },
  );
}

const named = (tools: { name: string }[], suffix: string) => tools.find((tool) => tool.name.endsWith(suffix))?.name;

/** One SDK session on Streamable HTTP: everything a client does, then DELETE or a dropped connection. */
async function streamableSession(round: number) {
  const slug = round % 3 === 2 ? "beta" : "alpha";
  const entry = await openStreamable(slug);
  const { client } = entry;
  try {
    const { tools } = await client.listTools(undefined, options);
    if (slug === "alpha") {
      await call(client, "d__echo", { text: "hi" });
      await call(client, "d__echo", { text: BIG_TEXT });
      const rawEcho = named(tools, "echo_renamed") ?? named(tools, "r__echo");
      if (rawEcho) await call(client, rawEcho, { text: round % 2 ? BIG_TEXT : "small" });
      await client.listResources(undefined, options);
      await client.readResource({ uri: "d+demo://about" }, options);
      await client.listPrompts(undefined, options);
      await client.getPrompt({ name: "d__greeting", arguments: { name: "soak" } }, options);
      await cancelledCall(client, "d__countdown", { n: 50, intervalMs: 100 });
      await cancelledCall(client, "r__slow", { ms: 4000 });
      if (round % 5 === 0) {
        // Drop the connection while a call runs: the call must end with the session, not linger.
        counts.calls++;
        void client.callTool({ name: "r__slow", arguments: { ms: 3000 } }, undefined, options).catch(() => {});
        await Bun.sleep(200);
        return await close(entry, false);
      }
    } else {
      for (const tool of tools) await call(client, tool.name, { text: round % 2 ? BIG_TEXT : "small" });
    }
  } catch (error) {
    failed(`streamable ${slug}`, error);
  }
  await close(entry, round % 2 === 0);
}

async function legacySession(round: number) {
  const entry = await openLegacy("alpha");
  try {
    await entry.client.listTools(undefined, options);
    await call(entry.client, "d__echo", { text: round % 2 ? BIG_TEXT : "legacy" });
    await cancelledCall(entry.client, "d__countdown", { n: 50, intervalMs: 100 });
    counts.sse++;
    if (round % 4 === 0) {
      // The event stream closes while a call runs on it.
      counts.calls++;
      void entry.client.callTool({ name: "d__countdown", arguments: { n: 30, intervalMs: 100 } }, undefined, options).catch(() => {});
      await Bun.sleep(300);
    }
  } catch (error) {
    failed("legacy", error);
  }
  await close(entry, false);
}

const ENVELOPE = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
const modernHeaders = (method: string, name?: string) => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
  "mcp-protocol-version": "2026-07-28",
  "mcp-method": method,
  ...(name === undefined ? {} : { "mcp-name": name }),
});

/** Sessionless requests: lists and calls answered whole, a call whose client goes away mid-way, a listen stream dropped. */
async function modernRequest(id: number) {
  const post = (body: object, method: string, name: string | undefined, signal: AbortSignal) =>
    fetch(`${gatewayUrl}/mcp/alpha`, { method: "POST", headers: modernHeaders(method, name), body: JSON.stringify(body), signal });
  if (id % 7 === 3) {
    const controller = new AbortController();
    const params = { name: "d__countdown", arguments: { n: 30, intervalMs: 100 }, _meta: { ...ENVELOPE, progressToken: id } };
    const response = await post({ jsonrpc: "2.0", id, method: "tools/call", params }, "tools/call", "d__countdown", controller.signal);
    const reader = response.body!.getReader();
    await reader.read(); // the first progress: the call runs
    controller.abort();
    counts.calls++;
    counts.cancelled++;
    return;
  }
  if (id % 7 === 5) {
    const controller = new AbortController();
    const params = { notifications: { toolsListChanged: true }, _meta: ENVELOPE };
    const response = await post({ jsonrpc: "2.0", id, method: "subscriptions/listen", params }, "subscriptions/listen", undefined, controller.signal);
    const reader = response.body!.getReader();
    await reader.read(); // its acknowledgement
    await Bun.sleep(1000);
    controller.abort();
    return;
  }
  const body = id % 2 ? { jsonrpc: "2.0", id, method: "tools/list", params: { _meta: ENVELOPE } } : { jsonrpc: "2.0", id, method: "tools/call", params: { name: "d__echo", arguments: { text: "modern" }, _meta: ENVELOPE } };
  const response = await post(body, body.method, body.method === "tools/call" ? "d__echo" : undefined, AbortSignal.timeout(REQUEST_TIMEOUT_MS));
  const text = await response.text();
  if (response.status !== 200 || !text.includes('"result"')) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  counts.modern++;
}

/** A token made for one session, revoked while the session is open: the session must end at once. */
async function revokedUnderSession() {
  const created = await admin("/tokens", { method: "POST", body: JSON.stringify({ user: "soak@example.com", vmcp: "alpha", expires: "1d" }) });
  const { id, token: fresh } = (await created.json()) as { id: string; token: string };
  counts.tokens++;
  const entry = await openStreamable("alpha", fresh);
  await call(entry.client, "d__echo", { text: "before revoke" });
  const revoked = await admin(`/tokens/${id}`, { method: "DELETE" });
  if (!revoked.ok) throw new Error(`DELETE /tokens/${id}: HTTP ${revoked.status}`);
  const after = await call(entry.client, "d__echo", { text: "after revoke" }).then(
    () => "answered",
    () => "refused",
  );
  if (after === "answered") throw new Error("a call with a revoked token was answered");
  counts.revokedUnder++;
  await close(entry, false);
}

async function loop(what: string, everyMs: number, body: (round: number) => Promise<void>) {
  for (let round = 0; running(); round++) {
    await body(round).catch((error) => failed(what, error));
    await pause(everyMs);
  }
}

/** The pid of a stdio connector's child: a descendant of the gateway running `script`. */
function childRunning(script: string): number | undefined {
  return descendantsOf(pid).find((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, "utf8").includes(script);
    } catch {
      return false;
    }
  });
}

/** What each open fd of the gateway points at, with socket and pipe inode numbers taken out, counted. */
function fdTargets(): Map<string, number> {
  const targets = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]/, "");
    } catch {
      continue;
    }
    targets.set(target, (targets.get(target) ?? 0) + 1);
  }
  return targets;
}

const fdsAtStart = fdTargets();
const samples: Sample[] = [await sample()];
progress(`gateway pid ${pid} on ${gatewayUrl}, data ${dataDir}; running ${MINUTES} min`);
const sampler = setInterval(() => {
  void sample().then(
    (s) => {
      samples.push(s);
      progress(`t=${s.at}s rss=${s.rssMiB.toFixed(0)}MiB fds=${s.fds} sessions=${s.sessions} calls=${s.calls} failures=${s.failures}`);
    },
    (error) => failed("sample", error),
  );
}, SAMPLE_MS);

const connectorsToRestart = ["raw", "echo", "web", "demo"];
/** Rounds go on across phases: every apply changes the configuration. */
let applyRound = 0;
let restartRound = 0;
let killRound = 0;
const load = () =>
  Promise.all([
    ...Array.from({ length: 3 }, (_, lane) => loop(`streamable lane ${lane}`, 300, (round) => streamableSession(round * 3 + lane))),
    loop("legacy", 1500, legacySession),
    loop("modern", 200, modernRequest),
    loop("revoke", 15_000, revokedUnderSession),
    loop("apply", APPLY_EVERY_MS, async (round) => {
      if (round === 0) return;
      await apply(++applyRound);
      counts.applies++;
    }),
    loop("restart", 20_000, async (round) => {
      if (round === 0) return;
      const name = connectorsToRestart[restartRound++ % connectorsToRestart.length]!;
      const response = await admin(`/connectors/${name}/restart`, { method: "POST" });
      if (!response.ok) throw new Error(`restart ${name}: HTTP ${response.status} ${await response.text()}`);
      counts.restarts++;
    }),
    loop("sigkill", 45_000, async (round) => {
      if (round === 0) return;
      const child = childRunning(killRound++ % 2 ? RAW_STDIO : ECHO_STDIO);
      if (child === undefined) return;
      process.kill(child, "SIGKILL");
      counts.kills++;
    }),
    loop("poll", 2000, async () => {
      for (const path of ["/status", "/connectors", "/virtual-mcps", "/calls?limit=20", "/stats?by=tool&last=1h"]) {
        const response = await admin(path);
        if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
        await response.arrayBuffer();
      }
    }),
  ]);

/**
 * Stops the load's clients and waits for the gateway to be idle: sessions gauge at 0 (dropped ones end by the idle
 * timeout), then a check that every request was given back, then a quiet spell for the idle memory trim and the WAL
 * checkpoint. Resolves to the sample taken then, with the per-person capacity found.
 */
async function settle(label: string): Promise<{ idle: Sample; capacity: string; heldUpstream: number }> {
  const loadEnded = Date.now();
  progress(`${label}: load stopped; closing ${openClients.size} clients and waiting for the sessions gauge to reach 0`);
  await Promise.all([...openClients].map((entry) => close(entry, true)));
  for (let now = await sample(); now.sessions > 0 && Date.now() - loadEnded < (IDLE_TIMEOUT_S + 40) * 1000; now = await sample()) await Bun.sleep(2000);
  // Every request given back: the person may run REQUESTS_PER_PERSON at once again.
  let capacity: string;
  try {
    const entry = await openStreamable("alpha");
    const results = await Promise.allSettled(
      Array.from({ length: REQUESTS_PER_PERSON }, () => entry.client.callTool({ name: "d__countdown", arguments: { n: 5, intervalMs: 200 } }, undefined, options)),
    );
    const refused = results.filter((result) => result.status === "rejected" || (result.value as { isError?: boolean }).isError).length;
    capacity = `${REQUESTS_PER_PERSON - refused} of ${REQUESTS_PER_PERSON} at once`;
    await close(entry, true);
  } catch (error) {
    capacity = `failed: ${errorText(error)}`;
  }
  await Bun.sleep(15_000);
  const idle = await sample();
  idle.label = label;
  samples.push(idle);
  // The gateway ends the upstream session of a connector it restarts or replaces: the http upstream holds one.
  const upstreamSessions = (await (await fetch(upstreamUrl.replace(/\/mcp$/, "/stats"))).json()) as { sessions: Record<string, number> };
  const heldUpstream = Object.values(upstreamSessions.sessions).reduce((total, n) => total + n, 0);
  progress(`${label}: rss=${idle.rssMiB.toFixed(1)}MiB fds=${idle.fds} sessions=${idle.sessions}; per person ${capacity}; upstream sessions ${heldUpstream}`);
  return { idle, capacity, heldUpstream };
}

// Two equal load phases, each followed by an idle spell: warm-up (caches, JIT, the first of everything) falls in
// the first, so what the second adds on top of the first's idle figures is growth that does not come back.
const phaseMs = (MINUTES * 60_000) / 2;
deadline = Date.now() + phaseMs;
await load();
const half = await settle("idle after phase 1");
deadline = Date.now() + phaseMs;
await load();
const { idle: end, capacity, heldUpstream } = await settle("idle after phase 2");
clearInterval(sampler);
const fdsAtEnd = fdTargets();

await withTimeout(
  (async () => {
    gateway.proc.kill("SIGTERM");
    await gateway.proc.exited;
  })(),
  30_000,
  "the gateway's exit",
).catch((error) => failed("stop", error));
const verify = Bun.spawnSync([BINARY, "audit", "verify", "--data", dataDir], { stdout: "pipe", stderr: "pipe" });
const verifyText = `${verify.stdout.toString()}${verify.stderr.toString()}`.trim();
await stopAll();

// ── report ─────────────────────────────────────────────────────────────────────

const columns: [string, (s: Sample) => string][] = [
  ["t(s)", (s) => `${s.label === undefined ? "" : "idle "}${s.at}`],
  ["rss MiB", (s) => s.rssMiB.toFixed(1)],
  ["fds", (s) => String(s.fds)],
  ["thr", (s) => String(s.threads)],
  ["kids", (s) => String(s.children)],
  ["sess", (s) => String(s.sessions)],
  ["auditQ", (s) => String(s.auditQueue)],
  ["bodyB", (s) => String(s.bodyBytes)],
  ["ready", (s) => String(s.connectorsReady)],
  ["failed", (s) => String(s.connectorsFailed)],
  ["restarts", (s) => String(s.restarts)],
  ["db KiB", (s) => s.dbKiB.toFixed(0)],
  ["wal KiB", (s) => s.walKiB.toFixed(0)],
  ["warn", (s) => String(s.warn)],
  ["error", (s) => String(s.error)],
  ["raw", (s) => String(s.other)],
  ["calls", (s) => String(s.calls)],
  ["fail", (s) => String(s.failures)],
];
const widths = columns.map(([title, cell]) => Math.max(title.length, ...samples.map((s) => cell(s).length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
console.log(line(columns.map(([title]) => title)));
for (const s of samples) console.log(line(columns.map(([, cell]) => cell(s))));

console.log(`\nactivity: ${Object.entries(counts).map(([key, value]) => `${key}=${value}`).join(" ")}`);
if (failureKinds.size > 0) {
  console.log("client-side failures (by kind):");
  for (const [kind, n] of [...failureKinds].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${String(n).padStart(5)}  ${kind}`);
}
const flagged = new Map<string, number>();
for (const entry of logLines()) {
  const level = levelOf(entry);
  if (level !== "warn" && level !== "error" && level !== "raw") continue;
  let message = entry;
  try {
    message = String((JSON.parse(entry) as { msg?: unknown }).msg);
  } catch {}
  const key = `${level} ${message.replace(/\d+/g, "N").slice(0, 200)}`;
  flagged.set(key, (flagged.get(key) ?? 0) + 1);
}
if (flagged.size > 0) {
  console.log("gateway warn/error/raw lines (by message):");
  for (const [key, n] of [...flagged].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${String(n).padStart(5)}  ${key}`);
}
const fdChanges = [...new Set([...fdsAtStart.keys(), ...fdsAtEnd.keys()])]
  .map((target) => [target, (fdsAtEnd.get(target) ?? 0) - (fdsAtStart.get(target) ?? 0)] as const)
  .filter(([, delta]) => delta !== 0);
console.log(`open fds, end against start: ${fdChanges.length === 0 ? "the same" : fdChanges.map(([target, delta]) => `${target} ${delta > 0 ? "+" : ""}${delta}`).join(", ")}`);
console.log(`requests one person may still run: ${capacity}; sessions the gateway holds on the http upstream: ${half.heldUpstream} after phase 1, ${heldUpstream} at the end`);
console.log(`audit verify: exit ${verify.exitCode}: ${verifyText.split("\n")[0]}`);

const first = samples[0]!;
const between = half.idle;
const findings: string[] = [];
for (const [label, idle] of [["after phase 1", between], ["at the end", end]] as const) {
  if (idle.sessions !== 0) findings.push(`sessions gauge ${idle.sessions} ${label}`);
  if (idle.bodyBytes !== 0) findings.push(`body bytes in flight ${idle.bodyBytes} ${label}`);
  if (idle.auditQueue !== 0) findings.push(`audit queue ${idle.auditQueue} ${label}`);
  if (idle.children !== first.children) findings.push(`child processes ${first.children} at start, ${idle.children} ${label}`);
}
for (const [label, found] of [["after phase 1", half.capacity], ["at the end", capacity]] as const) {
  if (found !== `${REQUESTS_PER_PERSON} of ${REQUESTS_PER_PERSON} at once`) findings.push(`requests one person may run ${label}: ${found}`);
}
for (const held of [half.heldUpstream, heldUpstream]) if (held > 1) findings.push(`the http upstream holds ${held} sessions of the gateway's`);
// Phase 1 takes the warm-up; phase 2 did the same again, so what it left on top is growth.
if (end.fds > between.fds + 3) findings.push(`fds ${between.fds} -> ${end.fds} from idle to idle`);
if (end.threads > between.threads + 2) findings.push(`threads ${between.threads} -> ${end.threads} from idle to idle`);
if (end.rssMiB > between.rssMiB * 1.1) findings.push(`rss ${between.rssMiB.toFixed(1)} -> ${end.rssMiB.toFixed(1)} MiB from idle to idle`);
if (counts.hung > 0) findings.push(`${counts.hung} requests hung past ${REQUEST_TIMEOUT_MS} ms`);
if (end.error > 0 || end.other > 0) findings.push(`${end.error} error and ${end.other} non-log lines in the gateway's log`);
if (verify.exitCode !== 0) findings.push("audit chain does not verify");
console.log(
  `verdict: ${findings.length === 0 ? "nothing left over" : `look at: ${findings.join("; ")}`} ` +
    `(start / idle after phase 1 / idle at the end: rss ${first.rssMiB.toFixed(1)} / ${between.rssMiB.toFixed(1)} / ${end.rssMiB.toFixed(1)} MiB, ` +
    `peak ${Math.max(...samples.map((s) => s.rssMiB)).toFixed(1)}; fds ${first.fds} / ${between.fds} / ${end.fds}; ` +
    `threads ${first.threads} / ${between.threads} / ${end.threads}; children ${first.children} / ${between.children} / ${end.children}; ` +
    `sessions ${first.sessions} / ${between.sessions} / ${end.sessions}; wal ${first.walKiB.toFixed(0)} / ${between.walKiB.toFixed(0)} / ${end.walKiB.toFixed(0)} KiB; ` +
    `warn ${end.warn}, error ${end.error})`,
);
if (findings.length === 0) removeDir(work);
else console.log(`the data directory and the gateway's log (gateway.log) are kept in ${work}`);
process.exit(0);
