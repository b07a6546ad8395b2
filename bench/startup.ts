/**
 * Startup, memory and throughput figures for the compiled binary dist/mintgate.
 * Prints what it measures and never fails on a number; run `make bench`, or
 * `bun bench/startup.ts [--json]` after `make build`.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const BINARY = resolve(import.meta.dir, "..", "dist", "mintgate");
const MiB = 1024 * 1024;

const READY_RUNS = 10;
const READY_POLL_MS = 5;
const HEALTHZ_REQUESTS = 1000;
const STATUS_REQUESTS = 200;
const LOAD_LOOPS = 20;
const LOAD_MS = 3000;
const LOAD_MAX_REQUESTS = 200_000;
/** Upper bounds so that a hung server ends the bench instead of stalling it. */
const START_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 15_000;

const LISTENING = /^mintgate (\S+) listening on (http:\/\/127\.0\.0\.1:\d+)/m;

type Child = Subprocess<"ignore", "pipe", "pipe">;

interface Server {
  proc: Child;
  url: string;
  version: string;
  /** Milliseconds from spawn to the "listening on" line, and to the first 200 from /readyz. */
  listenMs: number;
  readyMs: number;
  /** Everything the server wrote to stderr, resolved when it exits. */
  stderr: Promise<string>;
}

interface Spread {
  min: number;
  median: number;
  p90: number;
  max: number;
}

interface Memory {
  rssMiB: number;
  hwmMiB: number;
}

interface Load {
  loops: number;
  seconds: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

interface Report {
  version: string;
  platform: string;
  bun: string;
  cpus: number;
  binaryMiB: number;
  coldStartMs: number;
  readyMs: Spread & { runs: number; samples: number[]; listenMedianMs: number };
  memory: { idle: Memory | null; afterRequests: Memory | null; afterLoad: Memory | null };
  requestErrors: number;
  healthz: Load;
  warnings: string[];
}

/** Processes still running, so that `finally` can stop them whatever failed. */
const running = new Set<Child>();
const warnings: string[] = [];

/** The caller's MINTGATE_* settings would move the data dir, host or key; the bench uses its own. */
function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("MINTGATE_")) env[name] = value;
  }
  return env;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Linear interpolation between closest ranks, so the median of 10 runs is the mean of the middle two. */
function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = (p / 100) * (sorted.length - 1);
  const low = Math.floor(index);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (index - low);
}

function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: percentile(sorted, 50), p90: percentile(sorted, 90), max: sorted.at(-1) ?? NaN };
}

async function runInit(dir: string, dataDir: string): Promise<void> {
  const proc = Bun.spawn([join(dir, "mintgate"), "init", "--data", dataDir], {
    cwd: dir, env: childEnv(), stdin: "ignore", stdout: "ignore", stderr: "pipe",
  });
  const code = await withTimeout(proc.exited, START_TIMEOUT_MS, "mintgate init");
  if (code !== 0) throw new Error(`mintgate init exited ${code}: ${await new Response(proc.stderr).text()}`);
}

/** Reads stdout until the "listening on" line; the URL carries the port that --port 0 picked. */
async function readListeningLine(proc: Child): Promise<{ version: string; url: string }> {
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`mintgate serve exited before listening (stdout: ${JSON.stringify(text)})`);
      text += decoder.decode(value, { stream: true });
      const match = text.match(LISTENING);
      if (match) return { version: match[1]!, url: match[2]! };
    }
  } finally {
    reader.releaseLock();
  }
}

