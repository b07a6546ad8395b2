/**
 * MCP transport to an upstream server that runs as a child process speaking
 * newline-delimited JSON-RPC on stdin/stdout. It replaces the SDK's
 * StdioClientTransport because mintgate needs to own the whole process tree:
 * the child leads its own process group (and session), and closing the
 * transport ends that group, so helpers the server started (`npx` → node,
 * `sh -c '… &'`) do not outlive it.
 *
 * The child sees only the connector's configured environment plus PATH, HOME
 * and LANG from the gateway; the gateway's own environment (master key,
 * tokens) never leaks to an upstream.
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Subprocess } from "bun";
import { existsSync } from "node:fs";
import type { UpstreamProcessGroups } from "./process-groups.ts";
import { noteFrameText } from "./upstream-session.ts";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { MintgateError } from "../errors/index.ts";
import { LineBudget, log, type LogLevel } from "../log/index.ts";
import { unprintableAsSpaces } from "../terminal/index.ts";

export interface StdioUpstreamOptions {
  /** Connector name, used in log fields and error messages. */
  name: string;
  command: string;
  args: string[];
  cwd?: string | undefined;
  /** Fully resolved values (no secret references left). */
  env: Record<string, string>;
  /** Applied to every stderr line before it is logged or kept (the child may print the secrets it was given). */
  redact?: ((line: string) => string) | undefined;
  /**
   * The length of the longest text `redact` replaces: a line too long to keep whole is cut into pieces only
   * after it is redacted, and an unfinished line keeps this much back, so no piece holds part of a secret.
   */
  redactSpan?: (() => number) | undefined;
  /** Called with each (redacted) stderr line. */
  onStderrLine?: ((line: string) => void) | undefined;
  /** The level stderr lines are logged at (info by default); asked per line. */
  stderrLevel?: (() => LogLevel) | undefined;
  /** Where the child's process group is noted while it may run, for the next start to end if this gateway dies hard. */
  processGroups?: UpstreamProcessGroups | undefined;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Variables copied from the gateway's environment when set; the configured env wins. */
const INHERITED_ENV = ["PATH", "HOME", "LANG"] as const;
/** How long the group gets after SIGTERM before SIGKILL. */
const TERMINATE_GRACE_MS = 2_000;
/** After the child exits, how long to wait for its stdout/stderr to reach end-of-file before giving up on them. */
const PIPE_DRAIN_GRACE_MS = 500;
/** How long a failed write waits for the child's exit to be seen, to name it in the error. */
const EXIT_NOTICE_MS = 500;
const STDERR_KEPT_LINES = 50;
/** The longest stderr line `lastSaid` gives (a reason is one line of a status). */
const STDERR_HINT_LENGTH = 200;
/** CSI sequences (colours, cursor moves) a server writes to its stderr. */
const ANSI_ESCAPE = /\u001b\[[0-9;?]*[ -\/]*[@-~]/g;
/** A stack frame as Node.js, Bun and Deno print them ("    at fn (file:1:2)", "    at file:1:2"), trimmed. */
const STACK_FRAME = /^at .+:\d+\)?$/;
/** The line Node.js and Bun end an uncaught error's report with. */
const RUNTIME_VERSION = /^(Node\.js|Bun) v\d/;
/** Longest line accepted from an upstream, as the SDK's own stdio transport allows. */
const MAX_LINE_BYTES = 10 * 1024 * 1024;
/** A stderr "line" longer than this is logged in pieces so a runaway child cannot grow our memory. */
const STDERR_MAX_LINE = 16 * 1024;
/** Stderr lines one child may put in the gateway's log per window; the rest are counted, not logged (they stay in its recent lines). */
const STDERR_LOGGED_PER_WINDOW = 200;
const STDERR_LOG_WINDOW_MS = 10_000;
/**
 * Characters that may wait for a child that has stopped reading its stdin (a full pipe): past this, a message is
 * refused at once rather than held in the gateway's memory for as long as the child lives.
 */
