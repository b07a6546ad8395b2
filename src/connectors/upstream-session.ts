import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { NESTING_LIMIT, nestsTooDeeply } from "./nesting.ts";
import { VERSION } from "../version.ts";

/**
 * Answers to an upstream's own requests (ping, roots/list, …) given to the transport at once, and how long the ids and
 * methods of those waiting behind them may run in all: the bound on what an upstream that does not take them makes the gateway hold.
 */
const ANSWERS_IN_FLIGHT = 100;
const QUEUED_ANSWERS_CHARS = 1024 * 1024;

/** The protocol revision mintgate asks upstreams for; they may answer with an older one. */
export const UPSTREAM_PROTOCOL_VERSION = "2025-11-25";
/** How MCP names its revisions: the date each was published. */
const REVISION = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The exact JSON text of results as the upstream sent them, so an unchanged
 * result can be passed to the client without serialising it again (large
 * payloads). Transports report each frame's text with `noteFrameText`.
 */
const frameText = new WeakMap<object, string>();
export const resultText = new WeakMap<object, string>();

export function noteFrameText(message: object, text: string): void {
  frameText.set(message, text);
}

/**
 * The request whose reply (a Streamable HTTP POST's event stream) carried a message: a request the upstream
 * sends there belongs to that call. Transports that cannot say (stdio, legacy SSE, the standalone stream) note nothing.
 */
const inReplyTo = new WeakMap<object, number>();

export function noteInReplyTo(message: object, requestId: number): void {
  inReplyTo.set(message, requestId);
}

/** The upstream's requests that go to the person whose call caused them, through their client. */
const RELAYED = new Set(["elicitation/create", "sampling/createMessage"]);
/** How long a relayed request may wait for its person (a form takes minutes); the call's own timeout is paused meanwhile. */
export const CLIENT_ANSWER_TIMEOUT_MS = 10 * 60_000;
/** The error an upstream answers a call with when the person must first open URLs: its data lists them as URL-mode elicitations. */
const URL_ELICITATION_REQUIRED = -32042;

/** Why a relayed request ended when its upstream cancelled it: it gets no answer (MCP sends none to a cancelled request). */
class RequestWithdrawn extends Error {}

/**
 * The result's own text inside a response frame, when the frame has exactly
 * the keys result, jsonrpc and id in one of the orders SDKs write them;
 * otherwise undefined (the caller serialises as usual).
 */
function resultSlice(frame: string, message: Record<string, unknown>, id: number): string | undefined {
  if (Object.keys(message).length !== 3) return undefined;
  const tail = `,"jsonrpc":"2.0","id":${id}}`;
  if (frame.startsWith('{"result":') && frame.endsWith(tail)) return frame.slice(10, frame.length - tail.length);
  const head = `{"jsonrpc":"2.0","id":${id},"result":`;
  if (frame.startsWith(head) && frame.endsWith("}")) return frame.slice(head.length, -1);
  return undefined;
}

/** `promise`, or the error `late` makes once `timeoutMs` passed before it settled. */
async function within<T>(timeoutMs: number, promise: Promise<T>, late: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(late()), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A JSON-RPC error an upstream answered with; code and message pass through to the client. */
export class UpstreamRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "UpstreamRpcError";
  }
}

/** What a request its caller cancelled fails with. */
export const requestCancelled = () => new MintgateError("timeout", "The request was cancelled.");

/**
 * The upstream refused a request because it no longer knows the session it was sent in (it restarted,
 * or expired the session): the request was not run, and the transport has closed so the connector reconnects.
 */
export class SessionForgottenError extends MintgateError {
  constructor(message: string) {
    super("upstream_failed", message);
  }
}

/** A request the upstream refused with a SessionForgottenError, for sending it again. */
export interface RefusedRequest {
  session: UpstreamSession;
  error: SessionForgottenError;
  method: string;
  params: Record<string, unknown> | undefined;
  options: RequestOptions;
}

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Called for each progress notification; the timeout restarts on each one. */
  onProgress?: ((params: { progress: number; total?: number; message?: string }) => void) | undefined;
  /**
   * What answers a request refused for a forgotten session instead of the refusal (it never ran, so
   * sending it again in a new session is safe); without it, the refusal fails the request.
   */
  resendRefused?: ((refused: RefusedRequest) => Promise<Record<string, unknown>>) | undefined;
  /** Who takes the upstream's elicitation and sampling requests made during this call; without it they are refused. */
  clientRequests?: ClientRequestHandler | undefined;
}