async function pollReady(url: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/readyz`).catch(() => null);
    await response?.arrayBuffer();
    if (response?.status === 200) return;
    await Bun.sleep(READY_POLL_MS);
  }
}

async function startServer(dir: string, dataDir: string): Promise<Server> {
  const startedAt = performance.now();
  const proc = Bun.spawn([join(dir, "mintgate"), "serve", "--data", dataDir, "--host", "127.0.0.1", "--port", "0"], {
    cwd: dir, env: childEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  running.add(proc);
  // Drained from the start so that a chatty server never blocks on a full pipe.
  const stderr = new Response(proc.stderr).text();
  try {
    const { version, url } = await withTimeout(readListeningLine(proc), START_TIMEOUT_MS, "waiting for the listening line");
    const listenMs = performance.now() - startedAt;
    await withTimeout(pollReady(url), START_TIMEOUT_MS, `waiting for ${url}/readyz`);
    return { proc, url, version, listenMs, readyMs: performance.now() - startedAt, stderr };
  } catch (error) {
    await stopProcess(proc);
    throw new Error(`${(error as Error).message}\nserver stderr:\n${await stderr}`);
  }
}

/** SIGTERM and wait for the graceful exit; SIGKILL only if it does not come in time. */
async function stopProcess(proc: Child): Promise<number | null> {
  if (!running.delete(proc)) return proc.exitCode;
  proc.kill("SIGTERM");
  try {
    return await withTimeout(proc.exited, EXIT_TIMEOUT_MS, `pid ${proc.pid} exiting after SIGTERM`);
  } catch (error) {
    warnings.push((error as Error).message + "; sent SIGKILL");
    proc.kill("SIGKILL");
    await proc.exited;
    return null;
  }
}

async function stopServer(server: Server): Promise<void> {
  const code = await stopProcess(server.proc);
  if (code !== 0) warnings.push(`serve exited ${code} after SIGTERM: ${(await server.stderr).trim()}`);
}

/** VmRSS (resident now) and VmHWM (peak resident) from /proc; null where /proc is absent. */
function readMemory(pid: number): Memory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { rssMiB: (kib("VmRSS") * 1024) / MiB, hwmMiB: (kib("VmHWM") * 1024) / MiB };
}

/** Sends `count` requests one after another; returns how many did not answer 200. */
async function sequentialGets(url: string, count: number, headers: Record<string, string> = {}): Promise<number> {
  let errors = 0;
  for (let i = 0; i < count; i++) {
    const response = await fetch(url, { headers }).catch(() => null);
    await response?.arrayBuffer();
    if (response?.status !== 200) errors++;
  }
  return errors;
}

/** LOAD_LOOPS closed loops of GET, until LOAD_MS has passed or LOAD_MAX_REQUESTS were sent. */
async function loadTest(url: string): Promise<Load> {
  const latencies = new Float64Array(LOAD_MAX_REQUESTS);
  let sent = 0;
  let completed = 0;
  let errors = 0;
  const startedAt = performance.now();
  const deadline = startedAt + LOAD_MS;
  const loop = async () => {
    while (sent < LOAD_MAX_REQUESTS && performance.now() < deadline) {
      sent++;
      const before = performance.now();
      const response = await fetch(url).catch(() => null);
      await response?.arrayBuffer();
      if (response?.status === 200) latencies[completed++] = performance.now() - before;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: LOAD_LOOPS }, loop));
  const seconds = (performance.now() - startedAt) / 1000;
  const sorted = latencies.subarray(0, completed).sort();
  return {
    loops: LOAD_LOOPS,
    seconds,
    requests: completed,
    errors,
    requestsPerSecond: completed / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

/** A first start on an empty data dir, which also creates the master key, database and admin token. */
async function measureColdStart(dir: string): Promise<number> {
  const server = await startServer(dir, "cold");
  await stopServer(server);
  return server.readyMs;
}

async function measureReadyRuns(dir: string): Promise<{ version: string; ready: number[]; listen: number[] }> {
  const ready: number[] = [];
  const listen: number[] = [];
  let version = "?";
  for (let run = 0; run < READY_RUNS; run++) {
    const server = await startServer(dir, "d");
    await stopServer(server);
    ready.push(server.readyMs);
    listen.push(server.listenMs);
    version = server.version;
  }
  return { version, ready, listen };
}

/** One server: idle memory, memory after light traffic, then /healthz throughput. */
async function measureServer(dir: string): Promise<Pick<Report, "memory" | "requestErrors" | "healthz">> {
  const server = await startServer(dir, "d");
  try {
    const pid = server.proc.pid;
    await Bun.sleep(2000);
    const idle = readMemory(pid);
    const token = readFileSync(join(dir, "d", "admin.token"), "utf8").trim();
    const requestErrors =
      (await sequentialGets(`${server.url}/healthz`, HEALTHZ_REQUESTS)) +
      (await sequentialGets(`${server.url}/admin/api/status`, STATUS_REQUESTS, { authorization: `Bearer ${token}` }));
    await Bun.sleep(1000);
    const afterRequests = readMemory(pid);
    const healthz = await loadTest(`${server.url}/healthz`);
    const afterLoad = readMemory(pid);
    return { memory: { idle, afterRequests, afterLoad }, requestErrors, healthz };
  } finally {
    await stopServer(server);
  }
}

/** Copies the binary alone into a fresh directory so nothing else (a .mintgate dir, env) is picked up. */
function prepareDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mintgate-bench-"));
  copyFileSync(BINARY, join(dir, "mintgate"));
  chmodSync(join(dir, "mintgate"), 0o755);
  return dir;
}

async function measure(): Promise<Report> {
  const binaryMiB = statSync(BINARY).size / MiB;
  const dir = prepareDir();
  try {
    // init first so that the cold start below is not also the binary's first execution.
    await runInit(dir, "d");
    const coldStartMs = await measureColdStart(dir);
    const { version, ready, listen } = await measureReadyRuns(dir);
    const server = await measureServer(dir);
    return {
      version,
      platform: `${process.platform} ${process.arch}`,
      bun: Bun.version,
      cpus: cpus().length,
      binaryMiB,
      coldStartMs,
      readyMs: { runs: ready.length, samples: ready, listenMedianMs: spread(listen).median, ...spread(ready) },
      ...server,
      warnings,
    };
  } finally {
    await Promise.all([...running].map(stopProcess));
    rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (value: number) => value.toFixed(1);
const mib = (memory: Memory | null) =>
  memory ? `${memory.rssMiB.toFixed(1)} MiB  (peak ${memory.hwmMiB.toFixed(1)} MiB)` : "n/a (no /proc)";

function formatReport(r: Report): string {
  const row = (label: string, value: string) => `${label.padEnd(26)}${value}`;
  const { readyMs: ready, healthz } = r;
  const lines = [
    `mintgate ${r.version} — dist/mintgate on ${r.platform}, ${r.cpus} CPUs, bun ${r.bun}`,
    row("binary size", `${r.binaryMiB.toFixed(1)} MiB`),
    row("cold first start", `${ms(r.coldStartMs)} ms  (empty data dir: creates key, DB, token)`),
    row(`time to ready (n=${ready.runs})`, `min ${ms(ready.min)}  median ${ms(ready.median)}  p90 ${ms(ready.p90)}  max ${ms(ready.max)} ms`),
    row("  to listening line", `median ${ms(ready.listenMedianMs)} ms`),
    row("idle RSS", mib(r.memory.idle)),
    row(`RSS after ${HEALTHZ_REQUESTS + STATUS_REQUESTS} requests`, mib(r.memory.afterRequests) + (r.requestErrors ? `  (${r.requestErrors} not 200)` : "")),
    row("RSS after load test", mib(r.memory.afterLoad)),
    row("GET /healthz throughput", `${Math.round(healthz.requestsPerSecond)} req/s  p50 ${healthz.p50Ms.toFixed(2)} ms  p99 ${healthz.p99Ms.toFixed(2)} ms`),
    row("", `(${healthz.loops} loops, ${healthz.seconds.toFixed(2)} s, ${healthz.requests} ok, ${healthz.errors} failed)`),
    ...r.warnings.map((warning) => `warning: ${warning}`),
  ];
  return lines.join("\n");
}

async function main(): Promise<number> {
  if (!existsSync(BINARY)) {
    process.stderr.write(`${BINARY} does not exist; run \`make build\` first.\n`);
    return 1;
  }
  const report = await measure();
  process.stdout.write((process.argv.includes("--json") ? JSON.stringify(report) : formatReport(report)) + "\n");
  return 0;
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
});
