import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { CallOutcome, CallRecorder, McpRequestEntry } from "../audit/index.ts";
import { decide, ruleFor, type Decision, type Subject } from "../policy/index.ts";
import { ownerOf, type Principal } from "../auth/index.ts";
import { resultText, UpstreamRpcError, type ClientRequestHandler, type Connector, type HeldElicitation, type ResourceListener, type UrlElicitationClient } from "../connectors/index.ts";
import { forbidden, isStorageFull, JSON_RPC, jsonRpcCodeOf, MintgateError, publicMessageOf, storageFull } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { VERSION } from "../version.ts";
import { routeUri, decideEverySpelling, exposedUri, uiResourcesOf, withExposedResourcesOfPrompt, withExposedResourcesOfTool } from "./curation.ts";
import type { AccessView, ListKind, VirtualMcpRuntime } from "./virtual-mcp.ts";
import { MODERN_VERSION } from "./revision.ts";
import type { RequestsPerPerson } from "./requests-per-person.ts";
import { ROUND_METHODS, type QuestionRounds } from "./input-rounds.ts";

type RequestId = string | number;
type Params = Record<string, unknown> | undefined;
/** Where progress notifications for one request go (its SSE stream). */
export type ProgressSink = (notification: JSONRPCMessage) => void;
/**
 * The sink of a reply that goes out as one JSON message (a batch's, a sessionless call's): it carries nothing, so
 * the upstreams' requests made during such a call are refused.
 */
export const NO_STREAM: ProgressSink = () => {};

/** The requests that leave an audit record, allowed or denied (one record each); any other leaves one only when the policy refused it. */
const RECORDED = new Set(["initialize", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "tools/call", "prompts/get", "resources/read"]);

/** What a request handler tells the record about itself; the rest is filled in by `request`. */
interface RequestNote {
  connector: string | null;
  exposedName: string;
  upstreamName: string | null;
  /** undefined: the request has none (stored as NULL, not as the JSON text "null"). */
  arguments: unknown;
  outcome: CallOutcome;
  error: string | null;
  result: unknown;
}

/**
 * A request being answered: who sent it and how it is stopped, with what its handler tells the record
 * (one object per request, as the note alone was).
 */
interface RequestInFlight extends RequestNote {
  /**
   * The principal of the HTTP request that brought it: the session's, or another token of the same person's
   * (a refreshed one, a new sign-in's, another personal access token). Its record names this token, and
   * revoking this token cuts the request off.
   */
  readonly caller: Principal;
  /** Aborted when the client cancels the request or the gateway cuts it off. */
  readonly abort: AbortController;
  /** Set when the gateway cut off this request alone (its caller's access was revoked): the error it is answered with. */
  cutOffMessage: string | undefined;
}

/**
 * One call's client, for the elicitation and sampling requests its upstream makes during it: they go out on the
 * call's own stream (where its progress goes) and are recorded under its caller. Built only for a call that can take them.
 */
class CallClientRequests implements ClientRequestHandler {
  constructor(
    readonly clientSession: GatewaySession,
    private readonly sink: ProgressSink,
    /** undefined for the session's one handler of calls that cannot take requests (whose `refusal` always says why). */
    private readonly call: RequestInFlight | undefined,
  ) {}

  refusal(method: string, params: Params): string | undefined {
    return this.clientSession.clientRequestRefusal(method, params, this.sink);
  }

  ask(method: string, params: Params, signal: AbortSignal): Promise<Record<string, unknown>> {
    if (this.call === undefined) return Promise.reject(new RpcError(JSON_RPC.methodNotFound, this.refusal(method, params) ?? `mintgate cannot pass ${method} to the client of this call.`));
    return this.clientSession.askClient(method, params, signal, this.sink, this.call);
  }
}


/** A resource subscription of one session, held upstream through `listener`. */
interface ResourceSubscription {
  /** The client that holds it upstream: the connector's current one, once a redefined connector's replacement took it over. */
  connector: Connector;
  upstreamUri: string;
  listener: ResourceListener;
  /** The access view under which the person was last found allowed to read it: a newer view (policy, people or catalogue changed) means checking again. */
  confirmedUnder: AccessView | undefined;
}

/**
 * Resource subscriptions one session may hold. Each is a listener here and a subscription upstream, held until the
 * client unsubscribes or the session ends: without a limit, a long-lived session subscribing to every resource it read
 * (or to made-up URIs under a connector's prefix) grew both for as long as it lived (3,000 held ~18 MB of the gateway's).
 */
const SUBSCRIPTIONS_PER_SESSION = 1000;

/**
 * URL-mode elicitations one session may hold for their completion notifications: each upstream chooses when (or whether)
 * to send one, so past this the oldest is forgotten (its completion then goes nowhere; the client can still retry by itself).
 */
const HELD_ELICITATIONS_PER_SESSION = 256;

/**
 * How an upstream's question to a client ended when no answer came, by why its wait was ended: the relay's bound ran
 * out (a timeout error), or the call ended first (cancelled by its client, cut off, its session closed).
 */
export function unansweredOutcome(reason: unknown): CallOutcome {
  return reason instanceof MintgateError && reason.kind === "timeout" ? "timeout" : "cancelled";
}

/** A JSON-RPC error answer with a sentence for a person. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One client session of one Virtual MCP. It answers the client's requests
 * itself (no SDK Server per session: that costs ~2.6× the CPU on this path)
 * and routes calls to the connectors through the pool.
 */
