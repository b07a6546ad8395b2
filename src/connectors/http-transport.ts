import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { Http1Client, type Exchange } from "./http1-client.ts";
import { connectionFailure, redirectRefused, refusedByUpstream, resetSaid, UPSTREAM_GONE } from "./connection-failure.ts";
import { isLoopbackHost, proxyConfigured } from "./proxy-env.ts";
import { noteFrameText, noteInReplyTo, SessionForgottenError } from "./upstream-session.ts";

const GET_STREAM_RETRY_MS = 2000;
/** How long a reply may stay open after its answer came, before the gateway ends it. */
const ANSWERED_REPLY_GRACE_MS = 1_000;
/** How long the POST of a notification or an answer may take: a server answers it with 202 at once. */
const UNANSWERED_POST_MS = 10_000;
/** After re-opening a dropped event stream with no event id to resume from, when the lists are read again. */
const GAP_REFRESH_DELAY_MS = 500;
/** Connection errors that mean no upstream is listening, as opposed to one exchange going wrong. */
/**
 * How servers other than the SDK's say "unknown session" with a 400 (the spec
 * asks for a 404): server-everything answers "No valid session ID provided"
 * or "Server not initialized" after a restart.
 */
const SESSION_UNKNOWN = /session|not initiali[sz]ed/i;
/** How long to wait before resuming a reply the upstream ended early, unless its `retry` field says otherwise. */
const RESUME_DELAY_MS = 1000;
/** Longest event, or plain JSON answer, accepted from an upstream, as for stdio lines. */
const MAX_EVENT_BYTES = 10 * 1024 * 1024;
const eventTooLong = () => new Error(`an event from the upstream is longer than ${MAX_EVENT_BYTES / 1024 / 1024} MiB`);
const answerTooLong = () => new Error(`its answer is longer than ${MAX_EVENT_BYTES / 1024 / 1024} MiB`);

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
  /** Fails the request `id` with the transport's own sentence (its reply broke off, or could not be resumed): no answer of the upstream's. */
  onRequestFailed?: (id: string | number, error: MintgateError) => void;
  sessionId?: string;
  private protocolVersion: string | undefined;
  /** Ends the GET stream and the session's DELETE; each request has its own controller below. */
  private readonly abort = new AbortController();
  private closed = false;
  /** The HTTP status with which the upstream refused the session it forgot, once it did (the transport then closed). */
  private forgottenStatus: number | undefined;
  /** Read by the connector, which renews the session then. */
  get forgottenWith(): number | undefined {
    return this.forgottenStatus;
  }
  private getStreamOpen = false;
  /** Set once the upstream answered a POST: it speaks plain HTTP where the url says http://, whatever cuts a later one off. */
  private answeredOnce = false;
  /**
   * One abort per exchange in flight, so a timed-out or cancelled call releases
   * its HTTP exchange and close() ends them all (cheaper than combining each
   * request's signal with the transport's). An exchange no longer here was aborted.
   */
  private readonly exchanges = new Map<string | number | symbol, { abort(): void }>();
  /** The POST headers for the current session and version, built once per change. */
  private postHeaders: Record<string, string> | undefined;

  /** Plain-http upstreams not behind a proxy (loopback never is: keepLoopbackOffProxies): POSTs go over the event loop's own sockets (see Http1Client). */
  private readonly http1: Http1Client | undefined;

  /**
   * Called when the upstream's event stream came back after a drop without a
   * way to replay what was sent meanwhile (no event id to resume from): a
   * list_changed sent in the gap is lost, so the catalogue should be read again.
   */
  onStreamResumedWithGap?: () => void;

  constructor(
    private readonly url: URL,
    private readonly extraHeaders: Record<string, string>,
    private readonly name: string,
    /** Replaces the connector's secret values in an answer's text before it is cut short for an error (a cut first could keep part of one). */
    private readonly redact: (text: string) => string = (text) => text,
  ) {
    if (url.protocol === "http:" && (!proxyConfigured() || isLoopbackHost(url.hostname))) this.http1 = new Http1Client(url);
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
    this.postHeaders = undefined;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { ...this.extraHeaders, accept };
    if (this.sessionId) headers["mcp-session-id"] = this.sessionId;
    if (this.protocolVersion) headers["mcp-protocol-version"] = this.protocolVersion;
    return headers;
  }

  send(message: JSONRPCMessage): Promise<void> {
    const { id, method } = message as { id?: string | number; method?: string };
    if (method !== undefined && id !== undefined) return this.post(message, method, id, id);
    // A notification or an answer has no timeout that ends its exchange, as a request's does: one the upstream never
    // answers (a wedged server, each timed-out call's notifications/cancelled) would hold a connection until the session ends.
    const key = Symbol();
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      this.abandonRequest(key);
    }, UNANSWERED_POST_MS);
    return this.post(message, method, undefined, key).then(
      () => clearTimeout(timer),
      (error: unknown) => {
        clearTimeout(timer);
        throw late ? new MintgateError("timeout", `Connector "${this.name}" did not answer the POST of ${method ?? "an answer to its request"} within ${UNANSWERED_POST_MS / 1000} s.`) : error;
      },
    );
  }

  /** POSTs `message`; `requestId` when it is a request, whose answer this reads; `key` names its exchange. */
  private async post(message: JSONRPCMessage, method: string | undefined, requestId: string | number | undefined, key: string | number | symbol): Promise<void> {
    if (this.closed) {
      // Closed because the upstream forgot the session: a request sent meanwhile was refused for the same reason, and never ran either.
      if (this.forgottenStatus !== undefined) throw this.sessionForgotten(this.forgottenStatus);
      throw new MintgateError("upstream_failed", `Connector "${this.name}" is closed.`);
    }
    this.postHeaders ??= { ...this.headers("application/json, text/event-stream"), "content-type": "application/json" };
    const body = JSON.stringify(message);
    let reply: PostReply;
    try {
      // A tool call may act (send, pay, delete): never sent twice. The rest read, or answer the upstream by id.
      const replayable = method !== "tools/call";
      reply = this.http1 ? await http1Post(this.http1, this.postHeaders, body, replayable, (exchange) => this.exchanges.set(key, exchange)) : await this.fetchPost(body, key);
    } catch (error) {
      this.exchanges.delete(key);
      if (this.endedByClose(error)) throw this.cutOffByClose(method);
      // Nobody listens any more (the upstream is down or restarting): the connector shows it and reconnects with backoff.
      // Closed once this error has reached the request: closed first, the session ends every request with "the connection closed", and that is all the connector could say.
      if (UPSTREAM_GONE.has((error as { code?: string }).code ?? "")) setTimeout(() => void this.close(), 0);
      throw connectionFailure(this.name, this.url, error, { beforeFirstAnswer: !this.answeredOnce }) ?? error;
    }
    this.answeredOnce = true;
    const sessionId = reply.header("mcp-session-id");
    if (sessionId && sessionId !== this.sessionId) {
      this.sessionId = sessionId;
      this.postHeaders = undefined;
    }
    if (reply.status === 202) {
      await reply.discard();
      this.exchanges.delete(key);
      // Once the handshake is done, listen for the upstream's own notifications.
      if (method === "notifications/initialized") this.openGetStream();
      return;
    }
    if (reply.status < 200 || reply.status > 299) {
      const body = this.redact(await reply.text().catch(() => ""));
      const text = body.slice(0, 200);
      this.exchanges.delete(key);
      if (this.sessionId && method !== "initialize" && (reply.status === 404 || (reply.status === 400 && SESSION_UNKNOWN.test(text)))) {
        // The upstream forgot our session (it restarted): the request was not run, and the connector reconnects.
        this.closeForgotten(reply.status);
        throw this.sessionForgotten(reply.status);
      }
      // A redirect is not followed (it would carry the credential headers elsewhere): name where it points, the URL to configure instead.
      const location = reply.status >= 300 && reply.status < 400 ? reply.header("location") : null;
      if (location) throw new MintgateError("upstream_failed", redirectRefused(this.name, this.url, reply.status, location));
      throw new MintgateError("upstream_failed", refusedByUpstream(this.name, reply.status, { said: bodySaid(body, reply.header("content-type")) }));
    }
    if ((reply.header("content-type") ?? "").includes("text/event-stream")) {
      // The answer may take a while (progress first); read it without holding up send().
      void this.readReply(requestId, key, (onEvent) => reply.events(onEvent));
      return;
    }
    let text: string;
    try {
      text = await reply.text();
    } catch (error) {
      if (this.endedByClose(error)) throw this.cutOffByClose(method);
      if (requestId === undefined || (error as Error).name === "AbortError") throw error;
      throw new MintgateError("upstream_failed", `Connector "${this.name}" failed answering ${method}: ${(error as Error).message}`);
    } finally {
      this.exchanges.delete(key);
    }
    if (text === "") {
      // An answer would have been in this body: say so now rather than when the call times out.
      if (requestId !== undefined) throw new MintgateError("upstream_failed", `Connector "${this.name}" answered HTTP ${reply.status} with an empty body instead of an answer to ${method}`);
      return;
    }
    let parsed: JSONRPCMessage | JSONRPCMessage[];
    try {
      parsed = JSON.parse(text) as JSONRPCMessage | JSONRPCMessage[];
    } catch {
      // A proxy's or a login page in front of the server: say what came back rather than a JSON parser's complaint.
      const type = reply.header("content-type") ?? "no content type";
      throw new MintgateError("upstream_failed", `Connector "${this.name}" answered with something that is not JSON (${type}): ${JSON.stringify(this.redact(text.slice(0, 4096)).slice(0, 80))}`);
    }
    let answered = false;
    if (!Array.isArray(parsed) && typeof parsed === "object" && parsed !== null) {
      noteFrameText(parsed, text);
      this.onmessage?.(parsed);
      answered = (parsed as { id?: unknown }).id === requestId;
    } else if (Array.isArray(parsed)) {
      for (const item of parsed as unknown[]) {
        if (typeof item !== "object" || item === null) continue;
        this.onmessage?.(item as JSONRPCMessage);
        answered ||= (item as { id?: unknown }).id === requestId;
      }
    }
    // `5`, or JSON that answers some other request: say so now rather than when the call times out.
    if (requestId !== undefined && !answered) {
      throw new MintgateError("upstream_failed", `Connector "${this.name}" answered HTTP ${reply.status} with JSON that holds no answer to ${method}: ${JSON.stringify(this.redact(text.slice(0, 4096)).slice(0, 80))}`);
    }
  }

  /**
   * Reads an SSE reply until it holds the answer to `requestId`. An upstream may end the
   * stream early once it has sent an event id (2025-11-25, SSE polling): the reply is then
   * resumed with a GET carrying Last-Event-ID, after the delay its `retry` field asks for,
   * until the answer comes or the call is given up (its timeout ends the exchange).
   */
  private async readReply(requestId: string | number | undefined, key: string | number | symbol, read: (onEvent: (event: string) => void) => Promise<void>): Promise<void> {
    let answered = false;
    let resumeFrom: string | undefined;
    let retryMs = RESUME_DELAY_MS;
    const onEvent = (event: string) => {
      const resume = resumeFields(event);
      if (resume) {
        resumeFrom = resume.id ?? resumeFrom;
        retryMs = resume.retryMs ?? retryMs;
      }
      const answer = this.dispatchEvent(event, requestId);
      if (answer === undefined || answer !== requestId || answered) return;
      answered = true;
      // The reply ends with its answer: one the upstream keeps open would hold its connection until the session ends.
      lingering = setTimeout(() => this.abandonRequest(key), ANSWERED_REPLY_GRACE_MS);
    };
    let lingering: ReturnType<typeof setTimeout> | undefined;
    let failure = `Connector "${this.name}" ended its reply without an answer`;
    for (;;) {
      try {
        await read(onEvent);
        clearTimeout(lingering);
      } catch (error) {
        clearTimeout(lingering);
        if (!this.closed && (error as Error).name !== "AbortError") {
          this.onerror?.(error as Error);
          failure = `Connector "${this.name}" broke off its reply: ${(error as Error).message}`;
          break;
        }
      }
      // Given up (timeout, cancellation) or closed: nobody waits for this answer any more.
      if (answered || requestId === undefined || this.closed || !this.exchanges.has(key)) break;
      if (resumeFrom === undefined) break;
      await Bun.sleep(retryMs);
      if (this.closed || !this.exchanges.has(key)) return;
      const own = new AbortController();
      this.exchanges.set(key, own);
      const headers = { ...this.headers("text/event-stream"), "last-event-id": resumeFrom };
      const response = await fetch(this.url, { method: "GET", headers, signal: own.signal, redirect: "error" }).catch((error: unknown) => resetSaid(error) as Error);
      // Refused (a credential that expired meanwhile), said with what to check; a 404 here is a session the upstream forgot, not a wrong url.
      if (!(response instanceof Error) && !response.ok && response.status !== 404) {
        failure = refusedByUpstream(this.name, response.status, { when: " when its reply was resumed", said: await refusalSaid(response, this.redact) });
        break;
      }
      if (response instanceof Error || !response.ok || !response.body) {
        if (!(response instanceof Error)) await response.body?.cancel();
        failure = `Connector "${this.name}" ended its reply early and it could not be resumed (${response instanceof Error ? response.message : `HTTP ${response.status}`})`;
        break;
      }
      const body = response.body;
      read = (handler) => readSse(body, handler);
    }
    const givenUp = !this.exchanges.has(key);
    this.exchanges.delete(key);
    if (requestId !== undefined && !answered && !givenUp && !this.closed) {
      // The stream ended without the answer: fail the call now rather than at its timeout, in the transport's words (as an
      // error answer it read 'Connector "X" answered: …', though the upstream answered nothing).
      this.onRequestFailed?.(requestId, new MintgateError("upstream_failed", failure));
    }
  }

  /** A POST through fetch (https upstreams, proxies). No redirects: fetch would carry custom credential headers to wherever they point. */
  private async fetchPost(body: string, key: string | number | symbol): Promise<PostReply> {
    const own = new AbortController();
    this.exchanges.set(key, own);
    const response = await fetch(this.url, { method: "POST", headers: this.postHeaders, body, signal: own.signal, redirect: "error" }).catch((error: unknown) => {
      throw resetSaid(error);
    });
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      text: () => (response.body ? textOf(response.body) : Promise.resolve("")),
      discard: async () => void (await response.body?.cancel()),
      events: (onEvent) => (response.body ? readSse(response.body, onEvent) : Promise.resolve()),
    };
  }

  /** Closes the transport of a session the upstream answered `status` for, as one it does not know: the connector reconnects. */
  private closeForgotten(status: number): void {
    this.forgottenStatus ??= status;
    void this.close();
  }

  /** Whether `error` is the abort close() gave an exchange in flight (another request found the session forgotten, or nobody listening). */
  private endedByClose(error: unknown): boolean {
    return this.closed && (error as { name?: unknown } | null)?.name === "AbortError";
  }

  /** What a request whose exchange close() ended fails with: said as why, not as the abort ("The exchange was aborted."). */
  private cutOffByClose(method: string | undefined): MintgateError {
    const during = method ?? "an answer to its request";
    if (this.forgottenStatus === undefined) return new MintgateError("upstream_failed", `Connector "${this.name}" is unavailable: the connection closed during ${during}.`);
    return new MintgateError("upstream_failed", `Connector "${this.name}" lost its upstream session (HTTP ${this.forgottenStatus}; the upstream probably restarted) during ${during}, so the call did not complete; send it again in a moment.`);
  }

  private sessionForgotten(status: number): SessionForgottenError {
    return new SessionForgottenError(`Connector "${this.name}" lost its upstream session (HTTP ${status}; the upstream probably restarted) and is reconnecting`);
  }

  /** The request `id` was given up (timeout or cancellation): end its HTTP exchange. */
  abandonRequest(id: string | number | symbol): void {
    const exchange = this.exchanges.get(id);
    this.exchanges.delete(id);
    exchange?.abort();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    const exchanges = [...this.exchanges.values()];
    this.exchanges.clear();
    for (const exchange of exchanges) exchange.abort();
    this.http1?.close();
    if (this.sessionId) {
      // Tell the upstream the session is over; a failure here changes nothing. A redirect is not followed, as for every other request.
      await fetch(this.url, { method: "DELETE", headers: this.headers("application/json"), signal: AbortSignal.timeout(2000), redirect: "manual" }).catch(() => {});
    }
    this.onclose?.();
  }

  private openGetStream(): void {
    if (this.getStreamOpen || this.closed) return;
    this.getStreamOpen = true;
    void (async () => {
      let streamed = false;
      // The last event id seen: a reconnect asks the upstream to replay what it sent meanwhile (proxies end idle streams).
      let lastEventId: string | undefined;
      while (!this.closed) {
        // Without an id to resume from, what was announced in the gap is lost: the lists are read again once the
        // new stream has had time to be taken in (its answer's head may only come with its first event).
        const gapRefresh = streamed && lastEventId === undefined ? setTimeout(() => this.onStreamResumedWithGap?.(), GAP_REFRESH_DELAY_MS) : undefined;
        try {
          const headers = lastEventId === undefined ? this.headers("text/event-stream") : { ...this.headers("text/event-stream"), "last-event-id": lastEventId };
          const response = await fetch(this.url, { method: "GET", headers, signal: this.abort.signal, redirect: "error" });
          // A server answers with an event stream or 405 (MCP); a page (200, text/html) at its url is no stream either,
          // read as one it would "end" at once, be asked for again every GET_STREAM_RETRY_MS and have the lists read again each time.
          const eventStream = (response.headers.get("content-type") ?? "").includes("text/event-stream");
          if (response.status === 405 || !response.ok || !response.body || !eventStream) {
            clearTimeout(gapRefresh);
            // Read no further than an event may run: an upstream refusing with an endless body would grow the gateway's memory.
            const text = response.body ? (await textOf(response.body).catch(() => "")).slice(0, 200) : "";
            // A stream we had is refused now: the upstream restarted and forgot the session. Reconnect rather than wait for a call to fail.
            if (streamed && (response.status === 404 || (response.status === 400 && SESSION_UNKNOWN.test(text)))) this.closeForgotten(response.status);
            // A stream we had, refused for a moment (a proxy's 502 while the upstream restarts, a 503, a 429): opened again
            // after the pause below, not given up, or the upstream's list changes would go unheard for the rest of the session.
            else if (streamed && (response.status >= 500 || response.status === 429)) {
              log.debug("upstream event stream refused; opening it again", { connector: this.name, status: response.status });
              await Bun.sleep(GET_STREAM_RETRY_MS);
              continue;
            }
            return; // the upstream offers no stream; list changes then arrive only with replies
          }
          if (streamed) log.debug("upstream event stream back", { connector: this.name, resumedFrom: lastEventId });
          streamed = true;
          await readSse(response.body, (event) => {
            lastEventId = resumeFields(event)?.id ?? lastEventId;
            void this.dispatchEvent(event);
          });
        } catch (error) {
          clearTimeout(gapRefresh);
          if (this.closed) return;
          log.debug("upstream event stream dropped", { connector: this.name, error: (error as Error).message });
          if (streamed && UPSTREAM_GONE.has((error as { code?: string }).code ?? "")) return void this.close();
        }
        await Bun.sleep(GET_STREAM_RETRY_MS);
      }
    })().finally(() => (this.getStreamOpen = false));
  }

  /** Hands one event's message on; returns its id when it is a response. `replyTo`: the request whose reply carried it. */
  private dispatchEvent(event: string, replyTo?: string | number): string | number | undefined {
    const data = eventData(event);
    if (data === "") return undefined; // priming events, comments, keep-alives
    let message: JSONRPCMessage;
    try {
      message = JSON.parse(data) as JSONRPCMessage;
    } catch (error) {
      this.onerror?.(new Error(`Connector "${this.name}" sent an event that is not JSON (${this.redact((error as Error).message)})`));
      return undefined;
    }
    if (typeof message !== "object" || message === null) {
      // `null` or a bare number is JSON but no message: skipped like an event that is not JSON, so an answer after it still arrives.
      this.onerror?.(new Error(`Connector "${this.name}" sent an event holding ${this.redact(data.slice(0, 4096)).slice(0, 40)}, not a JSON-RPC message`));
      return undefined;
    }
    noteFrameText(message, data);
    const m = message as { id?: string | number; method?: string };
    // A request inside a call's reply is that call's (an elicitation for it): the session routes it there.
    if (typeof replyTo === "number" && m.method !== undefined && m.id !== undefined) noteInReplyTo(message, replyTo);
    this.onmessage?.(message);
    return m.method === undefined ? m.id : undefined;
  }
}

