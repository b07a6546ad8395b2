/**
 * Regression tests for defects a robustness review found by driving the real
 * binary (shutdown, restarts, sessions, http upstreams). Each test keeps its
 * work bounded; nothing here measures performance, the bounds are only there
 * so a regression shows up as a failure rather than a hang.
 *
 * Upstreams: test/fixtures/raw-stdio.ts (stdio; crash-after-ready and
 * subscription-logging modes, survives the end of its stdin) and
 * test/fixtures/raw-http-upstream.ts (Streamable HTTP that drops or hangs).
 */
import { Database } from "bun:sqlite";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startEverythingServer } from "./conformance/everything-server.ts";
import { collectOutput } from "./fixtures/child-output.ts";
import { startPollingHttpUpstream } from "./fixtures/polling-http-upstream.ts";
import { startRawHttpUpstream, type RawHttpUpstream } from "./fixtures/raw-http-upstream.ts";
import { BINARY, cleanEnv, connectMcpClient, DEMO_CONFIG, REPO_ROOT, runMintgate, startConfiguredGateway, startedCall, startGateway, tempDir, waitFor, type RunningGateway } from "./harness.ts";

const RAW_STDIO = join(REPO_ROOT, "test", "fixtures", "raw-stdio.ts");
const ECHO_STDIO = join(REPO_ROOT, "test", "fixtures", "echo-stdio.ts");

/*
 * This file cleans up after itself: the harness's own afterAll hooks are
 * registered once, by the first test file that imports it, so in a
 * multi-file run they do not cover the gateways and temp dirs started here.
 */
const clients: Client[] = [];
const upstreams: Pick<RawHttpUpstream, "stop">[] = [];
const gateways: RunningGateway[] = [];
const dirs: string[] = [];
/** Pids of upstream processes these tests caused to be started; killed at the end if a test left one alive. */
const childPids = new Set<number>();
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
  await Promise.all(upstreams.splice(0).map((u) => u.stop()));
});
afterAll(() => {
  for (const pid of childPids) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dir(label: string): string {
  const path = tempDir(label);
  dirs.push(path);
  return path;
}

/** startConfiguredGateway, with the gateway stopped after the test and its directory removed after the file. */
async function start(config: string | object, label: string, args?: string[], secrets?: Record<string, string>) {
  const started = await startConfiguredGateway(config, { label, args, secrets });
  gateways.push(started.gateway);
  dirs.push(dirname(started.dataDir));
  return started;
}

/**
 * Whether a process is alive. PID 1 in some sandboxes does not reap orphans,
 * so a killed child can linger as a zombie: state Z (or X), or no /proc
 * entry at all, counts as dead.
 */
function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2).charAt(0);
  return state !== "Z" && state !== "X";
}

async function admin<T>(gateway: RunningGateway, path: string): Promise<T> {
  const response = await fetch(`${gateway.url}/admin/api${path}`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

interface ConnectorRow {
  name: string;
  state: string;
  reason?: string;
  restarts: number;
}
interface CallRow {
  exposedName: string;
  outcome: string;
}

const connectorState = async (gateway: RunningGateway, name: string) => (await admin<ConnectorRow[]>(gateway, "/connectors")).find((c) => c.name === name);
const waitReady = (gateway: RunningGateway, name: string) => waitFor(`connector ${name} ready`, async () => (await connectorState(gateway, name))?.state === "ready");

function stdioConfig(name: string, env: Record<string, string>) {
  return {
    connectors: [{ name, kind: "stdio", command: process.execPath, args: [RAW_STDIO], env }],
    virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: name }] }],
  };
}

/** Virtual MCP "v" over one stdio connector running `script` in sh (a misbehaving upstream in a line). */
function shellConfig(name: string, script: string) {
  return {
    connectors: [{ name, kind: "stdio", command: "sh", args: ["-c", script] }],
    virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: name }] }],
  };
}

function httpConfig(name: string, url: string, timeout: string) {
  return {
    connectors: [{ name, kind: "http", url, timeout }],
    virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: name }] }],
  };
}

/** A gateway whose Virtual MCP "v" holds one http connector "hr" on a fresh raw upstream, ready. */
async function startBehindRawUpstream(label: string, timeout: string) {
  const upstream = startRawHttpUpstream();
  upstreams.push(upstream);
  const started = await start(httpConfig("hr", upstream.url, timeout), label);
  await waitReady(started.gateway, "hr");
  return { upstream, ...started };
}

async function client(gateway: RunningGateway, token: string): Promise<Client> {
  const c = await connectMcpClient(`${gateway.url}/mcp/v`, token);
  clients.push(c);
  return c;
}

/** Pids from a raw-stdio LAUNCH_FILE, in launch order. */
function launchedPids(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => Number(line.split(" ")[1]));
}


/** A Streamable HTTP session on /mcp/v opened with a raw initialize: the headers its requests take and its id. */
async function openRawSession(gateway: { url: string }, token: string): Promise<{ headers: Record<string, string>; session: string }> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  const opened = await fetch(`${gateway.url}/mcp/v`, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "idle", version: "1" } } }),
  });
  const session = opened.headers.get("mcp-session-id")!;
  await opened.text();
  return { headers, session };
}

/** A process's resident set, in KiB. */
const rssKbOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

describe("shutdown", () => {
  test("a second SIGINT during a graceful shutdown exits at once, kills the stdio upstream, and still answers and records the call it cut off", async () => {
    const launch = join(dir("mintgate-twosig"), "launch.txt");
    const { gateway, token, dataDir } = await start(stdioConfig("r", { LAUNCH_FILE: launch }), "mintgate-twosig");
    await waitReady(gateway, "r");
    const [child] = launchedPids(launch);
    expect(child).toBeGreaterThan(0);
    childPids.add(child!);
    expect(isAlive(child!)).toBe(true);

    const c = await client(gateway, token);
    // A long call keeps the graceful shutdown waiting (its grace is 10 s); signalled once it has reached the upstream.
    const slow = startedCall(c, "r__slow", { ms: 30_000 });
    const cutOff = slow.result.then(
      () => "answered",
      (error: Error) => error.message,
    );
    await slow.started;

    gateway.signal("SIGINT");
    await waitFor("the graceful shutdown to begin", () => gateway.output().includes("shutting down"));
    // The line says what the drain waits for: the one call.
    expect(gateway.output()).toMatch(/shutting down: .* running=1 /);
    gateway.signal("SIGINT");
    // "At once" here only means well before the 10 s grace or the 30 s call would end.
    const code = await Promise.race([gateway.exited, Bun.sleep(5_000).then(() => "still running" as const)]);
    expect(code).toBe(130);
    await waitFor(`upstream ${child} to be dead`, () => !isAlive(child!), 40, 50);
    // Before, the exit came first: the client got a reset connection and the call left no audit record.
    expect(await cutOff).toContain("the gateway is shutting down");
    const search = await runMintgate(["audit", "search", "--data", dataDir, "--tool", "r__slow", "--json"]);
    expect(search.code).toBe(0);
    expect((JSON.parse(search.stdout) as { outcome: string; error: string }[]).map((r) => [r.outcome, r.error])).toEqual([["cancelled", (await cutOff).replace("MCP error -32000: ", "")]]);
    // The killed upstream is not gateway by the backoff before the exit (a child no one would end).
    expect(launchedPids(launch)).toEqual([child!]);
  });

  test("SIGTERM with calls that outlast the grace, on a stdio and an http upstream, and an upstream that ignores SIGTERM: each call is answered with why and recorded as cancelled, every upstream ends, exit 0 in bounded time", async () => {
    const upstream = startRawHttpUpstream();
    upstreams.push(upstream);
    const config = {
      connectors: [
        { name: "r", kind: "stdio", command: process.execPath, args: [RAW_STDIO] },
        { name: "st", kind: "stdio", command: process.execPath, args: [ECHO_STDIO, "--outlives-sigterm"] },
        { name: "h", kind: "http", url: upstream.url, timeout: "60s" },
      ],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "r" }, { connector: "st" }, { connector: "h" }] }],
    };
    const { gateway, token, dataDir } = await start(config, "mintgate-grace");
    for (const name of ["r", "st", "h"]) await waitReady(gateway, name);
    // The group leaders of the stdio upstreams, as the gateway notes them for a restart after kill -9.
    const leaders = readdirSync(join(dataDir, "upstream-groups")).map(Number);
    expect(leaders).toHaveLength(2);
    for (const pid of leaders) childPids.add(pid);

    const c = await client(gateway, token);
    const answer = (call: Promise<unknown>) => call.then(() => "answered", (error: Error) => error.message);
    const slow = startedCall(c, "r__slow", { ms: 60_000 });
    const stdioCall = answer(slow.result);
    const httpCall = answer(c.callTool({ name: "h__hang", arguments: {} }));
    await slow.started;
    await waitFor("the http call to reach its upstream", () => upstream.hangsStarted() === 1);

    const signalled = Date.now();
    gateway.signal("SIGTERM");
    expect(await gateway.exited).toBe(0);
    // The 10 s grace, the 2 s until SIGKILL for the upstream that outlives SIGTERM, and slack for a loaded machine.
    expect(Date.now() - signalled).toBeLessThan(20_000);
    const why = "MCP error -32000: mintgate ended this session (the gateway is shutting down) before the request finished; start a new session and try again.";
    expect([await stdioCall, await httpCall]).toEqual([why, why]);
    expect(gateway.output()).toContain("stopped waitedFor=2 finished=0 cutOff=2");
    for (const pid of leaders) await waitFor(`upstream ${pid} to be dead`, () => !isAlive(pid), 40, 50);
    await waitFor("the http upstream's request to be ended", () => upstream.hangsClosed() === 1, 40, 50);
    const search = await runMintgate(["audit", "search", "--data", dataDir, "--kind", "mcp", "--json"]);
    const records = JSON.parse(search.stdout) as { method: string; exposedName: string; outcome: string; error: string }[];
    expect(records.filter((r) => r.method === "tools/call").map((r) => [r.exposedName, r.outcome, r.error]).sort()).toEqual([
      ["h__hang", "cancelled", why.replace("MCP error -32000: ", "")],
      ["r__slow", "cancelled", why.replace("MCP error -32000: ", "")],
    ]);
    expect((await runMintgate(["audit", "verify", "--data", dataDir])).code).toBe(0);
  }, 30_000);

  test("SIGHUP (the terminal closed) shuts down like SIGTERM: exit 0, the stdio upstream ended, server.url removed", async () => {
    const launch = join(dir("mintgate-sighup"), "launch.txt");
    const { gateway, dataDir } = await start(stdioConfig("h", { LAUNCH_FILE: launch }), "mintgate-sighup");
    await waitReady(gateway, "h");
    const [child] = launchedPids(launch);
    expect(child).toBeGreaterThan(0);
    childPids.add(child!);
    gateway.signal("SIGHUP");
    expect(await gateway.exited).toBe(0);
    expect(gateway.output()).toContain("shutting down");
    await waitFor(`upstream ${child} to be dead`, () => !isAlive(child!), 40, 50);
    expect(existsSync(join(dataDir, "server.url"))).toBe(false);
  });

  test("under nohup, SIGHUP stays ignored: the gateway keeps serving, and SIGTERM still stops it", async () => {
    const base = dir("mintgate-nohup");
    const wrapper = join(base, "nohup-mintgate");
    writeFileSync(wrapper, `#!/bin/sh\nexec nohup ${BINARY} "$@"\n`, { mode: 0o755 });
    const gateway = await startGateway({ dataDir: join(base, "data"), binary: wrapper });
    gateways.push(gateway);
    // Before, serve's own SIGHUP handler replaced nohup's ignore, and logging out stopped the gateway. The kernel
    // drops a signal whose disposition is "ignore": no handler caught it however late a loaded machine runs it.
    const hup = (field: "SigCgt" | "SigIgn") => signalDisposition(gateway.pid, field, "SIGHUP");
    expect({ ignored: hup("SigIgn"), caught: hup("SigCgt") }).toEqual({ ignored: true, caught: false });
    gateway.signal("SIGHUP");
    // And the end-to-end view: a pause before showing something did not happen, which waiting cannot replace.
    await Bun.sleep(300);
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    expect(gateway.output()).not.toContain("shutting down");
    gateway.signal("SIGTERM");
    expect(await gateway.exited).toBe(0);
  });

  test("after a kill -9, the next start ends the stdio upstream the dead gateway left running (it ignores the end of its stdin), and no process that is not its own; the old session gets 404", async () => {
    const launch = join(dir("mintgate-kill9"), "launch.txt");
    const { gateway, dataDir, token } = await start(stdioConfig("k", { LAUNCH_FILE: launch }), "mintgate-kill9");
    await waitReady(gateway, "k");
    const { headers, session } = await openRawSession(gateway, token);
    const [orphan] = launchedPids(launch);
    childPids.add(orphan!);
    // Not ours, though noted in the directory: a live process whose start time differs, and a pid no one has.
    const stranger = Bun.spawn(["sleep", "30"], { detached: true, stdin: "ignore" });
    childPids.add(stranger.pid);
    mkdirSync(join(dataDir, "upstream-groups"), { recursive: true });
    writeFileSync(join(dataDir, "upstream-groups", String(stranger.pid)), "1");
    writeFileSync(join(dataDir, "upstream-groups", "4194303"), "1");

    gateway.signal("SIGKILL");
    await gateway.exited;
    await Bun.sleep(300);
    expect(isAlive(orphan!)).toBe(true);

    const again = await startGateway({ dataDir });
    gateways.push(again);
    await waitReady(again, "k");
    await waitFor(`the orphaned upstream ${orphan} to be dead`, () => !isAlive(orphan!), 40, 50);
    const launched = launchedPids(launch);
    for (const pid of launched) childPids.add(pid);
    // One copy runs: the restarted gateway's own.
    expect(launched.filter(isAlive)).toEqual([launched[1]!]);
    expect(isAlive(stranger.pid)).toBe(true);
    expect(again.output()).toContain("killed the upstream process groups a gateway that did not stop cleanly");
    // A client of the dead gateway is told its session is unknown, on a call and on its event stream, so it initializes again.
    const stale = { ...headers, "mcp-session-id": session };
    const call = await fetch(`${again.url}/mcp/v`, { method: "POST", headers: stale, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } }) });
    expect([call.status, ((await call.json()) as { error: { code: number } }).error.code]).toEqual([404, -32001]);
    expect((await fetch(`${again.url}/mcp/v`, { headers: stale })).status).toBe(404);
    stranger.kill("SIGKILL");
  });

  test("SIGTERM during an admin's connector test ends the test's upstream and answers the test with why, rather than leave the child running after the exit", async () => {
    const { gateway } = await start(DEMO_CONFIG, "mintgate-sigprobe");
    const pidFile = join(dir("mintgate-sigprobe-child"), "child.pid");
    // A stdio upstream that never answers initialize, tested with the longest wait the admin API takes (ten minutes).
    const testing = fetch(`${gateway.url}/admin/api/connectors/test?timeoutMs=600000`, {
      method: "POST",
      headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "slow-probe", kind: "stdio", command: "/bin/sh", args: ["-c", `echo $$ > ${pidFile}; exec sleep 30`] }),
    });
    const child = await waitFor("the tested upstream's pid file", () => existsSync(pidFile) && Number(readFileSync(pidFile, "utf8")), 100, 50);
    childPids.add(child);
    gateway.signal("SIGTERM");
    const answer = await testing;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ ok: false, error: "The gateway is shutting down, so the test was stopped; run it again once the gateway is back." });
    expect(await gateway.exited).toBe(0);
    // Its process group ended with the gateway's own upstreams'; before, the test held the shutdown to its 11 s cut-off and the child ran on.
    await waitFor(`tested upstream ${child} to be dead`, () => !isAlive(child), 40, 50);
  });

  test("SIGTERM right after serve spawned a stdio child exits 0 and leaves no live child", async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const starting = await startServeWithSilentChild("mintgate-sigstart");
      const child = await waitFor("the stdio child's pid file", () => existsSync(starting.pidFile) && Number(readFileSync(starting.pidFile, "utf8")), 2000, 2);
      childPids.add(child);
      await Bun.sleep(attempt * 3); // vary the moment a little
      await expectCleanStop(starting, `attempt ${attempt}`);
    }
  });

  test("SIGTERM while serve is still starting, before any child: kept until it can stop cleanly, then exit 0, no child left, server.url gone", async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      // The first moment serve can act on a signal: the kernel shows SIGTERM caught. Before it (the ~70 ms Bun takes to
      // load the program) nothing but the default action exists, which ends the process with 143.
      const catching = await startServeWithSilentChild("mintgate-sigcaught");
      await waitFor("serve to catch SIGTERM", () => signalDisposition(catching.serve.pid, "SigCgt", "SIGTERM"), 2000, 1);
      await expectCleanStop(catching, `as soon as caught, attempt ${attempt}`);
      // Its first line comes from opening the data directory (a lost admin.token is replaced), long before start-up is
      // done. Before, SIGTERM was caught only further on, so a signal sent on that line ended the process with 143.
      const writing = await startServeWithSilentChild("mintgate-sigline", { withoutAdminToken: true });
      await waitFor("serve's first line", () => writing.output().includes("\n"), 2000, 1);
      expect(writing.output()).toContain("created admin token");
      await expectCleanStop(writing, `after the first line, attempt ${attempt}`);
    }
  });
});

