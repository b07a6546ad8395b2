import type { Socket } from "bun";
import { connectionReset } from "./connection-failure.ts";

/** What an exchange hears back: the head once, then the body in pieces, then its end (or a failure at any point). */
export interface ExchangeHandlers {
  head(status: number, headers: Map<string, string>): void;
  chunk(bytes: Uint8Array): void;
  end(): void;
  fail(error: Error): void;
}

export interface Exchange {
  /** Ends the exchange now (its connection is closed); `fail` is called with `reason`, by default an AbortError. */
  abort(reason?: Error): void;
}

/** Connections kept open per upstream, in use or idle. Past this, requests wait for one to be free. */
const MAX_CONNECTIONS = 256;
/** Longest response head accepted. */
const MAX_HEAD_BYTES = 64 * 1024;

const CRLF_CRLF = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");

function abortError(): Error {
  const error = new Error("The exchange was aborted.");
  error.name = "AbortError";
  return error;
}

/**
 * A lean HTTP/1.1 client for plain-http upstreams (a connector on the same
 * machine or network). Bun's fetch hands every request to its HTTP thread and
 * back; on a small machine those hops cost more than the rest of a small
 * call. This client runs on the event loop's own sockets: keep-alive
 * connections, one exchange at a time on each, Nagle off, no redirects
 * followed. Responses are framed by Content-Length, chunked encoding or the
 * connection's end; the body is handed on as it arrives (SSE answers stream).
 * HTTPS upstreams and those behind a proxy use fetch.
 */
export class Http1Client {
  private readonly idle: Connection[] = [];
  /** Exchanges waiting for a connection, oldest first, each with what wakes it. */
  private readonly waiting: { exchange: PendingExchange; wake: () => void }[] = [];
  private open = 0;
  private closed = false;
  private readonly hostHeader: string;

  constructor(private readonly url: URL) {
    this.hostHeader = url.host;
  }