export class GatewaySession implements UrlElicitationClient {
  private readonly inFlight = new Map<RequestId, RequestInFlight>();
  /** Resource subscriptions by exposed URI, each with the listener it registered upstream. */
  private readonly subscriptions = new Map<string, ResourceSubscription>();
  lastActivity = Date.now();
  protocolVersion: string;
  /** The names this session's person could see at the last check, per list: list_changed goes out when they change. */
  private seen: Record<ListKind, string> | undefined;
  /** What the client declared in its initialize: whether it takes the upstreams' elicitation and sampling requests. */
  private clientCapabilities: { elicitation?: { form?: unknown; url?: unknown }; sampling?: unknown } = {};
  /** A sessionless (2026-07-28) call's questions, put to its client in input_required rounds; undefined in a session, whose calls' replies carry them. */
  private rounds: QuestionRounds | undefined;
  /** Requests sent to the client for an upstream, by the gateway's id for them, until the client answers. */
  private readonly askedOfClient = new Map<string, PromiseWithResolvers<Record<string, unknown>>>();
  private askedCount = 0;
  /** What calls whose client takes no such requests pass upstream: it says why (one per session, not per call). */
  private readonly refusingClientRequests = new CallClientRequests(this, NO_STREAM, undefined);
  /** URL-mode elicitations upstreams gave this client, oldest first, until each completes: only this session hears of it. */
  private readonly heldElicitations = new Set<HeldElicitation>();

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly runtime: VirtualMcpRuntime,
    private readonly transport: Transport,
    private readonly recorder: CallRecorder,
    private readonly versions: { supported: readonly string[]; latest: string },
    /** Shared by every session: a person's requests running now, held to --requests-per-person. */
    private readonly running: RequestsPerPerson,
  ) {
    this.protocolVersion = versions.latest;
    transport.onmessage = (message) => this.receive(message, principal);
  }

  /** The person as the policy sees them (a cached lookup). */
  get subject(): Subject {
    return this.runtime.subjects.subjectOf(this.principal);
  }

  /** What this session's person sees of the Virtual MCP. */
  private view(): AccessView {
    const view = this.runtime.viewFor(this.subject);
    this.seen ??= view.names;
    return view;
  }

  /**
   * After the catalogue, the policy or the people changed: tells the client
   * about every list that changed for its person (`changed`: lists whose
   * definitions changed for everyone). A person who may no longer reach the
   * Virtual MCP loses the session, as a revoked token does: its next request
   * would get 403, but its event streams stayed open and carried list changes.
   */
  refreshAccess(changed: ReadonlySet<ListKind>): void {
    const view = this.runtime.viewFor(this.subject);
    if (!view.reachable) {
      // A disabled person looks like one without groups here too: the revocation sweep's reason ("the account was
      // disabled") is the more precise one, and this sync usually comes before that sweep.
      // A sessionless (2026-07-28) call has no session to start again: its client is told what it can do instead.
      const sessionless = this.protocolVersion >= MODERN_VERSION;
      const revoked = this.runtime.revocationOf(this.principal);
      if (revoked !== undefined) {
        log.info("session ended: access revoked", { session: this.id, subject: this.principal.subject, reason: revoked });
        void this.end(revoked, sessionless ? CALL_ENDING : SESSION_ENDING);
        return;
      }
      log.info("session ended: access lost", { session: this.id, subject: this.principal.subject, virtualMcp: this.runtime.slug });
      void this.end(`${this.principal.subject} lost access to virtual MCP "${this.runtime.slug}"`, sessionless ? LOST_ACCESS_CALL_ENDING : SESSION_ENDING);
      return;
    }
    const before = this.seen;
    const names = view.names;
    this.seen = names;
    for (const kind of ["tools", "prompts", "resources"] as const) {
      if (changed.has(kind) || (before !== undefined && before[kind] !== names[kind])) this.notifyListChanged(kind);
    }
    // A person who may no longer read a resource must not keep hearing when it changes.
    for (const [uri, subscription] of [...this.subscriptions]) {
      if (!this.releaseIfUnreadable(uri, subscription)) this.followReplacedConnector(uri, subscription);
    }
  }

  /**
   * Moves a subscription to the connector's new client when the pool replaced the one it was
   * held through (its spec or a secret it uses changed): the retired client's upstream is gone.
   * Done here rather than by the pool handing listeners over: the session must point its
   * subscription at the new client anyway (so unsubscribe releases it), and it already reviews
   * every subscription after each sync, which follows any replacement.
   */
  private followReplacedConnector(uri: string, subscription: ResourceSubscription): void {
    const current = this.runtime.configuredConnector(subscription.connector.name, this.principal);
    if (current === undefined || current === subscription.connector) return;
    const retired = subscription.connector;
    subscription.connector = current;
    // Only forgets the listener there: a retired client sends nothing upstream.
    void retired.unsubscribeResource(subscription.upstreamUri, subscription.listener);
    // The replacement is usually still starting: it subscribes upstream once ready, with every other session's subscription to the URI.
    current.subscribeResource(subscription.upstreamUri, subscription.listener, { whenReady: true }).catch((error: Error) => this.dropRefused(uri, subscription, error));
  }

  /** Forgets a subscription the upstream refused (the connector holds no listener of it any more). */
  private dropRefused(uri: string, subscription: ResourceSubscription, error: Error): void {
    if (this.subscriptions.get(uri) !== subscription) return;
    this.subscriptions.delete(uri);
    log.warn("resource subscription dropped: the upstream refused it", { session: this.id, subject: this.principal.subject, virtualMcp: this.runtime.slug, uri: subscription.connector.redact(uri), error: error.message });
  }

  /** Tells the client a list changed (sent on the standalone stream, if the client opened one). */
  notifyListChanged(kind: "tools" | "prompts" | "resources"): void {
    void this.transport.send({ jsonrpc: "2.0", method: `notifications/${kind}/list_changed` }).catch(() => {});
  }

  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  /** The requests running now, each an object that stays the same while it runs (the shutdown drain tells which finished). */
  requestsInFlight(): Iterable<object> {
    return this.inFlight.values();
  }

  /** Set once the endpoint registered it as a client's session (not the sessionless revision's per-call one): its end is logged too. */
  private openedAt: number | undefined;
  /** Why the gateway ended it; undefined when its client did (DELETE, a closed event stream). */
  private endReason: string | undefined;

  /** Why the gateway ended it, once it did; undefined while open or when its client ended it. */
  get endedBecause(): string | undefined {
    return this.endReason;
  }

  /** Logs the session's start at debug; its end is logged too, with how long it lasted and why. */
  opened(): void {
    this.openedAt = Date.now();
    log.debug("session opened", { session: this.id, virtualMcp: this.runtime.slug, subject: this.principal.subject });
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    if (this.closing) return this.closing;
    // Set before shutDown runs: closing the transport calls back into close() (the endpoint's onclose) at once,
    // and with `closing ??= this.shutDown()` that call found it unset and shut the session down a second time.
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.closing = promise;
    this.shutDown().then(resolve, reject);
    return promise;
  }

  /** When the gateway ended this session (not the client): the error its calls cut off are answered with. */
  private cutOffMessage: string | undefined;

  /**
   * Ends the session from the gateway's side: calls in flight are answered with an error naming `reason`,
   * and what ended and what the client can do (`ending`: for a session's client, start a new one).
   */
  end(reason: string, ending: Ending = SESSION_ENDING): Promise<void> {
    this.cutOffMessage ??= cutOffMessage(reason, ending);
    this.endReason ??= reason;
    return this.close();
  }

  /**
   * Cuts off the requests in flight whose caller's access was revoked (`revocationOf` says why) while the
   * session's own stands: another token of the person's may have sent them. Each is answered with the error
   * revocation gives a call; the session carries on.
   */
  cutOffRevoked(revocationOf: (principal: Principal) => string | undefined): void {
    for (const request of this.inFlight.values()) {
      // One its client cancelled gets no reply, and stays cancelled.
      if (request.abort.signal.aborted) continue;
      const reason = revocationOf(request.caller);
      if (reason === undefined) continue;
      log.info("call ended: access revoked", { session: this.id, subject: request.caller.subject, reason });
      request.cutOffMessage = cutOffMessage(reason, CALL_ENDING);
      request.abort.abort(reason);
    }
  }

  private async shutDown(): Promise<void> {
    // Its fields are built only at debug.
    if (this.openedAt !== undefined && log.enabled("debug")) {
      log.debug("session closed", { session: this.id, subject: this.principal.subject, virtualMcp: this.runtime.slug, durationMs: Date.now() - this.openedAt, reason: this.endReason ?? "its client closed it" });
    }
    for (const request of this.inFlight.values()) request.abort.abort(SESSION_CLOSED);
    for (const held of this.heldElicitations) held.forget();
    this.heldElicitations.clear();
    for (const { connector, upstreamUri, listener } of this.subscriptions.values()) void connector.unsubscribeResource(upstreamUri, listener);
    this.subscriptions.clear();
    // Ended by the gateway: the calls just cut off send the error that says why before the transport closes. On the
    // legacy HTTP+SSE transport the event stream is their only way out; closed first, it dropped them, and the client
    // waited out its own timeout. Aborted calls settle at once; the wait is bounded all the same.
    if (this.cutOffMessage !== undefined && this.replying.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.allSettled(this.replying), new Promise((resolve) => (timer = setTimeout(resolve, CUT_OFF_REPLIES_MS)))]);
      clearTimeout(timer);
    }
    return this.transport.close();
  }

  /** Replies to requests that came through the transport, until they are handed to it. */
  private readonly replying = new Set<Promise<unknown>>();

  /** Resolves once every request that came through the transport (all of a legacy session's) has had its reply handed to it. */
  async answered(): Promise<void> {
    while (this.replying.size > 0) await Promise.allSettled(this.replying);
  }

  /**
   * Messages whose replies go out through the transport: those it delivers (initialize) and a legacy session's
   * POSTs. `caller`: the principal of the HTTP request that brought the message.
   */
  receive(message: JSONRPCMessage, caller: Principal): void {
    const m = message as { id?: RequestId; method?: string; params?: Params };
    if (m.method === undefined) return this.answer(message);
    if (m.id === undefined) return this.notification(m.method, m.params);
    const id = m.id;
    const send = (reply: JSONRPCMessage) =>
      this.transport.send(reply, { relatedRequestId: id }).catch((error: Error) => log.debug("could not send a reply", { session: this.id, error: error.message }));
    const replied = this.request(id, m.method, m.params, caller, (progress) => this.transport.send(progress, { relatedRequestId: id }).catch(() => {})).then(
      (reply) => {
        // A cancelled request gets no reply (the spec says so); its response stream just ends.
        if (reply === undefined) return (this.transport as { closeSSEStream?: (requestId: RequestId) => void }).closeSSEStream?.(id);
        // A session whose initialize failed is one its client will not use: it ends once the error is out, not after an idle hour.
        if (m.method === "initialize" && "error" in reply) return send(reply).then(() => void this.close());
        return send(reply);
      },
      // `request` answers a record that could not be committed with an error reply itself; this is for anything else it throws.
      (error: unknown) => send({ jsonrpc: "2.0", id, error: toRpcError(error) } as JSONRPCMessage),
    );
    this.replying.add(replied);
    void replied.finally(() => this.replying.delete(replied));
  }

  /** A client notification; only cancellation needs anything from us. */
  notification(method: string, params: Params): void {
    this.lastActivity = Date.now();
    if (method === "notifications/cancelled") {
      const requestId = (params as { requestId?: RequestId } | undefined)?.requestId;
      if (requestId !== undefined) this.inFlight.get(requestId)?.abort.abort(CLIENT_CANCELLED);
    }
  }

  /**
   * Answers one client request. Resolves to the reply, or to undefined when
   * the client cancelled the request (which then gets no reply).
   * `caller`: the principal of the HTTP request that brought it (its record names it).
   * `sendProgress` carries progress notifications for this request.
   */
  async request(id: RequestId, method: string, params: Params, caller: Principal, sendProgress: ProgressSink): Promise<JSONRPCMessage | undefined> {
    this.lastActivity = Date.now();
    if (this.inFlight.has(id)) {
      // Cancellation and progress go by id: a second request under a live id would take over the first one's.
      return { jsonrpc: "2.0", id, error: { code: JSON_RPC.invalidRequest, message: `A request with id ${JSON.stringify(id)} is still running in this session; give each request its own id.` } };
    }
    const owner = ownerOf(this.principal);
    // Refused unrecorded, like a body over the budget: the record of each would let a flood fill the audit trail.
    if (!this.running.take(owner)) return { jsonrpc: "2.0", id, error: { code: -32000, message: this.running.refusal() } };
    // One controller per request: the client's notifications/cancelled aborts it.
    const abort = new AbortController();
    const note: RequestInFlight = { caller, abort, cutOffMessage: undefined, connector: null, exposedName: "", upstreamName: null, arguments: undefined, outcome: "ok", error: null, result: undefined };
    this.inFlight.set(id, note);
    const started = performance.now();
    let reply: JSONRPCMessage;
    let refusedForSpace = false;
    try {
      const result = await this.dispatch(method, checkedParams(method, params), abort.signal, sendProgress, note);
      reply = { jsonrpc: "2.0", id, result } as JSONRPCMessage;
    } catch (error) {
      note.outcome = abort.signal.aborted ? "cancelled" : error instanceof MintgateError ? (error.kind === "timeout" ? "timeout" : error.kind === "forbidden" ? "denied" : "error") : "error";
      refusedForSpace = isStorageFull(error);
      note.error = (error as Error)?.message ?? String(error);
      reply = { jsonrpc: "2.0", id, error: toRpcError(error) };
    } finally {
      this.inFlight.delete(id);
      this.running.release(owner);
      // The idle timeout counts from the answer: a call longer than it must not leave the session to be closed at once.
      this.lastActivity = Date.now();
    }
    // Cut off by the gateway (revocation, a deleted Virtual MCP, shutdown): the record says why, as the reply does,
    // not what the aborted upstream request threw ("The request was cancelled."). Cancelled by its client, or cut
    // off by its client closing the session, it gets no reply: the record alone says which.
    const cutOff = abort.signal.aborted ? (note.cutOffMessage ?? this.cutOffMessage) : undefined;
    if (abort.signal.aborted && note.outcome === "ok") note.outcome = "cancelled";
    if (note.outcome === "cancelled") note.error = cutOff ?? (abort.signal.reason === SESSION_CLOSED ? SESSION_CLOSED_ERROR : CLIENT_CANCELLED_ERROR);
    // Debug only: at info, a line per request would be thousands a second (and its fields are not even built). The full
    // record is the audit trail's; an upstream's error text stays there (it may quote the arguments), a refusal's is the gateway's own.
    if (log.enabled("debug")) log.debug("mcp request", {
      session: this.id,
      subject: note.caller.subject,
      virtualMcp: this.runtime.slug,
      method,
      tool: method === "tools/call" ? note.exposedName : undefined,
      connector: note.connector ?? undefined,
      outcome: note.outcome,
      error: note.outcome === "denied" ? (note.error ?? undefined) : undefined,
      durationMs: Math.round(performance.now() - started),
    });
    // The record is committed before the reply leaves (durability). A refusal is recorded whatever the method:
    // completing a hidden prompt's arguments or subscribing to a hidden resource is a try at it like getting or reading it.
    if (RECORDED.has(method) || note.outcome === "denied") {
      try {
        await this.record(method, note, started);
      } catch (error) {
        // Not recorded (disk full, database locked): no reply says more than the record does. A request refused for
        // lack of disk space keeps its refusal (nothing ran); any other gets an error saying why it is withheld.
        if (!refusedForSpace) reply = { jsonrpc: "2.0", id, error: recordFailure(error, method, note) };
      }
    }
    if (!abort.signal.aborted) return reply;
    // The client cancelled: no reply (the spec says so). The gateway ended the session or cut the call off: the client must hear why.
    if (cutOff === undefined) return undefined;
    return { jsonrpc: "2.0", id, error: { code: SESSION_ENDED, message: cutOff } };
  }

  /** The record names the token that sent the request, not necessarily the one that opened the session. */
  private record(method: string, note: RequestNote & { readonly caller: Principal }, started: number): Promise<void> {
    const principal = note.caller;
    const entry: McpRequestEntry = {
      at: Date.now(),
      subject: principal.subject,
      tokenId: principal.tokenId,
      sessionId: this.id,
      virtualMcp: this.runtime.slug,
      connector: note.connector,
      method,
      exposedName: note.exposedName,
      upstreamName: note.upstreamName,
      arguments: note.arguments,
      outcome: note.outcome,
      error: note.error,
      // Microseconds are all a person or a percentile needs; the float's other digits read as noise (2.1206490000004123).
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      userId: principal.userId ?? this.subject.userId,
      clientId: principal.clientId ?? null,
      ip: principal.ip ?? null,
      ...(note.result === undefined ? {} : { result: note.result, resultLength: resultText.get(note.result as object)?.length }),
    };
    return this.recorder.record(entry);
  }

  private decideItem(kind: "tool" | "prompt" | "resource", name: string): Decision {
    return decide(this.subject, { kind, virtualMcp: this.runtime.slug, policy: this.runtime.policy, name });
  }

  /** Refuses what the person's policy hides, as a JSON-RPC error (recorded as denied). */
  private checkItem(kind: "tool" | "prompt" | "resource", name: string): void {
    const decision = this.decideItem(kind, name);
    if (!decision.allow) throw forbidden(decision.reason);
  }

  /** The policy's decision on a resource under every spelling of its URI (see decideEverySpelling). */
  private resourceDecision(uri: string, route: ReturnType<typeof routeUri>): Decision {
    return decideEverySpelling(uri, route, (spelling) => this.decideItem("resource", spelling));
  }

  /** Why the person may not read a resource by its exposed URI, as resources/read decides; undefined when they may. */
  private readonly whyUnreadable = (uri: string): string | undefined => {
    if (this.runtime.policy.resources === undefined) return undefined;
    const decision = this.resourceDecision(uri, this.runtime.routeUri(uri));
    return decision.allow ? undefined : decision.reason;
  };

  /** Refuses a resource the policy hides under any spelling of its URI (see resourceDecision). */
  private checkResource(uri: string, route: ReturnType<typeof routeUri>): void {
    const decision = this.resourceDecision(uri, route);
    if (!decision.allow) throw forbidden(decision.reason);
  }

  private dispatch(method: string, params: Params, signal: AbortSignal, progress: ProgressSink, note: RequestInFlight): Promise<Record<string, unknown>> | Record<string, unknown> {
    // A connector still in its first start has listed nothing yet: a list, or a name not known yet, waits for
    // its catalogue rather than being answered from an empty one (bounded: see VirtualMcpRuntime.firstStarts).
    const firstStarts = this.runtime.firstStarts;
    if (firstStarts !== undefined && this.waitsForCatalogue(method, params)) {
      return firstStarts.then(() => {
        signal.throwIfAborted();
        return this.dispatch(method, params, signal, progress, note);
      });
    }
    const catalogue = this.runtime.catalogue;
    switch (method) {
      case "initialize":
        return this.initialize(params);
      case "ping":
        return {};
      case "tools/list":
        return { tools: this.view().tools };
      case "tools/call":
        return this.callTool(params, signal, progress, note);
      case "prompts/list":
        return { prompts: this.view().prompts };
      case "prompts/get": {
        const name = String(params?.name);
        note.exposedName = name;
        note.arguments = params?.arguments;
        const prompt = catalogue.promptsByName.get(name);
        if (!prompt) throw new RpcError(JSON_RPC.invalidParams, `There is no prompt "${name}" in virtual MCP "${this.runtime.slug}".`);
        note.connector = prompt.connector;
        note.upstreamName = prompt.upstreamName;
        this.checkItem("prompt", name);
        return this.forward(progress, signal, prompt.connector, "prompts/get", { ...params, name: prompt.upstreamName }, note).then((result) => withExposedResourcesOfPrompt(prompt.prefix, (note.result = result), this.whyUnreadable));
      }
      case "resources/list":
        return { resources: this.view().resources };
      case "resources/templates/list":
        return { resourceTemplates: this.view().resourceTemplates };
      case "resources/read":
        return this.readResource(progress, signal, params, note);
      case "resources/subscribe":
        return this.subscribe(String(params?.uri), note);
      case "resources/unsubscribe":
        return this.unsubscribe(String(params?.uri));
      case "completion/complete":
        return this.complete(progress, signal, params, note);
      case "logging/setLevel":
        if (!LOGGING_LEVELS.includes(params?.level as string)) throw new RpcError(JSON_RPC.invalidParams, `logging/setLevel needs params.level, one of ${LOGGING_LEVELS.join(", ")}.`);
        return {};
      default:
        // A notification sent with an id reads as a request for a method no one offers: say what went wrong instead.
        if (method.startsWith("notifications/")) throw new RpcError(JSON_RPC.invalidRequest, `"${method}" is a notification: send it without an id.`);
        throw new RpcError(JSON_RPC.methodNotFound, `mintgate does not support the method "${method}".`);
    }
  }

  /** Whether the answer to a request may change once the connectors in their first start have listed their catalogues. */
  private waitsForCatalogue(method: string, params: Params): boolean {
    const catalogue = this.runtime.catalogue;
    switch (method) {
      case "tools/list":
      case "prompts/list":
      case "resources/list":
      case "resources/templates/list":
        return true;
      case "tools/call":
        return !catalogue.toolsByName.has(String(params?.name));
      case "prompts/get":
        return !catalogue.promptsByName.has(String(params?.name));
      case "completion/complete": {
        const ref = params?.ref as { type?: string; name?: string } | undefined;
        return ref?.type === "ref/prompt" && !catalogue.promptsByName.has(String(ref.name));
      }
      case "resources/read":
      case "resources/subscribe": {
        // Resources are routed by their URI's prefix, not looked up: the one to wait for is the connector it routes to.
        const route = this.runtime.routeUri(String(params?.uri));
        return route !== undefined && this.runtime.configuredConnector(route.attachment.connector, this.principal)?.inFirstStart === true;
      }
      default:
        return false;
    }
  }

  /** Whether the client declared it takes elicitation or sampling requests (its calls' replies, or a sessionless call's rounds, then carry them). */
  get takesClientRequests(): boolean {
    return (this.clientCapabilities.elicitation !== undefined || this.clientCapabilities.sampling !== undefined) && (this.protocolVersion < MODERN_VERSION || this.rounds !== undefined);
  }

  /**
   * A sessionless call (2026-07-28): what its client declared in this request's envelope, and where its upstream's
   * questions go (rounds of input_required results) for a method whose result may be one.
   */
  takeQuestionsInRounds(method: string, capabilities: Record<string, unknown>, rounds: QuestionRounds): void {
    this.clientCapabilities = declaredClientRequests(capabilities);
    if (ROUND_METHODS.has(method)) this.rounds = rounds;
  }

  /** Why an upstream's `method` request cannot reach this client during a call replying through `sink` (one sentence), or undefined when it can. */
  clientRequestRefusal(method: string, params: Params, sink: ProgressSink): string | undefined {
    const cannot = `mintgate cannot pass ${method} to the client of this call`;
    if (this.protocolVersion >= MODERN_VERSION && this.rounds === undefined) return `${cannot}: under MCP ${this.protocolVersion} only ${[...ROUND_METHODS].join(", ")} take requests from the server.`;
    const capabilities = this.clientCapabilities;
    if (method === "sampling/createMessage") {
      if (capabilities.sampling === undefined) return `${cannot}: it did not declare the sampling capability.`;
      // MCP 2025-11-25: offering the model tools needs the client to have said it can use them.
      const offersTools = params?.tools !== undefined || params?.toolChoice !== undefined;
      if (offersTools && !isObject((capabilities.sampling as { tools?: unknown }).tools)) return `${cannot}: it did not declare sampling with tools (capabilities.sampling.tools), which this request's tools or toolChoice need.`;
    } else {
      const elicitation = capabilities.elicitation;
      if (elicitation === undefined) return `${cannot}: it did not declare the elicitation capability.`;
      // 2025-06-18's `elicitation: {}` means forms; URL mode is only for clients that name it.
      const mode = params?.mode === "url" ? "url" : "form";
      const takes = mode === "url" ? elicitation.url !== undefined : elicitation.form !== undefined || elicitation.url === undefined;
      if (!takes) return `${cannot}: it did not declare elicitation in ${mode} mode (capabilities.elicitation.${mode}).`;
    }
    if (sink === NO_STREAM && this.rounds === undefined) return `${cannot}: the call came in a JSON-RPC batch, whose reply carries no requests.`;
    return undefined;
  }

  /**
   * Sends an upstream's request to the client on the call's stream (a sessionless call's: in its next input_required
   * round), under an id of the gateway's, and waits for the client's answer (`answer`, or the round's retry) until
   * `signal` ends the wait: then the client is told the request is cancelled. Recorded
   * under the call's caller, what was asked as its arguments and the answer as its result.
   */
  async askClient(method: string, params: Params, signal: AbortSignal, sink: ProgressSink, call: RequestInFlight): Promise<Record<string, unknown>> {
    const id = `mintgate-${++this.askedCount}`;
    const started = performance.now();
    const entry = { caller: call.caller, connector: call.connector, exposedName: call.exposedName, upstreamName: call.upstreamName, arguments: params, outcome: "ok" as CallOutcome, error: null as string | null, result: undefined as unknown };
    const waiting = Promise.withResolvers<Record<string, unknown>>();
    const cancel = () => waiting.reject(signal.reason);
    signal.addEventListener("abort", cancel, { once: true });
    try {
      if (this.rounds !== undefined) this.rounds.ask({ key: id, method, params, answer: waiting });
      else {
        this.askedOfClient.set(id, waiting);
        sink({ jsonrpc: "2.0", id, method, params } as JSONRPCMessage);
      }
      const result = await waiting.promise;
      entry.result = result;
      return result;
    } catch (error) {
      entry.outcome = signal.aborted ? unansweredOutcome(signal.reason) : "error";
      entry.error = (error as Error)?.message ?? String(error);
      // A round's client has no stream to be told on: its requestState is forgotten with the question.
      if (signal.aborted && this.rounds === undefined) sink({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: entry.error } });
      throw error;
    } finally {
      this.askedOfClient.delete(id);
      signal.removeEventListener("abort", cancel);
      this.lastActivity = Date.now();
      await this.record(method, entry, started).catch((error: unknown) => log.warn("a request passed to a client could not be recorded", { session: this.id, method, error: String(error) }));
    }
  }

  holdElicitation(held: HeldElicitation): boolean {
    // A sessionless (2026-07-28) client has no stream to be told on; a closed session hears nothing more.
    if (this.clientCapabilities.elicitation?.url === undefined || this.protocolVersion >= MODERN_VERSION || this.closing !== undefined) return false;
    if (this.heldElicitations.size >= HELD_ELICITATIONS_PER_SESSION) {
      const oldest = this.heldElicitations.values().next().value!;
      oldest.forget();
      this.heldElicitations.delete(oldest);
    }
    this.heldElicitations.add(held);
    return true;
  }

  /** Sent on the standalone stream (the call that gave it may be over): the client may now retry what needed it. */
  elicitationCompleted(held: HeldElicitation, params: Record<string, unknown>): void {
    if (!this.heldElicitations.delete(held)) return;
    void this.transport.send({ jsonrpc: "2.0", method: "notifications/elicitation/complete", params }).catch(() => {});
  }

  /** A client's answer to a request the gateway sent it for an upstream; one answering no such request does nothing. */
  answer(message: JSONRPCMessage): void {
    const m = message as { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
    const waiting = typeof m.id === "string" ? this.askedOfClient.get(m.id) : undefined;
    if (waiting === undefined) return;
    this.lastActivity = Date.now();
    if (m.error !== undefined) {
      const { code, message: said } = isObject(m.error) ? m.error : {};
      waiting.reject(new RpcError(Number.isInteger(code) ? (code as number) : JSON_RPC.internalError, typeof said === "string" ? said : "The client answered with an error without a message."));
    } else if (isObject(m.result)) waiting.resolve(m.result);
    else waiting.reject(new RpcError(JSON_RPC.internalError, "The client answered with a result that is not an object."));
  }

  private initialize(params: Params): Record<string, unknown> {
    // A new session looks the person up afresh (a sign-in may have just changed their groups).
    this.runtime.subjects.forget(this.principal);
    // What the person can see from now on: list_changed is sent when this changes.
    this.seen = this.runtime.viewFor(this.subject).names;
    this.clientCapabilities = declaredClientRequests(params?.capabilities);
    const requested = typeof params?.protocolVersion === "string" ? params.protocolVersion : this.versions.latest;
    this.protocolVersion = this.versions.supported.includes(requested) ? requested : this.versions.latest;
    const definition = this.runtime.definition;
    return {
      protocolVersion: this.protocolVersion,
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true }, resources: { listChanged: true, subscribe: true }, completions: {}, logging: {} },
      serverInfo: { name: `mintgate/${definition.slug}`, title: definition.name, version: VERSION },
      ...(definition.description ? { instructions: definition.description } : {}),
    };
  }

  /** Sends a request to one connector for this caller, with cancellation and progress wired through. */
  private forward(progress: ProgressSink, signal: AbortSignal, connectorName: string, method: string, params: Params, note: RequestInFlight): Promise<Record<string, unknown>> {
    // While the disk is full the call could not be recorded: it is refused before it reaches the upstream, not run unrecorded.
    if (RECORDED.has(method) && this.recorder.storageFull()) throw storageFull(REFUSED_DISK_FULL);
    const connector = this.runtime.connectorFor(connectorName, this.principal);
    const meta = params?._meta as { progressToken?: string | number } | undefined;
    const progressToken = meta?.progressToken;
    let upstreamParams = params;
    if (meta) {
      const { progressToken: _, ...rest } = meta;
      upstreamParams = { ...params, _meta: rest };
    }
    return connector.request(method, upstreamParams, {
      signal,
      clientRequests: (progress !== NO_STREAM || this.rounds !== undefined) && this.takesClientRequests ? new CallClientRequests(this, progress, note) : this.refusingClientRequests,
      onProgress:
        progressToken === undefined
          ? undefined
          : (update) => progress({ jsonrpc: "2.0", method: "notifications/progress", params: { ...update, progressToken } }),
    });
  }

  private async callTool(params: Params, signal: AbortSignal, progress: ProgressSink, note: RequestInFlight): Promise<Record<string, unknown>> {
    const name = String(params?.name);
    const tool = this.runtime.catalogue.toolsByName.get(name);
    let args = params?.arguments as Record<string, unknown> | undefined;
    note.exposedName = name;
    note.arguments = args;
    if (!tool) {
      // A connector that has not listed its tools (failed at its first start) may be why: said, or the client looks for a typo.
      const unlisted = this.runtime.connectorsWithoutList();
      const missing = `There is no tool "${name}" in virtual MCP "${this.runtime.slug}"${unlisted.length === 0 ? "" : `; it may be one of the tools not listed yet: ${unlisted.join(", ")}`}.`;
      // 2026-07-28 lists an unknown tool name among its invalid-params errors (schema, InvalidParamsError), as the 2.x
      // SDK's servers answer it; a tool result there read as the tool having run (conformance-next's server-stateless).
      if (this.protocolVersion >= MODERN_VERSION) throw new RpcError(JSON_RPC.invalidParams, missing);
      // Earlier revisions: as the 1.x SDK's servers do, a tool result the model can read, not a protocol error.
      note.outcome = "error";
      note.error = missing;
      return { content: [{ type: "text", text: note.error }], isError: true };
    }
    note.connector = tool.connector;
    note.upstreamName = tool.upstreamName;
    // A tool the person may not see is refused outright (JSON-RPC error, recorded as denied).
    const policy = this.runtime.policy;
    const subject = this.subject;
    const allowed = decide(subject, { kind: "tool", virtualMcp: this.runtime.slug, policy, name });
    if (!allowed.allow) throw forbidden(allowed.reason);
    if (ruleFor(policy.tools, name)?.arguments) {
      // A refusal is recorded as the call's error: it must not quote what the audit trail redacts from the arguments.
      const isSecret = (argument: string) => this.recorder.redactor.isSecretKey(argument);
      const checked = decide(subject, { kind: "arguments", virtualMcp: this.runtime.slug, policy, tool: name, arguments: args, isSecret });
      if (!checked.allow) {
        // Refused arguments are a tool error the model can read and correct (as input validation errors are).
        note.outcome = "denied";
        note.error = checked.reason;
        return { content: [{ type: "text", text: checked.reason }], isError: true };
      }
      args = checked.arguments;
      note.arguments = args;
    }
    try {
      const upstreamParams = args === params?.arguments ? { ...params, name: tool.upstreamName } : { ...params, name: tool.upstreamName, arguments: args };
      const result = await this.forward(progress, signal, tool.connector, "tools/call", upstreamParams, note);
      note.result = result;
      if (result.isError === true) {
        note.outcome = "error";
        note.error = firstText(result) ?? "the tool reported an error";
      }
      return withExposedResourcesOfTool(tool.prefix, result, this.whyUnreadable);
    } catch (error) {
      // A connector that is down or slow is the tool's failure, shown to the model as a tool error.
      if (error instanceof MintgateError && (error.kind === "upstream_failed" || error.kind === "timeout") && !signal.aborted) {
        note.outcome = error.kind === "timeout" ? "timeout" : "error";
        note.error = error.message;
        return { content: [{ type: "text", text: error.message }], isError: true };
      }
      throw error;
    }
  }

  private async readResource(progress: ProgressSink, signal: AbortSignal, params: Params, note: RequestInFlight): Promise<Record<string, unknown>> {
    const uri = String(params?.uri);
    note.exposedName = uri;
    const route = this.runtime.routeUri(uri);
    if (!route) throw new RpcError(JSON_RPC.invalidParams, `No connector in virtual MCP "${this.runtime.slug}" serves the resource "${uri}".`);
    note.connector = route.attachment.connector;
    note.upstreamName = route.upstreamUri;
    const decision = this.resourceDecision(uri, route);
    if (!decision.allow) throw forbidden(this.hiddenInterfaceReason(uri) ?? decision.reason);
    const result = await this.forward(progress, signal, route.attachment.connector, "resources/read", { ...params, uri: route.upstreamUri }, note).catch((error: unknown) => {
      throw withExposedErrorUri(route.attachment.prefix, error);
    });
    note.result = result;
    const contents = result.contents as { uri: string }[] | undefined;
    if (route.attachment.prefix === "" || !contents) return result;
    return { ...result, contents: contents.map((c) => ({ ...c, uri: exposedUri(route.attachment.prefix, c.uri) })) };
  }

  /**
   * Why the person may not read a resource that a tool they may call names as its interface (an MCP App): only a
   * rule of the policy hides it (an unruled resource is open to all), and the refusal says so rather than reading as
   * a mistake of the host's. Undefined when no tool they see names it. Looked up only when a read is refused.
   */
  private hiddenInterfaceReason(uri: string): string | undefined {
    const tool = this.view().tools.find((t) => uiResourcesOf(t).includes(uri));
    if (!tool) return undefined;
    return `The resource "${uri}" is the interface of the tool "${tool.name}", which ${this.subject.email} may call, but the policy of virtual MCP "${this.runtime.slug}" hides the resource from them by one of its rules; ask an admin to allow it to whoever may call the tool.`;
  }

  private async subscribe(uri: string, note: RequestNote): Promise<Record<string, unknown>> {
    if (this.subscriptions.has(uri)) return {};
    if (this.subscriptions.size >= SUBSCRIPTIONS_PER_SESSION) {
      throw new RpcError(JSON_RPC.invalidParams, `This session holds ${SUBSCRIPTIONS_PER_SESSION} resource subscriptions, the most one session may; unsubscribe from resources it no longer follows, then subscribe again.`);
    }
    const route = this.runtime.routeUri(uri);
    note.exposedName = uri;
    note.connector = route?.attachment.connector ?? null;
    note.upstreamName = route?.upstreamUri ?? null;
    this.checkResource(uri, route);
    if (!route) throw new RpcError(JSON_RPC.invalidParams, `No connector in virtual MCP "${this.runtime.slug}" serves the resource "${uri}".`);
    const connector = this.runtime.connectorFor(route.attachment.connector, this.principal);
    const capabilities = connector.upstreamCapabilities;
    if (capabilities !== undefined && (capabilities.resources as { subscribe?: unknown } | undefined)?.subscribe !== true) {
      // The gateway offers subscriptions for the whole Virtual MCP: "Method not found" would deny it has them.
      throw new RpcError(JSON_RPC.invalidParams, `Connector "${connector.name}" does not announce changes to its resources, so "${uri}" cannot be subscribed to; read it again to see changes.`);
    }
    const subscription: ResourceSubscription = {
      connector,
      upstreamUri: route.upstreamUri,
      listener: { updated: () => this.deliverUpdate(uri, subscription), refused: (error) => this.dropRefused(uri, subscription, error) },
      confirmedUnder: undefined,
    };
    // Held before the upstream answers: a second subscribe meanwhile is this one, not a listener that no unsubscribe would release.
    this.subscriptions.set(uri, subscription);
    try {
      await connector.subscribeResource(route.upstreamUri, subscription.listener);
    } catch (error) {
      // Also releases it from a replacement connector that took it over meanwhile: the client hears it failed.
      if (this.subscriptions.get(uri) === subscription) await this.release(uri);
      throw error;
    }
    return {};
  }

  private async unsubscribe(uri: string): Promise<Record<string, unknown>> {
    await this.release(uri);
    return {};
  }

  /** Passes an upstream's resources/updated on, unless the person may no longer read the resource (a change the refresh missed). */
  private deliverUpdate(uri: string, subscription: ResourceSubscription): void {
    if (this.releaseIfUnreadable(uri, subscription)) return;
    void this.transport.send({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri } }).catch(() => {});
  }

  /** Releases a subscription whose resource the person may no longer read (one info line says so); true when it did. */
  private releaseIfUnreadable(uri: string, subscription: ResourceSubscription): boolean {
    const why = this.readRefusal(uri, subscription);
    if (why === undefined) return false;
    // As the connector logs URIs: the secret values it was given replaced.
    log.info("resource subscription dropped: access lost", { session: this.id, subject: this.principal.subject, virtualMcp: this.runtime.slug, uri: subscription.connector.redact(uri), reason: why });
    void this.release(uri);
    return true;
  }

  /**
   * Why resources/read would now refuse this session's person the resource
   * a subscription is for (reach, the connector that serves it, the policy);
   * undefined while it would not. Decided once per access view: the gateway
   * caches one per person and replaces it whenever the policy, the people or
   * the catalogue change, so on the notification path this is a lookup.
   */
  private readRefusal(uri: string, subscription: ResourceSubscription): string | undefined {
    const view = this.runtime.viewFor(this.subject);
    if (subscription.confirmedUnder === view) return undefined;
    if (!view.reachable) return "the person may no longer use the virtual MCP";
    const route = this.runtime.routeUri(uri);
    if (route?.attachment.connector !== subscription.connector.name || route.upstreamUri !== subscription.upstreamUri) return "no connector of the virtual MCP serves it any more";
    const decision = this.resourceDecision(uri, route);
    if (!decision.allow) return `denied by ${decision.rule}`;
    subscription.confirmedUnder = view;
    return undefined;
  }

  /** Ends one of this session's subscriptions; the upstream one ends with its last listener. */
  private async release(uri: string): Promise<void> {
    const subscription = this.subscriptions.get(uri);
    if (!subscription) return;
    this.subscriptions.delete(uri);
    await subscription.connector.unsubscribeResource(subscription.upstreamUri, subscription.listener);
  }

  private complete(progress: ProgressSink, signal: AbortSignal, params: Params, note: RequestInFlight): Promise<Record<string, unknown>> {
    const ref = params?.ref as { type?: string; name?: string; uri?: string } | undefined;
    if (ref?.type === "ref/prompt") {
      const prompt = this.runtime.catalogue.promptsByName.get(String(ref.name));
      if (!prompt) throw new RpcError(JSON_RPC.invalidParams, `There is no prompt "${String(ref.name)}" in virtual MCP "${this.runtime.slug}".`);
      note.exposedName = prompt.name;
      note.connector = prompt.connector;
      note.upstreamName = prompt.upstreamName;
      this.checkItem("prompt", prompt.name);
      if (!this.offersCompletions(prompt.connector)) return Promise.resolve(noCompletions());
      return this.forward(progress, signal, prompt.connector, "completion/complete", { ...params, ref: { ...ref, name: prompt.upstreamName } }, note);
    }
    if (ref?.type === "ref/resource") {
      const route = this.runtime.routeUri(String(ref.uri));
      if (!route) throw new RpcError(JSON_RPC.invalidParams, `No connector serves the resource template "${String(ref.uri)}".`);
      note.exposedName = String(ref.uri);
      note.connector = route.attachment.connector;
      note.upstreamName = route.upstreamUri;
      // As resources/read decides: a template hidden from the person stays hidden under another spelling of its URI.
      this.checkResource(String(ref.uri), route);
      if (!this.offersCompletions(route.attachment.connector)) return Promise.resolve(noCompletions());
      return this.forward(progress, signal, route.attachment.connector, "completion/complete", { ...params, ref: { ...ref, uri: route.upstreamUri } }, note);
    }
    throw new RpcError(JSON_RPC.invalidParams, "completion/complete needs a ref of type ref/prompt or ref/resource.");
  }

  /**
   * Whether a connector is asked for completions. The gateway offers them for
   * the whole Virtual MCP; a connector that offers none would answer "Method
   * not found", so its prompts and templates get an empty list instead (what
   * an SDK server answers for an argument it cannot complete). Unknown until
   * the connector first connected: asked, and its own error passed on.
   */
  private offersCompletions(connectorName: string): boolean {
    const capabilities = this.runtime.connectorFor(connectorName, this.principal).upstreamCapabilities;
    return capabilities === undefined || capabilities.completions !== undefined;
  }
}