interface StartingServe {
  serve: Bun.Subprocess<"ignore", "pipe", "pipe">;
  dataDir: string;
  /** Where the stdio connector's child writes its pid once serve starts it. */
  pidFile: string;
  /** What serve has written so far, stdout and stderr. */
  output(): string;
}

/**
 * `mintgate serve` spawned on a data directory whose one stdio connector never answers initialize (so the gateway
 * is still starting it when signalled), returned at once; `withoutAdminToken` removes admin.token first.
 */
async function startServeWithSilentChild(label: string, options: { withoutAdminToken?: boolean } = {}): Promise<StartingServe> {
  const base = dir(label);
  const dataDir = join(base, "data");
  const pidFile = join(base, "child.pid");
  expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
  const config = {
    connectors: [{ name: "sl", kind: "stdio", command: "/bin/sh", args: ["-c", `echo $$ > ${pidFile}; exec sleep 30`] }],
    virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "sl" }] }],
  };
  writeFileSync(join(base, "c.yaml"), JSON.stringify(config));
  expect((await runMintgate(["apply", "-f", join(base, "c.yaml"), "--data", dataDir])).code).toBe(0);
  if (options.withoutAdminToken) rmSync(join(dataDir, "admin.token"));
  const serve = Bun.spawn([BINARY, "serve", "--data", dataDir, "--port", "0"], { env: cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { serve, dataDir, pidFile, output: collectOutput(serve).text };
}

/** SIGTERM now; serve must exit 0 (not die of the signal), its stdio child (if it got that far) dead and server.url removed. */
async function expectCleanStop({ serve, dataDir, pidFile, output }: StartingServe, when: string): Promise<void> {
  try {
    serve.kill("SIGTERM");
    const code = await serve.exited;
    expect({ when, code, signal: serve.signalCode, output: code === 0 ? "" : output() }).toEqual({ when, code: 0, signal: null, output: "" });
    if (existsSync(pidFile)) {
      const child = Number(readFileSync(pidFile, "utf8"));
      childPids.add(child);
      await waitFor(`stdio child ${child} to be dead (${when})`, () => !isAlive(child), 40, 50);
    }
    expect(existsSync(join(dataDir, "server.url"))).toBe(false);
  } finally {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill("SIGKILL");
  }
}

const SIGNAL_NUMBERS = { SIGHUP: 1, SIGTERM: 15 } as const;

/**
 * Whether a process's disposition of `signal` is `field` in /proc/PID/status: SigCgt, caught by a handler, or
 * SigIgn, ignored (the kernel then drops it). False once the process is gone.
 */
function signalDisposition(pid: number, field: "SigCgt" | "SigIgn", signal: keyof typeof SIGNAL_NUMBERS): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return false;
  }
  const mask = BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m").exec(status)![1]}`);
  return ((mask >> BigInt(SIGNAL_NUMBERS[signal] - 1)) & 1n) === 1n;
}

describe("restarts", () => {
  test("an upstream writing more than 10 MiB on stdout without a line break fails with that as its reason, not the signal it was stopped with", async () => {
    const endless = "head -c 11534336 /dev/zero | tr '\\0' z; exec sleep 60";
    const { gateway } = await start(shellConfig("nl", endless), "mintgate-no-newline");
    const failed = await waitFor("nl failed", async () => {
      const state = await connectorState(gateway, "nl");
      return state?.state === "failed" ? state : undefined;
    }, 200, 100);
    expect(failed.reason).toBe("the upstream wrote more than 10 MiB without a line break on stdout, so it was stopped");
  });

  test("an upstream that closes its stdout and runs on fails at once with that as its reason, while starting or once ready, as one that exits 0 does", async () => {
    // Answers initialize and tools/list as a minimal MCP server, then closes its stdout half a second after it is ready.
    const answer = (result: string) => `printf '{"jsonrpc":"2.0","id":%s,"result":${result}}\\n' "$id"`;
    const later = [
      "while read -r line; do",
      `  id=$(printf %s "$line" | sed -n 's/.*"id":\\([0-9][0-9]*\\).*/\\1/p')`,
      "  case $line in",
      `    *'"initialize"'*) ${answer('{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"sh","version":"1"}}')} ;;`,
      `    *'"tools/list"'*) ${answer('{"tools":[{"name":"t","inputSchema":{"type":"object"}}]}')}; sleep 0.5; exec 1>&-; exec sleep 60 ;;`,
      "  esac",
      "done",
    ].join("\n");
    const connectors = [
      { name: "shut", kind: "stdio", command: "sh", args: ["-c", "exec 1>&-; exec sleep 60"] },
      { name: "later", kind: "stdio", command: "sh", args: ["-c", later] },
      { name: "quit", kind: "stdio", command: "sh", args: ["-c", "exit 0"] },
    ];
    const { gateway } = await start({ connectors, virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: connectors.map((c) => ({ connector: c.name })) }] }, "mintgate-stdout-closed");
    // Each within a few seconds, not at the 30 s connect timeout (shut) or never while every call times out (later).
    const failed = (name: string) => waitFor(`${name} failed`, async () => ((await connectorState(gateway, name))?.reason ? connectorState(gateway, name) : undefined), 100, 50);
    const closed = "the upstream closed its stdout but kept running, so it was stopped; an MCP server over stdio must keep stdout open for its answers";
    expect((await failed("shut"))?.reason).toBe(closed);
    expect((await failed("later"))?.reason).toBe(closed);
    expect(gateway.output()).toContain("connector ready connector=later");
    expect((await failed("quit"))?.reason).toBe("the upstream process exited with code 0");
  });

  test("an upstream that crashes right after it becomes ready is restarted with growing delays, and the crash loop is a few log lines, not three per restart", async () => {
    const launch = join(dir("mintgate-crash"), "launch.txt");
    // It says why on stderr each time, as a real server would.
    const script = `echo "cannot reach the database" >&2; MODE=crash LAUNCH_FILE=${launch} exec ${process.execPath} ${RAW_STDIO}`;
    const { gateway } = await start(shellConfig("cr", script), "mintgate-crash");
    await Bun.sleep(6_000);
    for (const pid of launchedPids(launch)) childPids.add(pid);
    const restarts = (await connectorState(gateway, "cr"))!.restarts;
    // Restarted every 500 ms this would be about ten; with a doubling backoff it is three or four.
    expect(restarts).toBeGreaterThanOrEqual(2);
    expect(restarts).toBeLessThanOrEqual(5);
    // Each restart wrote its stderr line, an exit warning and a failure warning (and a ready line) before; now the first
    // failure is said once, with the first child's stderr; the repeats are debug lines, summarised every 10 minutes.
    const lines = gateway.output().split("\n").filter((line) => line.includes("connector=cr "));
    expect(lines.map((line) => line.replace(/^\S+ /, "").replace(/ reason=.*/, ""))).toEqual([
      "info  connector added connector=cr kind=stdio",
      'info  upstream stderr connector=cr line="cannot reach the database"',
      "info  connector ready connector=cr kind=stdio tools=6",
      "warn  connector failed; restarting connector=cr",
      // Ready after one failure is news; after more, a ready that may not last is debug until it has lasted 30 s.
      "info  connector ready connector=cr kind=stdio tools=6",
    ]);
    expect(lines[3]).toContain('reason="the upstream process exited with code 3" retryInMs=500');
  });
});

describe("upstream catalogues", () => {
  test("an upstream that declares resources and prompts but answers a list of them with Method not found is ready with the lists it has, and says which it lacks once", async () => {
    const { gateway, token } = await start(stdioConfig("nt", { MODE: "notemplates" }), "mintgate-no-templates");
    // It failed at every start ('Connector "nt" answered: Method not found'), so none of its tools could be called.
    const settled = await waitFor("connector nt to be ready or failed", async () => {
      const row = await connectorState(gateway, "nt");
      return row !== undefined && row.state !== "starting" ? row : undefined;
    });
    expect({ state: settled.state, reason: settled.reason }).toEqual({ state: "ready", reason: undefined });
    const c = await client(gateway, token);
    expect((await c.callTool({ name: "nt__echo", arguments: { text: "reachable" } })).content).toEqual([{ type: "text", text: "reachable" }]);
    expect((await c.listResources()).resources.map((r) => r.name)).toEqual(["a"]);
    expect((await c.listPrompts()).prompts).toEqual([]);
    const said = gateway.output().split("\n").filter((line) => line.includes("upstream does not serve a list"));
    expect(said.map((line) => /method=(\S+)/.exec(line)?.[1]).sort()).toEqual(["prompts/list", "resources/templates/list"]);
  });

  test("an upstream announcing tools/list_changed 1000 times a second is listed a few times a second, and clients hear nothing", async () => {
    const lists = join(dir("mintgate-storm"), "lists.txt");
    const { gateway, token } = await start(stdioConfig("st", { MODE: "storm", LIST_FILE: lists }), "mintgate-storm");
    await waitReady(gateway, "st");
    const c = await client(gateway, token);
    let notified = 0;
    c.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      notified++;
    });
    const before = readFileSync(lists, "utf8").split("\n").length;
    await Bun.sleep(3_000);
    const listed = readFileSync(lists, "utf8").split("\n").length - before;
    // One re-list per round trip would be hundreds; one per 500 ms is six or seven.
    expect(listed).toBeGreaterThan(0);
    expect(listed).toBeLessThanOrEqual(10);
    expect(notified).toBe(0);
    expect(gateway.output()).not.toContain("connector catalogue changed");
    const answer = await c.callTool({ name: "st__echo", arguments: { text: "still here" } });
    expect((answer.content as { text?: string }[])[0]?.text).toBe("still here");
  });

  test("a tools/list whose cursor comes back again is read once, and one with a new cursor on every page is cut off at 100 pages: no tool twice, and the configuration can still be changed", async () => {
    const work = dir("mintgate-cursor");
    const lists = join(work, "lists.txt");
    const grownLists = join(work, "grown-lists.txt");
    const config = stdioConfig("cl", { MODE: "cursorloop", LIST_FILE: lists });
    config.connectors.push({ name: "cg", kind: "stdio", command: process.execPath, args: [RAW_STDIO], env: { MODE: "cursorgrow", LIST_FILE: grownLists } });
    config.virtualMcps[0]!.connectors.push({ connector: "cg" });
    const started = await start(config, "mintgate-cursor");
    await waitReady(started.gateway, "cl");
    await waitReady(started.gateway, "cg");
    expect(readFileSync(lists, "utf8").split("\n").filter(Boolean)).toHaveLength(2);
    expect(readFileSync(grownLists, "utf8").split("\n").filter(Boolean)).toHaveLength(100);
    expect(started.gateway.output()).toContain("upstream list has too many pages; using the first ones connector=cg method=tools/list pages=100");
    const status = await admin<{ tools: { name: string }[]; problems: string[] }>(started.gateway, "/virtual-mcps/v");
    expect(status.problems).toEqual([]);
    const tools = status.tools.map((t) => t.name);
    expect(tools.filter((name) => name.startsWith("cl__"))).toEqual(["cl__echo", "cl__slow", "cl__answer", "cl__deep", "cl__progress", "cl__unasked"]);
    // Each page adds one tool: pages 0 to 99 were read, and the 101st never asked for.
    expect(tools.filter((name) => name.startsWith("cg__page"))).toHaveLength(100);
    expect(tools).toContain("cg__page99");
    // Curation checks of a later change see the upstream's tools once, so they do not refuse it.
    const file = join(dirname(started.dataDir), "renamed.yaml");
    writeFileSync(file, JSON.stringify({ ...config, virtualMcps: [{ ...config.virtualMcps[0], name: "Renamed" }] }));
    const applied = await runMintgate(["apply", "-f", file, "--data", started.dataDir]);
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
  });

  test("a tools/list paging without end in pages of a MiB is cut off past 16 MiB, not read to its 100th page: its first tools list, beside another connector's", async () => {
    const lists = join(dir("mintgate-long-list"), "lists.txt");
    const config = stdioConfig("lg", { MODE: "cursorgrow", PAGE_MIB: "1", LIST_FILE: lists });
    config.connectors.push({ name: "ok", kind: "stdio", command: process.execPath, args: [RAW_STDIO], env: {} });
    config.virtualMcps[0]!.connectors.push({ connector: "ok" });
    const { gateway, token } = await start(config, "mintgate-long-list");
    await waitReady(gateway, "lg");
    await waitReady(gateway, "ok");
    // Pages of 1 MiB: the 16th passes the limit, and no page after it is asked for.
    expect(readFileSync(lists, "utf8").split("\n").filter(Boolean)).toHaveLength(16);
    expect(gateway.output()).toContain("upstream list is too long; using the first pages connector=lg method=tools/list pages=16 limitMiB=16");
    const names = (await (await client(gateway, token)).listTools()).tools.map((t) => t.name);
    expect(names.filter((name) => name.startsWith("lg__page"))).toHaveLength(16);
    expect(names).toContain("ok__echo");
  });

  test("tools MCP clients refuse (no name, an unfit name, no object inputSchema, a null _meta) are hidden and named in short, a name listed twice is said, and the connector's other tools still list", async () => {
    const { gateway, token } = await start(stdioConfig("uf", { MODE: "unfit" }), "mintgate-unfit-tools");
    await waitReady(gateway, "uf");
    // The SDK client checks every tool against the MCP schema: one unfit tool would fail the whole list.
    const listed = await (await client(gateway, token)).listTools();
    expect(listed.tools.map((t) => t.name)).toEqual(["uf__echo", "uf__slow", "uf__answer", "uf__deep", "uf__progress", "uf__unasked", "uf__wordy"]);
    // A description of a megabyte is a valid one: passed on whole.
    expect(listed.tools.find((t) => t.name === "uf__wordy")?.description).toHaveLength(1024 * 1024);
    const status = await admin<{ problems: string[] }>(gateway, "/virtual-mcps/v");
    // A name of 100,000 characters is said by its first 100, not whole (twice) in the status and the log.
    const long = `${"n".repeat(100)}…`;
    expect(status.problems).toEqual([
      '"uf__noschema" (from uf tool "noschema") has no inputSchema, which MCP clients refuse (so it is hidden); exclude the tool or fix it in its upstream server.',
      '"uf__arrayschema" (from uf tool "arrayschema") has an inputSchema not of type "object", which MCP clients refuse (so it is hidden); exclude the tool or fix it in its upstream server.',
      '"uf__two\\nwords" (from uf tool "two\\nwords") is not a valid tool name: at most 64 letters, digits, "_" or "-"; shorten the prefix or rename the tool.',
      `"uf__${long.slice(0, 96)}…" (from uf tool "${long}") is not a valid tool name: at most 64 letters, digits, "_" or "-"; shorten the prefix or rename the tool.`,
      '"uf__nullmeta" (from uf tool "nullmeta") has a _meta that is not an object, which MCP clients refuse (so it is hidden); exclude the tool or fix it in its upstream server.',
    ]);
    expect(gateway.output().length).toBeLessThan(100_000);
    const skipped = gateway.output().split("\n").filter((line) => line.includes("upstream list items skipped"));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain("connector=uf method=tools/list skipped=2");
    // The second "echo" is not the first: the first is exposed, and the clash said once.
    expect(listed.tools.find((t) => t.name === "uf__echo")?.description).toBe("echo");
    const twice = gateway.output().split("\n").filter((line) => line.includes("upstream lists different items under one name"));
    expect(twice).toHaveLength(1);
    expect(twice[0]).toContain("connector=uf method=tools/list name=echo");
  });

  test("upstream tools named like Object methods (constructor, toString) are exposed, renamed and described as any other", async () => {
    const config = {
      connectors: stdioConfig("ob", { EXTRA_TOOLS: "constructor,toString,valueOf" }).connectors,
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "ob", rename: { valueOf: "value" }, describe: { toString: "Says what it is given." } }] }],
    };
    const { gateway, token } = await start(config, "mintgate-object-method-tools");
    await waitReady(gateway, "ob");
    const c = await client(gateway, token);
    const { tools } = await c.listTools();
    expect(tools.filter((t) => !["ob__echo", "ob__slow", "ob__answer", "ob__deep", "ob__progress", "ob__unasked"].includes(t.name)).map((t) => [t.name, t.description])).toEqual([
      ["ob__constructor", "constructor, as echo"],
      ["ob__toString", "Says what it is given."],
      ["ob__value", "valueOf, as echo"],
    ]);
    expect(await c.callTool({ name: "ob__toString", arguments: { text: "hi" } })).toEqual({ content: [{ type: "text", text: "hi" }] });
    expect((await admin<{ problems: string[] }>(gateway, "/virtual-mcps/v")).problems).toEqual([]);
  });
  test("prompts named with spaces or dots, as servers name them, are listed and got, and the configuration still applies", async () => {
    const config = stdioConfig("pr", { PROMPT_NAMES: JSON.stringify(["code review", "git.commit"]) });
    const { gateway, token } = await start(config, "mintgate-prompt-names");
    await waitReady(gateway, "pr");
    const c = await client(gateway, token);
    expect((await c.listPrompts()).prompts.map((p) => p.name).sort()).toEqual(["pr__code review", "pr__git.commit"]);
    expect((await c.getPrompt({ name: "pr__code review" })).messages).toEqual([{ role: "user", content: { type: "text", text: "prompt code review" } }]);
    expect((await admin<{ problems: string[] }>(gateway, "/virtual-mcps/v")).problems).toEqual([]);
    // Applied again now that the catalogue is known: held to the tool names' alphabet, the Virtual MCP was refused.
    const applied = await fetch(`${gateway.url}/admin/api/config`, { method: "PUT", headers: { authorization: `Bearer ${gateway.adminToken()}` }, body: JSON.stringify(config) });
    expect({ status: applied.status, body: await applied.text() }).toMatchObject({ status: 200 });
  });

  test("an unprefixed connector's resource whose URI starts like another connector's prefix (git+ssh://) is read from the connector that lists it", async () => {
    const config = {
      connectors: [{ name: "demo", kind: "builtin", server: "demo" }, ...stdioConfig("plain", { MODE: "subs", RESOURCE_URI: "git+ssh://example.com/repo" }).connectors],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "demo", prefix: "git" }, { connector: "plain", prefix: "" }] }],
    };
    const { gateway, token } = await start(config, "mintgate-plus-uri");
    await waitReady(gateway, "plain");
    const c = await client(gateway, token);
    expect((await c.listResources()).resources.map((r) => r.uri).sort()).toEqual(["git+demo://about", "git+ssh://example.com/repo"]);
    expect((await c.readResource({ uri: "git+ssh://example.com/repo" })).contents).toEqual([{ uri: "git+ssh://example.com/repo", mimeType: "text/plain", text: "raw git+ssh://example.com/repo" }]);
    // The prefixed connector's own URIs still go to it.
    expect((await c.readResource({ uri: "git+demo://about" })).contents[0]).toMatchObject({ uri: "git+demo://about" });
  });
});