/** The client side of a call, for the upstream's requests that need a person or a model (elicitation, sampling). */
export interface ClientRequestHandler {
  /** The client session the call came from: a request no transport ties to a call is passed on only when all clients' calls in flight come from one. */
  readonly clientSession: UrlElicitationClient;
  /** Why this call's client cannot take `method` (one sentence), or undefined when it can. */
  refusal(method: string, params: Record<string, unknown> | undefined): string | undefined;
  /** Asks the client; rejects with an error carrying its JSON-RPC `code` when the client answered one. `signal` ends the wait. */
  ask(method: string, params: Record<string, unknown> | undefined, signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** A client session that may be given URL-mode elicitations: it alone hears when each completes. */
export interface UrlElicitationClient {
  /** Keeps `held` until its completion comes; false when the client takes no completions (it did not declare URL mode, or has no session to be told in). */
  holdElicitation(held: HeldElicitation): boolean;
  /** The upstream said `held` is complete: the client is told, with `params` as it may see them. */
  elicitationCompleted(held: HeldElicitation, params: Record<string, unknown>): void;
}

/** A URL-mode elicitation an upstream gave one client session (relayed, or listed in a -32042 error), until its completion comes. */
export class HeldElicitation {
  constructor(
    readonly elicitationId: string,
    readonly client: UrlElicitationClient,
    private readonly heldByUpstream: Map<string, HeldElicitation>,
  ) {}

  /** Drops it on the upstream's side: its completion, if it comes, goes nowhere. */
  forget(): void {
    if (this.heldByUpstream.get(this.elicitationId) === this) this.heldByUpstream.delete(this.elicitationId);
  }
}

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  options: RequestOptions;
  method: string;
  /** Requests of the upstream passed to this call's client and not answered yet: the call's timeout waits for them, and they end with it. */
  relayed?: Set<AbortController> | undefined;
}

export interface UpstreamServerInfo {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string };
  instructions?: string | undefined;
}

/**
 * One MCP client session to an upstream over any SDK `Transport`. It is a lean
 * JSON-RPC correlator rather than the SDK's `Client`: results are passed on as
 * they came, without schema re-validation, because this is the per-call path.
 */
