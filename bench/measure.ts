/**
 * What bench/startup.ts and bench/gateway.ts share: starting, watching and
 * stopping child processes (mintgate serve among them), /proc readers for
 * memory and CPU, and small timing, statistics and formatting helpers.
 *
 * Every process started here is tracked until stopProcess() or stopAll() ends
 * it, and `warnings` collects what went wrong without failing the bench.
 */
import type { Subprocess } from "bun";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The repository root, and the binary that `make build` writes. */
export const ROOT = resolve(import.meta.dir, "..");
export const BINARY = join(ROOT, "dist", "mintgate");

/** How long a child gets to exit after SIGTERM, and again after SIGKILL. */
const EXIT_TIMEOUT_MS = 15_000;
/** How much of a child's stderr is kept for messages. */
const STDERR_TAIL = 64 * 1024;
const LISTENING = /^mintgate (\S+) listening on (http:\/\/127\.0\.0\.1:\d+)/m;

/** mintgate.yaml for one Virtual MCP `demo` on the builtin demo server, open to everyone, tools under their own names. */
export const DEMO_CONFIG = `connectors:
  - { name: demo, kind: builtin, server: demo }
virtualMcps:
  - slug: demo
    name: Demo
    access: { everyone: true }
    connectors: [{ connector: demo, prefix: "" }]
`;

/** Problems that did not stop the bench; the scripts print them last. */
export const warnings: string[] = [];

// ── small helpers ──────────────────────────────────────────────────────────────

/** The environment for children: without the caller's MINTGATE_* settings (they would move the data dir, host or key) or the bench's own fetch limit. */
export function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("MINTGATE_") && name !== "BUN_CONFIG_MAX_HTTP_REQUESTS") env[name] = value;
  }
  return env;
}

/** `promise`, or a rejection saying "`what` took longer than `ms` ms". */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
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

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The p-th percentile of ascending `sorted`, interpolating between closest ranks (the median of 10 is the mean of the middle two). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = (p / 100) * (sorted.length - 1);
  const low = Math.floor(index);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (index - low);
}

/** A fresh directory in the OS temp dir whose name starts with `prefix`; removeDir() takes it away. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** False, after saying on stderr that `command` makes it, when `path` does not exist. */
export function required(path: string, command: string): boolean {
  if (existsSync(path)) return true;
  process.stderr.write(`${path} does not exist; run \`${command}\` first.\n`);
  return false;
}

/** A formatter of report rows: the label padded to `width`, then the value. */
export function rows(width: number): (label: string, value: string) => string {
  return (label, value) => `${label.padEnd(width)}${value}`;
}

// ── /proc ──────────────────────────────────────────────────────────────────────

function readProc(pid: number, file: "stat" | "status"): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return null;
  }
}

export interface Memory {
  rssKiB: number;
  hwmKiB: number;
}

/** VmRSS (resident now) and VmHWM (peak resident) in KiB; null where the process or /proc is absent. */
export function readMemory(pid: number): Memory | null {
  const status = readProc(pid, "status");
  if (status === null) return null;
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): ProcStat | null {
  const text = readProc(pid, "stat");
  if (text === null) return null;
  // The command name (field 2) may hold spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

function allProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

function childrenIn(processes: ProcStat[], pid: number): number[] {
  return processes.filter((p) => p.ppid === pid).map((p) => p.pid);
}

export function childrenOf(pid: number): number[] {
  return childrenIn(allProcesses(), pid);
}

/** Children, grandchildren and so on, breadth first. */
export function descendantsOf(pid: number): number[] {
  const processes = allProcesses();
  const found: number[] = [];
  const queue = [pid];
  for (let guard = 0; queue.length > 0 && guard < 100_000; guard++) {
    for (const child of childrenIn(processes, queue.shift()!)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** CPU time (user + system) the processes have used so far, in clock ticks; 0 for one that is gone. */
export function cpuTicksOf(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += readStat(pid)?.cpuTicks ?? 0;
  return total;
}

let ticksPerSecond: number | undefined;

/** Clock ticks per second (CLK_TCK), the unit of cpuTicksOf(); 100 where getconf does not answer. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim());
    ticksPerSecond = Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  }
  return ticksPerSecond;
}

// ── child processes ────────────────────────────────────────────────────────────

export type Child = Subprocess<"ignore" | "pipe", "pipe", "pipe">;

/** Processes still running, so that stopAll() can end them whatever failed. */
const running = new Set<Child>();

export interface Started {
  proc: Child;
  /** The last 64 KiB of stderr read so far. */
  stderrTail(): string;
  /** The last 64 KiB of stderr, once the stream has ended. */
  stderr: Promise<string>;
}

export interface StartOptions {
  /** Defaults to the repository root. */
  cwd?: string;
  /** Defaults to childEnv(). */
  env?: Record<string, string>;
  /** A stdin pipe that stays open, instead of none. */
  stdinPipe?: boolean;
  /** Write stderr whole to this file instead of keeping its tail (bench/soak.ts reads the gateway's every log line). */
  stderrFile?: string;
}

/** Spawns `cmd` with stdout and stderr piped; stderr is drained from the start so that a chatty child never blocks on a full pipe. */
export function startProcess(cmd: string[], options: StartOptions = {}): Started {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? childEnv(),
    stdin: options.stdinPipe ? "pipe" : "ignore",
    stdout: "pipe",
    stderr: options.stderrFile === undefined ? "pipe" : Bun.file(options.stderrFile),
  }) as Child;
  running.add(proc);
  if (options.stderrFile !== undefined) {
    const file = options.stderrFile;
    const fileTail = () => readFileSync(file, "utf8").slice(-STDERR_TAIL);
    return { proc, stderrTail: fileTail, stderr: proc.exited.then(fileTail, fileTail) };
  }
  let tail = "";
  const stderr = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) tail = (tail + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL);
    return tail;
  })().catch(() => tail);
  return { proc, stderrTail: () => tail, stderr };
}

