import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { randomUUID } from "node:crypto";
import { ownerOf, type Principal } from "../auth/index.ts";
import { NESTING_LIMIT, nestsTooDeeply, resultText } from "../connectors/index.ts";
import { JSON_RPC, jsonRpcCodeOf, publicMessageOf } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { Gateway } from "./index.ts";
import { GatewaySession, isProgressToken, NO_STREAM, SHUTDOWN_CALL_ENDING, type Ending } from "./session.ts";
import { deletionReason, type VirtualMcpRuntime } from "./virtual-mcp.ts";
import { jsonReply } from "./json-reply.ts";
import { loadServerProtocol, type SdkServerProtocol } from "./protocol.ts";
import { EventStream, NOTIFICATION_UNREAD_LIMIT } from "./event-stream.ts";
import { replyEventStream, type ReplyEvents } from "./reply-stream.ts";
import { RequestsPerPerson } from "./requests-per-person.ts";
import { ClosedSessions } from "./closed-sessions.ts";
import { askedIn, recordRefusal, recordTransportRefusal, Refusal, transportRefusal } from "./refusals.ts";
import { claimsModernRevision, handleModernRequest, MODERN_VERSION, NO_BATCHES, type CallInRounds, type CallsInFlight, type ListenStreams } from "./modern.ts";
import { HeldCalls, ROUND_METHODS } from "./input-rounds.ts";
import { isDatedRevision } from "./revision.ts";

/**
 * Bytes a legacy client may leave unread on its event stream, where all its replies go. Past that it has
 * stopped reading and its session is closed: 200 replies of 1 MB to a client that never read held 200 MB.
 */
const LEGACY_UNREAD_LIMIT = 16 * 1024 * 1024;
/** Open sessions per person, and in all: past these the least recently active one is closed. */
const SESSIONS_PER_SUBJECT = 256;
const SESSIONS_IN_ALL = 20_000;
/**
 * Messages in one JSON-RPC batch. Each runs at once and holds its call's state until all are answered:
 * a 4 MiB body of 40,000 tiny calls took the gateway to ~0.9 GB and stalled everyone else for a second and a half.
 */
const BATCH_LIMIT = 100;

function jsonRpcError(status: number, code: number, message: string, id: string | number | null = null): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id }, { status });
}

/**
 * The Accept rule the SDK transport applies to initialize, held to a session's later requests too: a Refusal
 * when broken. Not to the sessionless revision's requests: the SDK's own server for it does not check Accept.
 */
function acceptRefusal(request: Request): Refusal | undefined {
  const accept = request.headers.get("accept") ?? "";
  if (accept.includes("application/json") && accept.includes("text/event-stream")) return undefined;
  return new Refusal(406, -32000, "Not Acceptable: the Accept header must list both application/json and text/event-stream.");
}

/** The Content-Type rule every POST the gateway answers itself is held to: a Refusal when broken. */
function contentTypeRefusal(request: Request): Refusal | undefined {
  if ((request.headers.get("content-type") ?? "").includes("application/json")) return undefined;
  return new Refusal(415, -32000, "Unsupported Media Type: send the message as Content-Type: application/json.");
}

/** A message's id when its client can match a reply to it (a string or a safe integer); undefined otherwise, and a reply has null. */
function matchableId(message: unknown): string | number | undefined {
  const id = (message as PlainMessage | null)?.id;
  return typeof id === "string" || Number.isSafeInteger(id) ? id : undefined;
}

/**
 * A message that is not valid JSON-RPC 2.0 (`problem` says why), answered as such wherever it comes in: under its id when
 * that could be read (JSON-RPC 2.0 §5 keeps null for an id that could not), so its client can tell which request failed.
 */
const invalidRequest = (problem: string, body?: unknown) => new Refusal(400, -32600, `Invalid Request: ${problem}.`, { body, id: matchableId(body) });

/** A message nested too deeply to handle (see NESTING_LIMIT). */
const tooDeep = (body: unknown) => invalidRequest(`the message nests arrays and objects more than ${NESTING_LIMIT} levels deep; send it with fewer levels of nesting`, body);

/** A POST's body parsed once: the message, or the Refusal of a body that is not JSON or nests too deeply. */
async function readMessage(request: Request): Promise<{ message: unknown } | Refusal> {
  let text: string;
  let message: unknown;
  try {
    text = await request.text();
    message = JSON.parse(text);
  } catch {
    return new Refusal(400, -32700, "Parse error: the body is not valid JSON.");
  }
  if (nestsTooDeeply(text)) return tooDeep(message);
  return { message };
}

/** setTimeout's longest delay (about 24.8 days): a later expiry is waited for in steps of it. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `expired` when the token that opened a stream expires (never for a token without expiry), and
 * answers the function that disarms it once the stream ends. One timer per stream rather than a
 * check in the minutely sweep: the stream ends when the token stops working, not up to a minute later.
 */