const noCompletions = () => ({ completion: { values: [], hasMore: false } });

/** How long a session the gateway ends waits for the replies of the calls it cut off before it closes its transport. */
const CUT_OFF_REPLIES_MS = 2000;

/**
 * How the error for a call the gateway cut off names what ended and what the client can do next: a client
 * whose session ended starts a new one; one without a session (the 2026-07-28 revision) is told otherwise.
 */
export interface Ending {
  what: string;
  nextStep: string;
}
const SESSION_ENDING: Ending = { what: "this session", nextStep: "start a new session and try again" };
/** A call ended by revocation while its session (if any) carries on: there is no session to start again, only access to regain. */
export const CALL_ENDING: Ending = { what: "the call", nextStep: "sign in again or use a valid token, then send the request again" };
/** A call of the sessionless revision cut off because a change left its person out of the Virtual MCP. */
const LOST_ACCESS_CALL_ENDING: Ending = { what: "the call", nextStep: "ask an administrator for access to this Virtual MCP" };
/** A call of the sessionless revision cut off because its Virtual MCP was deleted: there is nothing to send it to again. */
export const GONE_CALL_ENDING: Ending = { what: "the call", nextStep: "ask an administrator which Virtual MCP to use instead" };
/** A session ended because its Virtual MCP was deleted: a new session there would find nothing either. */
export const GONE_SESSION_ENDING: Ending = { what: "this session", nextStep: GONE_CALL_ENDING.nextStep };
/** A call of the sessionless revision cut off by a shutdown: access stands, the gateway is what went away. */
export const SHUTDOWN_CALL_ENDING: Ending = { what: "the call", nextStep: "send the request again once the gateway is back" };