/**
 * A proxy's or server's HTML error page, said by its title (its markup says nothing in an error or a
 * log line, and pages run to kilobytes); undefined when `text` is no HTML page.
 */
export function htmlPageSaid(text: string, contentType: string | null): string | undefined {
  const body = text.trimStart();
  if (!/html/i.test(contentType ?? "") && !/^<(!doctype|html|head|body)\b/i.test(body)) return undefined;
  const title = /<title[^>]*>([^<]*)/i.exec(body.slice(0, 4096))?.[1]?.replace(/\s+/g, " ").trim().slice(0, 100);
  return title ? `an HTML page titled "${title}"` : "an HTML page";
}

/**
 * A refused answer's body for refusedByUpstream's `said`: an HTML page by its title, other text quoted and cut short, nothing
 * for an empty body. `body` is already redacted (cut after redacting, so no secret is left half shown).
 */
function bodySaid(body: string, contentType: string | null): string {
  const page = body ? htmlPageSaid(body, contentType) : undefined;
  return page ? ` with ${page}` : body ? ` saying ${JSON.stringify(body.slice(0, 200))}` : "";
}

/** bodySaid of a refused fetch Response (at most MAX_EVENT_BYTES of it is read), with `redact` applied first. */
export async function refusalSaid(response: Response, redact: (text: string) => string = (text) => text): Promise<string> {
  const text = response.body ? redact(await textOf(response.body).catch(() => "")) : "";
  return bodySaid(text, response.headers.get("content-type"));
}