function whenExpired(principal: Principal, expired: () => void): () => void {
  const expiresAt = principal.expiresAt;
  if (expiresAt === null) return () => {};
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = Math.max(expiresAt - Date.now(), 0);
    timer = setTimeout(left > LONGEST_TIMER_MS ? arm : expired, Math.min(left, LONGEST_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}

/** A client whose stream ended reconnects with its refreshed token; one line per stream ended says so in the log. */
function logExpired(stream: string, principal: Principal, session?: string): void {
  log.info("stream ended: its access token expired", { stream, ...(session === undefined ? {} : { session }), subject: principal.subject });
}

/** initialize in a session that has had its own: as the legacy transport answers it, with what to do instead. */
const alreadyInitialized = (body: unknown) =>
  invalidRequest("this session is already initialized; send requests with its Mcp-Session-Id, or start a new session with initialize without one", body);

/**
 * A session id the gateway does not hold: 404, on which clients start a new session (as the spec says). `closedBecause`:
 * why the gateway closed it, when it remembers, so the client and its person can tell a session cap from a timeout.
 * `nextStep`: how to start a new session on the transport it was asked on.
 */
function sessionNotFound(closedBecause: string | undefined, nextStep = "start a new session with initialize"): Refusal {
  return new Refusal(404, -32001, closedBecause === undefined ? `Session not found; ${nextStep}.` : `Session not found: it was closed because ${closedBecause}; ${nextStep}.`);
}

interface Entry {
  session: GatewaySession;
  /** Present for Streamable HTTP sessions. */
  streamable?: WebStandardStreamableHTTPServerTransport;
  legacy?: LegacySseTransport;
  /**
   * Whose token opened the session's standalone GET stream, while it is open: another token of the same person's
   * than the session's own (a refreshed one, or a new sign-in's). Revoking it ends the stream.
   */
  standalone?: { opener: Principal };
  /** Set on a legacy session once its initialize came (Streamable HTTP sessions are registered by theirs). */
  initialized?: true;
  /** Set on a legacy session whose token expired: it takes no new request, and ends once those in flight are answered. */
  draining?: true;
}

/**
 * What a shutdown's drain did: the requests running when it began (`waitedFor`), how many of them finished
 * within the grace, and how many were cut off at its end (those that began during the drain included).
 */
export interface DrainReport {
  waitedFor: number;
  finished: number;
  cutOff: number;
}

/**
 * The client-facing MCP endpoints of every Virtual MCP: Streamable HTTP at
 * /mcp/<slug> (the SDK's web-standard transport, one per session) and the
 * legacy HTTP+SSE pair at /sse/<slug> and /messages/<slug>.
 */
export class McpEndpoint {
  private readonly entries = new Map<string, Entry>();
  /** Why recently closed sessions were closed, for the 404 their clients get next. */
  private readonly closed = new ClosedSessions();
  /**
   * Open `subscriptions/listen` streams (the sessionless revision), oldest
   * first: held to the same limits as sessions, ended on revocation and at shutdown.
   */
  private readonly listenStreams = new Set<{ principal: Principal; end: () => void }>();
  private readonly listeners: ListenStreams = {
    add: (principal, end) => {
      const owner = ownerOf(principal);
      const ofOwner = [...this.listenStreams].filter((l) => ownerOf(l.principal) === owner);
      const victim = ofOwner.length >= SESSIONS_PER_SUBJECT ? ofOwner[0] : this.listenStreams.size >= SESSIONS_IN_ALL ? this.listenStreams.values().next().value : undefined;
      if (victim) {
        log.info("listen stream limit reached; closing the oldest", { subject: victim.principal.subject });
        victim.end();
      }
      const stream = { principal, end };
      this.listenStreams.add(stream);
      const disarm = whenExpired(principal, () => {
        logExpired("subscriptions/listen", principal);
        end();
      });
      return () => {
        disarm();
        this.listenStreams.delete(stream);
      };
    },
  };
  /** Calls in flight of the sessionless revision (each has a session of its own for one request): ended on revocation. */
  private readonly modernCalls = new Set<{ principal: Principal; end: (reason: string, ending?: Ending) => void }>();
  private readonly calls: CallsInFlight = {
    add: (principal, end) => {
      const call = { principal, end };
      this.modernCalls.add(call);
      return () => void this.modernCalls.delete(call);
    },
  };
  /** Sessionless calls held while their clients answer an upstream's question, by requestState. */
  private readonly heldCalls = new HeldCalls<CallInRounds>();
  /** Each person's requests running now, across sessions and sessionless calls. */
  private readonly running: RequestsPerPerson;
  /** Set once the first session loaded the SDK's server side. */
  private protocol: SdkServerProtocol | undefined;
  private readonly sweeper: ReturnType<typeof setInterval>;

  /**
   * `sessionIdleMs` (serve --session-idle-timeout): a session idle this long is closed; clients re-initialise on the
   * 404 that follows. The sweep runs at least twice per timeout, so a short one is kept within half of it.
   */
  constructor(
    private readonly gateway: Gateway,
    private readonly options: { bodyLimitBytes: number; sessionIdleMs: number; requestsPerPerson: number },
  ) {
    this.running = new RequestsPerPerson(options.requestsPerPerson);
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(60_000, options.sessionIdleMs / 2));
    this.sweeper.unref();
  }

  get sessionCount(): number {
    return this.entries.size;
  }

  /** Handles one Streamable HTTP request for an authenticated principal. */
  async handleStreamable(runtime: VirtualMcpRuntime, request: Request, principal: Principal): Promise<Response> {
    const sessionId = request.headers.get("mcp-session-id");
    if (sessionId !== null) {
      const entry = this.entries.get(sessionId);
      // Another person's session id is treated as unknown: sessions are bound to who opened them.
      if (!entry?.streamable || ownerOf(entry.session.principal) !== ownerOf(principal) || !runtime.sessions.has(sessionId)) {
        return this.refuse(sessionNotFound(this.closedBecause(sessionId, ownerOf(principal))), runtime, principal, request, sessionId);
      }
      const otherVersion = versionRefusal(request, entry.session.protocolVersion, this.protocol!);
      if (otherVersion) return this.refuse(otherVersion, runtime, principal, request, sessionId);
      entry.session.lastActivity = Date.now();
      if (request.method === "POST") return this.handleSessionPost(entry.session, runtime, request, principal);
      if (request.method === "GET") return this.openStandaloneStream(entry, entry.streamable, runtime, request, principal);
      return this.recordedIfRefused(await entry.streamable.handleRequest(request), runtime, principal, request, sessionId);
    }
    // A session's requests have theirs checked by versionRefusal, and a POST by the revision it claims (a value that is no
    // date reaches the sessionless one's refusal); a GET or DELETE without a session is refused here, as its version calls for.
    const version = request.headers.get("mcp-protocol-version");
    if (request.method !== "POST") return this.refuse(await noSessionRefusal(request.method, version), runtime, principal, request, null);
    // A 2026-07-28 request names its revision in its own envelope; it needs no session.
    const read = await readMessage(request);
    if (read instanceof Refusal) return this.refuse(read, runtime, principal, request, null);
    const body = read.message;
    if (claimsModernRevision(body, version)) {
      const unacceptable = contentTypeRefusal(request);
      if (unacceptable) return this.refuse(unacceptable, runtime, principal, request, null, body);
      // Held to JSON-RPC 2.0 as a session's requests are: a reply cannot be matched to a null, object or boolean id.
      const problem = Array.isArray(body) ? NO_BATCHES : problemOf(body);
      if (problem !== undefined) return this.refuse(invalidRequest(problem, body), runtime, principal, request, null);
      // A retry answering a held call's question runs nothing new: refused, a person holding their limit in questions could answer none.
      const answersHeldCall = ROUND_METHODS.has((body as PlainMessage).method ?? "") && typeof (body as PlainMessage).params?.requestState === "string";
      if ((body as PlainMessage).id !== undefined && !answersHeldCall && this.running.full(ownerOf(principal))) return this.tooManyRequests();
      return handleModernRequest(runtime, principal, this.gateway.recorder, request, body as Record<string, never>, this.listeners, this.calls, this.running, this.heldCalls);
    }
    // Anything but one initialize is answered here, with what to do: the SDK transport says "Server not initialized" to all of it.
    const notOneInitialize = Array.isArray(body) ? problemOfFirstBatch(body) : problemOf(body) ?? ((body as PlainMessage).method === "initialize" ? undefined : NO_SESSION);
    if (notOneInitialize === NO_SESSION) return this.refuse(new Refusal(400, -32000, NO_SESSION), runtime, principal, request, null, body);
    if (notOneInitialize !== undefined) return this.refuse(invalidRequest(notOneInitialize, body), runtime, principal, request, null);
    const protocol = await loadServerProtocol();
    this.protocol = protocol;
    const malformed = initializeParamsRefusal(protocol, body as PlainMessage);
    if (malformed) return this.refuse(malformed, runtime, principal, request, null, body);
    const transport: WebStandardStreamableHTTPServerTransport = new protocol.WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        const session = new GatewaySession(id, principal, runtime, transport, this.gateway.recorder, versionsOf(protocol), this.running);
        this.register(id, runtime, { session, streamable: transport });
      },
      onsessionclosed: (id) => this.unregister(id),
      maxRequestBodySize: this.options.bodyLimitBytes,
      // The standalone stream gets its keepalives from relayedStandaloneStream, at --keepalive and only while not behind.
      keepAliveMs: 0,
    } as ConstructorParameters<SdkServerProtocol["WebStandardStreamableHTTPServerTransport"]>[0]);
    transport.onclose = () => {
      if (transport.sessionId) this.unregister(transport.sessionId);
    };
    const response = await transport.handleRequest(request, { parsedBody: body });
    // An initialize sent as a notification (202) opens a session whose id no client ever hears of: it is freed
    // now, not after an idle hour, and it does not push the person's live sessions out of their limit.
    if (transport.sessionId !== undefined && response.status !== 200) this.unregister(transport.sessionId);
    return this.recordedIfRefused(response, runtime, principal, request, null, body);
  }

  /**
   * A request to `slug`, which no Virtual MCP has: when it names a session of its person's that the gateway closed as an
   * admin deleted that Virtual MCP, its answer is the 404 of a closed session (-32001, which SDK clients read) saying so
   * and what to do, under the request's id. Undefined otherwise: it is a request for an unknown slug. The answer reads a
   * POST's body for the id, so it is handed back to be given once the route has counted that body against its person.
   */
  closedWithItsVirtualMcp(slug: string, sessionId: string | null, principal: Principal): ((request: Request) => Promise<Response>) | undefined {
    if (sessionId === null || this.closedBecause(sessionId, ownerOf(principal)) !== deletionReason(slug)) return undefined;
    const gone = sessionNotFound(`an admin deleted virtual MCP "${slug}"`, "connect to its new address if it was renamed, or ask an admin which Virtual MCP to use instead");
    return async (request) => {
      const read = request.method === "POST" ? await readMessage(request) : undefined;
      const id = read === undefined || read instanceof Refusal ? undefined : matchableId(read.message);
      return jsonRpcError(gone.status, gone.code, gone.message, id);
    };
  }

  /**
   * Why the gateway closed session `id`, when it was `owner`'s: remembered once it closed, or read off one still closing
   * (its cut-off calls' errors going out first), whose client may have sent its next request already.
   */
  private closedBecause(id: string, owner: string): string | undefined {
    const closing = this.entries.get(id)?.session;
    if (closing?.endedBecause !== undefined && ownerOf(closing.principal) === owner) return closing.endedBecause;
    return this.closed.reasonFor(id, owner);
  }

  /**
   * Answers a request refused for its form with its JSON-RPC error, once its record is committed: the audit trail holds
   * every request of a signed-in person, those turned away here included. `sessionId`: the one the request named.
   * `body`: the message, when it was read (its method is recorded); a body nobody read is read for it here.
   * Called on refusals only: a request that is taken does no work for it.
   */
  private async refuse(refusal: Refusal, runtime: VirtualMcpRuntime, principal: Principal, request: Request, sessionId: string | null, body?: unknown): Promise<Response> {
    await recordTransportRefusal(this.gateway.recorder, principal, runtime, request, refusal, sessionId, body ?? refusal.extra.body);
    return jsonRpcError(refusal.status, refusal.code, refusal.message, refusal.extra.id);
  }

  /**
   * `response` as the SDK transport answered a request it handles (initialize, a session's GET and DELETE): when it
   * refused it (406, 415, 409…), recorded as the endpoint's own refusals are, with the sentence it sent.
   */
  private async recordedIfRefused(response: Response, runtime: VirtualMcpRuntime, principal: Principal, request: Request, sessionId: string | null, body?: unknown): Promise<Response> {
    if (response.status < 400) return response;
    const sent = (await response.clone().json().catch(() => undefined)) as { error?: { message?: unknown } } | undefined;
    const message = typeof sent?.error?.message === "string" ? sent.error.message : "the request was refused.";
    await recordTransportRefusal(this.gateway.recorder, principal, runtime, request, { status: response.status, message }, sessionId, body);
    return response;
  }

  /**
   * GET in a session: the standalone stream that carries the session's notifications. It ends when the token
   * that opened it expires, and the client opens it again with its refreshed token. The session carries on:
   * its POSTs are each checked on their own token, a refreshed one of the same person included.
   * A session has one such stream at a time, and a new GET takes the open one's place (which ends): the spec lets a
   * client hold several, and the one it opens again may replace one whose connection died unnoticed (a network change,
   * a laptop asleep), where the SDK transport's 409 left the SDK client, after two reconnections, listening no more.
   */
  private async openStandaloneStream(entry: Entry, transport: WebStandardStreamableHTTPServerTransport, runtime: VirtualMcpRuntime, request: Request, principal: Principal): Promise<Response> {
    // Only for a GET the transport will take: one it refuses (406) must not end the stream in use.
    if ((request.headers.get("accept") ?? "").includes("text/event-stream")) transport.closeStandaloneSSEStream();
    const response = await transport.handleRequest(request);
    if (!isOpenEventStream(response)) return this.recordedIfRefused(response, runtime, principal, request, entry.session.id);
    // A session has one standalone stream at a time, and this one is still open while its timer is armed. The stream it
    // replaced ends after this line: its end must not forget this one's opener, which may be the same token's.
    const stream = { opener: principal };
    entry.standalone = stream;
    const disarm = whenExpired(principal, () => {
      logExpired("standalone GET", principal, entry.session.id);
      transport.closeStandaloneSSEStream();
    });
    return relayedStandaloneStream(response, entry.session.id, () => {
      disarm();
      if (entry.standalone === stream) entry.standalone = undefined;
    });
  }

  /**
   * The per-call hot path: a POST in an established session is parsed once
   * and answered here, without the SDK transport's per-message schema
   * validation and SSE framing. The reply is plain JSON unless the request
   * asked for progress, which needs an SSE stream; batches are answered here
   * too. A second initialize is refused with what to do (the SDK transport says only "Server already initialized");
   * a malformed message is refused here as well. `caller`: the POST's own principal (another token of
   * the session's person, maybe), which the requests it brings are recorded under and cut off with.
   */
  private async handleSessionPost(session: GatewaySession, runtime: VirtualMcpRuntime, request: Request, caller: Principal): Promise<Response> {
    const unacceptable = acceptRefusal(request) ?? contentTypeRefusal(request);
    if (unacceptable) return this.refuse(unacceptable, runtime, caller, request, session.id);
    const read = await readMessage(request);
    if (read instanceof Refusal) return this.refuse(read, runtime, caller, request, session.id);
    const message = read.message;
    if (Array.isArray(message)) {
      // These concern the batch itself, so it is refused whole; a message in it that is wrong is answered on its own (JSON-RPC 2.0 §6).
      const problem =
        message.length === 0 ? "the batch is empty"
        : !allowsBatches(session.protocolVersion) ? `JSON-RPC batches ended with MCP 2025-06-18 and this session uses ${session.protocolVersion}; send one message per POST`
        : message.length > BATCH_LIMIT ? `a batch holds at most ${BATCH_LIMIT} messages, not ${message.length}; send the rest in further requests`
        : undefined;
      if (problem !== undefined) return this.refuse(invalidRequest(problem, message), runtime, caller, request, session.id);
      const refusals = message.map(batchEntryRefusal);
      if (message.some((m, i) => refusals[i] === undefined && (m as PlainMessage).id !== undefined) && this.running.full(ownerOf(caller))) return this.tooManyRequests();
      return this.answerBatch(session, runtime, request, message, refusals, caller);
    }
    const problem = problemOf(message);
    if (problem !== undefined) return this.refuse(invalidRequest(problem, message), runtime, caller, request, session.id);
    const m = message as PlainMessage;
    if (m.method === "initialize") return this.refuse(alreadyInitialized(message), runtime, caller, request, session.id);
    // A client's answer to a request passed on from an upstream (elicitation, sampling); one to none pending changes nothing.
    if (m.method === undefined) {
      session.answer(message as JSONRPCMessage);
      return new Response(null, { status: 202 });
    }
    const params = m.params;
    if (m.id === undefined) {
      session.notification(m.method, params);
      return new Response(null, { status: 202 });
    }
    // Past the cap, HTTP says so too (429, Retry-After) while the person's calls run; notifications (cancel) always pass.
    if (this.running.full(ownerOf(caller))) return this.tooManyRequests();
    const id = m.id as string | number;
    const headers = { "mcp-session-id": session.id };
    // Without a valid token, the reply is plain JSON: the session refuses a token of another kind (-32602).
    if (!isProgressToken((params?._meta as { progressToken?: unknown } | undefined)?.progressToken)) {
      // A client that takes the upstreams' requests gets an event stream once one comes, plain JSON otherwise.
      if (session.takesClientRequests) return streamedIfAsked(session, id, m.method, params, caller, headers);
      const reply = await session.request(id, m.method, params, caller, NO_STREAM);
      // A cancelled request gets no JSON-RPC reply; the HTTP exchange just ends.
      if (reply === undefined) return new Response(null, { status: 202, headers });
      return jsonReply(serializeReply(reply), headers);
    }
    return sseReply(session, id, m.method, params, caller, headers);
  }

  /**
   * A JSON-RPC batch (2025-03-26 clients): each message is handled as if sent alone, and the replies go back together.
   * A message refused for its form (`refusals`, by position) is answered with its error, under its id when it has one
   * the client can match, and recorded as a refusal; the others still run. Cancelled requests simply have no reply.
   */
  private async answerBatch(session: GatewaySession, runtime: VirtualMcpRuntime, request: Request, batch: unknown[], refusals: (Refusal | undefined)[], caller: Principal): Promise<Response> {
    const replies = await Promise.all(
      batch.map(async (entry, i) => {
        const refusal = refusals[i];
        if (refusal !== undefined) {
          // Answered inside the batch's 200, so its record carries the sentence without an HTTP status of its own.
          const { method } = askedIn(request, entry);
          await recordRefusal(this.gateway.recorder, transportRefusal(caller, runtime, method, { status: null, message: refusal.message, sessionId: session.id }));
          return { jsonrpc: "2.0", id: refusal.extra.id ?? null, error: { code: refusal.code, message: refusal.message } } as JSONRPCMessage;
        }
        const m = entry as PlainMessage;
        if (m.method === undefined) return session.answer(entry as JSONRPCMessage);
        if (m.id === undefined) return session.notification(m.method, m.params);
        return session.request(m.id, m.method, m.params, caller, NO_STREAM);
      }),
    );
    const answered = replies.filter((reply): reply is JSONRPCMessage => reply != null);
    const headers = { "mcp-session-id": session.id };
    if (answered.length === 0) return new Response(null, { status: 202, headers });
    return jsonReply(`[${answered.map(serializeReply).join(",")}]`, headers);
  }

  /** A request past its person's --requests-per-person: 429, retried once some of their calls have finished. */
  private tooManyRequests(): Response {
    return Response.json({ jsonrpc: "2.0", error: { code: -32000, message: this.running.refusal() }, id: null }, { status: 429, headers: { "retry-after": "1" } });
  }

  /** GET /sse/<slug>: opens a legacy HTTP+SSE session. */
  async openLegacy(runtime: VirtualMcpRuntime, principal: Principal): Promise<Response> {
    const protocol = await loadServerProtocol();
    const id = randomUUID();
    // The event stream is the session's only way to its client: the session ends with it, once the calls in flight
    // are answered (expiry, unlike revocation, cuts no call the token was good for when it started).
    const disarm = whenExpired(principal, () => {
      logExpired("legacy HTTP+SSE", principal, id);
      void this.endOnceAnswered(id, "its access token expired; reconnect with a refreshed token");
    });
    const transport = new LegacySseTransport(`/messages/${runtime.slug}?sessionId=${id}`, id, (reason) => {
      disarm();
      this.unregister(id, reason);
    });
    const session = new GatewaySession(id, principal, runtime, transport, this.gateway.recorder, versionsOf(protocol), this.running);
    this.register(id, runtime, { session, legacy: transport });
    return new Response(transport.stream, {
      headers: { "content-type": "text/event-stream", connection: "keep-alive" },
    });
  }

  /** POST /messages/<slug>?sessionId=…: one message of a legacy session. */
  async postLegacy(runtime: VirtualMcpRuntime, sessionId: string | null, request: Request, principal: Principal): Promise<Response> {
    const entry = sessionId === null ? undefined : this.entries.get(sessionId);
    if (!entry?.legacy || ownerOf(entry.session.principal) !== ownerOf(principal) || !runtime.sessions.has(sessionId!)) {
      const closedBecause = sessionId === null ? undefined : this.closedBecause(sessionId, ownerOf(principal));
      return this.refuse(sessionNotFound(closedBecause, `open a new event stream with GET /sse/${runtime.slug}`), runtime, principal, request, sessionId);
    }
    const unacceptable = contentTypeRefusal(request);
    if (unacceptable) return this.refuse(unacceptable, runtime, principal, request, sessionId);
    const read = await readMessage(request);
    if (read instanceof Refusal) return this.refuse(read, runtime, principal, request, sessionId);
    const message = read.message;
    // Replies go out on the SSE stream, one event each: a batch would have nowhere to be answered as one.
    const problem = Array.isArray(message) ? "the HTTP+SSE transport takes one message per POST, not a batch" : problemOf(message);
    if (problem !== undefined) return this.refuse(invalidRequest(problem, message), runtime, principal, request, sessionId);
    // A session ending at its token's expiry still takes notifications (a cancellation of a call in flight), no new call.
    if (entry.draining && (message as PlainMessage).method !== undefined && (message as PlainMessage).id !== undefined) {
      return this.refuse(sessionNotFound(undefined, `open a new event stream with GET /sse/${runtime.slug}`), runtime, principal, request, sessionId, message);
    }
    // The lifecycle Streamable HTTP sessions are held to (the SDK transport's): initialize once, and first.
    const m = message as PlainMessage;
    if (m.method === "initialize" && entry.initialized) {
      return this.refuse(invalidRequest(`this session is already initialized; open a new event stream with GET /sse/${runtime.slug} to start another`, message), runtime, principal, request, sessionId);
    }
    if (m.method !== undefined && m.method !== "initialize" && m.method !== "ping" && m.id !== undefined && !entry.initialized) {
      return this.refuse(new Refusal(400, -32000, "Bad Request: the session is not initialized; send initialize first."), runtime, principal, request, sessionId, message);
    }
    if (m.method === "initialize") entry.initialized = true;
    entry.session.lastActivity = Date.now();
    entry.session.receive(message as JSONRPCMessage, principal);
    return new Response("Accepted", { status: 202 });
  }

  /**
   * Ends every session whose access was taken away (`revocationOf` says why),
   * with its streams; calls in flight are answered with an error naming the reason.
   * A session whose own access stands loses just the streams and calls sent with a revoked token.
   */
  endRevoked(revocationOf: (principal: Principal) => string | undefined): void {
    // Asked once per token (and client): a token's sessions, streams and calls share the answer.
    const reasons = new Map<string, string | undefined>();
    const revocationReason = (principal: Principal) => {
      const key = `${principal.clientId ?? ""} ${principal.tokenId}`;
      if (!reasons.has(key)) reasons.set(key, revocationOf(principal));
      return reasons.get(key);
    };
    for (const [id, entry] of [...this.entries]) {
      const reason = revocationReason(entry.session.principal);
      if (reason === undefined) {
        // The session's own access stands; its GET stream and its calls may have been sent with other tokens of the person's.
        const opener = entry.standalone?.opener;
        const streamReason = opener && revocationReason(opener);
        if (streamReason) {
          log.info("standalone stream ended: access revoked", { session: id, subject: opener.subject, reason: streamReason });
          entry.streamable?.closeStandaloneSSEStream();
        }
        entry.session.cutOffRevoked(revocationReason);
        continue;
      }
      log.info("session ended: access revoked", { session: id, subject: entry.session.principal.subject, reason });
      this.unregister(id, reason);
    }
    for (const stream of [...this.listenStreams]) {
      const reason = revocationReason(stream.principal);
      if (reason === undefined) continue;
      log.info("listen stream ended: access revoked", { subject: stream.principal.subject, reason });
      stream.end();
    }
    for (const call of [...this.modernCalls]) {
      const reason = revocationReason(call.principal);
      if (reason === undefined) continue;
      log.info("call ended: access revoked", { subject: call.principal.subject, reason });
      call.end(reason);
    }
  }

  /**
   * Lets running calls finish (up to `graceMs`), then closes every session and its streams. The
   * sessionless revision's calls count as running too: they were not waited for, so a shutdown
   * stopped their connectors under them at once and they failed as "stopped".
   */
  async closeAll(graceMs = 0): Promise<DrainReport> {
    clearInterval(this.sweeper);
    const deadline = Date.now() + graceMs;
    const waitedFor = this.runningRequests();
    const busy = () => this.modernCalls.size > 0 || [...this.entries.values()].some((e) => e.session.busy);
    while (Date.now() < deadline && busy()) await Bun.sleep(20);
    const atDeadline = this.runningRequests();
    const report = { waitedFor: waitedFor.size, finished: [...waitedFor].filter((request) => !atDeadline.has(request)).length, cutOff: atDeadline.size };
    const sessions = [...this.entries.values()].map((e) => e.session);
    for (const stream of [...this.listenStreams]) stream.end();
    for (const call of [...this.modernCalls]) call.end("the gateway is shutting down", SHUTDOWN_CALL_ENDING);
    await Promise.all(sessions.map((session) => session.end("the gateway is shutting down")));
    // Calls cut off by the close still finish (as cancelled) and leave their record.
    const settled = Date.now() + 2000;
    while (Date.now() < settled && (this.modernCalls.size > 0 || sessions.some((session) => session.busy))) await Bun.sleep(10);
    this.entries.clear();
    return report;
  }

  /** How many requests are running now, the sessionless revision's calls included: what a shutdown waits for. */
  get requestsRunning(): number {
    return this.runningRequests().size;
  }

  /** The requests running now, each an object that stays the same while it runs. Built at shutdown only, never per request. */
  private runningRequests(): Set<object> {
    const running = new Set<object>(this.modernCalls);
    for (const { session } of this.entries.values()) for (const request of session.requestsInFlight()) running.add(request);
    return running;
  }

  private register(id: string, runtime: VirtualMcpRuntime, entry: Entry): void {
    this.evictIfFull(ownerOf(entry.session.principal));
    this.entries.set(id, entry);
    runtime.sessions.set(id, entry.session);
    entry.session.opened();
  }

  /**
   * Forgets a session and closes it: its calls are cancelled and its
   * subscriptions released. With a `reason` the gateway is ending it, and
   * calls in flight are answered with an error that says why.
   */
  private unregister(id: string, reason?: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    for (const runtime of this.gateway.virtualMcps()) runtime.sessions.delete(id);
    // A session the gateway ended by itself (access lost) comes here once its transport closed, its reason already set.
    const closedBecause = reason ?? entry.session.endedBecause;
    if (closedBecause !== undefined) this.closed.remember(id, ownerOf(entry.session.principal), closedBecause);
    void (reason === undefined ? entry.session.close() : entry.session.end(reason));
  }

  /**
   * Ends a legacy session once the calls it has in flight are answered on its event stream; it takes no new
   * request meanwhile. Revocation, shutdown or its client may end it sooner, as any session.
   */
  private async endOnceAnswered(id: string, reason: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.draining = true;
    await entry.session.answered();
    if (this.entries.get(id) === entry) this.unregister(id, reason);
  }

  /**
   * Makes room for one more session: one person cannot hold the gateway's memory. The least recently active
   * session goes, one with no request running first: a client leaking sessions must not cut off its person's
   * call in flight (its session was last active when the call began) while idle ones remain.
   */
  private evictIfFull(owner: string): void {
    const ofSubject = new LeastRecentlyActive();
    const ofAll = new LeastRecentlyActive();
    for (const item of this.entries) {
      ofAll.consider(item);
      if (ownerOf(item[1].session.principal) === owner) ofSubject.consider(item);
    }
    const victim = ofSubject.count >= SESSIONS_PER_SUBJECT ? ofSubject.pick() : this.entries.size >= SESSIONS_IN_ALL ? ofAll.pick() : undefined;
    if (victim) {
      log.info("session limit reached; closing the least recently active session", { subject: victim[1].session.principal.subject });
      this.unregister(victim[0], ofSubject.count >= SESSIONS_PER_SUBJECT ? `its person opened more than ${SESSIONS_PER_SUBJECT} sessions` : "the gateway holds too many sessions");
    }
  }

  private closeIdle(): void {
    const idle = this.options.sessionIdleMs;
    const cutoff = Date.now() - idle;
    const spelled = idle % 3_600_000 === 0 ? `${idle / 3_600_000}h` : idle % 60_000 === 0 ? `${idle / 60_000}m` : `${idle / 1000}s`;
    for (const [id, entry] of this.entries) {
      // A call still running is no idleness: a timeout shorter than a slow tool must not cut it off. Nor is a legacy
      // session whose client reads its stream: closed, the client's EventSource opens a new stream by itself, a session
      // it never initializes, and every call after failed (1.x's SSEClientTransport). It ends with its stream.
      if (entry.session.lastActivity < cutoff && !entry.session.busy && !entry.legacy?.keptUp) this.unregister(id, `it was idle for ${spelled} (--session-idle-timeout)`);
    }
  }
}