/** The error a call the gateway cut off is answered with: why, and what the client can do. */
const cutOffMessage = (reason: string, ending: Ending) => `mintgate ended ${ending.what} (${reason}) before the request finished; ${ending.nextStep}.`;

/** Why a request was aborted by its client: the reason the upstream is sent with its notifications/cancelled. */
const CLIENT_CANCELLED = "cancelled by the client";
const SESSION_CLOSED = "the session ended";
/** The record of a request its client cancelled (notifications/cancelled, or a sessionless request's connection closed). */
const CLIENT_CANCELLED_ERROR = "The client cancelled the request before it finished, so no answer was sent (MCP sends none to a cancelled request).";
/** The record of a request cut off by its client ending the session: nobody reads its answer any more. */
const SESSION_CLOSED_ERROR =
  "The client closed its session (it sent DELETE, or its connection went away) before the request finished, so the answer was not delivered; if it was not meant to, check the client's connection to the gateway.";

/** The SDK's "connection closed" code: what a client sees when its session ends under a request. */
const SESSION_ENDED = -32000;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * What a client declared it takes of the upstreams' requests. Only objects count as declared: neither the legacy
 * transport's initialize nor a sessionless request's envelope is checked that deep against the schema, and a null
 * read as declared failed every upstream's request during the client's calls with an internal error.
 */