const LF = 10;
const CR = 13;

/** An upstream's answer to a POST, whichever client carried it. */
interface PostReply {
  status: number;
  header(name: string): string | null;
  /** The whole body as text; rejects once it passes MAX_EVENT_BYTES (its bytes are never all held). */
  text(): Promise<string>;
  /** Hands on each SSE event of the body as it arrives; resolves when the body ends. */
  events(onEvent: (event: string) => void): Promise<void>;
  discard(): Promise<void>;
}

/** A body as text, up to MAX_EVENT_BYTES: an upstream answering 200 MB took the gateway to 1.3 GB for one call. */
async function textOf(body: ReadableStream<Uint8Array>): Promise<string> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return Buffer.concat(parts, size).toString();
      size += value.byteLength;
      if (size > MAX_EVENT_BYTES) {
        await reader.cancel().catch(() => {});
        throw answerTooLong();
      }
      parts.push(value);
    }
  } catch (error) {
    throw resetSaid(error);
  }
}

/**
 * A legacy SSE upstream's event stream (read by the SDK's EventSource, which holds an event of any
 * size) with its events held to MAX_EVENT_BYTES, as on every other transport: the stream fails once
 * one runs longer, rather than the gateway holding a 300 MB event several times over.
 */
export function capSseEvents(response: Response): Response {
  if (!response.ok || !response.body) return response;
  let pending = 0;
  // The two bytes before the current chunk: a blank line may straddle two chunks.
  let prev1 = 0;
  let prev2 = 0;
  const capped = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const end = afterLastBlankLine(chunk, prev1, prev2);
        // An event that ended in this chunk may have been too long too (a large chunk can hold a whole one): measured only when it could be.
        const endedTooLong = end !== -1 && pending + end > MAX_EVENT_BYTES && longestEventIn(chunk, pending, prev1, prev2) > MAX_EVENT_BYTES;
        pending = end === -1 ? pending + chunk.length : chunk.length - end;
        if (endedTooLong || pending > MAX_EVENT_BYTES) return controller.error(eventTooLong());
        prev2 = chunk.length > 1 ? chunk[chunk.length - 2]! : prev1;
        prev1 = chunk.length > 0 ? chunk[chunk.length - 1]! : prev1;
        controller.enqueue(chunk);
      },
    }),
  );
  return new Response(capped, { status: response.status, statusText: response.statusText, headers: response.headers });
}