/** The least recently active of the sessions considered, preferring one with no request running. */
class LeastRecentlyActive {
  count = 0;
  private idle: [string, Entry] | undefined;
  private any: [string, Entry] | undefined;

  consider(item: [string, Entry]): void {
    this.count++;
    const session = item[1].session;
    if (!this.any || session.lastActivity < this.any[1].session.lastActivity) this.any = item;
    if (!session.busy && (!this.idle || session.lastActivity < this.idle[1].session.lastActivity)) this.idle = item;
  }

  pick(): [string, Entry] | undefined {
    return this.idle ?? this.any;
  }
}

type PlainMessage = { jsonrpc: "2.0"; id?: string | number; method?: string; params?: Record<string, unknown> };

/**
 * Why `value` is not a JSON-RPC 2.0 message a client may send (a request, a
 * notification, or a response to a request of ours), or undefined when it is one.
 */
function problemOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "each message must be a JSON-RPC 2.0 object";
  const m = value as { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
  if (m.jsonrpc !== "2.0") return 'a message needs "jsonrpc": "2.0"';
  // An error response answering a request its client could not read: JSON-RPC 2.0 §5 gives it a null id, MCP 2025-11-25 none.
  if (m.method === undefined && m.error !== undefined && (m.id === null || m.id === undefined)) return undefined;
  // MCP ids are strings or integers. Past 2^53 a number comes back with other digits (JSON.parse reads
  // 12345678901234567890 as ...000, 1e400 as Infinity), which its client could not match to its request.
  if (m.id !== undefined && typeof m.id !== "string" && !Number.isSafeInteger(m.id)) {
    return typeof m.id === "number" && Number.isInteger(m.id) ? "an id past 2^53 - 1 loses digits on its way back; send it as a string" : "an id must be a string or an integer";
  }
  if (m.method === undefined) {
    if (m.error !== undefined || (m.id !== undefined && m.result !== undefined)) return undefined;
    return 'a message needs a "method" (or, answering a request, "result" or "error")';
  }
  if (typeof m.method !== "string") return "the method must be a string";
  if (m.params !== undefined && (typeof m.params !== "object" || m.params === null || Array.isArray(m.params))) return "params must be an object";
  return undefined;
}