export class UpstreamSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  info: UpstreamServerInfo | undefined;
  /** Notifications other than progress (list_changed, logging, …). */
  onNotification: ((method: string, params: Record<string, unknown> | undefined) => void) | undefined;
  /** Called once when the transport closes or fails. */
  onClose: ((reason: string) => void) | undefined;

  constructor(
    private readonly connectorName: string,
    private readonly transport: Transport,
    /**
     * For transports that recover silently (legacy SSE reconnects its event stream to a new,
     * uninitialized upstream session): which of their errors end this session, said as the reason
     * it ends. Other errors (a POST the upstream refused) fail only the message they were about.
     * `cutOffByClose`: what a request in flight when the transport closed by itself fails with (a stdio child
     * that died: the connector starts another, so it can be sent again); undefined for the usual "is unavailable".
     */
    options: {
      endsSession?: (error: Error) => string | undefined;
      cutOffByClose?: (method: string) => Error | undefined;
      /** The params of an elicitation or sampling request as its client may see them (the connector's secret values replaced). */
      redactAsked?: (params: Record<string, unknown> | undefined) => Record<string, unknown> | undefined;
    } = {},
  ) {
    this.cutOffByClose = options.cutOffByClose;
    this.redactAsked = options.redactAsked;
    transport.onmessage = (message) => this.receive(message);
    transport.onclose = () => this.shutDown("the connection closed");
    // The HTTP transport fails a request whose reply broke off with its own sentence, which names the connector.
    (transport as { onRequestFailed?: (id: string | number, error: Error) => void }).onRequestFailed = (id, error) => {
      if (typeof id === "number") this.settle(id)?.reject(error);
    };
    transport.onerror = (error) => {
      const ending = options.endsSession?.(error);
      this.lastTransportError = ending ?? error.message;
      if (ending !== undefined && this.info === undefined) this.handshakeEnding = ending;
      if (this.info !== undefined && ending !== undefined) this.shutDown(ending);
    };
  }

  lastTransportError: string | undefined;
  /** An error that ended the session during the handshake, already a sentence: the connector's failure is said as it alone. */
  private handshakeEnding: string | undefined;
  private readonly cutOffByClose: ((method: string) => Error | undefined) | undefined;
  private readonly redactAsked: ((params: Record<string, unknown> | undefined) => Record<string, unknown> | undefined) | undefined;

  /** Starts the transport and performs the initialize handshake. */
  async connect(timeoutMs: number): Promise<UpstreamServerInfo> {
    // Starting the transport (a legacy SSE one waits for its endpoint event) has no answer to time out, nor has the
    // notification below: an upstream that never gives either would leave the connector starting for ever.
    const timeout = () => new MintgateError("timeout", `Connector "${this.connectorName}" did not open its connection within ${timeoutMs / 1000} s; check the upstream's log and the connector's url.`);
    await within(timeoutMs, this.transport.start(), timeout);
    const result = (await this.request(
      "initialize",
      {
        protocolVersion: UPSTREAM_PROTOCOL_VERSION,
        capabilities: { roots: { listChanged: false }, elicitation: { form: {}, url: {} }, sampling: {} },
        clientInfo: { name: "mintgate", version: VERSION },
      },
      { timeoutMs },
    )) as unknown as UpstreamServerInfo;
    // The answer names the revision both sides speak from now on (the HTTP transports send it as a header): one
    // that is not a revision at all, or newer than the one asked for, is not an agreement the gateway can keep.
    const version: unknown = result.protocolVersion;
    if (typeof version !== "string" || !REVISION.test(version) || version > UPSTREAM_PROTOCOL_VERSION) {
      const said = typeof version === "string" ? JSON.stringify(version.slice(0, 40)) : String(JSON.stringify(version) ?? "nothing").slice(0, 40);
      throw new MintgateError("upstream_failed", `Connector "${this.connectorName}" answered initialize with protocol version ${said}, which is no MCP revision up to ${UPSTREAM_PROTOCOL_VERSION}; update the upstream server.`);
    }
    this.info = result;
    // HTTP transports send the negotiated version as a header from now on.
    (this.transport as { setProtocolVersion?: (v: string) => void }).setProtocolVersion?.(result.protocolVersion);
    await within(timeoutMs, this.transport.send({ jsonrpc: "2.0", method: "notifications/initialized" }), () => this.tookTooLong("notifications/initialized", timeoutMs));
    return result;
  }

  private tookTooLong(method: string, timeoutMs: number): MintgateError {
    return new MintgateError("timeout", `Connector "${this.connectorName}" did not answer ${method} within ${timeoutMs / 1000} s.`);
  }

  request(method: string, params: Record<string, unknown> | undefined, options: RequestOptions): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(this.unavailable("it is not connected"));
    if (options.signal?.aborted) return Promise.reject(requestCancelled());
    const id = this.nextId++;
    let sentParams = params;
    if (options.onProgress) {
      const meta = (params?._meta as Record<string, unknown> | undefined) ?? {};
      sentParams = { ...params, _meta: { ...meta, progressToken: id } };
    }
    return new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject, timer: undefined, options, method };
      this.pending.set(id, entry);
      this.armTimeout(id, entry);
      if (options.signal) {
        options.signal.addEventListener(
          "abort",
          () => {
            if (!this.pending.has(id)) return;
            this.settle(id);
            this.abandon(id);
            this.noteGivenUp(id, entry);
            void this.transport
              .send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: String(options.signal?.reason ?? "cancelled by the client") } })
              .catch(() => {});
            reject(requestCancelled());
          },
          { once: true },
        );
      }
      const message = sentParams === undefined ? { jsonrpc: "2.0" as const, id, method } : { jsonrpc: "2.0" as const, id, method, params: sentParams };
      this.transport.send(message).catch((error: Error) => {
        if (!this.pending.has(id)) return;
        this.settle(id);
        if (error instanceof SessionForgottenError && options.resendRefused) return resolve(options.resendRefused({ session: this, error, method, params, options }));
        // The HTTP transport's own errors already name the connector and say what came back.
        reject(error instanceof MintgateError ? error : this.unavailable(error.message));
      });
    });
  }

  notify(method: string, params?: Record<string, unknown>): Promise<void> {
    return this.transport.send(params === undefined ? { jsonrpc: "2.0", method } : { jsonrpc: "2.0", method, params });
  }

  /** Closes the session; requests in flight fail with `cutOff`'s error (why the connector closed it) or as "it was stopped". */
  async close(cutOff?: (method: string) => Error): Promise<void> {
    if (this.closed) return;
    this.shutDown("it was stopped", cutOff ?? (() => undefined));
    await this.transport.close().catch(() => {});
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private armTimeout(id: number, entry: Pending): void {
    if (entry.timer) clearTimeout(entry.timer);
    // A person is answering a request of the upstream's for this call: the relay bounds that wait, and re-arms this after.
    if (entry.relayed !== undefined && entry.relayed.size > 0) return;
    entry.timer = setTimeout(() => {
      if (!this.pending.has(id)) return;
      this.settle(id);
      this.abandon(id);
      this.noteGivenUp(id, entry);
      void this.transport
        .send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: "timed out in mintgate" } })
        .catch(() => {});
      entry.reject(this.tookTooLong(entry.method, entry.options.timeoutMs));
    }, entry.options.timeoutMs);
  }

  /**
   * Calls of clients the gateway gave up on (cancelled, timed out), by id, with the client session they came from and
   * when they stop counting: their upstream tool may run on and ask its question after, and a request no transport ties
   * to a call may then be theirs (see relay). Held as long as the call itself was allowed to run, or until the upstream answers it.
   */
  private readonly givenUp = new Map<number, { clientSession: object; until: number }>();

  private noteGivenUp(id: number, entry: Pending): void {
    const clientSession = entry.options.clientRequests?.clientSession;
    if (clientSession === undefined) return;
    this.forgetLapsedGivenUp();
    this.givenUp.set(id, { clientSession, until: Date.now() + entry.options.timeoutMs });
  }

  /** Drops the calls given up on whose time is over, oldest first (each holds its client's session object until then). */
  private forgetLapsedGivenUp(): void {
    const now = Date.now();
    for (const [oldest, { until }] of this.givenUp) {
      if (until > now) break;
      this.givenUp.delete(oldest);
    }
  }

  /** Lets a transport that holds an exchange per request (HTTP) end it. */
  private abandon(id: number): void {
    (this.transport as { abandonRequest?: (id: number) => void }).abandonRequest?.(id);
  }

  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    // Its client's answer would go to an upstream no longer waiting for this call.
    if (entry.relayed !== undefined) for (const relay of entry.relayed) relay.abort(new Error(`The call this request was made during (${entry.method}) ended before its client answered.`));
    return entry;
  }

  /** Set once an answer to a request never sent was skipped (said once in the log). */
  private saidStray = false;

  /**
   * An answer to no request in flight. A late one, to a request given up (timed out, cancelled), is expected and
   * dropped quietly; one under an id never sent (or none: an error about a message it could not read) means the
   * upstream mixes up its answers, and the request it meant waits for its timeout: said once, so the log tells why.
   */
  private skipStrayAnswer(id: unknown, error: { code?: unknown } | undefined): void {
    if ((typeof id === "number" && id > 0 && id < this.nextId) || this.saidStray) return;
    this.saidStray = true;
    log.warn("upstream answers skipped: they answer no request the gateway sent; check the upstream server", {
      connector: this.connectorName,
      // Only a number: the upstream's own text may quote what it was given, credentials included.
      id: typeof id === "number" ? id : id === null || id === undefined ? "none" : `a ${typeof id}`,
      error: typeof error?.code === "number" ? error.code : undefined,
    });
  }

  /** Set once a message nested too deeply was skipped (said once in the log). */
  private saidTooDeep = false;
  /** Set once a message whose method is no string was skipped (said once in the log). */
  private saidMethodless = false;

  private receive(message: JSONRPCMessage): void {
    const m = message as { id?: number | string; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } };
    if (m.method !== undefined && typeof m.method !== "string") {
      // A method that is a number or null names nothing to answer or act on: skipped, as a frame that is no JSON-RPC message is.
      if (!this.saidMethodless) log.warn("upstream messages skipped: their method is not a string", { connector: this.connectorName, method: m.method === null ? "null" : `a ${typeof m.method}` });
      this.saidMethodless = true;
      return;
    }
    if (m.method === undefined) {
      const id = m.id;
      const entry = typeof id === "number" ? this.settle(id) : undefined;
      if (typeof id !== "number" || !entry) {
        // A call given up on that the upstream answered after all: it asks nothing more.
        if (typeof id === "number") this.givenUp.delete(id);
        return this.skipStrayAnswer(id, m.error);
      }
      // An answer written again as JSON (one not passed on as its text; a catalogue, stored and listed) must be one that can be, quickly.
      const frame = frameText.get(message);
      const text = m.error || frame === undefined || m.result == null ? undefined : resultSlice(frame, m, id);
      const rewritten = text === undefined || entry.method === "initialize" || entry.method.endsWith("/list");
      if (rewritten && frame !== undefined && nestsTooDeeply(frame)) return entry.reject(this.garbled(entry.method, `an answer nested more than ${NESTING_LIMIT} levels deep`));
      if (m.error) {
        const { code, message: text, data } = m.error;
        if (code === URL_ELICITATION_REQUIRED) this.holdElicitations(entry.options.clientRequests?.clientSession, data);
        // An error that is no JSON-RPC error object (a string, no code) would reach the client as a reply without a code.
        entry.reject(
          typeof m.error === "object" && Number.isInteger(code)
            ? new UpstreamRpcError(code, `Connector "${this.connectorName}" answered: ${typeof text === "string" ? text : "an error without a message"}`, data)
            : this.garbled(entry.method, "an error that is not a JSON-RPC error object"),
        );
      } else {
        const result = m.result ?? {};
        // A result that is no object (a string, a number, a list) is no MCP result: the call fails with a sentence, not hangs.
        if (typeof result !== "object" || Array.isArray(result)) return entry.reject(this.garbled(entry.method, "a result that is not an object"));
        // A null result is answered as the empty one it stands for (text is undefined then), not passed on as null.
        if (text !== undefined) resultText.set(result, text);
        entry.resolve(result);
      }
      return;
    }
    const frame = frameText.get(message);
    if (frame !== undefined && nestsTooDeeply(frame)) {
      // Passed on, it would be written again as JSON: skipped, and said once per upstream session.
      if (!this.saidTooDeep) log.warn("upstream messages skipped: nested too deeply", { connector: this.connectorName, method: m.method, limit: NESTING_LIMIT });
      this.saidTooDeep = true;
      return;
    }
    if (m.id !== undefined) {
      if (RELAYED.has(m.method)) return this.relay(m.id, m.method, m.params, inReplyTo.get(message));
      this.answerServerRequest(m.id, m.method);
      return;
    }
    if (m.method === "notifications/progress") {
      const token = m.params?.progressToken;
      const entry = typeof token === "number" ? this.pending.get(token) : undefined;
      // Only a request sent with a progress token (its id) has one: progress under another pending request's id, never given out, must not keep it past its timeout.
      if (entry?.options.onProgress) {
        this.armTimeout(token as number, entry);
        entry.options.onProgress(m.params as { progress: number; total?: number; message?: string });
      }
      return;
    }
    if (m.method === "notifications/elicitation/complete") return this.elicitationCompleted(m.params?.elicitationId);
    if (m.method === "notifications/cancelled") {
      // A request of its own it passed to a client and gave up on (its timeout): the client is told, and the call's timeout runs again.
      const relay = this.relays.get(m.params?.requestId as number | string);
      if (relay !== undefined) return relay.abort(new RequestWithdrawn(`Connector "${this.connectorName}" withdrew its request before the client answered.`));
    }
    this.onNotification?.(m.method, m.params);
  }

  /** URL-mode elicitations given to client sessions, by the upstream's elicitationId: its completion goes to that session alone. */
  private readonly heldElicitations = new Map<string, HeldElicitation>();

  /** Gives `elicitationId` to `client`, whose session then hears when it completes (a newer holder of the same id takes it over). */
  private holdElicitation(client: UrlElicitationClient, elicitationId: unknown): void {
    if (typeof elicitationId !== "string") return;
    const held = new HeldElicitation(elicitationId, client, this.heldElicitations);
    if (client.holdElicitation(held)) this.heldElicitations.set(elicitationId, held);
  }

  /** The URL elicitations a -32042 error's data lists, given to the client of the call it answered. */
  private holdElicitations(client: UrlElicitationClient | undefined, data: unknown): void {
    const listed = (data as { elicitations?: unknown } | undefined)?.elicitations;
    if (client === undefined || !Array.isArray(listed)) return;
    for (const elicitation of listed) this.holdElicitation(client, (elicitation as { elicitationId?: unknown } | null)?.elicitationId);
  }

  /** Tells the one client session given `elicitationId` it is complete, once; an id given to none (or already told) is dropped. */
  private elicitationCompleted(elicitationId: unknown): void {
    const held = typeof elicitationId === "string" ? this.heldElicitations.get(elicitationId) : undefined;
    if (held === undefined) return;
    this.heldElicitations.delete(held.elicitationId);
    const params = { elicitationId: held.elicitationId };
    held.client.elicitationCompleted(held, this.redactAsked ? (this.redactAsked(params) ?? params) : params);
  }

  /** Answers to the upstream's requests given to the transport and not yet taken (a full stdin pipe, a POST under way). */
  private answersUnsent = 0;
  /** Requests waiting for those to be taken, oldest first from `answerQueueHead`, and their ids' and methods' length. */
  private answerQueue: { id: number | string; method: string }[] = [];
  private answerQueueHead = 0;
  private answerQueueChars = 0;
  /** Set once requests were left unanswered for answers piling up (said once in the log). */
  private saidUnanswered = false;

  /**
   * An upstream sending requests faster than it takes their answers (a ping flood while it does not read its
   * stdin) would have the answers held for it without bound: a few are in flight at a time, the others wait
   * in a queue of bounded size, and past it the upstream's requests go unanswered, as by a busy peer.
   */
  private answerServerRequest(id: number | string, method: string): void {
    if (this.answersUnsent < ANSWERS_IN_FLIGHT) return this.sendAnswer(id, method);
    const chars = (typeof id === "string" ? id.length : 16) + method.length;
    if (this.answerQueueChars + chars > QUEUED_ANSWERS_CHARS) {
      if (!this.saidUnanswered) log.warn("upstream requests left unanswered: it is not taking the answers", { connector: this.connectorName, method: method.slice(0, 100), waiting: this.answerQueue.length - this.answerQueueHead });
      this.saidUnanswered = true;
      return;
    }
    this.answerQueue.push({ id, method });
    this.answerQueueChars += chars;
  }

  /** Requests passed to clients and not answered yet: bounded as the answers are, so an upstream cannot flood people with forms. */
  private relaysInFlight = 0;
  /** What ends the wait for each of them, by the upstream's id: its notifications/cancelled names it so. */
  private readonly relays = new Map<number | string, AbortController>();

  /**
   * Passes an elicitation or sampling request to the client of the call it belongs to: the call whose reply carried it
   * (`callId`), or else the one client session all clients' calls in flight come from. Never to a guess: one person's
   * form must not reach another's client, so a call whose client could not take it still makes the case ambiguous (its
   * upstream tool may be the one asking), as does one the gateway gave up on lately (see givenUp). The call's timeout
   * waits while a person answers; CLIENT_ANSWER_TIMEOUT_MS bounds that.
   */
  private relay(id: number | string, method: string, params: Record<string, unknown> | undefined, callId: number | undefined): void {
    const refuse = (message: string) => this.sendReply({ jsonrpc: "2.0", id, error: { code: -32601, message } });
    if (this.relaysInFlight >= ANSWERS_IN_FLIGHT) return refuse(`mintgate already holds ${ANSWERS_IN_FLIGHT} of this server's ${method} requests for people to answer; send it again once some are answered.`);
    const calls: Pending[] = [];
    let refusal: string | undefined;
    let clientSession: object | undefined;
    let sessions = 0;
    for (const [pendingId, entry] of this.pending) {
      if (callId !== undefined && pendingId !== callId) continue;
      const handler = entry.options.clientRequests;
      if (handler === undefined) continue;
      if (clientSession !== handler.clientSession) {
        clientSession = handler.clientSession;
        sessions++;
      }
      const why = handler.refusal(method, params);
      if (why === undefined) calls.push(entry);
      else refusal ??= why;
    }
    if (callId === undefined) {
      this.forgetLapsedGivenUp();
      const now = Date.now();
      for (const given of this.givenUp.values()) {
        // One behind a longer-lived entry (its connector's timeout was shortened) may be over already.
        if (given.until <= now || given.clientSession === clientSession) continue;
        clientSession = given.clientSession;
        sessions++;
      }
    }
    if (sessions > 1) return refuse(`mintgate cannot tell which of several callers this ${method} is for, because this server's transport does not say which call it belongs to; ask again during a call made alone.`);
    const call = calls[0];
    if (call === undefined) return refuse(refusal ?? `mintgate has no call in flight on this server whose client could take ${method}; send it only while a call that needs it runs.`);
    const relay = new AbortController();
    // A timeout error, so the record says the person did not answer in time rather than that the call was cancelled.
    const bound = setTimeout(() => relay.abort(new MintgateError("timeout", `The client did not answer ${method} within ${CLIENT_ANSWER_TIMEOUT_MS / 60_000} minutes, so mintgate gave up waiting; ask again.`)), CLIENT_ANSWER_TIMEOUT_MS);
    this.relays.set(id, relay);
    for (const entry of calls) {
      (entry.relayed ??= new Set()).add(relay);
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    this.relaysInFlight++;
    const handler = call.options.clientRequests!;
    // Its completion notification, when the upstream sends one, goes to this client's session.
    if (method === "elicitation/create" && params?.mode === "url") this.holdElicitation(handler.clientSession, params.elicitationId);
    handler.ask(method, this.redactAsked ? this.redactAsked(params) : params, relay.signal).then(
      (result) => this.sendReply({ jsonrpc: "2.0", id, result } as JSONRPCMessage),
      (error: unknown) => {
        if (relay.signal.reason instanceof RequestWithdrawn) return;
        const { code, message } = error as { code?: unknown; message?: unknown };
        const said = relay.signal.aborted && relay.signal.reason instanceof Error ? relay.signal.reason.message : typeof message === "string" ? message : "The client could not answer.";
        this.sendReply({ jsonrpc: "2.0", id, error: { code: Number.isInteger(code) ? (code as number) : -32603, message: said } });
      },
    ).finally(() => {
      clearTimeout(bound);
      this.relaysInFlight--;
      if (this.relays.get(id) === relay) this.relays.delete(id);
      for (const [pendingId, entry] of this.pending) {
        if (entry.relayed?.delete(relay) !== true) continue;
        // The person answered: the call's own timeout runs again, from now.
        this.armTimeout(pendingId, entry);
      }
    });
  }

  /** The gateway's answers to ping and roots/list; sampling and elicitation go through `relay`. */
  private sendAnswer(id: number | string, method: string): void {
    const reply: JSONRPCMessage =
      method === "ping"
        ? { jsonrpc: "2.0", id, result: {} }
        : method === "roots/list"
          ? { jsonrpc: "2.0", id, result: { roots: [] } }
          : { jsonrpc: "2.0", id, error: { code: -32601, message: `mintgate does not support ${method} from upstream servers yet.` } };
    this.sendReply(reply);
  }

  /** Gives one answer to the transport, counted in ANSWERS_IN_FLIGHT; the queue behind them moves on as each is taken. */
  private sendReply(reply: JSONRPCMessage): void {
    this.answersUnsent++;
    void this.transport
      .send(reply)
      .catch(() => {})
      .finally(() => {
        this.answersUnsent--;
        if (this.answerQueueHead === this.answerQueue.length) return;
        const next = this.answerQueue[this.answerQueueHead++]!;
        this.answerQueueChars -= (typeof next.id === "string" ? next.id.length : 16) + next.method.length;
        if (this.answerQueueHead === this.answerQueue.length) {
          this.answerQueue = [];
          this.answerQueueHead = 0;
        }
        if (!this.closed) this.sendAnswer(next.id, next.method);
      });
  }

  /** An answer that is not what JSON-RPC allows, said as what it was. */
  private garbled(method: string, what: string): MintgateError {
    return new MintgateError("upstream_failed", `Connector "${this.connectorName}" answered ${method} with ${what}.`);
  }

  private unavailable(reason: string): MintgateError {
    return new MintgateError("upstream_failed", `Connector "${this.connectorName}" is unavailable: ${reason}.`);
  }

  /** `cutOff`: what requests in flight fail with, when more is known than `reason` (by default, the transport closed by itself). */
  private shutDown(reason: string, cutOff = this.cutOffByClose): void {
    if (this.closed) return;
    this.closed = true;
    // A new upstream session knows none of this one's elicitations.
    this.heldElicitations.clear();
    const detail = this.lastTransportError && !reason.includes(this.lastTransportError) ? ` (${this.lastTransportError})` : "";
    for (const [id, entry] of [...this.pending]) {
      this.settle(id);
      entry.reject(cutOff?.(entry.method) ?? this.unavailable(`${reason}${detail} during ${entry.method}`));
    }
    // Closed during the handshake, the transport's last error is why (an SSE endpoint on another origin):
    // the connector's failure says it too. Later on it may be an old one (a refused POST), so it is left out.
    this.onClose?.(this.info === undefined ? (this.handshakeEnding ?? `${reason}${detail}`) : reason);
  }
}
