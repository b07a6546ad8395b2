/**
 * Startup, memory and throughput figures for the compiled binary dist/mintgate.
 * Prints what it measures and never fails on a number; run `make bench`, or
 * `bun bench/startup.ts [--json]` after `make build`.
 */
import { chmodSync, copyFileSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import {
  BINARY,
  errorText,
  percentile,
  readMemory,
  removeDir,
  required,
  rows,
  runMintgate,
  serveMintgate,
  stopAll,
  stopProcess,
  tempDir,
  warnings,
  withTimeout,
  type Serving,
} from "./measure.ts";

const MiB = 1024 * 1024;

const READY_RUNS = 10;
const READY_POLL_MS = 5;
const HEALTHZ_REQUESTS = 1000;
const STATUS_REQUESTS = 200;
const LOAD_LOOPS = 20;
const LOAD_MS = 3000;
const LOAD_MAX_REQUESTS = 200_000;
/** Upper bound so that a hung server ends the bench instead of stalling it. */
const START_TIMEOUT_MS = 20_000;

interface Server extends Serving {
  /** Milliseconds from spawn to the first 200 from /readyz (listenMs: to the "listening on" line). */
  readyMs: number;
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

function spread(samples: number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: percentile(sorted, 50), p90: percentile(sorted, 90), max: sorted.at(-1) ?? NaN };
}

async function pollReady(url: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/readyz`).catch(() => null);
    await response?.arrayBuffer();
    if (response?.status === 200) return;
    await Bun.sleep(READY_POLL_MS);
  }
}

/** `mintgate serve` from `dir` on `dataDir`, once /readyz answers 200. */
async function startServer(dir: string, dataDir: string): Promise<Server> {
  const server = await serveMintgate(join(dir, "mintgate"), dataDir, { cwd: dir, timeoutMs: START_TIMEOUT_MS });
  try {
    await withTimeout(pollReady(server.url), START_TIMEOUT_MS, `waiting for ${server.url}/readyz`);
    return { ...server, readyMs: performance.now() - server.startedAt };
  } catch (error) {
    await stopProcess(server.proc);
    throw new Error(`${errorText(error)}\nserver stderr:\n${await server.stderr}`);
  }
}

async function stopServer(server: Server): Promise<void> {
  const code = await stopProcess(server.proc);
  if (code !== 0) warnings.push(`serve exited ${code} after SIGTERM: ${(await server.stderr).trim()}`);
}

/** readMemory() in MiB. */
function memoryMiB(pid: number): Memory | null {
  const memory = readMemory(pid);
  return memory && { rssMiB: memory.rssKiB / 1024, hwmMiB: memory.hwmKiB / 1024 };
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
    const idle = memoryMiB(pid);
    const token = readFileSync(join(dir, "d", "admin.token"), "utf8").trim();
    const requestErrors =
      (await sequentialGets(`${server.url}/healthz`, HEALTHZ_REQUESTS)) +
      (await sequentialGets(`${server.url}/admin/api/status`, STATUS_REQUESTS, { authorization: `Bearer ${token}` }));
    await Bun.sleep(1000);
    const afterRequests = memoryMiB(pid);
    const healthz = await loadTest(`${server.url}/healthz`);
    const afterLoad = memoryMiB(pid);
    return { memory: { idle, afterRequests, afterLoad }, requestErrors, healthz };
  } finally {
    await stopServer(server);
  }
}

/** Copies the binary alone into a fresh directory so nothing else (a .mintgate dir, env) is picked up. */
function prepareDir(): string {
  const dir = tempDir("mintgate-bench-");
  copyFileSync(BINARY, join(dir, "mintgate"));
  chmodSync(join(dir, "mintgate"), 0o755);
  return dir;
}

async function measure(): Promise<Report> {
  const binaryMiB = statSync(BINARY).size / MiB;
  const dir = prepareDir();
  try {
    // init first so that the cold start below is not also the binary's first execution.
    await runMintgate(join(dir, "mintgate"), ["init", "--data", "d"], { cwd: dir, timeoutMs: START_TIMEOUT_MS });
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
    await stopAll();
    removeDir(dir);
  }
}

const ms = (value: number) => value.toFixed(1);
const mib = (memory: Memory | null) =>
  memory ? `${memory.rssMiB.toFixed(1)} MiB  (peak ${memory.hwmMiB.toFixed(1)} MiB)` : "n/a (no /proc)";

function formatReport(r: Report): string {
  const row = rows(26);
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
  if (!required(BINARY, "make build")) return 1;
  const report = await measure();
  process.stdout.write((process.argv.includes("--json") ? JSON.stringify(report) : formatReport(report)) + "\n");
  return 0;
}

process.exitCode = await main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${errorText(error)}\n`);
  return 1;
});
