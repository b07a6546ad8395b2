import type { CallerIdentity, Catalogue, Connector, ConnectorPool } from "../connectors/index.ts";
import { EMPTY_CATALOGUE } from "../connectors/index.ts";
import { MintgateError } from "../errors/index.ts";
import { log } from "../log/index.ts";
import { curate, type ApprovalLookup, type CuratedCatalogue } from "./curation.ts";
import type { GatewaySession } from "./session.ts";
import type { VirtualMcpDefinition } from "./types.ts";

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
  private readonly listChangedListeners = new Set<(kind: "tools" | "prompts" | "resources") => void>();
  private signatures = { tools: "", prompts: "", resources: "" };

  constructor(
    public definition: VirtualMcpDefinition,
    private readonly pool: ConnectorPool,
    private approvals: ApprovalLookup,
  ) {
    this.catalogue = this.compute();
    this.signatures = signaturesOf(this.catalogue);
    this.subscribe();
  }

  get slug(): string {
    return this.definition.slug;
  }

  /** The connector client that carries this caller's call. */
  connectorFor(name: string, caller: CallerIdentity): Connector {
    const connector = this.pool.clientFor(name, caller);
    if (!connector) throw new MintgateError("upstream_failed", `Connector "${name}" is not configured.`);
    return connector;
  }

  /** Applies a new definition or approvals; sessions are told what changed. */
  update(definition: VirtualMcpDefinition, approvals: ApprovalLookup): void {
    this.definition = definition;
    this.approvals = approvals;
    this.subscribe();
    this.refresh();
  }

  refresh(): void {
    this.catalogue = this.compute();
    const next = signaturesOf(this.catalogue);
    for (const kind of ["tools", "prompts", "resources"] as const) {
      if (next[kind] === this.signatures[kind]) continue;
      for (const session of this.sessions.values()) session.notifyListChanged(kind);
      for (const listener of this.listChangedListeners) listener(kind);
    }
    this.signatures = next;
  }

  /** Calls `listener` whenever what clients see of a list changes; returns a function that stops it. */
  onListChanged(listener: (kind: "tools" | "prompts" | "resources") => void): () => void {
    this.listChangedListeners.add(listener);
    return () => this.listChangedListeners.delete(listener);
  }

  async dispose(): Promise<void> {
    for (const stop of this.unsubscribe) stop();
    this.unsubscribe = [];
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
    this.sessions.clear();
  }

  private compute(): CuratedCatalogue {
    const catalogue = curate(this.definition, (name) => this.pool.get(name)?.catalogue ?? (EMPTY_CATALOGUE as Catalogue), this.approvals);
    for (const problem of catalogue.problems) log.warn("tool hidden", { virtualMcp: this.definition.slug, problem });
    return catalogue;
  }

  private subscribe(): void {
    for (const stop of this.unsubscribe) stop();
    this.unsubscribe = this.definition.connectors.flatMap((attachment) => {
      const connector = this.pool.get(attachment.connector);
      return connector ? [connector.onCatalogueChange(() => this.refresh())] : [];
    });
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