function declaredClientRequests(capabilities: unknown): { elicitation?: { form?: unknown; url?: unknown }; sampling?: unknown } {
  const { elicitation, sampling } = isObject(capabilities) ? capabilities : {};
  return { ...(isObject(elicitation) ? { elicitation } : {}), ...(isObject(sampling) ? { sampling } : {}) };
}

/**
 * A request's params as the handlers expect them, checked once at the edge:
 * a malformed request gets a -32602 sentence at once, never an internal
 * error or a hang upstream. A null `_meta` or `arguments` counts as absent.
 */
function checkedParams(method: string, params: unknown): Params {
  if (params === undefined || params === null) params = {};
  if (!isObject(params)) throw new RpcError(JSON_RPC.invalidParams, `The params of ${method} must be an object.`);
  let checked = params;
  const drop = (key: string) => {
    const { [key]: _, ...rest } = checked;
    checked = rest;
  };
  if (checked._meta === null) drop("_meta");
  else if (checked._meta !== undefined) {
    if (!isObject(checked._meta)) throw new RpcError(JSON_RPC.invalidParams, `params._meta of ${method} must be an object.`);
    // Taken, any value made the reply an event stream whose progress notifications no client could match to its token.
    const token = checked._meta.progressToken;
    if (token !== undefined && !isProgressToken(token)) {
      const given = typeof token === "number" ? String(token) : kindOf(token);
      throw new RpcError(JSON_RPC.invalidParams, `params._meta.progressToken of ${method} must be a string or an integer (up to 2^53 - 1), not ${given}; send one, or leave it out for a reply without progress notifications.`);
    }
  }
  const needs = NAMED_BY[method];
  if (needs !== undefined && typeof checked[needs] !== "string") throw new RpcError(JSON_RPC.invalidParams, `${method} needs params.${needs}, a string.`);
  if (method === "tools/call" || method === "prompts/get") {
    if (checked.arguments === null) drop("arguments");
    else if (checked.arguments !== undefined && !isObject(checked.arguments)) {
      throw new RpcError(JSON_RPC.invalidParams, `The arguments of ${method === "tools/call" ? "tool" : "prompt"} "${String(checked.name)}" must be an object of named values.`);
    }
    // A prompt's arguments are strings (MCP schema): passed on, an SDK server answered another value with an internal error holding its validator's dump.
    if (method === "prompts/get" && checked.arguments !== undefined) {
      const notText = Object.entries(checked.arguments as Record<string, unknown>).find(([, value]) => typeof value !== "string");
      if (notText) throw new RpcError(JSON_RPC.invalidParams, `The arguments of prompt "${String(checked.name)}" must be strings, and "${notText[0]}" is ${kindOf(notText[1])}; send it as text.`);
    }
  }
  return checked;
}