const isLineEnd = (byte: number | undefined) => byte === LF || byte === CR;

/** Whether the line end at `i` in `chunk` ends a blank line (LF, CRLF or CR line ends, as SSE allows); `prev1` and `prev2` are the bytes before the chunk. */
function endsBlankLine(chunk: Uint8Array, i: number, prev1: number, prev2: number): boolean {
  const at = (j: number) => (j >= 0 ? chunk[j] : j === -1 ? prev1 : prev2);
  const before = at(i - 1);
  // Two line ends in a row, except a CRLF alone (one line end) unless a line end comes before it too.
  return isLineEnd(before) && !(before === CR && chunk[i] === LF && !isLineEnd(at(i - 2)));
}

/** Where the last blank line in `chunk` ends, or -1. */
function afterLastBlankLine(chunk: Uint8Array, prev1: number, prev2: number): number {
  for (let i = Math.max(chunk.lastIndexOf(LF), chunk.lastIndexOf(CR)); i !== -1; i = i === 0 ? -1 : Math.max(chunk.lastIndexOf(LF, i - 1), chunk.lastIndexOf(CR, i - 1))) {
    if (endsBlankLine(chunk, i, prev1, prev2)) return i + 1;
  }
  return -1;
}

/** The longest event that ends in `chunk`, counting the `pending` bytes of the first one that came before it. */
function longestEventIn(chunk: Uint8Array, pending: number, prev1: number, prev2: number): number {
  const next = (from: number) => {
    const lf = chunk.indexOf(LF, from);
    const cr = chunk.indexOf(CR, from);
    return lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
  };
  let start = -pending;
  let longest = 0;
  for (let i = next(0); i !== -1; i = next(i + 1)) {
    if (!endsBlankLine(chunk, i, prev1, prev2)) continue;
    longest = Math.max(longest, i + 1 - start);
    start = i + 1;
  }
  return longest;
}

