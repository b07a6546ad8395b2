import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import { JSON_RPC, MintgateError } from "../errors/index.ts";
import { Redactor } from "../audit/redact.ts";
import { log } from "../log/index.ts";
import { expandSecretReferences, secretReferencesIn } from "../secrets/index.ts";
import { capSseEvents, refusalSaid, StreamableHttpUpstreamTransport } from "./http-transport.ts";
import { ConnectorFailureLog } from "./failure-log.ts";
import { invisibleTextIn, invisibleTextSaid } from "./invisible-text.ts";
import type { UpstreamProcessGroups } from "./process-groups.ts";
import { StdioUpstreamTransport } from "./stdio-transport.ts";
import { connectionFailure, endpointElsewhere, redirectRefused, refusedByUpstream, resetSaid } from "./connection-failure.ts";
import { UpstreamLog } from "./upstream-log.ts";
import type { ConnectorDefinition, ConnectorState } from "./types.ts";
import { requestCancelled, resultText, UpstreamRpcError, UpstreamSession, type RefusedRequest, type RequestOptions } from "./upstream-session.ts";

export interface Catalogue {
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
}

export const EMPTY_CATALOGUE: Catalogue = Object.freeze({ tools: [], prompts: [], resources: [], resourceTemplates: [] }) as Catalogue;

const CONNECT_TIMEOUT_MS = 30_000;
const LIST_TIMEOUT_MS = 30_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** How long a connector must stay ready before its restart backoff starts over. */
const STABLE_AFTER_MS = 30_000;
/**
 * An upstream session forgotten sooner than this after it was opened did not expire: the upstream is failing (a crash
 * loop, a load balancer that does not keep sessions on one server), and the connector backs off as for any failure.
 */
const SESSION_RENEWED_AFTER_MS = 5_000;
/** A list with more pages than this is cut off, so a looping cursor cannot hang us. */
const MAX_LIST_PAGES = 100;
/**
 * A list longer than this (its pages, as JSON) is cut off too: a catalogue is held, compared at each refresh
 * and sent whole to every client, and 100 pages of up to 10 MiB each would hold a gigabyte for an upstream paging without end.
 */
const MAX_LIST_CHARS = 16 * 1024 * 1024;
/** After a catalogue refresh, how long the next one waits: an upstream announcing list_changed in a loop costs a few re-lists a second, not one per round trip. */
const REFRESH_MIN_INTERVAL_MS = 500;
/** How often at most a subscribed resource's updates are passed on while its upstream keeps announcing them. */
const UPDATE_INTERVAL_MS = 100;
/**
 * The longest requests that depend on the catalogue (tools/list, a call of a name not yet known) wait for a
 * connector's first start, and /readyz for the gateway's: an upstream that connects and lists at all does so
 * in a few seconds (an `npx` server's first start included), and 10 s stays well inside the request timeouts
 * clients use (the SDK's is 60 s), so a hung start costs a client a slow answer, never a timed-out one. A
 * connector's own call timeout, when shorter, caps it too: a list waits no longer than a call may take.
 */
const FIRST_START_WAIT_MAX_MS = 10_000;
/** The list_changed notifications an upstream may send, and the lists each one makes us read again. */
const LIST_REFRESHES: Readonly<Record<string, readonly (readonly [method: string, key: keyof Catalogue])[]>> = {
  "notifications/tools/list_changed": [["tools/list", "tools"]],
  "notifications/prompts/list_changed": [["prompts/list", "prompts"]],
  "notifications/resources/list_changed": [
    ["resources/list", "resources"],
    ["resources/templates/list", "resourceTemplates"],
  ],
};
/** What names an item in each list, uniquely. */
const IDENTITY_OF: Readonly<Record<string, string>> = { tools: "name", prompts: "name", resources: "uri", resourceTemplates: "uriTemplate" };
/** Stderr lines of a stdio upstream kept for the admin views, across its restarts. */
export const STDERR_KEPT_LINES = 200;

export interface ConnectorDeps {
  resolveSecret(name: string): string;
  /** Stdio children's stderr lines go to the log; tests may lower the first backoff. */
  backoffFirstMs?: number;
  /** Where stdio upstreams' process groups are noted, so the next start can end them after a crash. */
  processGroups?: UpstreamProcessGroups;
}

type Listener = () => void;

/**
 * Why the connector closes its upstream session under calls in flight, as those calls are told: it restarts
 * (`restart` says why), so they can be sent again, or it was removed, so they cannot.
 */
export type Closing = { restart: string; sendingAgainFails?: true } | "removed";

/** A holder of an upstream resource subscription. */
export interface ResourceListener {
  /** The upstream said the resource changed. */
  updated(uri: string): void;
  /** The upstream refused the subscribe this listener waited on (its own or another holder's): the subscription is gone. */
  refused(error: Error): void;
}

/**
 * One upstream MCP server, shared by every person's calls: its connection,
 * its lifecycle (start, restart with capped exponential backoff, stop) and
 * the cached catalogue of what it offers.
 */