describe("messages upstreams send unasked", () => {
  test("an initialize answer must name an MCP revision up to the one asked for: another fails the connector with a sentence (and a call of its tools says so), an older one is spoken", async () => {
    // Before, any value was taken and sent back as the MCP-Protocol-Version header (an object as "[object Object]", a CR LF raw).
    const upstream = (name: string, version: string) => ({ name, kind: "stdio", command: process.execPath, args: [RAW_STDIO], env: { VERSION: version } });
    const config = {
      connectors: [upstream("future", '"2099-01-01"'), upstream("garbled", '"2025-06-18\\r\\nX-Injected: yes"'), upstream("shape", "{}"), upstream("old", '"2024-11-05"')],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "old" }, { connector: "future" }] }],
    };
    const { gateway, token } = await start(config, "mintgate-upstream-version");
    await waitReady(gateway, "old");
    const reasons = await waitFor("the three to fail", async () => {
      const rows = await admin<ConnectorRow[]>(gateway, "/connectors");
      const failed = rows.filter((row) => row.state === "failed");
      return failed.length === 3 ? Object.fromEntries(failed.map((row) => [row.name, row.reason])) : undefined;
    });
    const sentence = (name: string, said: string) => `Connector "${name}" answered initialize with protocol version ${said}, which is no MCP revision up to 2025-11-25; update the upstream server.`;
    expect(reasons).toEqual({ future: sentence("future", '"2099-01-01"'), garbled: sentence("garbled", '"2025-06-18\\r\\nX-Injected: yes"'), shape: sentence("shape", "{}") });
    // A tool of a connector that never listed is no typo: the answer says which connector has not listed and why.
    const missing = await (await client(gateway, token)).callTool({ name: "future__echo", arguments: { text: "x" } });
    expect((missing.content as { text: string }[])[0]!.text).toMatch(/^There is no tool "future__echo" in virtual MCP "v"; it may be one of the tools not listed yet: connector "future" is (failed \(Connector "future" answered initialize|starting)/);
  });

  test("a flood of resources/updated reaches a subscribed client as a few, the last one kept", async () => {
    const { gateway, token } = await start(stdioConfig("sb", { MODE: "subs" }), "mintgate-update-flood");
    await waitReady(gateway, "sb");
    const c = await client(gateway, token);
    let updates = 0;
    c.setNotificationHandler(ResourceUpdatedNotificationSchema, () => void updates++);
    await c.subscribeResource({ uri: "sb+doc://a" });
    const sent = performance.now();
    await c.callTool({ name: "sb__updates", arguments: { n: 5000 } });
    // The answer follows the 5000 on the same pipe: they all reached the gateway within this span (some 15-40 ms).
    const span = performance.now() - sent;
    // One at once, one for the rest once 100 ms passed: passed on one by one, all 5000 reached the client. A flood that
    // a loaded machine spreads over more than 100 ms rightly takes one more for each 100 ms it lasted.
    await waitFor("the trailing update", () => updates >= 2, 40, 50);
    await Bun.sleep(300);
    const few = updates;
    expect(few).toBeGreaterThanOrEqual(2);
    expect(few).toBeLessThanOrEqual(2 + Math.floor(span / 100));
    await c.callTool({ name: "sb__updates", arguments: { n: 1 } });
    await waitFor("a later update", () => updates === few + 1, 40, 50);
  });

  test("calls to an upstream that stopped reading its stdin are refused at once past 16 MiB waiting, not held without bound", async () => {
    const config = stdioConfig("dz", { DEAFEN: "1" });
    const { gateway, token } = await start({ ...config, connectors: [{ ...config.connectors[0], timeout: "5s" }] }, "mintgate-deaf-upstream");
    await waitReady(gateway, "dz");
    const c = await client(gateway, token);
    expect(await c.callTool({ name: "dz__deafen", arguments: {} })).toEqual({ content: [{ type: "text", text: "deaf now" }] });
    // 22 calls of 1 MiB: the pipe takes 64 KiB, about 16 more wait in the gateway, the rest are refused.
    const text = "x".repeat(1024 * 1024);
    const started = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 22 }, () =>
        c.callTool({ name: "dz__echo", arguments: { text } }, undefined, { timeout: 30_000 }).then((result) => ({ text: (result.content as { text: string }[])[0]!.text, at: Date.now() - started })),
      ),
    );
    const refused = outcomes.filter((o) => o.text.includes("is not reading its input"));
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused[0]!.text).toMatch(/^Connector "dz" is not reading its input \(1[67] MiB sent to it are waiting\); check the upstream's log, or restart the connector\.$/);
    // Refused when sent, well before the 5 s timeout that ends the calls waiting in the pipe.
    for (const o of refused) expect(o.at).toBeLessThan(4_000);
    expect(outcomes.filter((o) => o.text.includes("did not answer tools/call within 5 s")).length).toBe(22 - refused.length);
  });

  test("progress under a call's id that the call never gave as its token does not keep it past its timeout", async () => {
    const config = stdioConfig("pg", {});
    const { gateway, token } = await start({ ...config, connectors: [{ ...config.connectors[0], timeout: "1s" }] }, "mintgate-unasked-progress");
    await waitReady(gateway, "pg");
    const c = await client(gateway, token);
    const started = Date.now();
    const result = await c.callTool({ name: "pg__unasked", arguments: { ms: 2500 } });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toContain('Connector "pg" did not answer tools/call within 1 s');
  });


  test("answers under ids the gateway never sent are skipped and said once in the log; the call's own answer still comes, and one that never comes times out", async () => {
    const config = stdioConfig("md", { MISBEHAVE: "1" });
    const { gateway, token } = await start({ ...config, connectors: [{ ...config.connectors[0], timeout: "2s" }] }, "mintgate-stray-answers");
    await waitReady(gateway, "md");
    const c = await client(gateway, token);
    // A result for a call never made (id 987654) and an error under a string id, before the call's own answer.
    expect(await c.callTool({ name: "md__misdirect", arguments: { ms: 200 } })).toEqual({ content: [{ type: "text", text: "mine" }] });
    const unanswered = await c.callTool({ name: "md__misdirect", arguments: {} });
    expect((unanswered.content as { text: string }[])[0]!.text).toBe('Connector "md" did not answer tools/call within 2 s.');
    const said = gateway.output().split("\n").filter((line) => line.includes("upstream answers skipped"));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("upstream answers skipped: they answer no request the gateway sent; check the upstream server connector=md id=987654");
    // A late answer to a call given up is no stray: the slow call's answer after its timeout says nothing.
    // (The upstream writes it at 2.2 s, before the next call's answer at about 2.5 s: read once that one is.)
    await c.callTool({ name: "md__slow", arguments: { ms: 2200 } });
    expect(await c.callTool({ name: "md__slow", arguments: { ms: 500 } })).toEqual({ content: [{ type: "text", text: "slept" }] });
    expect(gateway.output().split("\n").filter((line) => line.includes("upstream answers skipped"))).toHaveLength(1);
  });

  test("a stdio answer longer than the 10 MiB the gateway reads restarts the upstream, and its call is told a smaller answer may work, not to send it again", async () => {
    const { gateway, token } = await start(stdioConfig("bg", { MISBEHAVE: "1" }), "mintgate-answer-too-long");
    await waitReady(gateway, "bg");
    const c = await client(gateway, token);
    const tooLong = await c.callTool({ name: "bg__big", arguments: { size: 11 } });
    expect(tooLong.isError).toBe(true);
    expect((tooLong.content as { text: string }[])[0]!.text).toBe(
      'Connector "bg" restarted during tools/call (the upstream wrote more than 10 MiB without a line break on stdout, so it was stopped), so the call did not complete; a call asking for a smaller answer may work once it is back.',
    );
    await waitReady(gateway, "bg");
    const fits = await c.callTool({ name: "bg__big", arguments: { size: 1 } });
    expect((fits.content as { text: string }[])[0]!.text).toHaveLength(1024 * 1024);
  });

  test("requests an upstream sends during a call (sampling, elicitation, roots) are answered at once, not left to its timeout: -32601 for a client that takes none, or no roots", async () => {
    const { gateway, token } = await start(stdioConfig("ak", { MISBEHAVE: "1" }), "mintgate-upstream-asks");
    await waitReady(gateway, "ak");
    const c = await client(gateway, token);
    const asked = async (method: string) => JSON.parse(((await c.callTool({ name: "ak__ask", arguments: { method } })).content as { text: string }[])[0]!.text) as { error?: { code: number; message: string }; result?: unknown; ms: number };
    for (const [method, capability] of [["sampling/createMessage", "sampling"], ["elicitation/create", "elicitation"]]) {
      const reply = await asked(method!);
      expect(reply.error).toEqual({ code: -32601, message: `mintgate cannot pass ${method} to the client of this call: it did not declare the ${capability} capability.` });
      expect(reply.ms).toBeLessThan(1_000);
    }
    const roots = await asked("roots/list");
    expect(roots.result).toEqual({ roots: [] });
    expect(roots.ms).toBeLessThan(1_000);
  });

  test("an upstream sending pings faster than it takes the answers makes the gateway hold a bounded few; a burst to one that reads is answered whole", async () => {
    const rawStdio = (env: Record<string, string>) => ({ kind: "stdio", command: process.execPath, args: [RAW_STDIO], env: { MODE: "pings", ...env } });
    const config = {
      connectors: [
        { name: "pr", ...rawStdio({ PINGS: "3000" }) },
        { name: "pn", ...rawStdio({ PINGS: "400000", STOP_READING: "1" }) },
      ],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "pr" }, { connector: "pn" }] }],
    };
    const { gateway, token } = await start(config, "mintgate-ping-flood");
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.pid}/status`, "utf8"))![1]) * 1024;
    let peak = rss();
    const watch = setInterval(() => (peak = Math.max(peak, rss())), 20);
    await waitFor("the flood written", () => gateway.output().includes('connector=pn line="flood done"'), 200, 50);
    await Bun.sleep(300);
    clearInterval(watch);
    // Held for an upstream that never takes them, the answers of 400,000 pings took the gateway past 500 MB (130-150 MB without them: reading the flood).
    expect(peak).toBeLessThan(250 * 1024 * 1024);
    await waitFor("the burst answered", () => gateway.output().includes('connector=pr line="all 3000 pings answered"'), 100, 50);
    const said = gateway.output().split("\n").filter((line) => line.includes("upstream requests left unanswered"));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain("connector=pn");
    const c = await client(gateway, token);
    expect(await c.callTool({ name: "pr__echo", arguments: { text: "still here" } })).toEqual({ content: [{ type: "text", text: "still here" }] });
  });
});

describe("upstream stderr", () => {
  test("a child that dies at start has its last stderr line in its failure reason (admin API, status, a call's error), with its secret replaced; stack frames and the runtime's version line are passed over", async () => {
    const key = `tok-${crypto.randomUUID()}`;
    const { gateway, dataDir, token } = await start(stdioConfig("nokey", { MODE: "nokey", API_TOKEN: "${secret:api-token}" }), "mintgate-nokey", undefined, { "api-token": key });
    const failed = await waitFor("nokey failed", async () => ((await connectorState(gateway, "nokey"))?.reason ? connectorState(gateway, "nokey") : undefined), 100, 50);
    // Before, it said only "the upstream process exited with code 1", and why was in the log among Bun's source excerpt and stack.
    const reason = "the upstream process exited with code 1; its last stderr line: error: API_KEY is not set; API_TOKEN ([secret:api-token]) is a token, not this server's key";
    expect(failed?.reason).toBe(reason);
    const status = await runMintgate(["status", "--data", dataDir]);
    expect(status.stdout).toContain(`  connector nokey: failed (${reason})\n`);
    const c = await client(gateway, token);
    const call = await c.callTool({ name: "echo", arguments: { text: "hi" } });
    expect((call.content as { text: string }[])[0]!.text).toContain(reason);
    const connectors = JSON.stringify(await admin(gateway, "/connectors"));
    expect(await gateway.stop()).toBe(0);
    for (const text of [connectors, status.stdout, gateway.output()]) expect(text).not.toContain(key);
  });

  test("a line of a megabyte, with or without its line break, is logged and kept in pieces of at most 16 KiB", async () => {
    const huge = "head -c 1048576 /dev/zero | tr '\\0' y >&2; echo >&2; head -c 1048576 /dev/zero | tr '\\0' z >&2; exec sleep 60";
    const { gateway } = await start(shellConfig("wide", huge), "mintgate-stderr-wide");
    const lines = await waitFor("the z pieces among the recent lines", async () => {
      const recent = (await admin<{ lines: string[] }>(gateway, "/connectors/wide/logs")).lines;
      return recent.filter((line) => line.startsWith("z")).length >= 64 ? recent : undefined;
    }, 100, 100);
    expect(Math.max(...lines.map((line) => line.length))).toBe(16 * 1024);
    expect(await gateway.stop()).toBe(0);
    const logged = gateway.output().split("\n").filter((line) => line.includes("connector=wide line="));
    expect(logged.length).toBeGreaterThan(0);
    expect(Math.max(...logged.map((line) => line.length))).toBeLessThan(16 * 1024 + 200);
  });

  test("a secret across the 16 KiB cut of a long line, or across two reads of an unfinished one, is replaced whole, never kept in part", async () => {
    const key = `wide-${crypto.randomUUID()}`;
    const base = dir("mintgate-stderr-secret");
    const dataDir = join(base, "data");
    expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
    expect((await runMintgate(["secrets", "set", "wide-key", "--data", dataDir], { stdin: key })).code).toBe(0);
    // The secret starts 4 characters before the cut; then an unfinished line whose secret is written in two reads, half a second apart.
    const script = [
      "{ head -c 16380 /dev/zero | tr '\\0' a; printf '%s\\n' \"$WIDE_KEY\"; } >&2",
      "head -c 16380 /dev/zero | tr '\\0' b >&2; printf '%s' \"$WIDE_KEY\" | head -c 20 >&2; sleep 0.5",
      "printf '%s' \"$WIDE_KEY\" | tail -c +21 >&2; echo ' end' >&2; exec sleep 60",
    ].join("; ");
    const config = { ...shellConfig("wide", script), connectors: [{ name: "wide", kind: "stdio", command: "sh", args: ["-c", script], env: { WIDE_KEY: "${secret:wide-key}" } }] };
    writeFileSync(join(base, "c.yaml"), JSON.stringify(config));
    expect((await runMintgate(["apply", "-f", join(base, "c.yaml"), "--data", dataDir])).code).toBe(0);
    const gateway = await startGateway({ dataDir });
    gateways.push(gateway);
    const lines = await waitFor("the end of the unfinished line", async () => {
      const recent = (await admin<{ lines: string[] }>(gateway, "/connectors/wide/logs")).lines;
      return recent.some((line) => line.endsWith(" end")) ? recent : undefined;
    }, 100, 100);
    // The pieces of a line, put back together: the marker itself may be cut.
    const kept = lines.join("");
    expect(kept.match(/\[secret:wide-key\]/g)).toHaveLength(2);
    expect(Math.max(...lines.map((line) => line.length))).toBe(16 * 1024);
    expect(await gateway.stop()).toBe(0);
    for (const text of [kept, gateway.output()]) for (const part of [key.slice(0, 9), key.slice(9, 20), key.slice(20, 31), key.slice(-10)]) expect(text).not.toContain(part);
  });

  test("a child flooding its stderr puts 200 lines in 10 s into the gateway's log, then a count of the rest when the window ends", async () => {
    const flood = 'i=0; while [ $i -lt 1000 ]; do echo "noise $i" >&2; i=$((i+1)); done; exec sleep 60';
    const { gateway } = await start(shellConfig("loud", flood), "mintgate-stderr-flood");
    // The recent lines (the TUI's view) still get every line, the last ones included.
    await waitFor("the last line among the recent ones", async () => (await admin<{ lines: string[] }>(gateway, "/connectors/loud/logs")).lines.includes("noise 999"), 100, 100);
    // The child is still running (quietly): the count comes when the 10 s window ends, not only when the source does.
    await waitFor("the count of lines not logged", async () => gateway.output().includes("lines not logged, too many connector=loud"), 150, 100);
    expect(await gateway.stop()).toBe(0);
    const logged = gateway.output().split("\n").filter((line) => line.includes("upstream stderr") && line.includes("connector=loud"));
    expect(logged.filter((line) => line.includes("line=")).length).toBe(200);
    expect(logged.at(-1)).toMatch(/lines not logged, too many connector=loud lines=800 /);
  });
});

describe("concurrent restarts", () => {
  test("restarts asked at once leave exactly one upstream process, and none after the connector is removed", async () => {
    const launch = join(dir("mintgate-restarts"), "launch.txt");
    const { gateway, dataDir } = await start(stdioConfig("rr", { LAUNCH_FILE: launch }), "mintgate-restarts");
    await waitReady(gateway, "rr");
    const restart = () => fetch(`${gateway.url}/admin/api/connectors/rr/restart`, { method: "POST", headers: { authorization: `Bearer ${gateway.adminToken()}` } }).then((r) => r.status);
    for (let round = 0; round < 3; round++) expect(new Set(await Promise.all(Array.from({ length: 15 }, restart)))).toEqual(new Set([200]));
    await waitReady(gateway, "rr");
    const alive = () => launchedPids(launch).filter((pid) => (childPids.add(pid), isAlive(pid)));
    await waitFor("one live upstream process", () => alive().length === 1, 200, 50);
    await Bun.sleep(500);
    expect(alive()).toHaveLength(1);

    // Removed while a restart is still queued: nothing comes back.
    const queued = restart();
    writeFileSync(join(dataDir, "..", "empty.yaml"), JSON.stringify({ connectors: [], virtualMcps: [] }));
    expect((await runMintgate(["apply", "-f", join(dataDir, "..", "empty.yaml"), "--prune", "--data", dataDir])).code).toBe(0);
    await waitFor("no live upstream process", () => alive().length === 0, 200, 50);
    // The restart has run (its answer comes once it stopped the connector and started it again, or found it retired),
    // so the pause below counts from there, not from a moment a loaded machine may not have reached it yet; then
    // nothing shows a process not starting, only time: 1.5 s is several of the upstream's starts.
    expect(await queued).toBe(200);
    await Bun.sleep(1500);
    expect(alive()).toHaveLength(0);
  });

  test("a call made while a restart is stopping the upstream is refused as the connector stopping, not as it being ready", async () => {
    const config = {
      connectors: [{ name: "st", kind: "stdio", command: process.execPath, args: [ECHO_STDIO, "--outlives-sigterm"] }],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "st" }] }],
    };
    const { gateway, token } = await start(config, "mintgate-stopping");
    await waitReady(gateway, "st");
    const c = await client(gateway, token);
    const restarted = fetch(`${gateway.url}/admin/api/connectors/st/restart`, { method: "POST", headers: { authorization: `Bearer ${gateway.adminToken()}` } });
    // It ignores SIGTERM, so the stop waits the 2 s until SIGKILL: the call below is made within them.
    await waitFor("the upstream to be sent SIGTERM", async () => (await admin<{ lines: string[] }>(gateway, "/connectors/st/logs")).lines.includes("echo-stdio: ignoring SIGTERM"));
    const refused = await c.callTool({ name: "st__echo", arguments: { text: "hi" } });
    // It said 'Connector "st" is not available: it is ready.'
    expect({ isError: refused.isError, text: (refused.content as { text: string }[])[0]!.text }).toEqual({ isError: true, text: 'Connector "st" is not available: it is stopping.' });
    expect((await restarted).status).toBe(200);
    await waitReady(gateway, "st");
    expect((await c.callTool({ name: "st__echo", arguments: { text: "back" } })).content).toEqual([{ type: "text", text: "back" }]);
  });
});

describe("sessions", () => {
  test("DELETE of a Streamable HTTP session releases its resource subscriptions upstream; a session holds at most 1,000", async () => {
    const log = join(dir("mintgate-subs"), "subs.txt");
    const { gateway, token } = await start(stdioConfig("sb", { MODE: "subs", COUNT_FILE: log }), "mintgate-subs");
    await waitReady(gateway, "sb");
    const seen = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);

    const c = await client(gateway, token);
    expect((await c.listResources()).resources.map((r) => r.uri)).toContain("sb+doc://a");
    await c.subscribeResource({ uri: "sb+doc://a" });
    await waitFor("the upstream to see the subscription", () => seen().includes("resources/subscribe doc://a"));

    // Before the limit, a session subscribing to ever new URIs under a connector's prefix held a listener here and a
    // subscription upstream for each, for as long as it lived. 999 more (100 at a time) fill it; the next is refused.
    // One POST each: the SDK client's session is 2025-11-25, which takes no batches.
    const sessionId = (c.transport as StreamableHTTPClientTransport).sessionId!;
    const subscribe = (uris: string[]) =>
      Promise.all(
        uris.map((uri, i) =>
          fetch(`${gateway.url}/mcp/v`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId },
            body: JSON.stringify({ jsonrpc: "2.0", id: `s${uri}${i}`, method: "resources/subscribe", params: { uri } }),
          }).then((r) => r.json() as Promise<{ result?: object; error?: { code: number; message: string } }>),
        ),
      );
    for (let batch = 0; batch < 10; batch++) {
      const uris = Array.from({ length: batch === 9 ? 99 : 100 }, (_, i) => `sb+doc://made-up-${batch * 100 + i}`);
      expect((await subscribe(uris)).every((reply) => reply.result !== undefined)).toBe(true);
    }
    const [refused] = await subscribe(["sb+doc://one-too-many"]);
    expect(refused!.error).toEqual({ code: -32602, message: "This session holds 1000 resource subscriptions, the most one session may; unsubscribe from resources it no longer follows, then subscribe again." });
    // Subscribing again to one it holds is no new subscription; releasing one makes room.
    expect((await subscribe(["sb+doc://a"]))[0]!.result).toEqual({});
    await c.unsubscribeResource({ uri: "sb+doc://made-up-0" });
    expect((await subscribe(["sb+doc://one-too-many"]))[0]!.result).toEqual({});
    const subscribes = () => seen().filter((line) => line.startsWith("resources/subscribe")).length;
    expect(subscribes()).toBe(1001);

    await (c.transport as StreamableHTTPClientTransport).terminateSession();
    await waitFor("the upstream to see every resources/unsubscribe", () => seen().filter((line) => line.startsWith("resources/unsubscribe")).length === 1001, 60, 50);
    expect(seen()).toContain("resources/unsubscribe doc://a");
  });

  test("the same URI subscribed twice at once is one subscription: unsubscribing once releases it upstream", async () => {
    const log = join(dir("mintgate-subs-twice"), "subs.txt");
    const { gateway, token } = await start(stdioConfig("sb", { MODE: "subs", COUNT_FILE: log }), "mintgate-subs-twice");
    await waitReady(gateway, "sb");
    const seen = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);

    const c = await client(gateway, token);
    await Promise.all([c.subscribeResource({ uri: "sb+doc://a" }), c.subscribeResource({ uri: "sb+doc://a" })]);
    await c.unsubscribeResource({ uri: "sb+doc://a" });
    // A second listener left behind would keep the upstream subscription, and keep sending this session updates.
    await waitFor("the upstream to see resources/unsubscribe", () => seen().includes("resources/unsubscribe doc://a"), 60, 50);
    expect(seen()).toEqual(["resources/subscribe doc://a", "resources/unsubscribe doc://a"]);
  });

  test("one person cannot hold more than 256 sessions: the least recently active idle one closes, not one whose call is running", async () => {
    const { gateway, token, dataDir } = await start(
      { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "demo" }] }] },
      "mintgate-sessions",
    );
    const post = (body: object, sessionId?: string) =>
      fetch(`${gateway.url}/mcp/v`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(sessionId ? { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" } : {}),
        },
        body: JSON.stringify(body),
      });
    const initialize = async (i: number) => {
      const response = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: `c${i}`, version: "1" } } });
      await response.text();
      expect(response.status).toBe(200);
      return response.headers.get("mcp-session-id")!;
    };
    // The person's working client, its call running: its session, the least recently active, must outlive the leak.
    const working = await client(gateway, token);
    let progress = 0;
    const running = working.callTool({ name: "demo__countdown", arguments: { n: 12, intervalMs: 250 } }, undefined, { onprogress: () => void progress++ });
    await waitFor("the running call's first progress", () => progress > 0);
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 50) ids.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => initialize(i + j)))));
    expect(new Set(ids).size).toBe(300);
    expect(progress).toBeLessThan(12);
    expect((await running).content).toEqual([{ type: "text", text: "counted down from 12" }]);
    expect((await working.listTools()).tools.length).toBeGreaterThan(0);

    const status = await admin<{ sessions: number }>(gateway, "/status");
    expect(status.sessions).toBeGreaterThan(0);
    expect(status.sessions).toBeLessThanOrEqual(256);
    // The least recently active sessions went, not the newest.
    const ping = async (sessionId: string) => {
      const response = await post({ jsonrpc: "2.0", id: 2, method: "ping" }, sessionId);
      await response.text();
      return response.status;
    };
    expect(await ping(ids[ids.length - 1]!)).toBe(200);
    // Still the 404 clients start a new session on, saying why it was closed; to its person only.
    const evicted = await post({ jsonrpc: "2.0", id: 3, method: "ping" }, ids[0]!);
    expect({ status: evicted.status, message: ((await evicted.json()) as { error: { message: string } }).error.message }).toEqual({
      status: 404,
      message: "Session not found: it was closed because its person opened more than 256 sessions; start a new session with initialize.",
    });
    const other = (JSON.parse((await runMintgate(["tokens", "create", "--user", "mallory@example.com", "--json", "--data", dataDir])).stdout) as { token: string }).token;
    const asOther = await fetch(`${gateway.url}/mcp/v`, {
      method: "POST",
      headers: { authorization: `Bearer ${other}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": ids[0]!, "mcp-protocol-version": "2025-06-18" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 4, method: "ping" }),
    });
    expect(((await asOther.json()) as { error: { message: string } }).error.message).toBe("Session not found; start a new session with initialize.");
  });

  test("an initialize sent as a notification opens no session: none is left behind, and the person's live sessions stay", async () => {
    const { gateway, token } = await start(DEMO_CONFIG, "mintgate-init-notification");
    const live = await connectMcpClient(`${gateway.url}/mcp/demo`, token);
    clients.push(live);
    const initialize = { jsonrpc: "2.0", method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "n", version: "1" } } };
    // More than the 256 sessions a person may hold: each was a session no client could reach, and they pushed the live one out.
    for (let i = 0; i < 300; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const response = await fetch(`${gateway.url}/mcp/demo`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
            body: JSON.stringify((i + j) % 2 === 0 ? initialize : [initialize]),
          });
          // In a batch it is refused outright (2025-03-26: initialize MUST NOT be part of one).
          const text = await response.text();
          if ((i + j) % 2 === 0) expect(response.status).toBe(202);
          else expect({ status: response.status, text }).toEqual({ status: 400, text: JSON.stringify({ jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request: initialize must be sent alone, not in a batch." }, id: null }) });
          expect(response.headers.get("mcp-session-id")).toBeNull();
        }),
      );
    }
    expect((await admin<{ sessions: number }>(gateway, "/status")).sessions).toBe(1);
    expect(gateway.output()).not.toContain("session limit reached");
    expect(await live.ping()).toEqual({});
  });

  test("a legacy SSE client that stops reading its event stream has its session closed, not its replies held without bound", async () => {
    const { gateway, token } = await start(DEMO_CONFIG, "mintgate-unread");
    const { port } = new URL(gateway.url);
    // The event stream over a raw socket that reads the endpoint event, then nothing more.
    let endpoint = "";
    const stream = await new Promise<{ end(): void }>((resolve, reject) => {
      void Bun.connect({
        hostname: "127.0.0.1",
        port: Number(port),
        socket: {
          open: (socket) => void socket.write(`GET /sse/demo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`),
          data(socket, bytes) {
            endpoint ||= /data: (\/messages\S+)/.exec(bytes.toString())?.[1] ?? "";
            if (endpoint) {
              socket.pause();
              resolve(socket);
            }
          },
          error: (_socket, error) => reject(error),
        },
      });
    });
    const post = (message: object) =>
      fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(message) });
    await (await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "idle", version: "1" } } })).text();
    const text = "x".repeat(1024 * 1024);
    const statuses: number[] = [];
    for (let id = 1; id <= 40; id++) {
      const response = await post({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } });
      await response.text();
      statuses.push(response.status);
    }
    // 16 MiB unread (and what the socket holds) end the session; before, all 40 MiB of replies were buffered.
    expect(statuses.slice(0, 10).every((status) => status === 202)).toBe(true);
    expect(statuses.at(-1)).toBe(404);
    expect(gateway.output()).toContain("legacy session closed: its client stopped reading");
    expect((await admin<{ sessions: number }>(gateway, "/status")).sessions).toBe(0);
    stream.end();
  });

  test("a legacy (1.x SSE) client that reads its stream keeps its session past --session-idle-timeout: closed, its EventSource would reopen a session it never initializes", async () => {
    const { gateway, token } = await start(DEMO_CONFIG, "mintgate-legacy-idle", ["--keepalive", "1s", "--session-idle-timeout", "2s"]);
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { SSEClientTransport } = await import("@modelcontextprotocol/sdk/client/sse.js");
    const legacy = new Client({ name: "legacy-idle", version: "1" });
    await legacy.connect(new SSEClientTransport(new URL(`${gateway.url}/sse/demo`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      // Idle past the timeout: the sweep (every second here) has looked at it twice.
      await Bun.sleep(4_500);
      // Before, the call failed: "the session is not initialized; send initialize first".
      expect(await legacy.callTool({ name: "echo", arguments: { text: "still here" } })).toEqual({ content: [{ type: "text", text: "still here" }] });
      expect(gateway.output()).not.toContain("idle for 2s");
    } finally {
      await legacy.close();
    }
  });

  test("a stream the gateway ended whose client reads none of what is left has it dropped, not held for as long as the connection stays open", async () => {
    const { gateway, token } = await start(DEMO_CONFIG, "mintgate-unread-after-end", ["--keepalive", "1s", "--session-idle-timeout", "2s"]);
    const { port } = new URL(gateway.url);
    // A legacy event stream over a raw socket that reads the endpoint event, then nothing until the session has ended.
    let received = "";
    let endpoint = "";
    let closed!: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const stream = await new Promise<{ pause(): void; resume(): void; end(): void }>((resolve, reject) => {
      void Bun.connect({
        hostname: "127.0.0.1",
        port: Number(port),
        socket: {
          open: (socket) => void socket.write(`GET /sse/demo HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`),
          data(socket, bytes) {
            received += bytes.toString();
            endpoint ||= /data: (\/messages\S+)/.exec(received)?.[1] ?? "";
            if (endpoint) resolve(socket);
          },
          close: () => closed(),
          error: (_socket, error) => reject(error),
        },
      });
    });
    stream.pause();
    const post = (message: object) =>
      fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(message) }).then((r) => r.status);
    expect(await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "idle", version: "1" } } })).toBe(202);
    // 14 MiB of replies: under the 16 MiB that would end the session, more than the sockets' buffers take.
    const text = "x".repeat(1024 * 1024);
    for (let id = 1; id <= 14; id++) expect(await post({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text } } })).toBe(202);
    // The idle session ends; its stream is closed with the replies still queued. Event streams have no idle timeout, so
    // before, they stayed queued for as long as the client kept the connection open, many times over as it opened more.
    await waitFor("the unread rest to be dropped", () => gateway.output().includes("event stream cut: its client read nothing"));
    stream.resume();
    await connectionClosed;
    expect(received).toContain('"id":1,');
    expect(received).not.toContain('"id":14,');
  });

  test("a client that does not read its call's event stream has the call's progress dropped past 1 MiB, not held; the reply still comes", async () => {
    const { gateway, token } = await start(stdioConfig("raw", {}), "mintgate-progress-unread");
    await waitReady(gateway, "raw");
    const { port } = new URL(gateway.url);
    const { headers, session } = await openRawSession(gateway, token);
    const rssKb = () => rssKbOf(gateway.pid);
    const before = rssKb();
    // 10,000 progress notifications of 8 KB (80 MB) on a raw socket that reads nothing until the call has ended.
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "raw__progress", arguments: { n: 10_000, size: 8000 }, _meta: { progressToken: "p" } } });
    let received = "";
    let done!: () => void;
    const ended = new Promise<void>((resolve) => (done = resolve));
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: Number(port),
      socket: {
        data: (_socket, bytes) => void (received += bytes.toString()),
        close: () => done(),
      },
    });
    socket.pause();
    const head = Object.entries({ ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18", connection: "close" }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.write(`POST /mcp/v HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await waitFor("the call to end", () => gateway.output().includes("progress notifications dropped"));
    // Before, every notification was queued for the client: the gateway grew by the 80 MB it never read. Now all but
    // the first MiB's worth are dropped; it grows by the garbage of reading them (35–46 MB here), not yet collected.
    const dropped = Number(/progress notifications dropped.* dropped=(\d+)/.exec(gateway.output())?.[1]);
    expect(dropped).toBeGreaterThan(9_000);
    expect(rssKb() - before).toBeLessThan(75 * 1024);
    socket.resume();
    await ended;
    expect(received).toContain('"progress":1,');
    expect(received).toContain('data: {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"done"}]}}');
  });

  test("a session's standalone stream its client stopped reading is closed past 1 MiB unread, with a log line; the session and other sessions carry on", async () => {
    const { gateway, token } = await start(stdioConfig("sb", { MODE: "subs" }), "mintgate-standalone-unread");
    await waitReady(gateway, "sb");
    const { port } = new URL(gateway.url);
    const { headers, session } = await openRawSession(gateway, token);
    const inSession = { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
    const post = async (id: number, method: string, params: object) => {
      const response = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: inSession, body: JSON.stringify({ jsonrpc: "2.0", id, method, params }) });
      return { status: response.status, body: await response.text() };
    };
    // 40 resources with URIs of 100 KB: each round of updates puts 4 MB of notifications on the session's standalone stream.
    const padding = "p".repeat(100_000);
    for (let i = 0; i < 40; i++) expect((await post(i + 1, "resources/subscribe", { uri: `sb+doc://a/${i}/${padding}` })).status).toBe(200);
    // Another session, reading its own stream, follows doc://a throughout.
    const other = await client(gateway, token);
    let updates = 0;
    other.setNotificationHandler(ResourceUpdatedNotificationSchema, () => void updates++);
    await other.subscribeResource({ uri: "sb+doc://a" });
    // The standalone stream over a raw socket that reads its first bytes, then nothing more.
    let closed = false;
    let reading = false;
    let opening!: () => void;
    const streamOpen = new Promise<void>((resolve) => (opening = resolve));
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: Number(port),
      socket: {
        data: (socket) => {
          if (reading) return;
          socket.pause();
          opening();
        },
        close: () => void (closed = true),
      },
    });
    const head = Object.entries({ ...inSession, accept: "text/event-stream" }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.write(`GET /mcp/v HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${head}\r\n`);
    await streamOpen;
    const rssKb = () => rssKbOf(gateway.pid);
    const before = rssKb();
    // Rounds 150 ms apart (the gateway passes one update per URI on at once, then holds the rest for 100 ms), up to 80 MB in all.
    let rounds = 0;
    while (rounds < 20 && !gateway.output().includes("standalone stream closed")) {
      expect((await post(100 + rounds, "tools/call", { name: "sb__updates", arguments: { count: 40, size: 100_000 } })).status).toBe(200);
      rounds++;
      await Bun.sleep(150);
    }
    // Before, every notification was queued for the client: the gateway grew by all it was sent. Now 1 MiB and what
    // the socket holds are sent, then the stream is closed.
    expect(gateway.output()).toMatch(new RegExp(`standalone stream closed: its client stopped reading.* session=${session}.* limitBytes=1048576`));
    expect(rounds).toBeLessThan(10);
    expect(rssKb() - before).toBeLessThan(75 * 1024);
    // What reached the socket is read, then the connection ends: cut, not left open without its notifications.
    reading = true;
    socket.resume();
    await waitFor("the stream's connection to be cut", () => closed, 100, 50);
    // The session carries on: its calls are answered and its client may open the stream again.
    expect((await post(200, "ping", {})).body).toContain('"result":{}');
    const again = await fetch(`${gateway.url}/mcp/v`, { headers: { ...inSession, accept: "text/event-stream" } });
    expect(again.status).toBe(200);
    await again.body?.cancel();
    // The other session heard of doc://a meanwhile.
    await other.callTool({ name: "sb__updates", arguments: { n: 1 } });
    await waitFor("the other session's update", () => updates >= 1, 40, 50);
  });
});

