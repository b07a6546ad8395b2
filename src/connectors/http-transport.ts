import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { noteFrameText } from "./upstream-session.ts";

const GET_STREAM_RETRY_MS = 2000;
/** Longest event accepted from an upstream, as for stdio lines. */
const MAX_EVENT_CHARS = 10 * 1024 * 1024;

/**
 * The client side of Streamable HTTP for upstream connectors. It replaces the
 * SDK's StreamableHTTPClientTransport on the per-call path: each message is
 * one POST whose JSON or SSE answer is parsed once, with no schema
 * re-validation. The session id and protocol version headers follow the spec;
 * a GET stream carries the upstream's own notifications (list_changed).
 */
export class StreamableHttpUpstreamTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  sessionId?: string;
  private protocolVersion: string | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  private getStreamOpen = false;
  /** One abort per outstanding request, so a timed-out or cancelled call releases its HTTP exchange. */
  private readonly requestAborts = new Map<string | number, AbortController>();

  constructor(
    private readonly url: URL,
    private readonly extraHeaders: Record<string, string>,
    private readonly name: string,
  ) {}

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { ...this.extraHeaders, accept };
    if (this.sessionId) headers["mcp-session-id"] = this.sessionId;
    if (this.protocolVersion) headers["mcp-protocol-version"] = this.protocolVersion;
    return headers;
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) throw new MintgateError("upstream_failed", `Connector "${this.name}" is closed.`);
    const headers = this.headers("application/json, text/event-stream");
    headers["content-type"] = "application/json";
    const { id, method } = message as { id?: string | number; method?: string };
    const requestId = method !== undefined && id !== undefined ? id : undefined;
    let signal = this.abort.signal;
    if (requestId !== undefined) {
      const own = new AbortController();
      this.requestAborts.set(requestId, own);
      signal = AbortSignal.any([this.abort.signal, own.signal]);
    }
    // No redirects: fetch would carry custom credential headers to wherever they point.
    let response: Response;
    try {
      response = await fetch(this.url, { method: "POST", headers, body: JSON.stringify(message), signal, redirect: "error" });
    } catch (error) {
      if (requestId !== undefined) this.requestAborts.delete(requestId);
      throw error;
    }
    const sessionId = response.headers.get("mcp-session-id");
    if (sessionId) this.sessionId = sessionId;
    if (response.status === 202) {
      if (requestId !== undefined) this.requestAborts.delete(requestId);
      await response.body?.cancel();
      // Once the handshake is done, listen for the upstream's own notifications.
      if ((message as { method?: string }).method === "notifications/initialized") this.openGetStream();
      return;
    }
    if (!response.ok) {
      if (requestId !== undefined) this.requestAborts.delete(requestId);
      const text = (await response.text().catch(() => "")).slice(0, 200);
      if (response.status === 404 && this.sessionId) {
        // The upstream forgot our session: the connector reconnects.
        void this.close();
      }
      throw new MintgateError("upstream_failed", `Connector "${this.name}" answered HTTP ${response.status}${text ? `: ${text}` : ""}`);
    }
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream")) {
      // The answer may take a while (progress first); read it without holding up send().
      void this.readEvents(response.body!, requestId).then((answered) => {
        if (requestId === undefined) return;
        this.requestAborts.delete(requestId);
        if (!answered && !signal.aborted && !this.closed) {
          // The stream ended without the answer: fail the call now rather than at its timeout.
          this.onmessage?.({ jsonrpc: "2.0", id: requestId, error: { code: -32000, message: "the upstream ended its reply without an answer" } });
        }
      });
      return;
    }
    if (requestId !== undefined) this.requestAborts.delete(requestId);
    const body = await response.text();
    if (body === "") return;
    const parsed = JSON.parse(body) as JSONRPCMessage | JSONRPCMessage[];
    if (!Array.isArray(parsed)) noteFrameText(parsed, body);
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) this.onmessage?.(item);
  }

  /** The request `id` was given up (timeout or cancellation): end its HTTP exchange. */
  abandonRequest(id: string | number): void {
    this.requestAborts.get(id)?.abort();
    this.requestAborts.delete(id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    if (this.sessionId) {
      // Tell the upstream the session is over; a failure here changes nothing.
      await fetch(this.url, { method: "DELETE", headers: this.headers("application/json"), signal: AbortSignal.timeout(2000) }).catch(() => {});
    }
    this.onclose?.();
  }

  private openGetStream(): void {
    if (this.getStreamOpen || this.closed) return;
    this.getStreamOpen = true;
    void (async () => {
      while (!this.closed) {
        try {
          const response = await fetch(this.url, { method: "GET", headers: this.headers("text/event-stream"), signal: this.abort.signal, redirect: "error" });
          if (response.status === 405 || !response.ok || !response.body) {
            await response.body?.cancel();
            return; // the upstream offers no stream; list changes then arrive only with replies
          }
          await this.readEvents(response.body);
        } catch (error) {
          if (this.closed) return;
          log.debug("upstream event stream dropped", { connector: this.name, error: (error as Error).message });
        }
        await Bun.sleep(GET_STREAM_RETRY_MS);
      }
    })().finally(() => (this.getStreamOpen = false));
  }

  /**
   * Reads an SSE body, handing each event's data (one JSON-RPC message) to
   * onmessage. Resolves to whether the answer to `answering` came through.
   */
  private async readEvents(body: ReadableStream<Uint8Array>, answering?: string | number): Promise<boolean> {
    const decoder = new TextDecoder();
    let buffer = "";
    let answered = false;
    try {
      for await (const chunk of body) {
        // Look for the end of an event only in what is new (plus the 3 characters a "\r\n\r\n" may straddle).
        let searchFrom = Math.max(0, buffer.length - 3);
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = eventEnd(buffer, searchFrom)) !== -1) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end).replace(/^(\r?\n){1,2}/, "");
          searchFrom = 0;
          const id = this.dispatchEvent(event);
          if (id !== undefined && id === answering) answered = true;
        }
        if (buffer.length > MAX_EVENT_CHARS) throw new Error(`an event from the upstream is longer than ${MAX_EVENT_CHARS} characters`);
      }
    } catch (error) {
      if (!this.closed && (error as Error).name !== "AbortError") this.onerror?.(error as Error);
      await body.cancel().catch(() => {});
    }
    return answered;
  }

  /** Hands one event's message on; returns its id when it is a response. */
  private dispatchEvent(event: string): string | number | undefined {
    let data = "";
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith("data:")) data += (data === "" ? "" : "\n") + line.slice(line[5] === " " ? 6 : 5);
    }
    if (data === "") return undefined; // priming events, comments, keep-alives
    let message: JSONRPCMessage;
    try {
      message = JSON.parse(data) as JSONRPCMessage;
    } catch (error) {
      this.onerror?.(new Error(`connector "${this.name}": an event was not JSON (${(error as Error).message})`));
      return undefined;
    }
    noteFrameText(message, data);
    this.onmessage?.(message);
    const m = message as { id?: string | number; method?: string };
    return m.method === undefined ? m.id : undefined;
  }
}

/** Where the first complete SSE event in `buffer` ends (before its blank line), or -1. */
function eventEnd(buffer: string, from = 0): number {
  const lf = buffer.indexOf("\n\n", from);
  const crlf = buffer.indexOf("\r\n\r\n", from);
  if (lf === -1) return crlf;
  if (crlf === -1) return lf;
  return Math.min(lf, crlf);
}
