import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "../auth/index.ts";
import type { CallerIdentity, Catalogue, Connector, ConnectorPool } from "../connectors/index.ts";
import { decide, expandsTo, type Subject, type SubjectResolver, type VirtualMcpPolicy } from "../policy/index.ts";
import { EMPTY_CATALOGUE } from "../connectors/index.ts";
import { MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { curate, formerExposedUri, routeUri, type ApprovalLookup, type CuratedCatalogue, type UnmatchedNames } from "./curation.ts";
import { GONE_SESSION_ENDING, type GatewaySession } from "./session.ts";
import type { VirtualMcpDefinition } from "./types.ts";

/** Why the sessions of a Virtual MCP an admin deleted were ended: their cut-off calls' errors say it, and so do their next requests' 404s. */
export const deletionReason = (slug: string) => `virtual MCP "${slug}" was deleted`;

export type ListKind = "tools" | "prompts" | "resources";

/** What one person sees of a Virtual MCP: its curated catalogue filtered by the policy. */
export interface AccessView {
  catalogue: CuratedCatalogue;
  generation: number;
  policy: VirtualMcpPolicy | undefined;
  reachable: boolean;
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  /** The visible names per list, to tell a person only about changes they can see. */
  names: Record<ListKind, string>;
}

const NO_POLICY: VirtualMcpPolicy = {};
const VIEW_CACHE_SIZE = 1000;

/**
 * A Virtual MCP while the gateway runs: its curated catalogue, kept current
 * as connectors' catalogues and the configuration change, and its sessions,
 * which hear about every change.
 */
export class VirtualMcpRuntime {
  catalogue: CuratedCatalogue;
  readonly sessions = new Map<string, GatewaySession>();
  private unsubscribe: (() => void)[] = [];
  /** Sessionless listeners (2026-07-28 subscriptions/listen streams). */
  private readonly listChangedListeners = new Set<(changed: ReadonlySet<ListKind>) => void>();
  /** How to end what the sessionless revision has open here (calls in flight, listen streams), which no session holds. */
  private readonly sessionless = new Set<(reason: string) => void>();
  private signatures = { tools: "", prompts: "", resources: "" };
  /** The unmatched names last logged (see logUnmatched). */
  private unmatchedSaid = "";
  /** Views by who sees them (email, role, groups): people alike share one. */
  private readonly views = new Map<string, AccessView>();
  /**
   * Set while an attached connector is in its first start with no catalogue yet (Connector.inFirstStart):
   * resolves, with `catalogue` rebuilt, once each such connector was ready or failed or its wait ran out.
   * Undefined otherwise, so a request checks it with one field read.
   */
  firstStarts: Promise<void> | undefined;
  private firstStartsOver: (() => void) | undefined;
  private stopWatchingStarts: (() => void)[] = [];
  private firstStartsTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    public definition: VirtualMcpDefinition,
    private readonly pool: ConnectorPool,
    private approvals: ApprovalLookup,
    readonly subjects: SubjectResolver,
    /** Gateway's revocationOf: why a caller's access was revoked, if it was. */
    readonly revocationOf: (principal: Principal) => string | undefined,
  ) {
    this.catalogue = this.compute();
    this.signatures = signaturesOf(this.catalogue);
    this.subscribe();
  }

  get slug(): string {
    return this.definition.slug;
  }

  get policy(): VirtualMcpPolicy {
    return this.definition.policy ?? NO_POLICY;
  }

  /** What `subject` sees: computed once per catalogue, policy and store generation. */
  viewFor(subject: Subject): AccessView {
    const key = `${subject.email}\u0000${subject.role}\u0000${subject.groups.join("\u0000")}`;
    const cached = this.views.get(key);
    if (cached && cached.catalogue === this.catalogue && cached.generation === this.subjects.generation && cached.policy === this.definition.policy) return cached;
    const view = this.computeView(subject);
    if (this.views.size >= VIEW_CACHE_SIZE) this.views.clear();
    this.views.set(key, view);
    return view;
  }

  private computeView(subject: Subject): AccessView {
    const catalogue = this.catalogue;
    const policy = this.policy;
    const slug = this.slug;
    const base = { catalogue, generation: this.subjects.generation, policy: this.definition.policy };
    if (!decide(subject, { kind: "reach", virtualMcp: slug, policy }).allow) {
      return { ...base, reachable: false, tools: [], prompts: [], resources: [], resourceTemplates: [], names: { tools: "", prompts: "", resources: "" } };
    }
    const sees = (kind: "tool" | "prompt" | "resource", name: string) => decide(subject, { kind, virtualMcp: slug, policy, name }).allow;
    const tools = catalogue.tools.filter((t) => sees("tool", t.name)).map((t) => t.definition);
    const prompts = catalogue.prompts.filter((p) => sees("prompt", p.name)).map((p) => p.definition);
    // A `ui://` resource also as a policy may name it from before it kept its scheme (see formerExposedUri).
    const seesResource = (uri: string) => {
      if (!sees("resource", uri)) return false;
      const former = formerExposedUri(this.definition.connectors, uri);
      return former === undefined || sees("resource", former);
    };
    const resources = catalogue.resources.filter((r) => seesResource(r.uri));
    const resourceTemplates = catalogue.resourceTemplates.filter((r) => seesResource(r.uriTemplate));
    return {
      ...base,
      reachable: true,
      tools,
      prompts,
      resources,
      resourceTemplates,
      names: { tools: tools.map((t) => t.name).join("\n"), prompts: prompts.map((p) => p.name).join("\n"), resources: [...resources.map((r) => r.uri), ...resourceTemplates.map((r) => r.uriTemplate)].join("\n") },
    };
  }

  /** Which attachment an exposed resource URI goes to, and the upstream URI (see routeUri): among connectors under one prefix, the one that lists it. */
  routeUri(uri: string): ReturnType<typeof routeUri> {
    return routeUri(this.definition.connectors, uri, this.serves);
  }

  private readonly serves = (connector: string, upstreamUri: string): boolean => {
    const catalogue = this.pool.get(connector)?.catalogue;
    return catalogue !== undefined && (catalogue.resources.some((r) => r.uri === upstreamUri) || catalogue.resourceTemplates.some((t) => expandsTo(t.uriTemplate, upstreamUri)));
  };

  /** The connector client that carries this caller's calls now; undefined when the connector is not configured. */
  configuredConnector(name: string, caller: CallerIdentity): Connector | undefined {
    return this.pool.clientFor(name, caller);
  }

  /** The connector client that carries this caller's call. */
  connectorFor(name: string, caller: CallerIdentity): Connector {
    const connector = this.configuredConnector(name, caller);
    if (!connector) throw new MintgateError("upstream_failed", `Connector "${name}" is not configured.`);
    return connector;
  }

  /**
   * The attached connectors that have no tool list (never listed since they were configured: starting, or failed
   * at their first start), each said with its state: why a tool a client asks for may be missing.
   */
  connectorsWithoutList(): string[] {
    return this.definition.connectors.flatMap(({ connector: name }) => {
      const connector = this.pool.get(name);
      if (!connector || connector.catalogueKnown) return [];
      return [`connector "${name}" is ${connector.stateText}`];
    });
  }

  /** Applies a new definition or approvals; sessions are told what changed. */
  update(definition: VirtualMcpDefinition, approvals: ApprovalLookup, accessChanged: boolean): void {
    this.definition = definition;
    this.approvals = approvals;
    this.subscribe();
    this.refresh(accessChanged);
  }

  /**
   * Recomputes the catalogue; each session is told about the lists that
   * changed for its person (a changed definition, or a policy, group or role
   * change that shows or hides something). `accessChanged` says the policy
   * or the people may have changed even if the catalogue did not.
   */
  refresh(accessChanged = false): void {
    this.catalogue = this.compute();
    this.views.clear();
    const next = signaturesOf(this.catalogue);
    const changed = new Set<ListKind>((["tools", "prompts", "resources"] as const).filter((kind) => next[kind] !== this.signatures[kind]));
    this.signatures = next;
    if (changed.size === 0 && !accessChanged) return;
    for (const session of this.sessions.values()) session.refreshAccess(changed);
    for (const listener of this.listChangedListeners) listener(changed);
  }

  /**
   * Calls `listener` with the lists whose catalogue changed whenever they or the access to them (the policy, the
   * people) may have: as a session does, it tells its person of those and of the lists their view changed in.
   * Returns a function that stops it.
   */
  onListChanged(listener: (changed: ReadonlySet<ListKind>) => void): () => void {
    this.listChangedListeners.add(listener);
    return () => this.listChangedListeners.delete(listener);
  }

  /** Has `end` called with the reason when this Virtual MCP is deleted; returns a function that forgets it. */
  endsWithIt(end: (reason: string) => void): () => void {
    this.sessionless.add(end);
    return () => this.sessionless.delete(end);
  }

  /**
   * Ends its sessions and stops following its connectors. `reason` (the Virtual MCP was deleted): the calls its
   * sessions have in flight, and requests waiting for a first start, are answered with an error saying so; without
   * one they were cut off unanswered and their clients waited out their own timeout. The sessionless revision's
   * calls and listen streams end too (at shutdown, without a reason, the endpoint has ended them already).
   */
  async dispose(reason?: string): Promise<void> {
    for (const stop of this.unsubscribe) stop();
    this.unsubscribe = [];
    this.watchFirstStarts([]);
    if (reason !== undefined) for (const end of [...this.sessionless]) end(reason);
    this.sessionless.clear();
    // With a reason, it was deleted: the calls it cuts off are told to look elsewhere, not to start a session here again.
    await Promise.all([...this.sessions.values()].map((s) => (reason === undefined ? s.close() : s.end(reason, GONE_SESSION_ENDING))));
    this.sessions.clear();
  }

  private compute(): CuratedCatalogue {
    const catalogue = curate(
      this.definition,
      (name) => this.pool.get(name)?.catalogue ?? (EMPTY_CATALOGUE as Catalogue),
      this.approvals,
      this.catalogue?.toolsByName,
      (name) => this.pool.get(name)?.catalogueKnown ?? false,
    );
    // Said once when it appears, not at every rebuild (every catalogue refresh of every attached connector).
    for (const problem of catalogue.problems) if (!this.catalogue?.problems.includes(problem)) log.warn("tool hidden", { virtualMcp: this.definition.slug, problem });
    this.logUnmatched(catalogue.unmatched);
    return catalogue;
  }

  /** Names that match no tool are said once when they appear or change, not at every rebuild. */
  private logUnmatched(unmatched: UnmatchedNames[]): void {
    const said = unmatched.map(({ where, names }) => `${"policy" in where ? `policy ${where.policy}` : `connector ${where.connector}`}: ${names.join(", ")}`).join("; ");
    if (said === this.unmatchedSaid) return;
    if (said === "") log.info("configured names match tools again", { virtualMcp: this.definition.slug });
    else log.warn("configured names match no tool; their entries have no effect", { virtualMcp: this.definition.slug, unmatched: said });
    this.unmatchedSaid = said;
  }

  private subscribe(): void {
    for (const stop of this.unsubscribe) stop();
    const attached = this.definition.connectors.flatMap((attachment) => this.pool.get(attachment.connector) ?? []);
    this.unsubscribe = attached.map((connector) => connector.onCatalogueChange(() => this.refresh()));
    this.watchFirstStarts(attached);
  }

  /**
   * Keeps `firstStarts` set while any of `attached` is in its first start (a new attachment through
   * `apply` included), and resolves it once none is. A connector's catalogue is in (and this catalogue
   * rebuilt, by its catalogue listener) before it turns ready, so waiters answer from the new one.
   */
  private watchFirstStarts(attached: Connector[]): void {
    for (const stop of this.stopWatchingStarts) stop();
    this.stopWatchingStarts = [];
    clearTimeout(this.firstStartsTimer);
    const starting = attached.filter((connector) => connector.inFirstStart);
    if (starting.length === 0) {
      const over = this.firstStartsOver;
      this.firstStarts = undefined;
      this.firstStartsOver = undefined;
      return over?.();
    }
    this.firstStarts ??= new Promise((resolve) => (this.firstStartsOver = resolve));
    // Looked at again only once none of them is starting, so that a listener never re-adds itself while its connector is being told.
    const check = () => {
      if (!starting.some((connector) => connector.inFirstStart)) this.watchFirstStarts(attached);
    };
    this.stopWatchingStarts = starting.map((connector) => connector.onStateChange(check));
    this.firstStartsTimer = setTimeout(() => this.watchFirstStarts(attached), Math.min(...starting.map((c) => c.firstStartWaitEndsAt)) - Date.now() + 1);
    this.firstStartsTimer.unref();
  }
}

/** Cheap fingerprints of what clients see, to send list_changed only on a real change. */
function signaturesOf(catalogue: CuratedCatalogue) {
  return {
    tools: JSON.stringify(catalogue.tools.map((t) => t.definition)),
    prompts: JSON.stringify(catalogue.prompts.map((p) => p.definition)),
    resources: JSON.stringify([catalogue.resources, catalogue.resourceTemplates]),
  };
}