/**
 * A POST on a connection of its own that declares `declared` body bytes and sends `sent` of them, then waits:
 * `answer` is everything the gateway sent once the connection has ended; `end()` cuts it from this side.
 */
async function heldPost(gateway: RunningGateway, path: string, headers: Record<string, string>, declared: number, sent = "") {
  const { port } = new URL(gateway.url);
  let received = "";
  let closed!: (raw: string) => void;
  const answer = new Promise<string>((resolve) => (closed = resolve));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: Number(port),
    socket: { data: (_socket, bytes) => void (received += bytes.toString()), close: () => closed(received), error: () => closed(received) },
  });
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n${head}content-length: ${declared}\r\n\r\n${sent}`);
  return { answer, received: () => received, end: () => socket.end() };
}

/** Waits until /metrics says `bytes` of request bodies are reserved: held bodies are counted once the gateway has read their head, which a loaded machine may take a while to do. */
async function bodyBytesInFlight(gateway: RunningGateway, bytes: number): Promise<void> {
  await waitFor(`${bytes} request-body bytes in flight`, async () => {
    const seen = /^mintgate_request_body_bytes_in_flight (\d+)$/m.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1];
    if (Number(seen) !== bytes) throw new Error(`/metrics says ${seen ?? "nothing"}`);
    return true;
  }, 200, 25);
}

/** A raw HTTP answer's status, lower-cased head and JSON body. */
function parsedAnswer(raw: string): { status: number; head: string; json: unknown } {
  const split = raw.indexOf("\r\n\r\n");
  return { status: Number(raw.slice(9, 12)), head: raw.slice(0, split).toLowerCase(), json: JSON.parse(raw.slice(split + 4)) };
}

/** A JSON-RPC ping of exactly `bytes` bytes (padded in _meta). */
function paddedPing(id: number, bytes: number): string {
  const start = `{"jsonrpc":"2.0","id":${id},"method":"ping","params":{"_meta":{"pad":"`;
  const end = `"}}}`;
  return start + "x".repeat(bytes - start.length - end.length) + end;
}

describe("request bodies in flight", () => {
  const DEMO_V = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "demo", prefix: "" }] }] };
  const echo = (id: number, chars: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: "x".repeat(chars) } } });
  const PERSON_REFUSAL = "Too much request data of yours is in flight (over 4 MiB in the calls being received or run); wait for your calls to finish, then retry.";

  test("one person's bodies past --body-budget get 429 unread while another person's calls go through; the budget comes back when calls end, fail, or their client leaves mid-body", async () => {
    // Before: a person could have any number of 4 MB bodies read at once (844 MB of RSS with 200 trickling ones).
    const { gateway, token } = await start(DEMO_V, "mintgate-body-budget", ["--body-budget", "4MiB"]);
    const created = await fetch(`${gateway.url}/admin/api/tokens`, { method: "POST", headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" }, body: JSON.stringify({ user: "b@example.com" }) });
    const other = ((await created.json()) as { token: string }).token;
    const a = await rawSession(gateway, token);
    const b = await rawSession(gateway, other);

    // A's 3 MB call whose body is still coming holds 3 MB of A's 4 MiB: a 2 MB one is refused before it is read.
    const held = await heldPost(gateway, "/mcp/v", a.headers, 3_000_000, '{"jsonrpc":"2.0",');
    await bodyBytesInFlight(gateway, 3_000_000);
    for (let i = 0; i < 2; i++) {
      const refused = parsedAnswer(await (await heldPost(gateway, "/mcp/v", a.headers, 2_000_000)).answer);
      expect(refused.status).toBe(429);
      expect(refused.head).toContain("\r\nretry-after: 1\r\n");
      expect(refused.head).toContain("\r\nconnection: close\r\n");
      expect(refused.json).toEqual({ error: "too_many_requests", message: PERSON_REFUSAL });
    }
    // Meanwhile another person's 3 MB call, and A's own small one, are answered.
    const bEcho = await b.post(echo(1, 3_000_000));
    expect(bEcho.status).toBe(200);
    expect(bEcho.json.result.content[0].text.length).toBe(3_000_000);
    expect((await a.post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "add", arguments: { a: 1, b: 2 } } })).json.result.structuredContent).toEqual({ sum: 3 });
    expect(held.received()).toBe("");

    // A's client goes away mid-body: its 3 MB are given back (before: held for good, A refused from then on).
    held.end();
    expect(await waitFor("A's 3 MB call to be taken", async () => (await a.post(echo(3, 3_000_000))).status === 200 || undefined, 40, 50)).toBe(true);
    // Calls that ended give theirs back, answered (above) or failed.
    expect((await a.post("x".repeat(3_000_000))).status).toBe(400);
    expect((await a.post(paddedPing(4, 3_000_000))).json).toEqual({ jsonrpc: "2.0", id: 4, result: {} });

    // The legacy endpoint draws on the same budget.
    const legacy = await fetch(`${gateway.url}/sse/v`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    const reader = legacy.body!.getReader();
    let events = "";
    while (!events.includes("sessionId=")) events += new TextDecoder().decode((await reader.read()).value);
    const messages = /data: (\/messages\/v\?sessionId=\S+)/.exec(events)![1]!;
    const body = paddedPing(5, 3_000_000);
    const legacyHeld = await heldPost(gateway, messages, { authorization: `Bearer ${token}`, "content-type": "application/json" }, 3_000_000, body.slice(0, 100));
    await bodyBytesInFlight(gateway, 3_000_000);
    expect(parsedAnswer(await (await heldPost(gateway, "/mcp/v", a.headers, 2_000_000)).answer).status).toBe(429);
    await reader.cancel();
    legacyHeld.end();
    expect(await waitFor("A's 3 MB call to be taken", async () => (await a.post(echo(6, 3_000_000))).status === 200 || undefined, 40, 50)).toBe(true);

    // One warning per refusal burst (two bursts here), not one per refusal.
    const warnings = gateway.output().split("\n").filter((line) => line.includes("request bodies refused (429)"));
    expect(warnings.length).toBe(2);
    expect(warnings[0]).toContain("subject=t@example.com bytesInFlight=3000000 budget=4194304");
  });

  test("past 256 MiB of bodies in flight across everyone, a further one gets 503 unread, and the room comes back as they end", async () => {
    const { gateway } = await start(DEMO_V, "mintgate-body-cap");
    // 68 people, each with one 4,000,000-byte body in flight: 67 fit under 256 MiB (268,435,456 bytes), the 68th does not.
    const tokens: string[] = [];
    for (let i = 0; i < 68; i++) {
      const created = await fetch(`${gateway.url}/admin/api/tokens`, { method: "POST", headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" }, body: JSON.stringify({ user: `p${i}@example.com` }) });
      tokens.push(((await created.json()) as { token: string }).token);
    }
    const headersOf = (t: string) => ({ authorization: `Bearer ${t}`, "content-type": "application/json", accept: "application/json, text/event-stream" });
    const held = await Promise.all(tokens.slice(0, 67).map((t) => heldPost(gateway, "/mcp/v", headersOf(t), 4_000_000)));
    await bodyBytesInFlight(gateway, 67 * 4_000_000);
    const refused = parsedAnswer(await (await heldPost(gateway, "/mcp/v", headersOf(tokens[67]!), 4_000_000)).answer);
    expect(refused.status).toBe(503);
    expect(refused.head).toContain("\r\nretry-after: 1\r\n");
    expect(refused.head).toContain("\r\nconnection: close\r\n");
    expect(refused.json).toEqual({ error: "unavailable", message: "The gateway is receiving too much request data from everyone at once; retry in a moment." });
    expect(held.map((h) => h.received())).toEqual(held.map(() => ""));
    for (const h of held) h.end();
    const answer = await waitFor("the 68th person's body to be taken", async () => {
      const response = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: headersOf(tokens[67]!), body: paddedPing(1, 4_000_000) });
      await response.text();
      return response.status !== 503 ? response.status : undefined;
    }, 40, 50);
    expect(answer).not.toBe(503);
    expect(gateway.output().split("\n").filter((line) => line.includes("request bodies refused (503)")).length).toBe(1);
  });
});

