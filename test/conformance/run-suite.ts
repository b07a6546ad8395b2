/**
 * Runs the official MCP conformance suite (`@modelcontextprotocol/conformance`,
 * CLI `conformance server --url <url>`) against a Streamable HTTP endpoint and
 * returns the scenario names that passed and failed.
 *
 * The CLI is run with Bun (process.execPath when under `bun test`): its
 * bundle imports `globSync` from `fs`, which Node 20 lacks (needs Node >= 22).
 *
 * Where the CLI comes from, first match wins:
 * - env `CONFORMANCE_CLI`: path to the package's `dist/index.js`;
 * - `@modelcontextprotocol/conformance` resolved from this repository.
 */
import { dirname, join } from "node:path";

export interface ConformanceResult {
  passed: string[];
  failed: string[];
  /** Everything the CLI printed (stdout then stderr), ANSI colours stripped. */
  raw: string;
  exitCode: number;
}

export interface ConformanceOptions {
  /** Run one scenario instead of a suite. */
  scenario?: string;
  /** Suite to run when no scenario is given: "active" (CLI default), "all" or "pending". */
  suite?: "active" | "all" | "pending";
  /** Kill the CLI after this long. Default 120 s (the whole active suite takes ~1 s locally). */
  timeoutMs?: number;
  /** `-o DIR`: the CLI writes each scenario's checks there (`server-<scenario>-<timestamp>/checks.json`). */
  outputDir?: string;
  /** The CLI to run (a package's `dist/index.js`); default conformanceCliPath(), the 0.1 suite. */
  cli?: string;
  /** `--requirements REVISION` (0.2 suite only): exactly the scenarios that revision requires, at its wire. Replaces `suite`. */
  requirements?: string;
}

export function conformanceCliPath(): string {
  const fromEnv = process.env.CONFORMANCE_CLI;
  if (fromEnv) return fromEnv;
  const pkg = Bun.resolveSync("@modelcontextprotocol/conformance/package.json", import.meta.dir);
  return join(dirname(pkg), "dist", "index.js");
}

/** The 0.2 alpha suite (installed as `@modelcontextprotocol/conformance-next`): the one with 2026-07-28 scenarios. */
export function conformanceNextCliPath(): string {
  const pkg = Bun.resolveSync("@modelcontextprotocol/conformance-next/package.json", import.meta.dir);
  return join(dirname(pkg), "dist", "index.js");
}

const ANSI = /\x1b\[[0-9;]*m/g;

export async function runConformance(url: string, options: ConformanceOptions = {}): Promise<ConformanceResult> {
  const args = [process.execPath, options.cli ?? conformanceCliPath(), "server", "--url", url];
  if (options.scenario) args.push("--scenario", options.scenario);
  else if (options.requirements) args.push("--requirements", options.requirements);
  else if (options.suite) args.push("--suite", options.suite);
  if (options.outputDir) args.push("-o", options.outputDir);

  const child = Bun.spawn(args, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  const timeoutMs = options.timeoutMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);

  const raw = (stdout + (stderr ? `\n${stderr}` : "")).replace(ANSI, "");
  if (timedOut) throw new Error(`conformance CLI timed out after ${timeoutMs} ms\n${raw}`);

  const { passed, failed } = options.scenario ? parseSingle(raw, options.scenario) : parseSummary(raw);
  if (passed.length + failed.length === 0) {
    throw new Error(`conformance CLI (exit ${exitCode}) printed no scenario results\n${raw}`);
  }
  return { passed, failed, raw, exitCode };
}

/** Suite mode: `=== SUMMARY ===` then one `✓|✗ <scenario>: N passed, M failed` line each. */
export function parseSummary(raw: string): { passed: string[]; failed: string[] } {
  const passed: string[] = [];
  const failed: string[] = [];
  const start = raw.lastIndexOf("=== SUMMARY ===");
  if (start < 0) return { passed, failed };
  for (const line of raw.slice(start).split("\n")) {
    const match = /^([✓✗]) (\S+): (\d+) passed, (\d+) failed/.exec(line.trim());
    if (!match) continue;
    const [, mark, name] = match;
    if (name === undefined) continue;
    (mark === "✓" ? passed : failed).push(name);
  }
  return { passed, failed };
}

/** Single-scenario mode prints `Passed: x/y, N failed, W warnings` instead of a summary. */
function parseSingle(raw: string, scenario: string): { passed: string[]; failed: string[] } {
  const match = /^Passed: \d+\/\d+, (\d+) failed/m.exec(raw);
  if (!match) return { passed: [], failed: [] };
  return Number(match[1]) === 0 ? { passed: [scenario], failed: [] } : { passed: [], failed: [scenario] };
}