  /**
   * Sends one request. `headers` are written as given (lower-case names); Host and Content-Length are added.
   * `replayable`: whether running it twice is harmless, so it may be sent again on a new connection when a kept-alive
   * one ends with no answer (see Connection.ended).
   */
  request(method: string, headers: Record<string, string>, body: string | undefined, handlers: ExchangeHandlers, { replayable = true }: { replayable?: boolean } = {}): Exchange {
    let head = `${method} ${this.url.pathname}${this.url.search} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    const bodyBytes = body === undefined ? 0 : Buffer.byteLength(body);
    head += body === undefined ? "\r\n" : `content-length: ${bodyBytes}\r\n\r\n`;
    // Written as text: the socket encodes it on the way out, which costs less than encoding it to a buffer first.
    const exchange = new PendingExchange(body === undefined ? head : head + body, Buffer.byteLength(head) + bodyBytes, handlers, replayable);
    void this.dispatch(exchange);
    return exchange;
  }

  /** Closes every connection; exchanges in flight fail. */
  close(): void {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.close();
    for (const { wake } of this.waiting.splice(0)) wake();
  }

  /** A connection came free (or room for one): the oldest waiting exchange gets it; one aborted while it waited hands the turn on. */
  private wakeNext(): void {
    for (let next = this.waiting.shift(); next !== undefined; next = this.waiting.shift()) {
      next.wake();
      if (!next.exchange.aborted) return;
    }
  }

  private async dispatch(exchange: PendingExchange): Promise<void> {
    let connection: Connection | undefined;
    try {
      while (!connection) {
        if (this.closed) throw new Error("the connector is closed");
        if (exchange.aborted) return;
        connection = this.idle.pop();
        if (connection && !connection.usable) {
          connection = undefined;
          continue;
        }
        if (!connection && this.open < MAX_CONNECTIONS) connection = await this.connect();
        if (!connection) await new Promise<void>((wake) => this.waiting.push({ exchange, wake }));
      }
    } catch (error) {
      exchange.failWith(error as Error);
      return;
    }
    if (exchange.aborted) {
      this.release(connection, "reusable");
      return;
    }
    connection.run(exchange, (outcome) => {
      this.release(connection, outcome);
      // A kept-alive connection the server had just closed: the request never reached it, so it goes once more on a new one.
      if (outcome === "stale") void this.dispatch(exchange.retry());
    });
  }

  private release(connection: Connection, outcome: Outcome): void {
    if (outcome === "reusable" && !this.closed && connection.usable) this.idle.push(connection);
    else connection.close();
    this.wakeNext();
  }

  private async connect(): Promise<Connection> {
    this.open++;
    const connection = new Connection(() => {
      this.open--;
      this.wakeNext();
    });
    try {
      const socket = await Bun.connect<undefined>({
        hostname: this.url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(this.url.port || 80),
        socket: {
          data: (_socket, data) => connection.received(data),
          drain: () => connection.drained(),
          close: () => connection.ended(),
          end: () => connection.ended(),
          error: () => connection.ended(),
        },
      });
      socket.setNoDelay(true);
      connection.attach(socket);
      return connection;
    } catch (error) {
      connection.ended();
      throw error;
    }
  }
}

class PendingExchange implements Exchange {
  aborted = false;
  /** Set by the connection running the exchange: how to end it early. */
  onAbort: (() => void) | undefined;
  private settled = false;

  constructor(
    /** The request as sent: head and body. */
    readonly text: string,
    /** Its length in UTF-8 bytes. */
    readonly byteLength: number,
    private readonly handlers: ExchangeHandlers,
    readonly replayable: boolean,
  ) {}

  abort(reason?: Error): void {
    if (this.aborted || this.settled) return;
    this.aborted = true;
    this.onAbort?.();
    this.failWith(reason ?? abortError());
  }

  /** True once the exchange was sent again after a stale connection (it is sent again at most once). */
  retried = false;

  retry(): PendingExchange {
    this.onAbort = undefined;
    this.retried = true;
    return this;
  }

  head(status: number, headers: Map<string, string>): void {
    if (!this.settled) this.handlers.head(status, headers);
  }

  chunk(bytes: Uint8Array): void {
    if (!this.settled) this.handlers.chunk(bytes);
  }

  end(): void {
    if (this.settled) return;
    this.settled = true;
    this.handlers.end();
  }

  failWith(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.handlers.fail(error);
  }
}

type Outcome = "reusable" | "closed" | "stale";

/** How the body of the current response is delimited. */
type Framing = { kind: "length"; left: number } | { kind: "chunked" } | { kind: "close" } | { kind: "none" };

/** One keep-alive connection and the response parser for the exchange it runs. */
class Connection {
  private socket: Socket<undefined> | undefined;
  private exchange: PendingExchange | undefined;
  private done: ((outcome: Outcome) => void) | undefined;
  /** Bytes received and not yet parsed. */
  private buffer: Buffer = Buffer.alloc(0);
  private unsent: Buffer | undefined;
  private framing: Framing | undefined;
  /** In chunked bodies: bytes left of the current chunk, or the state between chunks. */
  private chunkLeft = 0;
  private chunkState: "size" | "data" | "data-end" | "trailers" = "size";
  private keepAlive = true;
  private receivedAny = false;
  private isEnded = false;
  exchanges = 0;

  constructor(private readonly onEnded: () => void) {}

  get usable(): boolean {
    return !this.isEnded && this.socket !== undefined;
  }

  attach(socket: Socket<undefined>): void {
    this.socket = socket;
  }

  run(exchange: PendingExchange, done: (outcome: Outcome) => void): void {
    this.exchanges++;
    this.exchange = exchange;
    this.done = done;
    this.framing = undefined;
    this.keepAlive = true;
    this.receivedAny = false;
    this.chunkState = "size";
    exchange.onAbort = () => this.finish("closed");
    this.unsent = undefined;
    const written = this.socket!.write(exchange.text);
    // What the socket could not take yet goes out on drain.
    if (written < exchange.byteLength) this.unsent = Buffer.from(exchange.text).subarray(Math.max(0, written));
  }

  close(): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.socket?.terminate();
    this.onEnded();
  }

  drained(): void {
    if (!this.unsent) return;
    const written = this.socket!.write(this.unsent);
    this.unsent = written < this.unsent.length ? this.unsent.subarray(Math.max(0, written)) : undefined;
  }

  received(data: Buffer): void {
    if (!this.exchange) {
      // Bytes nobody asked for: the connection can no longer be trusted.
      this.close();
      return;
    }
    this.receivedAny = true;
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    try {
      this.parse();
    } catch (error) {
      this.fail(error as Error, "closed");
    }
  }

  ended(): void {
    const exchange = this.exchange;
    if (!this.isEnded) {
      this.isEnded = true;
      this.onEnded();
    }
    if (!exchange) return;
    if (this.framing?.kind === "close") {
      this.finish("closed");
      exchange.end();
      return;
    }
    const done = this.done;
    this.exchange = undefined;
    this.done = undefined;
    // Nothing came back on a kept-alive connection: most likely the server had closed it before our request arrived (its
    // keep-alive timeout), but a server that crashed while running the request ends it alike. Only a request that may run
    // twice is sent again: a tool call would be run a second time by a server with other workers or a restarted one.
    if (!this.receivedAny && this.exchanges > 1 && !exchange.retried && exchange.replayable) {
      done?.("stale");
      return;
    }
    // With the code fetch gives the same failure, so connectionFailure can say it for either client. The socket's own
    // words ("ECONNRESET: connection reset by peer, read") say nothing more than the sentence does.
    exchange.failWith(connectionReset());
    done?.("closed");
  }

  private fail(error: Error, outcome: Outcome): void {
    const exchange = this.exchange;
    this.finish(outcome);
    exchange?.failWith(error);
  }

  /** Ends the current exchange on this connection and hands the connection back (or closes it). */
  private finish(outcome: Outcome): void {
    const done = this.done;
    this.exchange = undefined;
    this.done = undefined;
    this.buffer = Buffer.alloc(0);
    if (outcome !== "reusable") this.close();
    done?.(outcome);
  }

  private parse(): void {
    while (this.exchange) {
      if (!this.framing) {
        const end = this.buffer.indexOf(CRLF_CRLF);
        if (end === -1) {
          if (this.buffer.length > MAX_HEAD_BYTES) throw new Error(`the upstream's response head is longer than ${MAX_HEAD_BYTES} bytes`);
          return;
        }
        const head = this.buffer.toString("latin1", 0, end);
        this.buffer = this.buffer.subarray(end + 4);
        if (!this.readHead(head)) continue; // an interim 1xx response
      }
      if (!this.readBody()) return;
      const exchange = this.exchange;
      this.finish(this.keepAlive ? "reusable" : "closed");
      exchange.end();
      return;
    }
  }

  /** Parses a response head; false for an interim (1xx) response, which is skipped. */
  private readHead(head: string): boolean {
    const lines = head.split("\r\n");
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]!);
    if (!status) throw new Error(`the upstream did not answer in HTTP/1.1 (${JSON.stringify(lines[0]!.slice(0, 40))})`);
    const code = Number(status[2]);
    if (code >= 100 && code < 200) return false;
    const headers = new Map<string, string>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const earlier = headers.get(name);
      headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
    }
    const connection = headers.get("connection")?.toLowerCase() ?? "";
    this.keepAlive = status[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    const transferEncoding = headers.get("transfer-encoding")?.toLowerCase();
    const length = headers.get("content-length");
    if (code === 204 || code === 304) this.framing = { kind: "none" };
    else if (transferEncoding?.includes("chunked")) this.framing = { kind: "chunked" };
    else if (length !== undefined && /^\d+$/.test(length)) this.framing = { kind: "length", left: Number(length) };
    else {
      this.framing = { kind: "close" };
      this.keepAlive = false;
    }
    this.exchange!.head(code, headers);
    return true;
  }

  /** Hands on what the buffer holds of the body; true once the body is complete. */
  private readBody(): boolean {
    const framing = this.framing!;
    if (framing.kind === "none") return true;
    if (framing.kind === "close") {
      this.take(this.buffer.length);
      return false;
    }
    if (framing.kind === "length") {
      const n = Math.min(framing.left, this.buffer.length);
      if (n > 0) this.take(n);
      framing.left -= n;
      return framing.left === 0;
    }
    for (;;) {
      if (this.chunkState === "data") {
        const n = Math.min(this.chunkLeft, this.buffer.length);
        if (n > 0) this.take(n);
        this.chunkLeft -= n;
        if (this.chunkLeft > 0) return false;
        this.chunkState = "data-end";
      }
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd === -1) return false;
      const line = this.buffer.toString("latin1", 0, lineEnd);
      this.buffer = this.buffer.subarray(lineEnd + 2);
      if (this.chunkState === "data-end") {
        if (line !== "") throw new Error("the upstream's chunked body is malformed");
        this.chunkState = "size";
      } else if (this.chunkState === "size") {
        const size = Number.parseInt(line, 16);
        if (!Number.isFinite(size) || size < 0) throw new Error("the upstream's chunked body is malformed");
        this.chunkLeft = size;
        this.chunkState = size === 0 ? "trailers" : "data";
      } else if (line === "") {
        return true; // the blank line after the trailers
      }
    }
  }

  private take(n: number): void {
    const piece = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    this.exchange!.chunk(piece);
  }
}