describe("http upstreams", () => {
  test("a reply stream that ends without the answer fails the call with an error naming the connector", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-drop", "20s");
    const c = await client(gateway, token);

    const result = await c.callTool({ name: "hr__drop", arguments: {} }).then(
      (r) => ({ isError: r.isError === true, text: (r.content as { text?: string }[])[0]?.text ?? "" }),
      (e: Error) => ({ isError: true, text: e.message }),
    );
    // A failed tool call now: "Connector "hr" ended its reply without an answer" (it was a JSON-RPC error, "Connector "hr" answered: …").
    expect(result.isError).toBe(true);
    expect(result.text).toContain('Connector "hr"');
    expect(result.text).toContain("ended its reply without an answer");

    const record = await waitFor("the call record", async () => (await admin<CallRow[]>(gateway, "/calls?limit=20")).find((r) => r.exposedName === "hr__drop"));
    expect(record.outcome).toBe("error");
  });

  test("a reply event over the 10 MiB limit fails the call with an error that says so, and the connector carries on", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-huge", "20s");
    const c = await client(gateway, token);
    const result = await c.callTool({ name: "hr__huge", arguments: {} }).then(
      (r) => ({ isError: r.isError === true, text: (r.content as { text?: string }[])[0]?.text ?? "" }),
      (e: Error) => ({ isError: true, text: e.message }),
    );
    expect(result.isError).toBe(true);
    expect(result.text).toContain('Connector "hr"');
    expect(result.text).toContain("an event from the upstream is longer than 10 MiB");
    expect((await c.callTool({ name: "hr__ok", arguments: {} })).isError).not.toBe(true);
  });

  test("a plain JSON answer over the 10 MiB limit fails the call without the gateway holding it, and the connector carries on", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-hugejson", "20s");
    const c = await client(gateway, token);
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.pid}/status`, "utf8"))![1]) * 1024;
    let peak = rss();
    const watch = setInterval(() => (peak = Math.max(peak, rss())), 20);
    const result = await c.callTool({ name: "hr__hugejson", arguments: {} }).then(
      (r) => ({ isError: r.isError === true, text: (r.content as { text?: string }[])[0]?.text ?? "" }),
      (e: Error) => ({ isError: true, text: e.message }),
    );
    clearInterval(watch);
    expect(result.isError).toBe(true);
    expect(result.text).toContain('Connector "hr" failed answering tools/call: its answer is longer than 10 MiB');
    // Read whole, the 200 MB answer took the gateway past 1 GB.
    expect(peak).toBeLessThan(400 * 1024 * 1024);
    expect((await c.callTool({ name: "hr__ok", arguments: {} })).isError).not.toBe(true);
  });

  test("a timed-out call's upstream request is ended", async () => {
    const { upstream, gateway, token } = await startBehindRawUpstream("mintgate-hang", "1s");
    const c = await client(gateway, token);

    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        c.callTool({ name: "hr__hang", arguments: {} }).then(
          (r) => ({ isError: r.isError === true, text: (r.content as { text?: string }[])[0]?.text ?? "" }),
          (e: Error) => ({ isError: true, text: e.message }),
        ),
      ),
    );
    for (const r of results) expect(r).toEqual({ isError: true, text: expect.stringContaining('"hr" did not answer') });
    expect(upstream.hangsStarted()).toBe(5);
    await waitFor("the upstream to see its requests closed", () => upstream.hangsClosed() === 5, 60, 50);
    const records = (await admin<CallRow[]>(gateway, "/calls?limit=20")).filter((r) => r.exposedName === "hr__hang");
    expect(records.map((r) => r.outcome)).toEqual(["timeout", "timeout", "timeout", "timeout", "timeout"]);
  });
});

describe("http upstreams that poll (SSE polling, 2025-11-25)", () => {
  /** A gateway over one polling upstream as connector "hp", a client of it, and whether a tool is listed to it. */
  async function behindPollingUpstream(label: string) {
    const upstream = startPollingHttpUpstream();
    upstreams.push(upstream);
    const { gateway, token } = await start(httpConfig("hp", upstream.url, "20s"), label);
    await waitReady(gateway, "hp");
    const c = await client(gateway, token);
    const listed = async (name: string) => (await c.listTools()).tools.some((t) => t.name === name);
    return { upstream, c, listed };
  }

  test("a reply stream the upstream ends before its answer is resumed with Last-Event-ID, and the call gets the answer; a refused resume says what to check", async () => {
    const { upstream, c } = await behindPollingUpstream("mintgate-poll");

    const progress: number[] = [];
    const result = await c.callTool({ name: "hp__poll", arguments: { ms: 300 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(result.isError).not.toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toBe("answered after 300 ms");
    expect(progress).toEqual([1]);
    expect(upstream.resumes()).toBeGreaterThanOrEqual(1);

    // It said 'Connector "hp" answered: the upstream ended its reply early and it could not be resumed (HTTP 401)', with nothing to check.
    upstream.refuseNextResume(401);
    const refused = await c.callTool({ name: "hp__poll", arguments: { ms: 300 } });
    expect({ isError: refused.isError, text: (refused.content as { text: string }[])[0]!.text }).toEqual({
      isError: true,
      text: 'Connector "hp" answered HTTP 401 when its reply was resumed saying "Unauthorized": the upstream refused the connector\'s credentials; check its headers and the secrets they use.',
    });
  });

  test("a tool announced while the upstream's event stream was down still appears: replayed from Last-Event-ID, or the lists are read again", async () => {
    const { upstream, c, listed } = await behindPollingUpstream("mintgate-stream-gap");
    // No event seen on the stream yet, so nothing to resume from: the gateway reads the tool list again on reconnecting.
    await c.callTool({ name: "hp__grow", arguments: { name: "one", drop: true } });
    await waitFor("hp__one after the stream came back", () => listed("hp__one"), 80, 100);
    // Announced live: its event id is kept, and the next drop is resumed from it.
    await c.callTool({ name: "hp__grow", arguments: { name: "two", drop: false } });
    await waitFor("hp__two", () => listed("hp__two"), 40, 100);
    const resumedBefore = upstream.resumes();
    await c.callTool({ name: "hp__grow", arguments: { name: "three", drop: true } });
    await waitFor("hp__three replayed after the stream came back", () => listed("hp__three"), 80, 100);
    expect(upstream.resumes()).toBeGreaterThan(resumedBefore);
  });

  test("an event stream refused for a moment (a proxy's 502 while the upstream restarts) is opened again, and the tools announced meanwhile and after appear", async () => {
    const { upstream, c, listed } = await behindPollingUpstream("mintgate-stream-refused");
    // Before, the gateway took the 502 as "this upstream offers no stream" and never listened again in that session.
    upstream.refuseNextStream(502);
    await c.callTool({ name: "hp__grow", arguments: { name: "one", drop: true } });
    await waitFor("hp__one once the stream was opened again", () => listed("hp__one"), 80, 100);
    await c.callTool({ name: "hp__grow", arguments: { name: "two", drop: false } });
    await waitFor("hp__two, announced on the stream opened again", () => listed("hp__two"), 40, 100);
  });
});

/*
 * A second review drove the endpoint with malformed messages, upstreams that
 * leak or restart, and revoked tokens. Each test below is one of its findings.
 */

/** A raw Streamable HTTP session on /mcp/v: the tests below send what no SDK client would. */
async function rawSession(gateway: RunningGateway, token: string) {
  const url = `${gateway.url}/mcp/v`;
  const headers = { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" };
  const opened = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  await opened.text();
  const session = { ...headers, "mcp-session-id": opened.headers.get("mcp-session-id")!, "mcp-protocol-version": "2025-11-25" };
  await (await fetch(url, { method: "POST", headers: session, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
  return {
    headers: session,
    /** POSTs `body` (a value sent as JSON, or text as is) in the session; the answer's status and JSON (null when empty). */
    async post(body: unknown, extraHeaders: Record<string, string> = {}): Promise<{ status: number; json: any }> {
      const response = await fetch(url, { method: "POST", headers: { ...session, ...extraHeaders }, body: typeof body === "string" ? body : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      return { status: response.status, json: text === "" ? null : JSON.parse(text) };
    },
  };
}

describe("requests running per person", () => {
  test("past --requests-per-person across a person's sessions a request gets 429 with Retry-After and a JSON-RPC sentence; others, and a cancel, still pass", async () => {
    // Before: one token held 2,000 streamed countdown calls at once (a connection and ~21 KiB each), with no limit short of the descriptors.
    const DEMO_V = { connectors: [{ name: "demo", kind: "builtin", server: "demo" }], virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "demo", prefix: "" }] }] };
    const { gateway, token } = await start(DEMO_V, "mintgate-requests-per-person", ["--requests-per-person", "2"]);
    const created = await fetch(`${gateway.url}/admin/api/tokens`, { method: "POST", headers: { authorization: `Bearer ${gateway.adminToken()}`, "content-type": "application/json" }, body: JSON.stringify({ user: "b@example.com" }) });
    const other = ((await created.json()) as { token: string }).token;
    const [a1, a2, b] = await Promise.all([rawSession(gateway, token), rawSession(gateway, token), rawSession(gateway, other)]);
    const countdown = (id: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "countdown", arguments: { n: 100, intervalMs: 100 } } });
    const echo = (id: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "echo", arguments: { text: "hi" } } });
    const long1 = a1.post(countdown("c1"));
    const long2 = a2.post(countdown("c2"));
    await waitFor("both countdowns to run", async () => (await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: a1.headers, body: JSON.stringify(echo("probe")) }).then((r) => r.text().then(() => r.status))) === 429, 40, 50);

    const refused = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: a2.headers, body: JSON.stringify(echo("e1")) });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "You have 2 requests running, the most one person may (--requests-per-person); wait for some to finish or cancel them, then retry." } });
    // Another person is not held to A's count.
    expect((await b.post(echo("b1"))).status).toBe(200);
    // A cancel is a notification: it passes, and frees room for A's next call.
    expect((await a1.post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "c1" } })).status).toBe(202);
    await waitFor("A's call to pass once one countdown was cancelled", async () => (await a1.post(echo(`e${Math.random()}`))).status === 200, 40, 50);
    await a2.post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "c2" } });
    await Promise.allSettled([long1, long2]);
  });
});

describe("malformed requests in a session", () => {
  test("are answered at once: null _meta and arguments count as absent, wrong types, ids, batches and versions get a -32602, -32600 or 400 sentence; another person's token finds no session", async () => {
    // A 20 s timeout: a request the gateway forwarded broken would hang that long.
    const { upstream, gateway, token, dataDir } = await startBehindRawUpstream("mintgate-malformed", "20s");
    const s = await rawSession(gateway, token);
    const call = (id: number, params: unknown) => s.post({ jsonrpc: "2.0", id, method: "tools/call", params });

    const ok = { status: 200, json: { jsonrpc: "2.0", id: 1, result: { content: [{ type: "text", text: "ok" }] } } };
    expect(await call(1, { name: "hr__ok", arguments: {}, _meta: null })).toEqual(ok);
    expect(await call(1, { name: "hr__ok", arguments: null })).toEqual(ok);

    const notObject = await call(2, { name: "hr__ok", arguments: "abc" });
    expect(notObject.json.error).toEqual({ code: -32602, message: 'The arguments of tool "hr__ok" must be an object of named values.' });
    expect((await call(3, { name: "hr__ok", arguments: [1, 2] })).json.error.code).toBe(-32602);
    expect((await s.post({ jsonrpc: "2.0", id: 4, method: "tools/call" })).json.error).toEqual({ code: -32602, message: "tools/call needs params.name, a string." });
    expect((await s.post({ jsonrpc: "2.0", id: 5, method: "resources/read", params: { uri: 7 } })).json.error.code).toBe(-32602);
    // A progress token is a string or an integer: before, any value was taken and the reply came as an event stream.
    for (const [progressToken, given] of [[{ a: 1 }, "an object"], [null, "null"], [false, "a boolean"], [2.5, "2.5"]] as const) {
      expect({ progressToken, answer: await call(5, { name: "hr__ok", arguments: {}, _meta: { progressToken } }) }).toEqual({
        progressToken,
        answer: {
          status: 200,
          json: { jsonrpc: "2.0", id: 5, error: { code: -32602, message: `params._meta.progressToken of tools/call must be a string or an integer (up to 2^53 - 1), not ${given}; send one, or leave it out for a reply without progress notifications.` } },
        },
      });
    }

    // An id of 1e400 is read as Infinity, which a reply would write as null.
    for (const body of [{ jsonrpc: "2.0", id: 6, method: 5 }, { jsonrpc: "2.0", id: 6 }, [], { foo: 1 }, { jsonrpc: "2.0", id: 6, method: "ping", params: null }, '{"jsonrpc":"2.0","id":1e400,"method":"ping"}']) {
      const answer = await s.post(body);
      expect({ body, status: answer.status, code: answer.json?.error?.code }).toEqual({ body, status: 400, code: -32600 });
      expect(answer.json.error.message).toStartWith("Invalid Request: ");
    }
    // An error response without an id (MCP 2025-11-25 allows it, answering a request its client could not read) is taken as
    // any response is, and goes nowhere; before, it was refused for lacking a "method" or a "result" or "error".
    const forwarded = upstream.received().length;
    expect(await s.post({ jsonrpc: "2.0", error: { code: -32700, message: "Parse error" } })).toEqual({ status: 202, json: null });
    // JSON-RPC 2.0 §5 gives such an error response "id": null; it was refused for its id not being a string or an integer.
    expect(await s.post({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } })).toEqual({ status: 202, json: null });
    // A result answers a request of ours, which has an id: a null one is no request's.
    expect((await s.post({ jsonrpc: "2.0", id: null, result: {} })).json.error.message).toBe("Invalid Request: an id must be a string or an integer.");
    expect((await s.post({ jsonrpc: "2.0", result: {} })).json.error.message).toBe('Invalid Request: a message needs a "method" (or, answering a request, "result" or "error").');
    expect(upstream.received().length).toBe(forwarded);
    expect((await s.post({ jsonrpc: "2.0", id: 7, method: "ping" }, { "content-type": "text/plain" })).status).toBe(415);
    expect((await s.post({ jsonrpc: "2.0", id: 7, method: "ping" }, { accept: "text/html" })).status).toBe(406);

    // MCP ids are strings or integers; one past 2^53 would come back with other digits, which its client could not match.
    const refusedId = async (body: string) => (await s.post(body)).json.error.message as string;
    expect(await refusedId('{"jsonrpc":"2.0","id":1.5,"method":"ping"}')).toBe("Invalid Request: an id must be a string or an integer.");
    expect(await refusedId('{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}')).toBe("Invalid Request: an id past 2^53 - 1 loses digits on its way back; send it as a string.");
    expect((await s.post({ jsonrpc: "2.0", id: Number.MAX_SAFE_INTEGER, method: "ping" })).json).toEqual({ jsonrpc: "2.0", id: Number.MAX_SAFE_INTEGER, result: {} });
    // Batches ended with 2025-06-18: this session negotiated 2025-11-25 (a 2025-03-26 one takes them, see gateway.test.ts).
    const batch = await s.post([{ jsonrpc: "2.0", id: 8, method: "ping" }]);
    expect({ status: batch.status, error: batch.json.error }).toEqual({
      status: 400,
      error: { code: -32600, message: "Invalid Request: JSON-RPC batches ended with MCP 2025-06-18 and this session uses 2025-11-25; send one message per POST." },
    });
    // A revision no session takes is refused with the session's own; another it takes passes, as the SDK's transport lets it.
    const unknownVersion = await s.post({ jsonrpc: "2.0", id: 9, method: "ping" }, { "mcp-protocol-version": "1999-01-01" });
    expect({ status: unknownVersion.status, message: unknownVersion.json.error.message }).toEqual({
      status: 400,
      message: "Bad Request: this session uses MCP-Protocol-Version 2025-11-25, and 1999-01-01 is not one a session takes (2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05, 2024-10-07).",
    });
    expect((await s.post({ jsonrpc: "2.0", id: 9, method: "ping" }, { "mcp-protocol-version": "2025-03-26" })).status).toBe(200);
    expect((await s.post({ jsonrpc: "2.0", id: 10, method: "notifications/cancelled", params: { requestId: 1 } })).json.error).toEqual({
      code: -32600,
      message: '"notifications/cancelled" is a notification: send it without an id.',
    });

    // Another person's valid token with this session's id: unknown to them (404), on every method, and the session lives on.
    const other = await runMintgate(["tokens", "create", "--user", "mallory@example.com", "--json", "--data", dataDir]);
    const otherToken = (JSON.parse(other.stdout) as { token: string }).token;
    for (const method of ["POST", "GET", "DELETE"]) {
      const hijack = await fetch(`${gateway.url}/mcp/v`, { method, headers: { ...s.headers, authorization: `Bearer ${otherToken}` }, ...(method === "POST" ? { body: '{"jsonrpc":"2.0","id":11,"method":"tools/list"}' } : {}) });
      expect({ method, status: hijack.status, code: ((await hijack.json()) as any).error.code }).toEqual({ method, status: 404, code: -32001 });
    }
    expect((await s.post({ jsonrpc: "2.0", id: 12, method: "ping" })).status).toBe(200);
    // A second initialize in the session: a sentence saying what to do, not the SDK's "Server already initialized"; the session lives on.
    const again = await s.post({ jsonrpc: "2.0", id: 13, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "again", version: "1" } } });
    expect({ status: again.status, error: again.json.error }).toEqual({
      status: 400,
      error: { code: -32600, message: "Invalid Request: this session is already initialized; send requests with its Mcp-Session-Id, or start a new session with initialize without one." },
    });
    expect((await s.post({ jsonrpc: "2.0", id: 14, method: "ping" })).status).toBe(200);

    // Without a session: a null _meta is not the 2026-07-28 envelope, and is refused like any request before initialize.
    const sessionless = await fetch(`${gateway.url}/mcp/v`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: null } }),
    });
    expect(sessionless.status).toBe(400);
    expect(((await sessionless.json()) as any).error.message).toBe("Bad Request: send the Mcp-Session-Id header you got from initialize, or start a session with initialize.");
    // Nor may a session start with a batch (2025-03-26: initialize MUST NOT be part of one), or an empty one.
    for (const [body, message] of [
      [[{ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "b", version: "1" } } }], "Invalid Request: initialize must be sent alone, not in a batch."],
      [[], "Invalid Request: the batch is empty."],
    ] as const) {
      const refused = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" }, body: JSON.stringify(body) });
      expect({ status: refused.status, message: ((await refused.json()) as any).error.message }).toEqual({ status: 400, message });
    }
    expect(gateway.output()).not.toContain("TypeError");

    // A Bearer header with a token and more is a bad token, not a missing one.
    const twoTokens = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: { ...s.headers, authorization: `Bearer ${token} extra` }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    expect(twoTokens.status).toBe(401);
    expect(twoTokens.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(((await twoTokens.json()) as { message: string }).message).toBe("The Authorization header must be `Bearer` followed by one token.");
  });

  test("an initialize with missing or malformed params is refused as invalid params naming what to fix, with its id, and opens no session", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-bad-initialize", "20s");
    const headers = { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" };
    const clientInfo = { name: "c", version: "1" };
    for (const [params, wrong] of [
      [undefined, "params: Invalid input: expected object, received undefined"],
      [{}, "params.protocolVersion: Invalid input: expected string, received undefined"],
      [{ protocolVersion: "2025-11-25", capabilities: "all", clientInfo }, "params.capabilities: Invalid input: expected object, received string"],
      [{ protocolVersion: "2025-11-25", capabilities: {} }, "params.clientInfo: Invalid input: expected object, received undefined"],
    ] as const) {
      // Before: the SDK transport took none of these for an initialize and said "Bad Request: Server not initialized".
      const refused = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", id: "init", method: "initialize", params }) });
      expect({ status: refused.status, session: refused.headers.get("mcp-session-id"), body: await refused.json() }).toEqual({
        status: 400,
        session: null,
        body: {
          jsonrpc: "2.0",
          id: "init",
          error: { code: -32602, message: `Invalid params: initialize needs params.protocolVersion (a string), params.capabilities (an object) and params.clientInfo (an object with a name and a version); ${wrong}.` },
        },
      });
    }
    const s = await rawSession(gateway, token);
    expect((await s.post({ jsonrpc: "2.0", id: 1, method: "ping" })).json).toEqual({ jsonrpc: "2.0", id: 1, result: {} });
  });

  test("a made-up name of megabytes is stored cut in the audit trail, as arguments are", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-long-name", "20s");
    const s = await rawSession(gateway, token);
    const name = "n".repeat(3_000_000);
    const answer = await s.post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} } });
    expect(answer.json.result.isError).toBe(true);
    expect((await s.post({ jsonrpc: "2.0", id: 2, method: "prompts/get", params: { name } })).json.error.code).toBe(-32602);
    const rows = await admin<(CallRow & { error: string })[]>(gateway, "/calls?limit=2");
    // Each was stored whole: 3 MB of audit trail per request, where arguments are cut at 16 KiB.
    expect(rows.map((row) => row.exposedName.length)).toEqual([2048, 2048]);
    expect(rows.every((row) => row.exposedName === name.slice(0, 2048) && row.error.length <= 500)).toBe(true);
  });

  test("a second request under an id still running is refused, and cancelling the first still works", async () => {
    const { upstream, gateway, token } = await startBehindRawUpstream("mintgate-dupid", "20s");
    const s = await rawSession(gateway, token);
    const first = s.post({ jsonrpc: "2.0", id: 99, method: "tools/call", params: { name: "hr__hang", arguments: {} } });
    await waitFor("the upstream to hold the first call", () => upstream.hangsStarted() === 1);

    const second = await s.post({ jsonrpc: "2.0", id: 99, method: "tools/call", params: { name: "hr__ok", arguments: {} } });
    expect(second.json.error.code).toBe(-32600);
    expect(second.json.error.message).toContain("is still running");

    await s.post({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 99 } });
    expect((await first).status).toBe(202);
    await waitFor("the upstream to see the cancelled call closed", () => upstream.hangsClosed() === 1);
  });

  test("the legacy /messages endpoint refuses what is not one JSON-RPC message, a request before initialize or a second one, and another person's post", async () => {
    const { gateway, token, dataDir } = await startBehindRawUpstream("mintgate-legacy-bad", "20s");
    const stream = await fetch(`${gateway.url}/sse/v`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    const reader = stream.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const endpoint = first.match(/data: (\S+)/)![1]!;
    const post = async (body: string) => {
      const response = await fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body });
      return { status: response.status, json: (await response.json().catch(() => null)) as any };
    };
    for (const body of ["null", "5", '"x"', "[]", '[{"jsonrpc":"2.0","id":5,"method":"ping"}]', '{"id":1,"method":"ping"}', '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}']) {
      const answer = await post(body);
      expect({ body, status: answer.status, code: answer.json?.error?.code }).toEqual({ body, status: 400, code: -32600 });
    }
    expect((await post('{"jsonrpc":"2.0","id":1,"method":"ping"}')).status).toBe(202);
    expect((await post('{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}')).status).toBe(202);
    // The lifecycle a Streamable HTTP session is held to: initialize first (ping aside), and once.
    const initialize = '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"l","version":"1"}}}';
    expect(await post('{"jsonrpc":"2.0","id":3,"method":"tools/list"}')).toEqual({ status: 400, json: { jsonrpc: "2.0", error: { code: -32000, message: "Bad Request: the session is not initialized; send initialize first." }, id: null } });
    expect((await post(initialize)).status).toBe(202);
    expect((await post(initialize)).json.error.message).toBe("Invalid Request: this session is already initialized; open a new event stream with GET /sse/v to start another.");
    const plainText = await fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: '{"jsonrpc":"2.0","id":4,"method":"ping"}' });
    expect(plainText.status).toBe(415);
    // Another person's valid token posting into this session: unknown to them.
    const other = JSON.parse((await runMintgate(["tokens", "create", "--user", "mallory@example.com", "--json", "--data", dataDir])).stdout) as { token: string };
    const hijack = await fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${other.token}`, "content-type": "application/json" }, body: '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' });
    expect(hijack.status).toBe(404);
    expect(await post('{"jsonrpc":"2.0","id":6,"method":"tools/list"}')).toEqual({ status: 202, json: null });
    await reader.cancel();
    const gone = await fetch(`${gateway.url}/messages/v?sessionId=nope`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: "{}" });
    expect(((await gone.json()) as any).error.message).toContain("GET /sse/v");
    expect(gateway.output()).not.toContain("TypeError");
  });
});