/** Reads an SSE body from a stream, handing on each event as it completes. */
async function readSse(body: ReadableStream<Uint8Array>, onEvent: (event: string) => void): Promise<void> {
  const reader = body.getReader();
  const splitter = new SseEventSplitter();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const event of splitter.push(value)) onEvent(event);
      if (splitter.pending > MAX_EVENT_BYTES) throw eventTooLong();
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw resetSaid(error);
  }
}

/**
 * A POST through the HTTP/1.1 client. Resolves once the head is in; body
 * bytes that arrive before the caller chooses how to read them are held.
 */
function http1Post(client: Http1Client, headers: Record<string, string>, body: string, replayable: boolean, track: (exchange: Exchange) => void): Promise<PostReply> {
  return new Promise<PostReply>((resolveHead, rejectHead) => {
    let held: Uint8Array[] = [];
    let finished: Error | true | undefined;
    let sink: { chunk(bytes: Uint8Array): void; end(): void; fail(error: Error): void } | undefined;
    const consume = (onChunk: (bytes: Uint8Array) => void) =>
      new Promise<void>((resolve, reject) => {
        sink = { chunk: onChunk, end: resolve, fail: reject };
        for (const bytes of held) onChunk(bytes);
        held = [];
        if (finished === true) resolve();
        else if (finished) reject(finished);
      });
    const exchange = client.request("POST", headers, body, {
      head(status, map) {
        resolveHead({
          status,
          header: (name) => map.get(name) ?? null,
          text: async () => {
            const parts: Uint8Array[] = [];
            let size = 0;
            await consume((bytes) => {
              size += bytes.byteLength;
              if (size > MAX_EVENT_BYTES) exchange.abort(answerTooLong());
              else parts.push(bytes);
            });
            return parts.length === 1 ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, parts[0]!.byteLength).toString() : Buffer.concat(parts).toString();
          },
          discard: () => consume(() => {}),
          events: (onEvent) => {
            const splitter = new SseEventSplitter();
            return consume((bytes) => {
              for (const event of splitter.push(bytes)) onEvent(event);
              if (splitter.pending > MAX_EVENT_BYTES) exchange.abort(eventTooLong());
            });
          },
        });
      },
      chunk(bytes) {
        if (sink) sink.chunk(bytes);
        else held.push(bytes);
      },
      end() {
        finished = true;
        sink?.end();
      },
      fail(error) {
        finished = error;
        rejectHead(error);
        sink?.fail(error);
      },
    }, { replayable });
    track(exchange);
  });
}