export class Connector {
  state: ConnectorState = { status: "stopped" };
  catalogue: Catalogue = EMPTY_CATALOGUE;
  restarts = 0;
  lastError: string | undefined;
  private session: UpstreamSession | undefined;
  private stdio: StdioUpstreamTransport | undefined;
  /** The previous child's transport, for its last stderr lines after it died. */
  private lastStdio: StdioUpstreamTransport | undefined;
  private closeBuiltin: (() => Promise<void>) | undefined;
  /** Which errors of the current transport mean its upstream session is gone, said as why (legacy SSE only). */
  private transportErrorEndsSession: ((error: Error) => string | undefined) | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;
  private generation = 0;
  private readonly catalogueListeners = new Set<Listener>();
  /** list_changed notifications that arrived before the first catalogue was in. */
  private readonly deferredRefreshes = new Set<string>();
  private refreshing: Promise<void> = Promise.resolve();
  private readonly queuedRefreshes = new Set<string>();
  /** Upstream resource subscriptions, shared by every session that asked (refcounted by listener). */
  private readonly resourceListeners = new Map<string, Set<ResourceListener>>();
  private readonly stateListeners = new Set<Listener>();
  /** The last stderr lines of every child this connector ran, oldest first once full (a ring). */
  private readonly stderrRing: string[] = [];
  private stderrNext = 0;
  /** The secret values this connector resolved: replaced by [secret:NAME] in its stderr lines and errors. */
  private readonly redactor = new Redactor([]);
  /** The upstream's log messages, in the gateway's log. */
  private readonly upstreamLog: UpstreamLog;
  /** Its failures in the gateway's log: a repeated one is summarised, not written on every retry. */
  private readonly failureLog: ConnectorFailureLog;
  /** Its spec never changes (another spec is another Connector); its call-time settings may, through applySettings. */
  private currentDefinition: ConnectorDefinition;

  constructor(
    definition: ConnectorDefinition,
    private readonly deps: ConnectorDeps,
    /** The catalogue of the connector this one replaces, when it runs the same server: shown until its own is in. */
    initialCatalogue?: Catalogue,
  ) {
    this.currentDefinition = definition;
    if (initialCatalogue) this.catalogue = initialCatalogue;
    this.upstreamLog = new UpstreamLog(definition.name, (text) => this.redact(text));
    this.failureLog = new ConnectorFailureLog(definition.name);
  }

  get definition(): ConnectorDefinition {
    return this.currentDefinition;
  }

  get name(): string {
    return this.definition.name;
  }

  /** Whether `catalogue` is what the upstream (or the same server before a restart) offered, rather than the empty placeholder of one never listed. */
  get catalogueKnown(): boolean {
    return this.catalogue !== EMPTY_CATALOGUE;
  }

  /** Set once the connector was first ready or failed (or was stopped): its first start is over. */
  private firstStartOver = false;
  /** When its first start began (Date.now()); 0 before it did. */
  private firstStartAt = 0;

  /**
   * Whether the connector is still in its first start with no catalogue yet, and not for longer than
   * FIRST_START_WAIT_MAX_MS (or its call timeout): what it offers is about to be known, so requests that
   * depend on it are better held a moment than answered from an empty catalogue.
   */
  get inFirstStart(): boolean {
    return !this.firstStartOver && this.state.status === "starting" && !this.catalogueKnown && Date.now() < this.firstStartWaitEndsAt;
  }

  /** When waiting for the first start stops (Date.now() time). */
  get firstStartWaitEndsAt(): number {
    return this.firstStartAt + Math.min(FIRST_START_WAIT_MAX_MS, this.definition.timeoutMs);
  }

  /**
   * Takes a definition with the same spec (the pool checked) and other call-time
   * settings, leaving the upstream running. A call's timeout is armed when it is
   * sent, so calls in flight keep the timeout they started with; only calls
   * started after this get the new one.
   */
  applySettings(definition: ConnectorDefinition): void {
    const before = this.currentDefinition;
    this.currentDefinition = definition;
    log.info("connector settings changed; applied without a restart", { connector: this.name, timeoutMs: definition.timeoutMs, previousTimeoutMs: before.timeoutMs });
  }

  /** What the upstream said it supports when it last connected; undefined until it first did. */
  get upstreamCapabilities(): Record<string, unknown> | undefined {
    return this.session?.info?.capabilities;
  }

  onCatalogueChange(listener: Listener): () => void {
    this.catalogueListeners.add(listener);
    return () => this.catalogueListeners.delete(listener);
  }