describe("upstream errors and restarts", () => {
  test("a request nested over 10,000 levels is refused as it comes in, and an upstream answer so nested fails its call at once with a sentence", async () => {
    const { gateway, token } = await start(stdioConfig("raw", {}), "mintgate-deep");
    await waitReady(gateway, "raw");
    const s = await rawSession(gateway, token);
    const levels = 100_000;
    // A request that reads fine but takes a second to write again (to the upstream, the audit trail), or cannot be:
    // five at once held every other client for four seconds; refused as it comes in, on either transport.
    const deepArguments = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"raw__echo","arguments":{"x":${"[".repeat(levels)}${"]".repeat(levels)}}}}`;
    const tooDeep = { code: -32600, message: "Invalid Request: the message nests arrays and objects more than 10000 levels deep; send it with fewer levels of nesting." };
    const refused = await s.post(deepArguments);
    expect({ status: refused.status, error: refused.json.error }).toEqual({ status: 400, error: tooDeep });
    // An answer that reads fine but would take seconds to write again, or cannot be: before, a 500 (JSON), an empty
    // event stream, or nothing at all (legacy). Now the call fails at once with a sentence, wherever it was sent.
    const deep = (id: number, meta: object = {}) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "raw__deep", arguments: { levels }, ...meta } });
    const sentence = 'Connector "raw" answered tools/call with an answer nested more than 10000 levels deep.';
    const plain = await s.post(deep(2));
    expect(plain.json.result).toEqual({ content: [{ type: "text", text: sentence }], isError: true });
    const streamed = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: s.headers, body: JSON.stringify(deep(3, { _meta: { progressToken: "p" } })) });
    expect(await streamed.text()).toContain(JSON.stringify(sentence));
    const legacy = await fetch(`${gateway.url}/sse/v`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    const reader = legacy.body!.getReader();
    let events = "";
    while (!/data: \/messages/.test(events)) events += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\/messages\S+)/.exec(events)![1]!;
    const legacyRefused = await fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: deepArguments });
    expect({ status: legacyRefused.status, error: ((await legacyRefused.json()) as any).error }).toEqual({ status: 400, error: tooDeep });
    await reader.cancel();
    // The connector carries on.
    expect((await s.post({ jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "raw__echo", arguments: { text: "still here" } } })).json.result.content[0].text).toBe("still here");
    expect(gateway.output()).not.toContain("RangeError");
  });

  test("an upstream answer that is no JSON-RPC result or error fails that call with a sentence at once, and the connector carries on", async () => {
    const { gateway, token } = await start(stdioConfig("rs", {}), "mintgate-garbled-answers");
    await waitReady(gateway, "rs");
    const c = await client(gateway, token);
    // A short timeout: such an answer used to leave the call waiting forever, past the connector's own timeout.
    const call = async (reply: object) => {
      const result = await c.callTool({ name: "rs__answer", arguments: { reply } }, undefined, { timeout: 5_000 });
      return { isError: result.isError === true, text: (result.content as { text?: string }[])[0]?.text };
    };
    const notAnObject = { isError: true, text: 'Connector "rs" answered tools/call with a result that is not an object.' };
    expect(await call({ result: "x" })).toEqual(notAnObject);
    expect(await call({ result: 5 })).toEqual(notAnObject);
    expect(await call({ result: [1] })).toEqual(notAnObject);
    expect(await call({ error: "boom" })).toEqual({ isError: true, text: 'Connector "rs" answered tools/call with an error that is not a JSON-RPC error object.' });
    // A null result stands for the empty one, as it is taken inside the gateway, and is not passed on as null.
    expect(await call({ result: null })).toEqual({ isError: false, text: undefined });
    expect(await call({ result: { content: [{ type: "text", text: "fine" }] } })).toEqual({ isError: false, text: "fine" });
    const calls = await admin<CallRow[]>(gateway, "/calls?limit=6");
    expect(calls.map((row) => row.outcome)).toEqual(["ok", "ok", "error", "error", "error", "error"]);
    expect(await connectorState(gateway, "rs")).toMatchObject({ state: "ready", restarts: 0 });
  });

  test("an upstream's error page or result that quotes the connector's credential reaches the client redacted", async () => {
    // A quote and a backslash: JSON escapes them, so an upstream that quotes the credential inside JSON text writes other characters than the value.
    const SECRET = 's3cr3t-"VALUE"\\xyz';
    const upstream = startRawHttpUpstream();
    upstreams.push(upstream);
    const base = dir("mintgate-leak");
    const dataDir = join(base, "data");
    expect((await runMintgate(["init", "--data", dataDir])).code).toBe(0);
    expect((await runMintgate(["secrets", "set", "uptok", "--data", dataDir], { stdin: `${SECRET}\n` })).code).toBe(0);
    const config = {
      connectors: [{ name: "hr", kind: "http", url: upstream.url, headers: { Authorization: "Bearer ${secret:uptok}" } }],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "hr" }] }],
    };
    writeFileSync(join(base, "c.yaml"), JSON.stringify(config));
    expect((await runMintgate(["apply", "-f", join(base, "c.yaml"), "--data", dataDir])).code).toBe(0);
    const created = JSON.parse((await runMintgate(["tokens", "create", "--user", "t@example.com", "--json", "--data", dataDir])).stdout) as { token: string };
    const gateway = await startGateway({ dataDir });
    gateways.push(gateway);
    await waitReady(gateway, "hr");
    const c = await client(gateway, created.token);

    const result = await c.callTool({ name: "hr__leak", arguments: {} });
    const text = (result.content as { text: string }[])[0]!.text;
    expect(result.isError).toBe(true);
    expect(text).toContain('Connector "hr" answered HTTP 500');
    expect(text).toContain("auth=Bearer [secret:uptok]");
    expect(text).not.toContain("s3cr3t");
    // A quoted body is cut at 200 characters: a credential straddling the cut is replaced before it, not half kept.
    const cut = await c.callTool({ name: "hr__leakcut", arguments: {} });
    const cutText = (cut.content as { text: string }[])[0]!.text;
    expect(cut.isError).toBe(true);
    expect(cutText).toStartWith('Connector "hr" answered HTTP 401 saying "Unauthorized. ');
    expect(cutText).toEndWith(' token=Bearer [secr": the upstream refused the connector\'s credentials; check its headers and the secrets they use.');
    expect(cutText).not.toContain("s3cr3t");
    // So is its catalogue, shown to every client: a description quoting the credential is redacted too.
    const listed = (await c.listTools()).tools.find((t) => t.name === "hr__whoami");
    expect(listed?.description).toBe("answers who calls with Bearer [secret:uptok]");
    // A result is the upstream's answer too: a tool that prints what it was sent must not hand the client the credential.
    const whoami = await c.callTool({ name: "hr__whoami", arguments: {} });
    expect(whoami.isError).toBeFalsy();
    expect((whoami.content as { text: string }[])[0]!.text).toBe("you are Bearer [secret:uptok]");
    expect(whoami.structuredContent).toEqual({ authorization: "Bearer [secret:uptok]" });
    expect(JSON.stringify(whoami)).not.toContain("s3cr3t");
    // So is its progress, passed on to the client while the call runs: a message quoting the credential is redacted too.
    const progressSeen: { message?: string }[] = [];
    const progressed = await c.callTool({ name: "hr__leakprogress", arguments: {} }, undefined, { onprogress: (update) => progressSeen.push(update) });
    expect((progressed.content as { text: string }[])[0]!.text).toBe("done");
    expect(progressSeen.map((update) => update.message)).toEqual(["working for Bearer [secret:uptok]"]);
    // A JSON-RPC error's data is passed on to the client: here it quotes the request's headers as JSON text, inside a JSON value.
    const refused = await c.callTool({ name: "hr__rpcerr", arguments: {} }).then(
      () => undefined,
      (error: { message: string; data?: unknown }) => error,
    );
    expect(refused?.message).toContain("refused Bearer [secret:uptok]");
    expect(refused?.data).toEqual({ request: JSON.stringify({ authorization: "Bearer [secret:uptok]" }) });
    expect(JSON.stringify(refused)).not.toContain("s3cr3t");
    // A list_changed that changed nothing is no change, though the list quotes the credential (stored redacted): before, the
    // list as read was compared with the one stored, and every such notification was a "connector catalogue changed".
    await c.callTool({ name: "hr__announce", arguments: {} });
    await waitFor("the list read again", () => upstream.received().filter((method) => method === "tools/list").length === 2);
    // A refresh of the catalogue the upstream refuses, quoting the credential, is said in the gateway's log (refreshes
    // run one after another: once it is said, the one above is over).
    await c.callTool({ name: "hr__relist", arguments: {} });
    const refreshFailed = await waitFor("the refused refresh to be logged", () => gateway.output().split("\n").find((line) => line.includes("could not refresh the catalogue")));
    expect(refreshFailed).toContain("cannot list for Bearer [secret:uptok]");
    expect(gateway.output()).not.toContain("connector catalogue changed");
    expect(gateway.output()).not.toContain("s3cr3t");
  });

  test("an upstream that answers with an HTML page is reported as such, naming the connector", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-html", "20s");
    const c = await client(gateway, token);
    const result = await c.callTool({ name: "hr__html", arguments: {} });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toBe('Connector "hr" answered with something that is not JSON (text/html): "<html><body>Please sign in</body></html>"');
  });

  test("an upstream that answers a call with an empty 200 fails the call at once, naming the connector", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-empty", "60s");
    const c = await client(gateway, token);
    // Bounded well below the connector's 60 s timeout, which is what the call waited for before.
    const result = await c.callTool({ name: "hr__empty", arguments: {} }, undefined, { timeout: 5_000 });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toBe('Connector "hr" answered HTTP 200 with an empty body instead of an answer to tools/call');
  });

  test("an upstream that answers a call with JSON holding no answer to it fails the call at once, saying what came back", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-no-answer", "60s");
    const c = await client(gateway, token);
    const text = async (name: string) => {
      // Bounded well below the connector's 60 s timeout, which is what an answer to another id waited for before.
      const result = await c.callTool({ name, arguments: {} }, undefined, { timeout: 5_000 });
      expect(result.isError).toBe(true);
      return (result.content as { text: string }[])[0]!.text;
    };
    // A bare `5` was a WeakMap's complaint ("WeakMap keys must be objects …").
    expect(await text("hr__bare")).toBe('Connector "hr" answered HTTP 200 with JSON that holds no answer to tools/call: "5"');
    expect(await text("hr__other")).toBe(`Connector "hr" answered HTTP 200 with JSON that holds no answer to tools/call: ${JSON.stringify('{"jsonrpc":"2.0","id":987654,"result":{}}')}`);
    expect((await c.callTool({ name: "hr__ok", arguments: {} })).content).toEqual([{ type: "text", text: "ok" }]);
  });

  test("an SSE event holding JSON that is no message (null) is skipped, and the answer after it arrives", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-null-event", "20s");
    const c = await client(gateway, token);
    const result = await c.callTool({ name: "hr__null", arguments: {} }, undefined, { timeout: 5_000 });
    expect(result.isError).toBeFalsy();
    expect((result.content as { text: string }[])[0]!.text).toBe("after null");
  });

  test("an SSE event whose method is no string (a number, null) is skipped, and the answer after it arrives", async () => {
    const { gateway, token } = await startBehindRawUpstream("mintgate-no-method", "20s");
    const c = await client(gateway, token);
    // Before, it was taken as a notification whose name the log cut with .slice: the TypeError broke the reply off.
    const result = await c.callTool({ name: "hr__nomethod", arguments: {} }, undefined, { timeout: 5_000 });
    expect({ isError: result.isError === true, text: (result.content as { text: string }[])[0]!.text }).toEqual({ isError: false, text: "after no method" });
    expect(gateway.output().match(/upstream messages skipped: their method is not a string/g)).toHaveLength(1);
  });

  test("a redirect is not followed (it would carry the credentials elsewhere) and the error names where it points", async () => {
    const { upstream, gateway, token } = await startBehindRawUpstream("mintgate-redirect", "20s");
    const c = await client(gateway, token);
    const result = await c.callTool({ name: "hr__moved", arguments: {} });
    expect(result.isError).toBe(true);
    expect((result.content as { text: string }[])[0]!.text).toBe(
      `Connector "hr" answered HTTP 307 redirecting to ${upstream.url}/; redirects are not followed, since they would carry the connector's credentials there: set the connector's url to that address if you trust it.`,
    );
  });
});

describe("legacy SSE upstreams", () => {
  test("a POST the upstream refuses (429) fails that call only: the connector and the calls in flight carry on", async () => {
    const everything = await startEverythingServer(15_000, "sse");
    upstreams.push(everything);
    // A rate limiter in front of server-everything: any message that mentions "limit-me" is refused.
    const target = new URL(everything.url);
    const limiter = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(request) {
        const url = new URL(request.url);
        const body = request.method === "POST" ? await request.text() : undefined;
        if (body?.includes("limit-me")) return new Response("Too Many Requests", { status: 429 });
        const response = await fetch(new URL(url.pathname + url.search, target.origin), { method: request.method, headers: request.headers, body, signal: request.signal });
        return new Response(response.body, { status: response.status, headers: response.headers });
      },
    });
    upstreams.push({ stop: () => limiter.stop(true) });
    const config = {
      connectors: [{ name: "evs", kind: "sse", url: `http://127.0.0.1:${limiter.port}/sse` }],
      virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "evs" }] }],
    };
    const { gateway, token } = await start(config, "mintgate-sse-429");
    await waitReady(gateway, "evs");
    const c = await client(gateway, token);
    const text = (r: Awaited<ReturnType<Client["callTool"]>>) => ({ isError: r.isError === true, text: (r.content as { text: string }[])[0]!.text });

    // The refused call is made once the long one has reported progress (at 0.5 s of 2 s), so it surely overlaps it.
    let progressed!: () => void;
    const running = new Promise<void>((resolve) => (progressed = resolve));
    const inFlight = c.callTool({ name: "evs__trigger-long-running-operation", arguments: { duration: 2, steps: 4 } }, undefined, { onprogress: () => progressed() }).then(text);
    await Promise.race([running, inFlight.then(() => Promise.reject(new Error("the long call ended without reporting progress")))]);
    const refused = text(await c.callTool({ name: "evs__echo", arguments: { message: "limit-me" } }));
    expect(refused.isError).toBe(true);
    expect(refused.text).toContain('Connector "evs"');
    expect(refused.text).toContain("HTTP 429");
    expect(await inFlight).toEqual({ isError: false, text: expect.stringContaining("Long running operation completed") });
    expect(text(await c.callTool({ name: "evs__echo", arguments: { message: "hi" } }))).toEqual({ isError: false, text: "Echo: hi" });
    expect(await connectorState(gateway, "evs")).toMatchObject({ state: "ready", restarts: 0 });
  });

  test("an upstream that ends its event stream: the call in flight and the log say so in a sentence, and the connector reconnects", async () => {
    // A raw legacy HTTP+SSE upstream: tool "hang" never answers; GET /end ends every event stream cleanly.
    const streams = new Map<string, ReadableStreamDefaultController<Uint8Array>>();
    const encoder = new TextEncoder();
    let opened = 0;
    let hangs = 0;
    const upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(request) {
        const url = new URL(request.url);
        if (url.pathname === "/end") {
          for (const stream of streams.values()) stream.close();
          streams.clear();
          return new Response("ended");
        }
        if (url.pathname === "/sse") {
          const id = String(++opened);
          const body = new ReadableStream<Uint8Array>({
            start: (stream) => {
              streams.set(id, stream);
              stream.enqueue(encoder.encode(`event: endpoint\ndata: /messages?sessionId=${id}\n\n`));
            },
          });
          return new Response(body, { headers: { "content-type": "text/event-stream" } });
        }
        const stream = streams.get(url.searchParams.get("sessionId") ?? "");
        if (!stream) return new Response("no such session", { status: 404 });
        const m = (await request.json()) as { id?: number; method: string; params?: { name?: string } };
        const answer = (result: object) => stream.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify({ jsonrpc: "2.0", id: m.id, result })}\n\n`));
        if (m.method === "initialize") answer({ protocolVersion: "2024-11-05", capabilities: { tools: {} }, serverInfo: { name: "raw-sse", version: "1" } });
        else if (m.method === "tools/list") answer({ tools: ["hang", "hi"].map((name) => ({ name, inputSchema: { type: "object" } })) });
        else if (m.method === "tools/call" && m.params?.name === "hi") answer({ content: [{ type: "text", text: "hi" }] });
        else if (m.method === "tools/call") hangs++;
        return new Response("Accepted", { status: 202 });
      },
    });
    upstreams.push({ stop: () => upstream.stop(true) });
    const { gateway, token } = await start(
      { connectors: [{ name: "raw", kind: "sse", url: `http://127.0.0.1:${upstream.port}/sse` }], virtualMcps: [{ slug: "v", name: "V", access: { everyone: true }, connectors: [{ connector: "raw" }] }] },
      "mintgate-sse-ended",
    );
    await waitReady(gateway, "raw");
    const c = await client(gateway, token);
    const inFlight = c.callTool({ name: "raw__hang", arguments: {} });
    await waitFor("the call to reach the upstream", () => hangs === 1);
    await (await fetch(`http://127.0.0.1:${upstream.port}/end`)).text();
    const failed = await inFlight;
    expect(failed.isError).toBe(true);
    expect((failed.content as { text: string }[])[0]!.text).toBe('Connector "raw" is unavailable: the upstream ended its event stream during tools/call.');
    await waitFor("the log line", () => gateway.output().includes('connector failed; restarting connector=raw reason="the upstream ended its event stream"'));
    expect(gateway.output()).not.toContain("undefined");
    await waitFor("a call to succeed again", async () => (await c.callTool({ name: "raw__hi", arguments: {} })).isError !== true, 100, 100);
  });
});