/**
 * Cuts an SSE byte stream into events (the text before each blank line).
 * The bytes of an unfinished event are held as they came and joined once,
 * when its end arrives, so a large answer in many chunks is copied once.
 */
export class SseEventSplitter {
  private held: Uint8Array[] = [];
  /** Bytes held for the event not yet ended. */
  pending = 0;
  /** The held bytes' last three: a blank line may straddle two chunks. */
  private tail: Uint8Array = new Uint8Array(0);
  private readonly decoder = new TextDecoder();

  /** The events completed by `chunk`, as text. */
  push(chunk: Uint8Array): string[] {
    // Positions from here count from the start of the held tail: `shift` bytes behind the same positions in all the bytes.
    const tail = this.tail;
    // A blank line that starts in the tail ends within the chunk's first three bytes.
    let hit = tail.length > 0 ? blankLine(Buffer.concat([tail, chunk.subarray(0, 3)]), 0) : -1;
    if (hit === -1) {
      const inChunk = blankLine(chunk, 0);
      if (inChunk !== -1) hit = { at: inChunk.at + tail.length, after: inChunk.after + tail.length };
    }
    if (hit === -1) {
      this.held.push(chunk);
      this.pending += chunk.length;
      this.tail = chunk.length >= 3 ? chunk.subarray(chunk.length - 3) : Buffer.concat([tail, chunk]).subarray(-3);
      return [];
    }
    const shift = this.pending - tail.length;
    const bytes = this.held.length > 0 ? Buffer.concat([...this.held, chunk], this.pending + chunk.length) : chunk;
    const events = [this.decoder.decode(bytes.subarray(0, hit.at + shift))];
    let start = hit.after + shift;
    while ((hit = blankLine(bytes, start)) !== -1) {
      events.push(this.decoder.decode(bytes.subarray(start, hit.at)));
      start = hit.after;
    }
    const rest = bytes.subarray(start);
    this.held = rest.length > 0 ? [rest] : [];
    this.pending = rest.length;
    this.tail = rest.subarray(Math.max(0, rest.length - 3));
    return events;
  }
}