/**
 * Why a message of a session's batch is answered with an error instead of being handled: it is no JSON-RPC message a
 * client may send, or it is an initialize (2025-03-26: never in a batch, and the session has had its own).
 */
function batchEntryRefusal(entry: unknown): Refusal | undefined {
  const problem = problemOf(entry);
  if (problem !== undefined) return invalidRequest(problem, entry);
  return (entry as PlainMessage).method === "initialize" ? alreadyInitialized(entry) : undefined;
}

const NO_SESSION = "Bad Request: send the Mcp-Session-Id header you got from initialize, or start a session with initialize.";

/** Why a batch sent without a session is refused: there is none yet, and initialize never comes in one (2025-03-26 lifecycle). */
function problemOfFirstBatch(batch: unknown[]): string {
  if (batch.length === 0) return "the batch is empty";
  if (batch.some((m) => (m as PlainMessage | null)?.method === "initialize")) return "initialize must be sent alone, not in a batch";
  return NO_SESSION;
}

/** Batches are JSON-RPC's, kept by MCP up to 2025-03-26 and removed in 2025-06-18 (revisions are dates, so they sort as text). */
const allowsBatches = (version: string) => version <= "2025-03-26";

/**
 * A session's requests name a revision (MCP-Protocol-Version, required from 2025-06-18): one the gateway does not
 * speak in sessions is refused (400, as the spec says). One it speaks other than the session's is let through, as
 * the SDK's transport does and the official conformance suite expects (it sends 2025-03-26 in a 2025-11-25 session).
 * No header is taken as the session's own, the spec's fallback for clients older than the header.
 */