  onStateChange(listener: Listener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /**
   * The last stderr lines (up to 200) of this connector's stdio children,
   * oldest first, with the secret values it was given replaced by [secret:NAME].
   */
  recentStderr(): string[] {
    const ring = this.stderrRing;
    if (ring.length < STDERR_KEPT_LINES) return ring.slice();
    return ring.slice(this.stderrNext).concat(ring.slice(0, this.stderrNext));
  }

  private keepStderrLine(line: string): void {
    if (this.stderrRing.length < STDERR_KEPT_LINES) {
      this.stderrRing.push(line);
    } else {
      this.stderrRing[this.stderrNext] = line;
      this.stderrNext = (this.stderrNext + 1) % STDERR_KEPT_LINES;
    }
  }

  /** `text` with the secret values this connector resolved replaced, as the audit trail does. */
  redact(text: string): string {
    return this.redactor.text(text);
  }

  private restarting: Promise<void> = Promise.resolve();

  /** Stops and starts again now (an admin asked), with the backoff started over. Restarts asked at once run one after another. */
  restart(): Promise<void> {
    this.restarting = this.restarting.then(async () => {
      log.info("connector restarting", { connector: this.name, reason: "an administrator restarted it" });
      await this.stop({ restart: "an administrator restarted it" });
      this.attempt = 0;
      this.failureLog.startOver();
      this.restarts++;
      void this.start();
    });
    return this.restarting;
  }

  /** Set once the connector left the pool (removed, replaced, shutdown): nothing may start it again. */
  private retired = false;

  /** Starts connecting in the background; resolves when the first attempt settles. */
  start(): Promise<void> {
    if (this.retired) return Promise.resolve();
    this.stopping = false;
    return this.connect();
  }

  /**
   * Stops for good: a restart still queued (an admin's, a backoff's) does not bring it back. `closing`: why, for
   * the calls in flight (a replacement of the same name restarting it, or its removal).
   */
  retire(closing?: Closing): Promise<void> {
    this.retired = true;
    return this.stop(closing);
  }

  async stop(closing?: Closing): Promise<void> {
    this.stopping = true;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.retryTimer = undefined;
    await this.teardown(closing && ((method) => this.cutOff(closing, method)));
    this.setState({ status: "stopped" });
  }

  /** Kills a stdio upstream's whole process group at once (the gateway is about to exit): for good, as retire. */
  killNow(): void {
    // The kill fails the connector: a backoff restart would start a child that the exit then leaves running.
    this.retired = true;
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // During a graceful stop the transport is already taken by teardown: it is still lastStdio.
    (this.stdio ?? this.lastStdio)?.killGroupNow();
  }

  /**
   * Sends one request upstream; fails at once, never hangs, when the connector is not ready, except while it
   * starts with its tools shown (see startingWithTools): then it waits for the start, as long as a list waits
   * for a first catalogue at most.
   */
  request(method: string, params: Record<string, unknown> | undefined, options: Partial<RequestOptions> = {}): Promise<Record<string, unknown>> {
    const session = this.session;
    if (session?.isOpen && this.state.status === "ready") return this.send(session, method, params, options);
    if (!this.startingWithTools) return Promise.reject(this.notAvailable());
    return this.sessionAfter(undefined, this.startWaitEndsAt - Date.now(), options.signal, { untilFailed: true }).then((ready) =>
      ready ? this.send(ready, method, params, options) : Promise.reject(this.notAvailable()),
    );
  }

  /**
   * Starting with a catalogue already shown: in its first start, the replacement of a connector whose credentials
   * changed (a `secrets set`) keeps offering its tools while the same server restarts with the new value; later, a
   * connector opens a new session for one its upstream forgot. A call to one of its tools must wait for it then, not
   * be refused as "starting" while the tool is listed.
   */
  private get startingWithTools(): boolean {
    return this.state.status === "starting" && this.catalogueKnown && Date.now() < this.startWaitEndsAt;
  }

  /** Until when calls wait for a start (Date.now() time): its first, or the new session after one the upstream forgot. */
  private get startWaitEndsAt(): number {
    return this.firstStartOver ? this.renewalWaitEndsAt : this.firstStartWaitEndsAt;
  }

  private renewalWaitEndsAt = 0;
  /** When the connector last became ready (Date.now()). */
  private readyAt = 0;

  /** The error of a call in flight when the connector closed its upstream session: it did not complete, and whether it can be sent again. */
  private cutOff(closing: Closing, method: string): MintgateError {
    if (closing === "removed") return new MintgateError("upstream_failed", `Connector "${this.name}" was removed during ${method}, so the call did not complete; it cannot be sent again there.`);
    // A stdio answer too long to read restarts the upstream: the same call sent again would only restart it again.
    const next = closing.sendingAgainFails ? "a call asking for a smaller answer may work once it is back" : "send it again in a moment";
    return new MintgateError("upstream_failed", `Connector "${this.name}" restarted during ${method} (${closing.restart}), so the call did not complete; ${next}.`);
  }

  private notAvailable(): MintgateError {
    return new MintgateError("upstream_failed", `Connector "${this.name}" is not available: it is ${this.stateText}.`);
  }

  /** Its state as said to people: "ready", "starting", "failed (why)", "stopping". */
  get stateText(): string {
    // Its upstream session is gone at once, while its state stays as it was until the upstream has ended (up to the 2 s SIGTERM grace).
    if (this.stopping && this.state.status !== "stopped") return "stopping";
    return this.state.status === "failed" ? `failed (${this.state.reason})` : this.state.status;
  }

  private send(session: UpstreamSession, method: string, params: Record<string, unknown> | undefined, options: Partial<RequestOptions>): Promise<Record<string, unknown>> {
    // An upstream's answer (a tool that prints its env, an echo of its request headers), its error text
    // (an HTTP error page, a stack trace) and its progress messages may quote the credentials it was sent: they stay in the gateway.
    const { onProgress } = options;
    const redactedProgress: RequestOptions["onProgress"] = onProgress && ((update) => onProgress(this.redactor.secretCount === 0 ? update : this.redactor.value(update)));
    const call = session.request(method, params, { timeoutMs: this.definition.timeoutMs, ...options, onProgress: redactedProgress, resendRefused: this.resendAfterReconnect });
    const answer = this.redactor.secretCount === 0 ? call : call.then((result) => this.redactedResult(result), (error: unknown) => Promise.reject(this.redactedError(error)));
    return answer.catch((error: unknown) => {
      // Cut off by its client or the gateway, or by the upstream session ending (a crash, a restart: logged as such): not the call's own failure.
      if (this.state.status === "ready" && !this.stopping && session.isOpen && options.signal?.aborted !== true) this.failureLog.callFailed(method, error);
      throw error;
    });
  }

  /** A result with this connector's secret values replaced; the very object (and its frame text, passed on unparsed) when it held none. */
  private redactedResult(result: Record<string, unknown>): Record<string, unknown> {
    const frame = resultText.get(result);
    if (frame !== undefined && this.redact(frame) === frame) return result;
    return this.redactor.value(result);
  }

  /**
   * Sends a request the upstream refused for a session it forgot (so it never ran) again, once: in the
   * session the connector's reconnect opens, once it is ready, waiting no longer than the request's own
   * timeout. A second refusal fails it (no resendRefused this time), as does the connector being stopped.
   */
  private readonly resendAfterReconnect = async ({ session: lost, error, method, params, options }: RefusedRequest): Promise<Record<string, unknown>> => {
    const next = await this.sessionAfter(lost, options.timeoutMs, options.signal);
    if (!next) throw error;
    return next.request(method, params, { ...options, resendRefused: undefined });
  };

  /**
   * The session that replaced `lost`, once the connector is ready on it (the session's close has the
   * connector reconnect); undefined when that takes longer than `timeoutMs` or the connector is stopped
   * (or, `untilFailed`, failed: a failed first start is not waited out through its backoff).
   * Rejects as a cancelled request when `signal` aborts first.
   */
  private sessionAfter(lost: UpstreamSession | undefined, timeoutMs: number, signal: AbortSignal | undefined, { untilFailed = false } = {}): Promise<UpstreamSession | undefined> {
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        stopWatching();
        signal?.removeEventListener("abort", cancelled);
        outcome();
      };
      const check = () => {
        const session = this.session;
        if (this.state.status === "ready" && session?.isOpen && session !== lost) settle(() => resolve(session));
        else if (this.state.status === "stopped" || (untilFailed && this.state.status === "failed")) settle(() => resolve(undefined));
      };
      const cancelled = () => settle(() => reject(requestCancelled()));
      const timer = setTimeout(() => settle(() => resolve(undefined)), timeoutMs);
      const stopWatching = this.onStateChange(check);
      signal?.addEventListener("abort", cancelled, { once: true });
      if (signal?.aborted) cancelled();
      else check();
    });
  }

  /** The error a client sees, with this connector's secret values replaced. */
  private redactedError(error: unknown): unknown {
    if (error instanceof UpstreamRpcError) {
      return new UpstreamRpcError(error.code, this.redact(error.message), this.redactor.value(error.data));
    }
    if (error instanceof MintgateError) return new MintgateError(error.kind, this.redact(error.message), { cause: error.cause });
    return error;
  }

  /**
   * Subscribes `listener` to updates of an upstream resource; the upstream is asked once per URI.
   * A connector that is not ready refuses at once, unless `whenReady`: then it holds the listener
   * and subscribes upstream once it is ready (connect() renews every held URI), telling
   * `listener.refused` if the upstream refuses then.
   */
  async subscribeResource(uri: string, listener: ResourceListener, { whenReady = false } = {}): Promise<void> {
    let listeners = this.resourceListeners.get(uri);
    const first = !listeners;
    if (!listeners) this.resourceListeners.set(uri, (listeners = new Set()));
    listeners.add(listener);
    if (!first || (whenReady && this.state.status !== "ready")) return;
    try {
      await this.request("resources/subscribe", { uri });
    } catch (error) {
      // Holders that joined while it was asked were told nothing yet: they lose it too (a retired connector's move to its replacement instead).
      const others = this.dropResourceListeners(uri);
      if (!this.retired) for (const other of others) if (other !== listener) other.refused(error as Error);
      throw error;
    }
  }

  /** URIs told to their listeners within the last UPDATE_INTERVAL_MS, and whether another update came meanwhile. */
  private readonly updatesHeld = new Map<string, { again: boolean }>();

  /**
   * Tells a URI's listeners (every session subscribed to it) it changed: at once, then at most once per
   * UPDATE_INTERVAL_MS while updates keep coming, the last one never lost. An update says only that the resource
   * changed, so one stands for many; an upstream announcing thousands a second would otherwise have each passed to
   * every subscribed client, held for those not reading their stream.
   */
  private resourceUpdated(uri: string): void {
    const held = this.updatesHeld.get(uri);
    if (held) return void (held.again = true);
    const listeners = this.resourceListeners.get(uri);
    if (!listeners) return;
    for (const listener of listeners) listener.updated(uri);
    const entry = { again: false };
    this.updatesHeld.set(uri, entry);
    setTimeout(() => {
      this.updatesHeld.delete(uri);
      if (entry.again) this.resourceUpdated(uri);
    }, UPDATE_INTERVAL_MS).unref();
  }

  /** Forgets a URI's listeners (the upstream is not subscribed to it), returning them. */
  private dropResourceListeners(uri: string): Set<ResourceListener> {
    const listeners = this.resourceListeners.get(uri) ?? new Set();
    this.resourceListeners.delete(uri);
    return listeners;
  }

  async unsubscribeResource(uri: string, listener: ResourceListener): Promise<void> {
    const listeners = this.resourceListeners.get(uri);
    if (!listeners?.delete(listener) || listeners.size > 0) return;
    this.resourceListeners.delete(uri);
    await this.request("resources/unsubscribe", { uri }).catch(() => {});
  }

  private setState(state: ConnectorState): void {
    this.state = state;
    if (state.status !== "starting") this.firstStartOver = true;
    for (const listener of this.stateListeners) listener();
  }

  private setCatalogue(catalogue: Catalogue): void {
    // Shown to every client and admin: an upstream that quotes the credential it was sent (a description, a resource
    // URI) must not hand it on. The very catalogue when it holds none; only at a (re)list, never per call.
    this.catalogue = this.redactor.value(catalogue);
    for (const listener of this.catalogueListeners) listener();
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    let opened: UpstreamSession | undefined;
    this.deferredRefreshes.clear();
    if (this.firstStartAt === 0) this.firstStartAt = Date.now();
    this.setState({ status: "starting" });
    try {
      const transport = await this.openTransport();
      if (generation !== this.generation) {
        // Stopped (or restarted) while the transport was being opened: close what we opened.
        await transport.close().catch(() => {});
        return;
      }
      const session = new UpstreamSession(this.name, transport, {
        endsSession: this.transportErrorEndsSession,
        // A stdio child that died under calls: onClose below fails the connector, and its backoff starts another.
        cutOffByClose: (method) =>
          generation === this.generation && !this.stopping && this.lastStdio?.exitInfo
            ? this.cutOff({ restart: this.describeExit()!, ...(this.lastStdio.wroteTooLong ? { sendingAgainFails: true } : {}) }, method)
            : undefined,
        // What it asks a person or their model may quote the credentials it was sent: they stay in the gateway, as in its answers.
        redactAsked: (params) => (this.redactor.secretCount === 0 ? params : this.redactor.value(params)),
      });
      this.session = session;
      opened = session;
      session.onClose = (reason) => {
        if (generation !== this.generation || this.stopping) return;
        const forgotten = transport instanceof StreamableHttpUpstreamTransport ? transport.forgottenWith : undefined;
        if (forgotten === undefined) return this.fail(this.lastStdio?.startFailure ?? this.describeExit({ whileStarting: this.state.status === "starting" }) ?? reason);
        this.sessionForgotten(forgotten);
      };
      session.onNotification = (method, params) => {
        if (generation !== this.generation) return;
        if (method === "notifications/message") {
          // Not forwarded to AI clients: this upstream session serves everyone, so a message one person's call caused could reach another.
          this.upstreamLog.write(params);
          return;
        }
        if (method === "notifications/resources/updated") {
          this.resourceUpdated(String(params?.uri));
          return;
        }
        if (!Object.hasOwn(LIST_REFRESHES, method)) {
          log.debug("upstream notification ignored", { connector: this.name, method: method.slice(0, 100) });
          return;
        }
        // Until the first full catalogue is in, a refresh would race it: do it afterwards.
        if (this.state.status !== "ready") this.deferredRefreshes.add(method);
        else this.queueRefresh(method);
      };
      await session.connect(CONNECT_TIMEOUT_MS);
      const catalogue = await this.fetchCatalogue(session);
      // Stopped or restarted meanwhile: a newer attempt owns the connector now, and this one's process must not outlive it.
      if (generation !== this.generation) return void (await this.closeAttempt(session));
      this.lastError = undefined;
      // The backoff starts over only once the upstream has stayed up a while: a server that
      // crashes right after start must not be restarted every half second.
      if (this.stableTimer) clearTimeout(this.stableTimer);
      this.stableTimer = setTimeout(() => {
        if (generation !== this.generation) return;
        this.attempt = 0;
        this.failureLog.stable();
      }, STABLE_AFTER_MS);
      this.stableTimer.unref();
      this.setCatalogue(catalogue);
      this.readyAt = Date.now();
      this.setState({ status: "ready" });
      log[this.failureLog.readyLevel()]("connector ready", { connector: this.name, kind: this.definition.spec.kind, tools: catalogue.tools.length });
      for (const method of this.deferredRefreshes) this.queueRefresh(method);
      this.deferredRefreshes.clear();
      // A new upstream session knows nothing of the subscriptions the old one had, nor of those held while it was not ready (subscribeResource whenReady).
      for (const uri of this.resourceListeners.keys()) {
        this.request("resources/subscribe", { uri }).catch((error: Error) => {
          // Cut off by a restart: the next upstream session renews it.
          if (generation !== this.generation) return;
          log.warn("could not renew a resource subscription", { connector: this.name, uri: this.redact(uri), error: error.message });
          // Its holders are told, so that none keeps a subscription the upstream does not serve (and a later subscribe asks again).
          for (const listener of this.dropResourceListeners(uri)) listener.refused(error);
        });
      }
    } catch (error) {
      if (generation !== this.generation || this.stopping) return void (await this.closeAttempt(opened));
      // A child that died during the handshake: how it ended says more than the send that found it gone, and so do its
      // last words, which may still be in its stderr pipe when a write to it found it gone.
      if (this.lastStdio?.exitInfo) await this.lastStdio.done;
      if (generation !== this.generation || this.stopping) return void (await this.closeAttempt(opened));
      this.fail(this.lastStdio?.startFailure ?? this.describeExit({ whileStarting: true }) ?? this.transportErrorEndsSession?.(error as Error) ?? (error as Error).message);
    }
  }

  /** Closes a superseded attempt's session (and with it the transport and its process group), unless it is still the current one. */
  private async closeAttempt(session: UpstreamSession | undefined): Promise<void> {
    if (!session || session === this.session) return;
    await session.close();
  }

  /**
   * How the stdio child ended. `whileStarting`: it ended before it was ready, and its last stderr line is added (an
   * "API_KEY is not set" says what to fix, an exit code does not). Not once it served calls: the reason is told to every
   * client whose call finds the connector failed, and by then its stderr may speak of other people's calls.
   */
  private describeExit({ whileStarting = false } = {}): string | undefined {
    if (this.lastStdio?.stopReason) return this.lastStdio.stopReason;
    const exit = this.lastStdio?.exitInfo;
    if (!exit) return undefined;
    const how = exit.signal ? `the upstream process was killed by ${exit.signal}` : `the upstream process exited with code ${exit.code}`;
    const said = whileStarting ? this.lastStdio?.lastSaid() : undefined;
    return said === undefined ? how : `${how}; its last stderr line: ${said}`;
  }

  private fail(reason: string): void {
    const delay = Math.min((this.deps.backoffFirstMs ?? BACKOFF_FIRST_MS) * 2 ** this.attempt, BACKOFF_MAX_MS);
    this.attempt++;
    reason = this.redact(reason);
    this.lastError = reason;
    this.generation++;
    void this.teardown();
    this.setState({ status: "failed", reason, retryAt: Date.now() + delay });
    this.failureLog.failed(reason, delay);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopping) return;
      this.restarts++;
      void this.connect();
    }, delay);
  }

  /**
   * The upstream refused the session as one it does not know (HTTP `status`): it expired, or the upstream restarted. That
   * is no failure: a new session is opened at once, and calls made meanwhile wait for it. One forgotten right after it
   * was opened is a failure, and backs off.
   */
  private sessionForgotten(status: number): void {
    const keptMs = this.state.status === "ready" ? Date.now() - this.readyAt : 0;
    if (keptMs < SESSION_RENEWED_AFTER_MS) {
      return this.fail(`the upstream forgot its session (HTTP ${status}) ${keptMs === 0 ? "before it was ready" : `${Math.round(keptMs / 100) / 10} s after it was opened`}; check the upstream's log (behind a load balancer, its sessions must stay on one server)`);
    }
    log.info("upstream session forgotten (it expired, or the upstream restarted); opening a new one", { connector: this.name, status });
    this.renewalWaitEndsAt = Date.now() + Math.min(FIRST_START_WAIT_MAX_MS, this.definition.timeoutMs);
    void this.teardown();
    void this.connect();
  }

  /** `cutOff`: what the calls in flight fail with (see Closing); by default they are told the connector "was stopped". */
  private async teardown(cutOff?: (method: string) => MintgateError): Promise<void> {
    // Take everything now: a restart may install new ones while we await the old ones' close.
    const session = this.session;
    const closeBuiltin = this.closeBuiltin;
    const stdio = this.stdio;
    this.session = undefined;
    this.closeBuiltin = undefined;
    this.stdio = undefined;
    this.upstreamLog.end();
    await session?.close(cutOff);
    await closeBuiltin?.();
    // The stdio transport's close ends the whole process group.
    await stdio?.close();
  }

  private async openTransport(): Promise<Transport> {
    const spec = this.definition.spec;
    const expand = (value: string) =>
      expandSecretReferences(value, (name) => {
        const secret = this.deps.resolveSecret(name);
        this.redactor.addSecret(name, secret);
        return secret;
      });
    const expandAll = (values: Record<string, string>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, expand(v)]));
    // The file's own values are checked by `apply`; a secret's value only here. Bun's fetch sends a line
    // break in a header as it is (one more header line upstream) and Bun.spawn's error quotes a NUL's value.
    const expandChecked = (values: Record<string, string>, what: "header" | "environment variable", unfit: RegExp) =>
      Object.fromEntries(
        Object.entries(expandAll(values)).map(([key, value]) => {
          if (unfit.test(value)) {
            const names = secretReferencesIn(values[key]!).map((name) => `"${name}"`).join(", ");
            const cannot = `Connector "${this.name}": the ${what} "${key}" cannot carry a ${what === "header" ? "line break or " : ""}NUL character`;
            throw new MintgateError("upstream_failed", names ? `${cannot}, and the secret ${names} it uses holds one; set that secret again without it.` : `${cannot}; fix its value.`);
          }
          return [key, value];
        }),
      );
    switch (spec.kind) {
      case "stdio": {
        const transport = new StdioUpstreamTransport({
          name: this.name,
          command: spec.command,
          args: spec.args,
          cwd: spec.cwd,
          env: expandChecked(spec.env, "environment variable", /\0/),
          redact: (line) => this.redact(line),
          redactSpan: () => this.redactor.longestSecret,
          onStderrLine: (line) => this.keepStderrLine(line),
          stderrLevel: () => (this.failureLog.recovering ? "debug" : "info"),
          processGroups: this.deps.processGroups,
        });
        this.stdio = transport;
        this.lastStdio = transport;
        return transport;
      }
      case "http": {
        const transport = new StreamableHttpUpstreamTransport(new URL(spec.url), expandChecked(spec.headers, "header", /[\r\n\0]/), this.name, (text) => this.redact(text));
        transport.onStreamResumedWithGap = () => this.refreshAnnouncedLists();
        return transport;
      }
      case "sse": {
        const { SSEClientTransport, SseError } = await import("@modelcontextprotocol/sdk/client/sse.js");
        const headers = expandChecked(spec.headers, "header", /[\r\n\0]/);
        const url = new URL(spec.url);
        // A connection that failed (nothing listens, a refused TLS certificate), said as what to do; the event stream's error carries only a message, so the sentence is kept for it here.
        let failedConnection: string | undefined;
        const fetchSaid = async (input: string | URL, init: RequestInit | undefined) => {
          try {
            const response = await fetch(input, init);
            failedConnection = undefined;
            return response;
          } catch (error) {
            const said = connectionFailure(this.name, url, error);
            failedConnection = said?.message;
            throw said ?? resetSaid(error);
          }
        };
        // The SDK reports a POST the upstream refused (429, 502) as an error too: that fails one call.
        // Only a failed event stream ends the session, since the SDK reconnects it to a new, uninitialized one.
        // A stream that simply ended comes as an error with no message ("SSE error: undefined"): said as what happened.
        // An endpoint event naming another origin comes as a plain Error, during the handshake: it ends the session too.
        this.transportErrorEndsSession = (error) =>
          !(error instanceof SseError) ? endpointElsewhere(this.name, url, error)
          : failedConnection !== undefined ? failedConnection
          : error.event?.message === undefined && error.code === undefined ? "the upstream ended its event stream"
          : error.code !== undefined && error.code >= 300 ? refusedByUpstream(this.name, error.code, { when: " when its event stream was opened" })
          : `the upstream's event stream failed (${error.message.replace(/^SSE error: /, "")})`;
        // No redirects on either leg: they would carry the credential headers elsewhere. Taken "manual" and refused
        // here, so the failure says where it pointed (Bun's "UnexpectedRedirect fetching …" names only the url asked).
        const refuseRedirect = async (response: Response, asked: string | URL, when?: string) => {
          const location = response.status >= 300 && response.status < 400 ? response.headers.get("location") : null;
          if (location === null) return response;
          await response.body?.cancel();
          failedConnection = redirectRefused(this.name, new URL(asked), response.status, location, { when });
          throw new MintgateError("upstream_failed", failedConnection);
        };
        return new SSEClientTransport(url, {
          requestInit: { headers, redirect: "manual" },
          // A refused POST, said as the http connector says it, with what to check: the SDK's own error ("Error POSTing to endpoint
          // (HTTP 401): …") says neither, and quotes the whole body, a proxy's error page of kilobytes. Thrown here, it fails that one call.
          fetch: async (input, init) => {
            // The answer comes on the event stream and the POST is answered 202 at once: one the upstream holds longer than a call
            // may take is ended, or each (a timed-out call's notifications/cancelled) would keep a connection until the session ends.
            const timeoutMs = this.definition.timeoutMs;
            const held = new AbortController();
            const timer = setTimeout(() => held.abort(), timeoutMs);
            const signal = init?.signal ? AbortSignal.any([init.signal, held.signal]) : held.signal;
            let response: Response;
            try {
              response = await refuseRedirect(await fetchSaid(input, { ...init, signal, redirect: "manual" }), input);
            } catch (error) {
              if (!held.signal.aborted || init?.signal?.aborted) throw error;
              throw new MintgateError("timeout", `Connector "${this.name}" did not answer the POST of a message within ${timeoutMs / 1000} s; check the upstream's log.`);
            } finally {
              clearTimeout(timer);
            }
            if (response.ok) return response;
            throw new MintgateError("upstream_failed", refusedByUpstream(this.name, response.status, { said: await refusalSaid(response, (text) => this.redact(text)) }));
          },
          eventSourceInit: {
            fetch: async (input, init) =>
              capSseEvents(await refuseRedirect(await fetchSaid(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers }, redirect: "manual" }), input, " when its event stream was opened")),
          },
        });
      }
      case "builtin": {
        // Loaded only when a builtin connector runs: its server and schemas cost memory.
        const { connectBuiltinDemo } = await import("./builtin-demo.ts");
        const demo = await connectBuiltinDemo();
        this.closeBuiltin = demo.close;
        return demo.transport;
      }
    }
  }

  private async fetchCatalogue(session: UpstreamSession): Promise<Catalogue> {
    const capabilities = session.info?.capabilities ?? {};
    const [tools, prompts, resources, resourceTemplates] = await Promise.all([
      capabilities.tools ? this.listAll<Tool>(session, "tools/list", "tools") : [],
      capabilities.prompts ? this.listAll<Prompt>(session, "prompts/list", "prompts") : [],
      capabilities.resources ? this.listAll<Resource>(session, "resources/list", "resources") : [],
      capabilities.resources ? this.listAll<ResourceTemplate>(session, "resources/templates/list", "resourceTemplates") : [],
    ]);
    return { tools, prompts, resources, resourceTemplates };
  }

  private async listAll<T>(session: UpstreamSession, method: string, key: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | undefined;
    const cursors = new Set<string>();
    // An item listed again (on a page the upstream repeats, ignoring the cursor) is kept once: the same tool twice is no collision to refuse changes over.
    const idKey = IDENTITY_OF[key]!;
    const ids = new Map<string, T>();
    // Items with no name (null, a string, a tool without one) would be exposed as "prefix__undefined" or break the Virtual MCP's catalogue: skipped, and said once.
    let unnamed = 0;
    // Two different items under one name (two tools "search"): the first is kept, and the names are said once.
    const clashes = new Set<string>();
    let listedChars = 0;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      let result: Record<string, unknown>;
      try {
        result = await session.request(method, cursor === undefined ? undefined : { cursor }, { timeoutMs: LIST_TIMEOUT_MS });
      } catch (error) {
        // Servers in the wild declare resources (or prompts) and answer one of its lists with Method not found (MCP has no
        // capability of its own for resource templates): it is an empty list, not a failure that leaves every tool unreachable.
        if (page > 0 || !(error instanceof UpstreamRpcError) || error.code !== JSON_RPC.methodNotFound) throw error;
        if (!this.unservedSaid.has(method)) log.warn("upstream does not serve a list it declares; taken as empty", { connector: this.name, method });
        this.unservedSaid.add(method);
        return [];
      }
      const listed = result[key] ?? [];
      if (!Array.isArray(listed)) throw new MintgateError("upstream_failed", `Connector "${this.name}" answered ${method} with "${key}" that is not a list; fix the upstream server.`);
      // Measured by the page's text as the upstream sent it (kept to pass results on unserialised), not encoded again.
      listedChars += resultText.get(result)?.length ?? JSON.stringify(listed).length;
      for (const item of listed as T[]) {
        const id = (item as Record<string, unknown> | null)?.[idKey];
        if (typeof id !== "string") {
          unnamed++;
          continue;
        }
        const earlier = ids.get(id);
        if (earlier !== undefined) {
          if (JSON.stringify(earlier) !== JSON.stringify(item)) clashes.add(id);
          continue;
        }
        ids.set(id, item);
        items.push(item);
      }
      cursor = typeof result.nextCursor === "string" && result.nextCursor !== "" ? result.nextCursor : undefined;
      if (cursor === undefined) break;
      if (listedChars > MAX_LIST_CHARS) {
        log.warn("upstream list is too long; using the first pages", { connector: this.name, method, pages: page + 1, limitMiB: MAX_LIST_CHARS / (1024 * 1024) });
        break;
      }
      // A cursor given before would list the same pages again: every item twice, each a name "exposed twice".
      if (cursors.has(cursor)) {
        log.warn("upstream list repeats a cursor; using the pages before it", { connector: this.name, method, pages: page + 1 });
        break;
      }
      cursors.add(cursor);
      if (page === MAX_LIST_PAGES - 1) log.warn("upstream list has too many pages; using the first ones", { connector: this.name, method, pages: MAX_LIST_PAGES });
    }
    // Said when they change, not at every refresh of the same list.
    const twice = [...clashes].slice(0, 20).join(", ");
    const said = this.skippedSaid.get(method) ?? { unnamed: 0, twice: "" };
    if (unnamed !== said.unnamed && unnamed > 0) log.warn(`upstream list items skipped: no ${idKey}`, { connector: this.name, method, skipped: unnamed });
    if (twice !== said.twice && twice !== "") log.warn(`upstream lists different items under one ${idKey}; the first of each is used`, { connector: this.name, method, [idKey]: this.redact(twice) });
    this.skippedSaid.set(method, { unnamed, twice });
    this.sayInvisibleText(method, idKey, ids);
    return items;
  }

  /** The lists the upstream answered with Method not found, said once each. */
  private readonly unservedSaid = new Set<string>();

  /** The listed definitions that hold invisible characters, by list and then name, as last said: each is said once when it appears or changes, not at every refresh. */
  private readonly invisibleSaid = new Map<string, Map<string, string>>();

  /** Logs each listed definition that holds invisible characters (see invisibleTextIn): nobody may review it before clients get it. */
  private sayInvisibleText(method: string, idKey: string, listed: ReadonlyMap<string, unknown>): void {
    const said = this.invisibleSaid.get(method);
    const holding = new Map<string, string>();
    for (const [id, item] of listed) {
      const found = invisibleTextIn(item as object);
      if (found === undefined) continue;
      const definition = JSON.stringify(item);
      holding.set(id, definition);
      if (said?.get(id) === definition) continue;
      log.warn("upstream definition holds invisible characters, which AI clients read and terminals do not show", { connector: this.name, method, [idKey]: this.redact(id), found: invisibleTextSaid(found) });
    }
    this.invisibleSaid.set(method, holding);
  }

  /** What was last said of each list's skipped items (how many had no name or URI, which names were listed twice), to say a change once. */
  private readonly skippedSaid = new Map<string, { unnamed: number; twice: string }>();

  /** Reads again every list the upstream announces changes of, as if each had changed (its notifications may have been missed). */
  private refreshAnnouncedLists(): void {
    const capabilities = this.upstreamCapabilities ?? {};
    for (const kind of ["tools", "prompts", "resources"] as const) {
      if ((capabilities[kind] as { listChanged?: unknown } | undefined)?.listChanged === true) this.queueRefresh(`notifications/${kind}/list_changed`);
    }
  }

  /** Refreshes run one at a time, each merging its lists into the catalogue as it is then. */
  private queueRefresh(method: string): void {
    // At most one pending refresh per list: a burst of notifications costs one re-list.
    if (this.queuedRefreshes.has(method)) return;
    this.queuedRefreshes.add(method);
    const generation = this.generation;
    this.refreshing = this.refreshing.then(async () => {
      this.queuedRefreshes.delete(method);
      if (generation !== this.generation) return;
      await this.refreshOnNotification(method);
      // Notifications that arrive meanwhile are queued (one per list) and wait for this pause.
      await Bun.sleep(REFRESH_MIN_INTERVAL_MS);
    });
  }

  private async refreshOnNotification(method: string): Promise<void> {
    const session = this.session;
    if (!session) return;
    const toRefresh = LIST_REFRESHES[method];
    if (!toRefresh) return;
    try {
      const fresh: Partial<Catalogue> = {};
      for (const [listMethod, key] of toRefresh) {
        (fresh as Record<string, unknown>)[key] = await this.listAll(session, listMethod, key);
      }
      if (this.session !== session) return;
      // Compared as it is kept (redacted of the connector's secret values): a list quoting one differed from it every time.
      const listed = this.redactor.value(fresh);
      // Told of a change that is none (some upstreams announce every call): nothing to recompute, nobody to tell.
      if (Object.entries(listed).every(([key, items]) => JSON.stringify(items) === JSON.stringify(this.catalogue[key as keyof Catalogue]))) return;
      this.setCatalogue({ ...this.catalogue, ...listed });
      log.info("connector catalogue changed", { connector: this.name, notification: method });
    } catch (error) {
      // Asked on the session itself, not through send(): the upstream's error may quote the credentials it was sent.
      log.warn("could not refresh the catalogue", { connector: this.name, error: this.redact((error as Error).message) });
    }
  }
}