/** The first blank line at or after `from`: where the event before it ends and the next begins; -1 if none yet. */
function blankLine(bytes: Uint8Array, from: number): { at: number; after: number } | -1 {
  for (let i = bytes.indexOf(LF, from); i !== -1; i = bytes.indexOf(LF, i + 1)) {
    // "\n\n", "\n\r\n" (the line before ended in LF or CRLF; a lone CR as a line end is not used by MCP servers)
    if (bytes[i + 1] === LF) return { at: i > 0 && bytes[i - 1] === CR ? i - 1 : i, after: i + 2 };
    if (bytes[i + 1] === CR && bytes[i + 2] === LF) return { at: i > 0 && bytes[i - 1] === CR ? i - 1 : i, after: i + 3 };
    if (i + 2 >= bytes.length) break;
  }
  return -1;
}

/** An event's data: its `data:` lines joined by newlines ("" when it has none). */
function eventData(event: string): string {
  // The usual event, `event: message\ndata: {...}`, has one data line: take it without splitting the rest.
  const first = event.startsWith("data:") ? 0 : event.indexOf("\ndata:") + 1;
  if (first === 0 && !event.startsWith("data:")) return "";
  if (event.indexOf("\n", first) === -1) {
    // The data line is the event's last: one scan of it, and no copy.
    const end = event.charCodeAt(event.length - 1) === CR ? event.length - 1 : event.length;
    return event.slice(first + (event.charCodeAt(first + 5) === 32 ? 6 : 5), end);
  }
  let data = "";
  for (const line of event.split(/\r?\n/)) {
    if (line.startsWith("data:")) data += (data === "" ? "" : "\n") + line.slice(line[5] === " " ? 6 : 5);
  }
  return data;
}

/**
 * An event's `id` and `retry` fields, when it has either, from the lines before its first
 * data line (where servers write them; the data is not scanned).
 */
function resumeFields(event: string): { id?: string; retryMs?: number } | undefined {
  const dataAt = event.startsWith("data:") ? 0 : event.indexOf("\ndata:");
  const head = dataAt === -1 ? event : event.slice(0, dataAt);
  if (!head.includes("id:") && !head.includes("retry:")) return undefined;
  const fields: { id?: string; retryMs?: number } = {};
  for (const line of head.split(/\r?\n/)) {
    const value = line.slice(line.indexOf(":") + 1).replace(/^ /, "");
    if (line.startsWith("id:")) fields.id = value;
    else if (line.startsWith("retry:") && /^\d+$/.test(value)) fields.retryMs = Number(value);
  }
  return fields;
}
