/**
 * StdioUpstreamTransport against real child processes (Linux: process state
 * is read from /proc). No test asserts a timing; waits poll until a condition
 * holds and the test timeout catches a hang.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { StdioUpstreamTransport, type StdioUpstreamOptions } from "../src/connectors/stdio-transport.ts";

const FIXTURE = join(import.meta.dir, "fixtures", "echo-stdio.ts");
/** `sh` starts a grandchild in the group, then becomes the fixture, so the transport's child is the server. */
const WITH_GRANDCHILD = ["-c", 'sleep 300 & exec "$0" "$@"', process.execPath, FIXTURE];

// ---- process inspection (/proc) ----

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0]!, ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/** Running means it exists and is not a zombie (this VM's init does not reap orphans). */
function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

function allPids(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number);
}

function runningGroupMembers(pgid: number): number[] {
  return allPids().filter((pid) => procStat(pid)?.pgrp === pgid && isRunning(pid));
}

/** Our direct children in any state: a zombie child would mean we failed to reap it. */
function childrenOfThisProcess(): number[] {
  return allPids().filter((pid) => procStat(pid)?.ppid === process.pid);
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await Bun.sleep(10);
}

function expectNoProcess(pid: number): void {
  expect(isRunning(pid)).toBe(false);
  // process.kill(pid, 0) only throws ESRCH once the process is also reaped.
  try {
    process.kill(pid, 0);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe("ESRCH");
  }
}

// ---- a small JSON-RPC client over the transport ----