function versionRefusal(request: Request, negotiated: string, protocol: SdkServerProtocol): Refusal | undefined {
  const version = request.headers.get("mcp-protocol-version");
  if (version === null || protocol.SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
  const sessionless = version === MODERN_VERSION ? `; ${MODERN_VERSION} requests are sent without Mcp-Session-Id` : "";
  return new Refusal(400, -32000, `Bad Request: this session uses MCP-Protocol-Version ${negotiated}, and ${version} is not one a session takes (${protocol.SUPPORTED_PROTOCOL_VERSIONS.join(", ")})${sessionless}.`);
}

/**
 * A GET or DELETE without a session, by its MCP-Protocol-Version: a session's revision (or none) is asked for the session
 * id; 2026-07-28, which has no sessions, is told what it does instead (it was told to send the id of an initialize it
 * cannot send); a value that is no revision's date, or a later one, is refused as an unsupported version naming every
 * revision the endpoint speaks.
 */
async function noSessionRefusal(method: string, version: string | null): Promise<Refusal> {
  if (version === MODERN_VERSION) {
    return new Refusal(400, -32000, `Bad Request: protocol revision ${MODERN_VERSION} has no sessions, so no ${method} on the endpoint; POST each request, and subscriptions/listen to hear of list changes.`);
  }
  if (version === null || (isDatedRevision(version) && version < MODERN_VERSION)) return new Refusal(400, -32000, "Bad Request: send the Mcp-Session-Id header you got from initialize.");
  const supported = [MODERN_VERSION, ...(await loadServerProtocol()).SUPPORTED_PROTOCOL_VERSIONS].join(", ");
  return new Refusal(400, -32000, `Bad Request: unsupported protocol version ${version}; send MCP-Protocol-Version as one of the revisions this gateway speaks (${supported}).`);
}

/**
 * An initialize whose params are not what the SDK transport takes for one (protocolVersion, capabilities, clientInfo):
 * refused as invalid params, naming the first thing wrong. Passed on, the transport did not see an initialize in it
 * and answered "Server not initialized", which told the client nothing of what to fix.
 */
function initializeParamsRefusal(protocol: SdkServerProtocol, message: PlainMessage): Refusal | undefined {
  const parsed = protocol.InitializeRequestSchema.safeParse(message);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length === 0 ? "the message" : issue.path.map(String).join(".");
  const needs = "initialize needs params.protocolVersion (a string), params.capabilities (an object) and params.clientInfo (an object with a name and a version)";
  return new Refusal(400, JSON_RPC.invalidParams, `Invalid params: ${needs}; ${where}: ${issue.message}.`, { id: message.id });
}

function versionsOf(protocol: SdkServerProtocol) {
  return { supported: protocol.SUPPORTED_PROTOCOL_VERSIONS, latest: protocol.LATEST_PROTOCOL_VERSION };
}

const STREAM_OPENED = new TextEncoder().encode(": stream open\n\n");

function isOpenEventStream(response: Response): response is Response & { body: ReadableStream<Uint8Array> } {
  return response.ok && response.body !== null && (response.headers.get("content-type") ?? "").includes("text/event-stream");
}

/**
 * The standalone GET stream, relayed onto an EventStream as the SDK transport writes it: the SDK's stream queues
 * every notification for a client that stopped reading, counted in chunks, without bound. Past
 * NOTIFICATION_UNREAD_LIMIT unread bytes the stream is closed (notifications are hints; the client opens it again)
 * and the session carries on. An SSE comment goes first: Bun sends a streamed response's head only with its first
 * bytes, and this stream may stay silent for hours, leaving clients (Node's fetch among them) waiting for headers.
 * `ended` is called once the stream ends, whichever side ends it.
 */
function relayedStandaloneStream(response: Response & { body: ReadableStream<Uint8Array> }, sessionId: string, ended: () => void): Response {
  const reader = response.body.getReader();
  const stopReading = () => void reader.cancel().catch(() => {});
  const events = new EventStream({
    first: STREAM_OPENED,
    limitBytes: NOTIFICATION_UNREAD_LIMIT,
    overflowed: () => {
      log.info("standalone stream closed: its client stopped reading", { session: sessionId, limitBytes: NOTIFICATION_UNREAD_LIMIT });
      stopReading();
    },
    cancelled: stopReading,
  });
  void (async () => {
    try {
      for (let next = await reader.read(); !next.done; next = await reader.read()) events.write(next.value);
    } catch {
      // the SDK's stream ended with an error: ended here too
    }
    events.close();
    ended();
  })();
  return new Response(events.body, { status: response.status, headers: response.headers });
}

/** A reply as JSON text; an upstream result passed on unchanged is not serialised again. */
function serializeReply(reply: JSONRPCMessage): string {
  const { id, result } = reply as { id: string | number; result?: object };
  const text = result && resultText.get(result);
  return text === undefined ? JSON.stringify(reply) : `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${text}}`;
}

/** How a call's event stream carries what the session sends during it: progress may be dropped, requests for the client (and their cancellation) never. */
function sendOn(events: ReplyEvents, message: JSONRPCMessage): void {
  if ((message as { method?: string }).method === "notifications/progress") events.progress(serializeReply(message));
  else events.send(JSON.stringify(message));
}

/**
 * A request's reply as plain JSON, unless an upstream asks the client something during it (elicitation, sampling):
 * then, as its first such message, the reply becomes an event stream carrying them, and the reply after them.
 */
function streamedIfAsked(session: GatewaySession, id: string | number, method: string, params: Record<string, unknown> | undefined, caller: Principal, headers: Record<string, string>): Promise<Response> {
  const { promise, resolve } = Promise.withResolvers<Response>();
  let events: ReplyEvents | undefined;
  const sink = (message: JSONRPCMessage) => {
    if (events === undefined) resolve(replyEventStream(headers, (opened) => (events = opened)));
    sendOn(events!, message);
  };
  session.request(id, method, params, caller, sink).then(
    (reply) => {
      if (events !== undefined) return events.end(reply && serializeReply(reply));
      resolve(reply === undefined ? new Response(null, { status: 202, headers }) : jsonReply(serializeReply(reply), headers));
    },
    (error: unknown) => {
      const reply = unexpectedFailureReply(session, id, error);
      if (events !== undefined) return events.end(reply);
      resolve(jsonReply(reply, headers));
    },
  );
  return promise;
}

/** The reply to a request that failed unexpectedly (logged): its error, so the client is answered rather than left waiting. */
function unexpectedFailureReply(session: GatewaySession, id: string | number, error: unknown): string {
  log.error("a request failed", { session: session.id, error: String(error) });
  return serializeReply({ jsonrpc: "2.0", id, error: { code: jsonRpcCodeOf(error), message: publicMessageOf(error) } } as JSONRPCMessage);
}

/** A request's progress notifications, then its reply, as one SSE stream. */
function sseReply(session: GatewaySession, id: string | number, method: string, params: Record<string, unknown> | undefined, caller: Principal, headers: Record<string, string>): Response {
  return replyEventStream(headers, (events) => {
    // The stream ends whatever happens: a request that failed unexpectedly gets its error, never an open stream.
    void session.request(id, method, params, caller, (message) => sendOn(events, message)).then(
      (reply) => events.end(reply && serializeReply(reply)),
      (error: unknown) => events.end(unexpectedFailureReply(session, id, error)),
    );
  });
}

/**
 * The server side of the 2024-11-05 HTTP+SSE transport: the first event
 * names the POST URL; replies go out as `message` events on the stream.
 */
class LegacySseTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly events: EventStream;
  private closed = false;

  constructor(
    endpoint: string,
    sessionId: string,
    /** Told once the stream ends; with a reason when the gateway ended it. */
    private readonly onEnd: (reason?: string) => void,
  ) {
    this.events = new EventStream({
      first: `event: endpoint\ndata: ${endpoint}\n\n`,
      limitBytes: LEGACY_UNREAD_LIMIT,
      // What the client left unread is dropped with the connection, and the session ends as for a client gone.
      overflowed: () => {
        log.info("legacy session closed: its client stopped reading", { session: sessionId, limitBytes: LEGACY_UNREAD_LIMIT });
        this.ended(`its client left more than ${LEGACY_UNREAD_LIMIT / 1024 / 1024} MiB unread on the event stream`);
      },
      cancelled: () => this.ended(),
    });
  }

  get stream(): ReadableStream<Uint8Array> {
    return this.events.body;
  }

  /** Whether the stream is open and its client has taken all that was sent on it. */
  get keptUp(): boolean {
    return this.events.open && this.events.unread === 0;
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    this.events.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  async close(): Promise<void> {
    this.events.close();
    this.ended();
  }

  private ended(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onEnd(reason);
    this.onclose?.();
  }
}