const STDIN_BACKLOG_LIMIT = 16 * 1024 * 1024;

export class StdioUpstreamTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: Transport["onmessage"];
  sessionId?: string | undefined;

  private readonly options: StdioUpstreamOptions;
  private readonly lines = new JsonLines(MAX_LINE_BYTES);
  /** Bun's own process and pipes: far cheaper per message than node:child_process streams. */
  private child: Subprocess<"pipe", "pipe", "pipe"> | undefined;
  /** Resolves when stdout and stderr have both reached end-of-file. */
  private pipesDone: Promise<unknown> = Promise.resolve();
  private readonly stderrDecoder = new TextDecoder();
  private started = false;
  /** Set by close(), or when the child is gone: no more sends. */
  private closed = false;
  private closing: Promise<void> | undefined;
  private exit: ExitInfo | undefined;
  /** Set once the group had its SIGKILL: after that, its id may be another group's. */
  private groupSwept = false;
  private oncloseCalled = false;

  /** Resolves once the child has exited (or never existed). */
  private readonly exited: Promise<void>;
  private resolveExited!: () => void;
  /** Resolves once onclose has been called. */
  private readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  private readonly stderrRing: string[] = [];
  private stderrNext = 0;
  private stderrPartial = "";
  /** A child that floods its stderr must not flood the gateway's log (and disk): past the window's budget, lines are counted. */
  private readonly stderrLog: LineBudget;

  constructor(options: StdioUpstreamOptions) {
    this.options = options;
    this.stderrLog = new LineBudget({
      lines: STDERR_LOGGED_PER_WINDOW,
      windowMs: STDERR_LOG_WINDOW_MS,
      fields: { connector: options.name },
      notLoggedMessage: "upstream stderr: lines not logged, too many",
    });
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  /** Why the child could not be started (not found, not executable, no such cwd); undefined otherwise. */
  startFailure: string | undefined;
  /** Why this transport ended a child that was running (it broke the protocol); undefined otherwise. */
  stopReason: string | undefined;
  /** Set when it was stopped for writing more on stdout without a line break than the gateway reads (an answer too long). */
  wroteTooLong = false;

  /** The child's process id (also its process group id) once spawned. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How the child ended; undefined while it runs or if it never started. */
  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }

  /**
   * What the child last said on stderr, for a reason shown in its connector's state: its last line that is neither a
   * stack frame nor a runtime's closing version line (Node.js and Bun end an uncaught error with those), without
   * colour codes, cut to STDERR_HINT_LENGTH. Redacted as every kept line is. Undefined when it said nothing.
   */
  lastSaid(): string | undefined {
    const said = this.recentStderr()
      .map((line) => unprintableAsSpaces(line.replace(ANSI_ESCAPE, "")).trim())
      .findLast((line) => line !== "" && !STACK_FRAME.test(line) && !RUNTIME_VERSION.test(line));
    return said === undefined || said.length <= STDERR_HINT_LENGTH ? said : `${said.slice(0, STDERR_HINT_LENGTH - 1)}…`;
  }

  /** Resolves once the child's output is read to its end (or given up on, PIPE_DRAIN_GRACE_MS after it exited) and onclose was called. */
  get done(): Promise<void> {
    return this.finished;
  }

  /** The child's last stderr lines, oldest first (at most 50). */
  recentStderr(): string[] {
    const ring = this.stderrRing;
    if (ring.length < STDERR_KEPT_LINES) return ring.slice();
    return ring.slice(this.stderrNext).concat(ring.slice(0, this.stderrNext));
  }

  start(): Promise<void> {
    const { name, command, args, cwd } = this.options;
    if (this.started) return Promise.reject(new Error(`connector "${name}": transport already started`));
    if (this.closed) return Promise.reject(new Error(`connector "${name}": transport is closed`));
    this.started = true;

    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    Object.assign(env, this.options.env);

    let child: Subprocess<"pipe", "pipe", "pipe">;
    try {
      // detached: the child calls setsid, so it leads its own process group.
      child = Bun.spawn({ cmd: [command, ...args], cwd, env, stdin: "pipe", stdout: "pipe", stderr: "pipe", detached: true });
    } catch (error) {
      const failure = this.spawnError(error);
      // Before markGone: onclose runs inside it, and whoever hears it wants the reason.
      this.startFailure = failure.message;
      this.markGone();
      return Promise.reject(failure);
    }
    this.child = child;
    this.options.processGroups?.started(child.pid);
    const stdout = this.pump(child.stdout, (chunk) => this.handleStdout(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    const stderr = this.pump(child.stderr, (chunk) => this.handleStderr(this.stderrDecoder.decode(chunk, { stream: true }))).then(() => this.flushStderr());
    this.pipesDone = Promise.all([stdout, stderr]);
    void stdout.then(() => this.stdoutEnded());
    void child.exited.then(() => this.handleExit(child.exitCode, (child.signalCode as NodeJS.Signals | null) ?? null));
    return Promise.resolve();
  }

  private async pump(stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void): Promise<void> {
    try {
      for await (const chunk of stream) onChunk(chunk);
    } catch (error) {
      if (!this.closed) this.onerror?.(error as Error);
    }
  }

  /** Characters written while the pipe was full and not yet taken by the child (see STDIN_BACKLOG_LIMIT). */
  private backlog = 0;

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (this.closed || !stdin) return Promise.reject(this.closedError());
    if (this.backlog > STDIN_BACKLOG_LIMIT) {
      const waiting = Math.round(this.backlog / (1024 * 1024));
      return Promise.reject(new MintgateError("upstream_failed", `Connector "${this.options.name}" is not reading its input (${waiting} MiB sent to it are waiting); check the upstream's log, or restart the connector.`));
    }
    try {
      const line = JSON.stringify(message) + "\n";
      stdin.write(line);
      // flush() answers with a promise only while the pipe is full: that is the backpressure. Its promises settle in order.
      const flushed = stdin.flush();
      if (!(flushed instanceof Promise)) return Promise.resolve();
      this.backlog += line.length;
      return flushed.then(
        () => void (this.backlog -= line.length),
        () => this.failedWrite(),
      );
    } catch {
      return this.failedWrite();
    }
  }

  /**
   * Ends the child's whole process group: SIGTERM, up to 2 s for the child to
   * exit, then SIGKILL (which also sweeps any group member that outlived the
   * child). Resolves after the child has exited and onclose has been called.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (child?.pid === undefined) {
      // Never started, or failed to spawn: nothing to end.
      this.markGone();
      return;
    }
    if (this.exit === undefined) {
      try {
        void child.stdin.end();
      } catch {
        // The pipe is already gone; the signal below is what counts.
      }
      this.signalGroup("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, TERMINATE_GRACE_MS)));
      await Promise.race([this.exited, timeout]);
      clearTimeout(timer);
    }
    // Whatever is left of the group, now that the child has exited (or refused to).
    this.killGroupNow();
    await this.exited;
    await this.finished;
  }

  private handleStdout(chunk: Buffer): void {
    try {
      this.lines.push(chunk, (line) => {
        let message: JSONRPCMessage;
        try {
          // Parsed once and passed on as it is: results are not re-validated on this path.
          message = JSON.parse(line) as JSONRPCMessage;
        } catch (error) {
          // Said without the connector's name: it is only ever shown inside a sentence that names it (the session's "is unavailable: … (this)").
          this.onerror?.(new Error(`the upstream wrote a line on stdout that is not JSON (${this.redacted((error as Error).message)}); an MCP server over stdio must write only JSON-RPC messages there, its log to stderr`));
          return;
        }
        if (typeof message !== "object" || message === null) {
          // `null` or a bare number is JSON but no message: skipped like a line that is not JSON.
          this.onerror?.(new Error(`the upstream wrote ${this.redacted(line.slice(0, 4096)).slice(0, 40)} on stdout, not a JSON-RPC message`));
          return;
        }
        noteFrameText(message, line);
        try {
          this.onmessage?.(message);
        } catch (error) {
          // A throwing handler must not kill the stream.
          this.onerror?.(error as Error);
        }
      });
    } catch (error) {
      // The upstream sent more than the buffer limit without a newline: it is not speaking our protocol.
      // Said as the reason it stopped: the SIGTERM it then dies of would name no cause.
      this.stopReason ??= `${(error as Error).message} on stdout, so it was stopped`;
      this.wroteTooLong = true;
      this.onerror?.(error as Error);
      void this.close();
    }
  }

  /**
   * Stdout ended. A child that exits does so in a moment, and its exit says how it ended; one that runs on
   * can answer nothing more, so it is stopped now rather than left "starting" until the connect timeout,
   * or "ready" while every call times out.
   */
  private async stdoutEnded(): Promise<void> {
    if (this.closed) return;
    await this.exitNoticed();
    if (this.closed) return;
    this.stopReason ??= "the upstream closed its stdout but kept running, so it was stopped; an MCP server over stdio must keep stdout open for its answers";
    void this.close();
  }

  private handleStderr(text: string): void {
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      const piece = text.slice(start, end);
      start = end + 1;
      const line = this.stderrPartial === "" ? piece : this.stderrPartial + piece;
      this.stderrPartial = "";
      this.addStderrLine(line);
    }
    if (start < text.length) {
      this.stderrPartial += text.slice(start);
      if (this.stderrPartial.length >= STDERR_MAX_LINE) this.flushLongStderr();
    }
  }

  /**
   * Logs an unfinished line that passed the limit, in pieces, redacted first; the last `redactSpan` characters
   * stay back for the rest of the line, since a secret may begin there and end in the next read.
   */
  private flushLongStderr(): void {
    const span = Math.max(0, (this.options.redactSpan?.() ?? 0) - 1);
    if (span === 0) return this.flushStderr();
    const clean = this.redacted(this.stderrPartial);
    if (clean.length <= span) {
      this.stderrPartial = clean;
      return;
    }
    this.stderrPartial = clean.slice(clean.length - span);
    this.addCleanStderr(clean.slice(0, clean.length - span));
  }

  private redacted(text: string): string {
    return this.options.redact ? this.options.redact(text) : text;
  }

  private flushStderr(): void {
    if (this.stderrPartial === "") return;
    const line = this.stderrPartial;
    this.stderrPartial = "";
    this.addStderrLine(line);
  }

  private addStderrLine(raw: string): void {
    // Redacted whole, then cut: a secret across a cut would keep a part on each side.
    this.addCleanStderr(this.redacted(raw.endsWith("\r") ? raw.slice(0, -1) : raw));
  }

  private addCleanStderr(clean: string): void {
    // One read may hold far more than a piece (a line with its break, or a partial line past the limit).
    if (clean.length > STDERR_MAX_LINE) {
      for (let at = 0; at < clean.length; at += STDERR_MAX_LINE) this.addCleanStderr(clean.slice(at, at + STDERR_MAX_LINE));
      return;
    }
    const line = clean;
    if (line.trim() === "") return;
    this.options.onStderrLine?.(line);
    this.stderrLog.write(this.options.stderrLevel?.() ?? "info", "upstream stderr", { line });
    if (this.stderrRing.length < STDERR_KEPT_LINES) {
      this.stderrRing.push(line);
    } else {
      this.stderrRing[this.stderrNext] = line;
      this.stderrNext = (this.stderrNext + 1) % STDERR_KEPT_LINES;
    }
  }

  private handleExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = { code, signal };
    const expected = this.closing !== undefined;
    this.closed = true;
    this.resolveExited();
    // Debug even when unexpected: the connector's "connector failed" warning gives the same exit as its reason.
    log.debug("upstream exited", { connector: this.options.name, code: code ?? undefined, signal: signal ?? undefined, expected });
    // Nobody is left to shut the group down gracefully; don't leave its helpers running.
    if (!expected) this.killGroupNow();
    // Messages the child wrote just before exiting may still be in the pipes: read them to
    // end-of-file, but don't wait forever on a pipe some escaped descendant still holds open.
    const timer = setTimeout(() => this.finish(), PIPE_DRAIN_GRACE_MS);
    void this.pipesDone.then(() => {
      clearTimeout(timer);
      this.finish();
    });
  }

  /** Calls onclose exactly once. */
  private finish(): void {
    if (this.oncloseCalled) return;
    this.oncloseCalled = true;
    this.closed = true;
    this.flushStderr();
    this.stderrLog.reportNotLogged();
    this.lines.clear();
    this.resolveFinished();
    this.onclose?.();
  }

  /** There is no child (it failed to spawn): close() has nothing to wait for. */
  private markGone(): void {
    this.closed = true;
    this.resolveExited();
    this.finish();
  }

  /** SIGKILL to the whole group, now; for a gateway that must exit immediately. Once only: see groupSwept. */
  killGroupNow(): void {
    // Swept, the group is empty and its id free: the system may have given it to another process's group since
    // (a gateway asked to exit at once, long after this upstream exited, would kill that one).
    if (this.groupSwept) return;
    this.groupSwept = true;
    this.signalGroup("SIGKILL");
    const pid = this.child?.pid;
    if (pid !== undefined) this.options.processGroups?.ended(pid);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") this.onerror?.(error as Error);
    }
  }

  /** Resolves once the child's exit is seen, or after EXIT_NOTICE_MS if it is not exiting. */
  private async exitNoticed(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, EXIT_NOTICE_MS)))]);
    clearTimeout(timer);
  }

  /** A write to a child that is exiting fails before its exit is seen: wait for that (briefly), so the error can say how it ended. */
  private async failedWrite(): Promise<never> {
    await this.exitNoticed();
    throw this.closedError();
  }

  private closedError(): Error {
    const exit = this.exit;
    const how = exit === undefined ? "is not running" : exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    return new MintgateError("upstream_failed", `Connector "${this.options.name}" is unavailable: the upstream process ${how}`);
  }

  private spawnError(error: unknown): Error {
    const { name, command, cwd } = this.options;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    let reason: string;
    if (code === "ENOENT") {
      // Bun reports a missing working directory as ENOENT too.
      if (cwd !== undefined && !existsSync(cwd)) reason = `working directory "${cwd}" does not exist`;
      else if (command.includes("/")) reason = "no such file";
      else reason = "not found on PATH";
    } else if (code === "EACCES") {
      reason = "permission denied (is it executable?)";
    } else if (code === "ENOEXEC") {
      reason = "it is not a program this machine can run";
    } else {
      reason = error instanceof Error ? error.message : String(error);
    }
    return new MintgateError("upstream_failed", `Connector "${name}" cannot start "${command}": ${reason}`, {
      cause: error,
    });
  }
}

/**
 * Newline-delimited framing for stdout. Complete lines are cut straight from
 * each chunk; only a line split across chunks is copied once, when it ends.
 */
class JsonLines {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer, onLine: (line: string) => void): void {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      let line = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.pending.length > 0) {
        this.pending.push(line);
        line = Buffer.concat(this.pending, this.pendingBytes + line.length);
        this.clear();
      }
      const end = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
      if (end > 0) onLine(line.toString("utf8", 0, end));
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.limit) {
        this.clear();
        throw new Error(`the upstream wrote more than ${this.limit / (1024 * 1024)} MiB without a line break`);
      }
      this.pending.push(chunk.subarray(start));
    }
  }

  clear(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