/**
 * Whether a request's `_meta.progressToken` is one MCP allows (a string or an integer; past 2^53 - 1 an integer comes back
 * with other digits, as an id would). The endpoints answer a request with one on an event stream; the session refuses any
 * other value (see checkedParams), so a request carrying one is answered as plain JSON.
 */
export const isProgressToken = (value: unknown): value is string | number => typeof value === "string" || Number.isSafeInteger(value);

/** A JSON value's kind as a sentence names it ("a number", "an array"). */
const kindOf = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`);

/** The syslog levels logging/setLevel takes (RFC 5424, as the MCP schema lists them). */
const LOGGING_LEVELS: readonly string[] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/** The param that names what a request is about. */
const NAMED_BY: Record<string, string> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri", "resources/subscribe": "uri", "resources/unsubscribe": "uri" };

/** A tool error's first text, whole: the audit log redacts it before cutting it to size (a cut first could leave part of a secret). */
function firstText(result: Record<string, unknown>): string | undefined {
  const content = result.content as { type?: string; text?: string }[] | undefined;
  return content?.find((c) => c.type === "text")?.text;
}

const ASK_FOR_ROOM = "ask the gateway's administrator to free space on that disk; requests work again once there is room, without a restart.";
const REFUSED_DISK_FULL = `mintgate refused this request without running it: the disk holding its data is full, so it could not be recorded; ${ASK_FOR_ROOM}`;

/**
 * The error that replaces a reply whose audit record could not be committed. A full disk
 * is said as such (the audit log writes the one log line about it); anything else is an
 * unexpected error, logged.
 */
export function recordFailure(error: unknown, method: string, note?: Pick<RequestNote, "connector" | "outcome">): { code: number; message: string } {
  if (!isStorageFull(error)) return toRpcError(error);
  const ran = note !== undefined && note.connector !== null && note.outcome !== "denied" && method !== "initialize" && !method.endsWith("/list");
  const what = ran ? `it ran${method === "tools/call" ? " (the tool was called)" : ""}, but its reply is withheld` : "its reply is withheld";
  return { code: jsonRpcCodeOf(error), message: `mintgate could not record this request because the disk holding its data is full, so ${what}; ${ASK_FOR_ROOM}` };
}

function toRpcError(error: unknown): { code: number; message: string; data?: unknown } {
  if (error instanceof RpcError) return { code: error.code, message: error.message };
  if (error instanceof UpstreamRpcError) return { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) };
  if (error instanceof MintgateError) return { code: jsonRpcCodeOf(error), message: error.message };
  log.error("unexpected error in a gateway session", { error: (error as Error)?.stack ?? String(error) });
  return { code: JSON_RPC.internalError, message: publicMessageOf(error) };
}

/**
 * An upstream's error naming the resource it could not read (a not-found carries it in data.uri, SEP-2164) under
 * the exposed URI the client asked by: the upstream's own URI means nothing to the client.
 */
function withExposedErrorUri(prefix: string, error: unknown): unknown {
  if (prefix === "" || !(error instanceof UpstreamRpcError) || !isObject(error.data) || typeof error.data.uri !== "string") return error;
  return new UpstreamRpcError(error.code, error.message, { ...error.data, uri: exposedUri(prefix, error.data.uri) });
}

export type { Connector };

/** The record of a request answered without reaching a connector (server/discover, a refused Virtual MCP or transport). */
export function requestWithoutCall(
  principal: Principal,
  virtualMcp: string,
  method: string,
  outcome: { outcome: "ok" | "denied" | "error"; error: string | null; sessionId: string | null; userId?: string | null },
): McpRequestEntry {
  return {
    at: Date.now(),
    subject: principal.subject,
    tokenId: principal.tokenId,
    sessionId: outcome.sessionId,
    virtualMcp,
    connector: null,
    method,
    exposedName: "",
    upstreamName: null,
    arguments: undefined,
    outcome: outcome.outcome,
    error: outcome.error,
    durationMs: 0,
    userId: principal.userId ?? outcome.userId ?? null,
    clientId: principal.clientId ?? null,
    ip: principal.ip ?? null,
  };
}

/**
 * The record of a request refused before any session could take it (a person who may not use the
 * Virtual MCP): it names the tool, prompt or resource asked for and its connector, resolved as a session
 * resolves them, so the audit trail, `mintgate stats` and /metrics put the refusal under that tool (a name
 * that is no tool keeps no connector, as in a session).
 */
export function refusedRequest(
  principal: Principal,
  runtime: VirtualMcpRuntime,
  method: string,
  params: unknown,
  outcome: { error: string | null; sessionId: string | null; userId?: string | null },
): McpRequestEntry {
  const entry = requestWithoutCall(principal, runtime.slug, method, { outcome: "denied", ...outcome });
  const asked = (typeof params === "object" && params !== null ? params : {}) as { name?: unknown; uri?: unknown; arguments?: unknown };
  if ((method === "tools/call" || method === "prompts/get") && typeof asked.name === "string") {
    const catalogue = runtime.catalogue;
    const item = method === "tools/call" ? catalogue.toolsByName.get(asked.name) : catalogue.promptsByName.get(asked.name);
    return { ...entry, exposedName: asked.name, connector: item?.connector ?? null, upstreamName: item?.upstreamName ?? null, arguments: asked.arguments };
  }
  if (method === "resources/read" && typeof asked.uri === "string") {
    const route = runtime.routeUri(asked.uri);
    return { ...entry, exposedName: asked.uri, connector: route?.attachment.connector ?? null, upstreamName: route?.upstreamUri ?? null };
  }
  return entry;
}