interface Upstream {
  transport: StdioUpstreamTransport;
  call(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  closes(): number;
  closed: Promise<void>;
  errors: Error[];
}

/** What a transport "odd" reports of the lines a shell prints before one message, and the messages it passes on. */
async function linesBeforeAMessage(printLines: string, redact?: (text: string) => string): Promise<{ errors: string[]; messages: unknown[] }> {
  const transport = new StdioUpstreamTransport({ name: "odd", command: "/bin/sh", args: ["-c", `${printLines}; echo '{"jsonrpc":"2.0","method":"x"}'; sleep 5`], env: {}, redact });
  const errors: string[] = [];
  const messages: unknown[] = [];
  transport.onerror = (error) => errors.push(error.message);
  transport.onmessage = (message) => messages.push(message);
  await transport.start();
  await waitFor(() => messages.length === 1);
  await transport.close();
  return { errors, messages };
}

function upstream(overrides: Partial<StdioUpstreamOptions> = {}): Upstream {
  const transport = new StdioUpstreamTransport({
    name: "echo",
    command: process.execPath,
    args: [FIXTURE],
    env: {},
    ...overrides,
  });
  const pending = new Map<number, (message: JSONRPCMessage) => void>();
  let nextId = 1;
  let closeCount = 0;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const errors: Error[] = [];
  transport.onmessage = (message) => {
    if ("id" in message && typeof message.id === "number") pending.get(message.id)?.(message);
  };
  transport.onclose = () => {
    closeCount++;
    resolveClosed();
  };
  transport.onerror = (error) => errors.push(error);
  return {
    transport,
    closes: () => closeCount,
    closed,
    errors,
    async call(method, params = {}) {
      const id = nextId++;
      const answer = new Promise<JSONRPCMessage>((resolve) => pending.set(id, resolve));
      await transport.send({ jsonrpc: "2.0", id, method, params });
      const message = await answer;
      pending.delete(id);
      if (!("result" in message)) throw new Error(`no result: ${JSON.stringify(message)}`);
      return message.result as Record<string, unknown>;
    },
  };
}

describe("StdioUpstreamTransport", () => {
  test("messages round-trip, including large and many concurrent ones", async () => {
    const up = upstream();
    await up.transport.start();
    expect(up.transport.pid).toBeNumber();

    expect(await up.call("test/echo", { hello: "world", n: 1 })).toEqual({ hello: "world", n: 1 });
    const { pid } = await up.call("test/pid");
    expect(pid).toBe(up.transport.pid);

    const big = "x".repeat(1024 * 1024) + "é";
    expect((await up.call("test/echo", { big })).big).toBe(big);

    // Far more than a pipe holds: send() must wait for 'drain' rather than lose or reorder writes.
    const chunk = "y".repeat(64 * 1024);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => up.call("test/echo", { i, chunk })));
    expect(answers.map((answer) => answer.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(answers.every((answer) => answer.chunk === chunk)).toBe(true);

    await up.transport.close();
    expect(up.errors).toEqual([]);
  });

  test("a line that is JSON but no message (null, a number) is reported as such and skipped; the message after it arrives", async () => {
    const { errors, messages } = await linesBeforeAMessage("echo null; echo 5");
    expect(messages).toEqual([{ jsonrpc: "2.0", method: "x" }]);
    // Not "a line that is not JSON (WeakMap keys must be objects …)", which came with the close reason to clients.
    // Without the connector's name: the session shows it inside 'Connector "odd" is unavailable: … (this)', which names it once.
    expect(errors).toEqual(["the upstream wrote null on stdout, not a JSON-RPC message", "the upstream wrote 5 on stdout, not a JSON-RPC message"]);
  });

  test("a stdout line that is no message is reported with the connector's secrets replaced, also where the JSON parser quotes it", async () => {
    const secret = "hunter2secret";
    const redact = (text: string) => text.replaceAll(secret, "[secret:KEY]");
    const { errors } = await linesBeforeAMessage(`echo ${secret}; echo '"${secret}"'`, redact);
    expect(errors).toEqual([
      'the upstream wrote a line on stdout that is not JSON (JSON Parse error: Unexpected identifier "[secret:KEY]"); an MCP server over stdio must write only JSON-RPC messages there, its log to stderr',
      'the upstream wrote "[secret:KEY]" on stdout, not a JSON-RPC message',
    ]);
  });

  test("a real SDK Client works over it", async () => {
    const transport = new StdioUpstreamTransport({ name: "echo", command: process.execPath, args: [FIXTURE], env: {} });
    const client = new Client({ name: "stdio-transport-test", version: "0.0.0" });
    await client.connect(transport);
    const pid = transport.pid!;
    expect(client.getServerVersion()?.name).toBe("echo-stdio");
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(["echo"]);
    const result = await client.callTool({ name: "echo", arguments: { text: "hi there" } });
    expect(result.content).toEqual([{ type: "text", text: "hi there" }]);
    await client.close();
    expectNoProcess(pid);
  });

  test("the child's environment is only the configured env plus PATH, HOME and LANG", async () => {
    process.env.MINTGATE_STDIO_TEST_LEAK = "must-not-reach-the-child";
    try {
      const up = upstream({ env: { API_TOKEN: "t0ken", HOME: "/configured-home" } });
      await up.transport.start();
      const env = (await up.call("test/env")).env as Record<string, string>;
      await up.transport.close();

      const expected: Record<string, string> = { API_TOKEN: "t0ken", HOME: "/configured-home" };
      if (process.env.PATH !== undefined) expected.PATH = process.env.PATH;
      if (process.env.LANG !== undefined) expected.LANG = process.env.LANG;
      expect(env).toEqual(expected);
    } finally {
      delete process.env.MINTGATE_STDIO_TEST_LEAK;
    }
  });

  test("stderr lines are kept, the last 50, oldest first", async () => {
    const up = upstream();
    await up.transport.start();
    await waitFor(() => up.transport.recentStderr().includes("echo-stdio: ready"));

    await up.call("test/stderr", { lines: ["first problem", "second problem\r", "", "multi-byte: é ✓"] });
    await waitFor(() => up.transport.recentStderr().includes("multi-byte: é ✓"));
    expect(up.transport.recentStderr()).toEqual(["echo-stdio: ready", "first problem", "second problem", "multi-byte: é ✓"]);

    const many = Array.from({ length: 120 }, (_, i) => `line ${i}`);
    await up.call("test/stderr", { lines: many });
    await waitFor(() => up.transport.recentStderr().at(-1) === "line 119");
    expect(up.transport.recentStderr()).toEqual(many.slice(-50));

    await up.transport.close();
  });

  test("a command that is not on PATH gives a clear error", async () => {
    const up = upstream({ name: "ghost", command: "mintgate-no-such-command-xyz", args: [] });
    await expect(up.transport.start()).rejects.toThrow(
      'Connector "ghost" cannot start "mintgate-no-such-command-xyz": not found on PATH',
    );
    await up.closed;
    expect(up.transport.pid).toBeUndefined();
    await expect(up.transport.send({ jsonrpc: "2.0", id: 1, method: "ping" })).rejects.toThrow("not running");
    await up.transport.close();
    expect(up.closes()).toBe(1);
  });

  test("a missing working directory is named as such", async () => {
    const up = upstream({ name: "lost", cwd: "/nonexistent/mintgate-dir" });
    await expect(up.transport.start()).rejects.toThrow(
      `Connector "lost" cannot start "${process.execPath}": working directory "/nonexistent/mintgate-dir" does not exist`,
    );
    await up.transport.close();
    expect(up.closes()).toBe(1);
  });

  test("close() ends the child and its grandchild, once", async () => {
    const up = upstream({ command: "sh", args: WITH_GRANDCHILD });
    await up.transport.start();
    const pid = up.transport.pid!;
    expect((await up.call("test/pid")).pid).toBe(pid);
    const members = runningGroupMembers(pid);
    expect(members).toContain(pid);
    expect(members.length).toBe(2);
    const grandchild = members.find((member) => member !== pid)!;

    expect(childrenOfThisProcess()).toContain(pid);

    await Promise.all([up.transport.close(), up.transport.close()]);
    await up.transport.close();
    expect(up.closes()).toBe(1);
    // close() also ends stdin, so the fixture may see end-of-file before SIGTERM.
    expect(up.transport.exitInfo).toBeDefined();
    await waitFor(() => runningGroupMembers(pid).length === 0);
    expectNoProcess(pid);
    expectNoProcess(grandchild);
    // A send after the end says how the child ended.
    await expect(up.transport.send({ jsonrpc: "2.0", id: 9, method: "ping" })).rejects.toThrow(/the upstream process (was killed by SIGTERM|exited with code 0)$/);
  });

  test("close() escalates to SIGKILL when SIGTERM is ignored", async () => {
    const up = upstream({ command: "sh", args: [...WITH_GRANDCHILD, "--outlives-sigterm"] });
    await up.transport.start();
    const pid = up.transport.pid!;
    await up.call("test/pid");
    await up.transport.close();
    expect(up.transport.exitInfo).toEqual({ code: null, signal: "SIGKILL" });
    expect(up.transport.recentStderr()).toContain("echo-stdio: ignoring SIGTERM");
    await waitFor(() => runningGroupMembers(pid).length === 0);
    expectNoProcess(pid);
    expect(up.closes()).toBe(1);
  });

  test("onclose fires when the child dies on its own, and its group is swept", async () => {
    const up = upstream({ command: "sh", args: WITH_GRANDCHILD });
    await up.transport.start();
    const pid = up.transport.pid!;
    await up.call("test/pid");
    expect(runningGroupMembers(pid).length).toBe(2);

    process.kill(pid, "SIGKILL");
    await up.closed;
    expect(up.transport.exitInfo).toEqual({ code: null, signal: "SIGKILL" });
    await waitFor(() => runningGroupMembers(pid).length === 0);
    await expect(up.transport.send({ jsonrpc: "2.0", id: 9, method: "ping" })).rejects.toThrow('Connector "echo" is unavailable: the upstream process was killed by SIGKILL');
    await up.transport.close();
    expect(up.closes()).toBe(1);
  });

  test("start twice is refused", async () => {
    const up = upstream();
    await up.transport.start();
    await expect(up.transport.start()).rejects.toThrow("already started");
    await up.transport.close();
  });

  test("starting and closing 30 times leaves no process behind", async () => {
    const before = new Set(childrenOfThisProcess());
    const pids: number[] = [];
    for (let i = 0; i < 30; i++) {
      const up = upstream({ command: "sh", args: WITH_GRANDCHILD });
      await up.transport.start();
      pids.push(up.transport.pid!);
      if (i % 3 === 0) await up.call("test/echo", { i });
      await up.transport.close();
      expect(up.closes()).toBe(1);
    }
    expect(childrenOfThisProcess().filter((pid) => !before.has(pid))).toEqual([]);
    await waitFor(() => pids.every((pid) => runningGroupMembers(pid).length === 0));
  });
});