describe("revocation", () => {
  test("revoking a token ends its sessions: the call in flight gets an error that says why, and the event stream closes", async () => {
    const { upstream, gateway, token, tokenId, dataDir } = await startBehindRawUpstream("mintgate-revoke-sessions", "20s");
    const s = await rawSession(gateway, token);
    // The stream's head arrives at once (an SSE comment goes first), though no event has been sent yet.
    const stream = await Promise.race([fetch(`${gateway.url}/mcp/v`, { headers: { ...s.headers, accept: "text/event-stream" } }), Bun.sleep(3000).then(() => Promise.reject(new Error("no response head")))]);
    expect(stream.status).toBe(200);
    const streamEnded = stream.text().then((body) => ({ status: stream.status, body }));
    const inFlight = s.post({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "hr__hang", arguments: {} } });
    await waitFor("the upstream to hold the call", () => upstream.hangsStarted() === 1);

    const revoked = await runMintgate(["tokens", "revoke", tokenId, "--data", dataDir]);
    expect(revoked.code).toBe(0);
    const answer = await inFlight;
    expect(answer.json.error.code).toBe(-32000);
    expect(answer.json.error.message).toContain("its access token was revoked");
    // Its one record says why, as the reply does (it said "The request was cancelled.").
    const search = await runMintgate(["audit", "search", "--data", dataDir, "--tool", "hr__hang", "--json"]);
    expect((JSON.parse(search.stdout) as { outcome: string; error: string }[]).map((r) => [r.outcome, r.error])).toEqual([["cancelled", answer.json.error.message]]);
    const ended = await Promise.race([streamEnded, Bun.sleep(5000).then(() => Promise.reject(new Error("the event stream stayed open")))]);
    expect(ended.status).toBe(200); // it was open in the session, and ended with it
    await waitFor("the upstream call to be ended", () => upstream.hangsClosed() === 1);
    expect((await s.post({ jsonrpc: "2.0", id: 6, method: "ping" })).status).toBe(401);
  });

  test("revoking a token ends its legacy HTTP+SSE session: the call in flight gets its error on the event stream before the stream closes", async () => {
    const { upstream, gateway, token, tokenId, dataDir } = await startBehindRawUpstream("mintgate-revoke-legacy", "20s");
    const stream = await fetch(`${gateway.url}/sse/v`, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } });
    let events = "";
    const decoder = new TextDecoder();
    const ended = (async () => {
      for await (const chunk of stream.body!) events += decoder.decode(chunk, { stream: true });
    })();
    const endpoint = await waitFor("the endpoint event", () => /data: (\/messages\S+)/.exec(events)?.[1]);
    const post = (message: object) =>
      fetch(`${gateway.url}${endpoint}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(message) });
    expect((await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: "l", version: "1" } } })).status).toBe(202);
    expect((await post({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "hr__hang", arguments: {} } })).status).toBe(202);
    await waitFor("the upstream to hold the call", () => upstream.hangsStarted() === 1);

    expect((await runMintgate(["tokens", "revoke", tokenId, "--data", dataDir])).code).toBe(0);
    await Promise.race([ended, Bun.sleep(5000).then(() => Promise.reject(new Error("the event stream stayed open")))]);
    // Before, the stream closed under the call and its reply was dropped: an SDK client waited out its own timeout.
    const replies = [...events.matchAll(/event: message\ndata: (.+)\n/g)].map((m) => JSON.parse(m[1]!) as { id: number; error?: { code: number; message: string } }).filter((reply) => reply.id !== 0);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.id).toBe(5);
    expect(replies[0]!.error?.code).toBe(-32000);
    expect(replies[0]!.error?.message).toContain("its access token was revoked");
    await waitFor("the upstream call to be ended", () => upstream.hangsClosed() === 1);
    expect((await post({ jsonrpc: "2.0", id: 6, method: "ping" })).status).toBe(401);
  });
});

/** Reads an event stream in the background; `endedAt` is set once it ends, whichever side ended it. */
function watchStream(response: Response): { status: number; endedAt: number | undefined } {
  const watched = { status: response.status, endedAt: undefined as number | undefined };
  void (async () => {
    try {
      for await (const _ of response.body!);
    } catch {
      // a connection cut ends the stream too
    }
    watched.endedAt = Date.now();
  })();
  return watched;
}

describe("expiry", () => {
  test("a token's event streams end when it expires, the standalone GET and the legacy HTTP+SSE one; a token without expiry keeps its own, and the session takes a refreshed token", async () => {
    const { gateway, token, dataDir } = await startBehindRawUpstream("mintgate-expiry-streams", "20s");
    const created = await runMintgate(["tokens", "create", "--user", "t@example.com", "--expires", "4s", "--json", "--data", dataDir]);
    const expiring = JSON.parse(created.stdout) as { token: string; expiresAt: string };
    const expiresAt = Date.parse(expiring.expiresAt);
    const openGet = async (headers: Record<string, string>) => watchStream(await fetch(`${gateway.url}/mcp/v`, { headers: { ...headers, accept: "text/event-stream" } }));
    const openLegacy = async (bearer: string) => watchStream(await fetch(`${gateway.url}/sse/v`, { headers: { authorization: `Bearer ${bearer}`, accept: "text/event-stream" } }));
    const session = await rawSession(gateway, expiring.token);
    const expiringStreams = [await openGet(session.headers), await openLegacy(expiring.token)];
    const lastingStreams = [await openGet((await rawSession(gateway, token)).headers), await openLegacy(token)];
    expect([...expiringStreams, ...lastingStreams].map((s) => s.status)).toEqual([200, 200, 200, 200]);
    expect(Date.now()).toBeLessThan(expiresAt);

    // Before, they stayed open (delivering notifications) until the idle sweep an hour later.
    await waitFor("the expiring token's streams to end", () => expiringStreams.every((s) => s.endedAt !== undefined), 200, 50);
    for (const stream of expiringStreams) expect(stream.endedAt! - expiresAt).toBeLessThan(2_000);
    expect(lastingStreams.map((s) => s.endedAt)).toEqual([undefined, undefined]);
    expect(gateway.output()).toContain('stream ended: its access token expired stream="standalone GET"');
    expect(gateway.output()).toContain('stream ended: its access token expired stream="legacy HTTP+SSE"');

    // The Streamable HTTP session itself carries on: the same person's refreshed token (here their lasting one) is taken, and reopens the stream.
    const refreshed = { ...session.headers, authorization: `Bearer ${token}` };
    expect((await session.post({ jsonrpc: "2.0", id: 1, method: "ping" })).status).toBe(401);
    const ping = await fetch(`${gateway.url}/mcp/v`, { method: "POST", headers: refreshed, body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
    expect({ status: ping.status, body: await ping.json() }).toEqual({ status: 200, body: { jsonrpc: "2.0", id: 2, result: {} } });
    const reopened = await fetch(`${gateway.url}/mcp/v`, { headers: { ...refreshed, accept: "text/event-stream" } });
    expect(reopened.status).toBe(200);
    await reopened.body!.cancel();
  });
});

describe("revocation of a person", () => {
  test("disabling a person ends their sessions and event streams", async () => {
    const upstream = startRawHttpUpstream();
    upstreams.push(upstream);
    const { gateway, token, dataDir } = await start(httpConfig("hr", upstream.url, "20s"), "mintgate-disable-sessions");
    expect((await runMintgate(["users", "add", "t@example.com", "--data", dataDir], { stdin: "a long enough password\n" })).code).toBe(0);
    await waitReady(gateway, "hr");
    const s = await rawSession(gateway, token);
    const streamEnded = fetch(`${gateway.url}/mcp/v`, { headers: { ...s.headers, accept: "text/event-stream" } }).then(async (r) => ({ status: r.status, body: await r.text() }));
    expect((await s.post({ jsonrpc: "2.0", id: 1, method: "ping" })).status).toBe(200);

    expect((await runMintgate(["users", "disable", "t@example.com", "--data", dataDir])).code).toBe(0);
    const ended = await Promise.race([streamEnded, Bun.sleep(5000).then(() => Promise.reject(new Error("the event stream stayed open")))]);
    expect(ended.status).toBe(200);
    expect(gateway.output()).toContain('session ended: access revoked');
    expect(gateway.output()).toContain('reason="the account was disabled"');
  });
});

describe("an audit record that cannot be committed", () => {
  test("fails the request it records with an error the client receives, on the SDK transport's path too", async () => {
    const { gateway, token, dataDir } = await start(DEMO_CONFIG, "mintgate-auditfail");
    const initialize = () =>
      fetch(`${gateway.url}/mcp/demo`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, accept: "application/json, text/event-stream", "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }),
      });
    // The token's first use is written down; from then on it is checked without writing.
    expect(await (await initialize()).text()).toContain('"result"');
    // Another process holds the database's write lock past the gateway's 5 s busy timeout (a full disk fails the same way).
    const holder = new Database(join(dataDir, "mintgate.db"));
    holder.exec("BEGIN IMMEDIATE");
    try {
      const response = await initialize();
      // Bun ends an idle response after 10 s: an initialize left unanswered would end empty then.
      const body = await Promise.race([response.text(), Bun.sleep(9_000).then(() => "no answer within 9 s")]);
      expect(body).toContain('"id":1');
      // Said as what it is: a lock held elsewhere, to try again, not an internal error.
      expect(body).toContain('"error":{"code":-32603,"message":"The database is busy: another mintgate process has held its write lock for more than 5 seconds; try again in a moment."}');
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    // The session of the initialize that failed is freed at once (its client will not use it), not after an idle hour.
    expect((await admin<{ sessions: number }>(gateway, "/status")).sessions).toBe(1);
    // Logged as one line, not as an unhandled rejection's stack trace.
    expect(gateway.output()).toContain("database is locked");
    expect(gateway.output()).not.toMatch(/\n\s+at /);
  }, 30_000);
});