/** Reads a stream until `pattern` matches the text so far, then keeps draining it in the background. */
export async function waitForLine(stream: ReadableStream<Uint8Array>, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${what} ended before printing ${pattern} (got ${JSON.stringify(text.slice(-500))})`);
    text += decoder.decode(value, { stream: true });
    const match = text.match(pattern);
    if (match) {
      void (async () => {
        for (;;) if ((await reader.read()).done) return;
      })().catch(() => {});
      return match;
    }
    if (text.length > 1024 * 1024) text = text.slice(-64 * 1024);
  }
}

/**
 * startProcess(), then waits up to `timeoutMs` for stdout to match `pattern`.
 * On failure the process is stopped and the error carries its stderr.
 */
export async function startListening(
  cmd: string[],
  pattern: RegExp,
  what: string,
  options: StartOptions & { timeoutMs: number },
): Promise<{ started: Started; match: RegExpMatchArray }> {
  const started = startProcess(cmd, options);
  try {
    const match = await withTimeout(waitForLine(started.proc.stdout, pattern, what), options.timeoutMs, `${what} to listen`);
    return { started, match };
  } catch (error) {
    await stopProcess(started.proc);
    const stderr = await Promise.race([started.stderr, Bun.sleep(1000).then(started.stderrTail)]);
    throw new Error(`${errorText(error)}\n${what} stderr:\n${stderr}`);
  }
}

export interface Serving extends Started {
  url: string;
  version: string;
  /** performance.now() right before the spawn, and the milliseconds from there to the "listening on" line. */
  startedAt: number;
  listenMs: number;
}

/** Starts `binary serve` on 127.0.0.1 with a port the OS picks and waits for its "listening on" line, which carries the URL. */
export async function serveMintgate(binary: string, dataDir: string, options: StartOptions & { timeoutMs: number }): Promise<Serving> {
  const startedAt = performance.now();
  const cmd = [binary, "serve", "--data", dataDir, "--host", "127.0.0.1", "--port", "0"];
  const { started, match } = await startListening(cmd, LISTENING, "mintgate serve", options);
  return { ...started, url: match[2]!, version: match[1]!, startedAt, listenMs: performance.now() - startedAt };
}

/** Runs a mintgate command (`binary ...args`) to its end and returns its stdout; throws on a non-zero exit. */
export async function runMintgate(binary: string, args: string[], options: { cwd?: string; timeoutMs: number }): Promise<string> {
  const proc = Bun.spawn([binary, ...args], { cwd: options.cwd ?? ROOT, env: childEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await withTimeout(
    Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]),
    options.timeoutMs,
    `mintgate ${args[0]}`,
  );
  if (code !== 0) throw new Error(`mintgate ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
  return stdout;
}

/** SIGTERM and wait for the exit; SIGKILL (and a warning) only if it does not come in time. Resolves to the exit code, null after SIGKILL. */
export async function stopProcess(proc: Child): Promise<number | null> {
  if (!running.delete(proc)) return proc.exitCode;
  if (proc.exitCode !== null || proc.signalCode !== null) return await proc.exited;
  proc.kill("SIGTERM");
  try {
    return await withTimeout(proc.exited, EXIT_TIMEOUT_MS, `pid ${proc.pid} exiting after SIGTERM`);
  } catch (error) {
    warnings.push(`${errorText(error)}; sent SIGKILL`);
    proc.kill("SIGKILL");
    await withTimeout(proc.exited, EXIT_TIMEOUT_MS, `pid ${proc.pid} exiting after SIGKILL`).catch(() => {});
    return null;
  }
}

/** Stops every process started here that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stopProcess));
}
