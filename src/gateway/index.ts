import type { CallRecorder } from "../audit/index.ts";
import type { Principal } from "../auth/index.ts";
import { ConnectorPool, secretsReferencedBy, type Connector, type ConnectorDefinition } from "../connectors/index.ts";
import { log } from "../log/index.ts";
import { SubjectResolver } from "../policy/index.ts";
import type { Store } from "../store/index.ts";
import type { ApprovalLookup } from "./curation.ts";
import type { VirtualMcpDefinition } from "./types.ts";
import { deletionReason, VirtualMcpRuntime } from "./virtual-mcp.ts";

export { approvalCovers, canonicalJson, curate, decideEverySpelling, exposedName, exposedUiPointers, routeUri, toolDefinitionHash, uiPointersOf, unmatchedProblem, type CuratedCatalogue, type PendingTool, type UiPointers } from "./curation.ts";
export { GatewaySession, refusedRequest } from "./session.ts";
export { McpEndpoint } from "./endpoint.ts";
export { readAsked, recordRefusal, transportRefusal } from "./refusals.ts";
export { setKeepaliveInterval } from "./event-stream.ts";
export { VirtualMcpRuntime, type AccessView } from "./virtual-mcp.ts";
export * from "./types.ts";

/**
 * The running gateway: every connector and Virtual MCP, kept in step with
 * the store. Whoever changes the configuration (admin API, `mintgate apply`
 * from another process) writes the store; `sync` brings the runtime along.
 */
export class Gateway {
  private readonly runtimes = new Map<string, VirtualMcpRuntime>();
  private syncing: Promise<void> = Promise.resolve();
  private readonly syncListeners = new Set<() => void>();
  /** Set by close(): from then on nothing starts (a late sync would leave a connector running). */
  private closed = false;

  /** Calls `listener` after every configuration sync (for caches that depend on it). */
  onSynced(listener: () => void): void {
    this.syncListeners.add(listener);
  }

  /** People's roles and groups for the policy, cached until the store changes (every sync). */
  readonly subjects: SubjectResolver;

  /**
   * `revocationOf`: why a caller's access was taken away (a disabled person, a revoked token or sign-in), as the
   * revocation sweep says it; a session that loses its virtual MCP for that reason ends with it, not as a policy change.
   */
  constructor(
    readonly store: Store,
    readonly pool: ConnectorPool,
    readonly recorder: CallRecorder,
    private readonly revocationOf: (principal: Principal) => string | undefined = () => undefined,
  ) {
    this.subjects = new SubjectResolver(store);
  }

  virtualMcp(slug: string): VirtualMcpRuntime | undefined {
    return this.runtimes.get(slug);
  }

  virtualMcps(): VirtualMcpRuntime[] {
    return [...this.runtimes.values()];
  }

  /** The connectors of the first sync (what the gateway started with); undefined before it. */
  private startedWith: Connector[] | undefined;

  /**
   * The connectors the gateway started with that are still in their first start (Connector.inFirstStart:
   * neither ready nor failed yet, and not past the wait cap). A connector added later by `apply` is not
   * among them, so it never makes a running gateway look unready (nor does one that failed).
   */
  connectorsStarting(): string[] {
    if (this.startedWith === undefined || this.startedWith.length === 0) return [];
    const starting = this.startedWith.filter((connector) => connector.inFirstStart);
    if (starting.length === 0) this.startedWith = [];
    return starting.map((connector) => connector.name);
  }

  /**
   * People's roles or groups changed in this process (the admin API): they
   * are looked up again and sessions hear about lists that changed for them.
   * (Changes from other processes arrive through `sync`.)
   */
  accessChanged(): void {
    this.subjects.invalidate();
    for (const runtime of this.runtimes.values()) runtime.refresh(true);
  }

  /** Brings connectors and Virtual MCPs in line with the store; calls are serialised. */
  sync(): Promise<void> {
    if (this.closed) return this.syncing;
    this.syncing = this.syncing
      .then(() => this.syncNow())
      .catch((error: Error) => log.error("could not apply the configuration", { error: error.message }))
      .finally(() => {
        for (const listener of this.syncListeners) listener();
      });
    return this.syncing;
  }

  private async syncNow(): Promise<void> {
    if (this.closed) return;
    const connectors = this.store.gatewayConfig.connectors();
    const vmcps = this.store.gatewayConfig.virtualMcps();
    await this.syncConnectors(connectors);
    await this.syncVirtualMcps(vmcps);
    // Removed last, once no Virtual MCP lists their tools: stopping a child can take seconds, and its tools must not
    // be listed meanwhile by a Virtual MCP the same change detached it from (`apply --prune`), as if callable.
    const wanted = new Set(connectors.map((c) => c.name));
    for (const connector of this.pool.list()) {
      if (!wanted.has(connector.name)) await this.pool.remove(connector.name);
    }
  }

  private async syncVirtualMcps(vmcps: VirtualMcpDefinition[]): Promise<void> {
    // Roles, groups or policies may have changed with the rest: people are looked up again.
    this.subjects.invalidate();
    const wanted = new Set(vmcps.map((v) => v.slug));
    for (const [slug, runtime] of [...this.runtimes]) {
      if (!wanted.has(slug)) {
        this.runtimes.delete(slug);
        await runtime.dispose(deletionReason(slug));
        log.info("virtual MCP removed", { virtualMcp: slug });
      }
    }
    this.startedWith ??= this.pool.list();
    for (const definition of vmcps) {
      const approvals = approvalLookup(this.store, definition.slug);
      const runtime = this.runtimes.get(definition.slug);
      if (!runtime) {
        this.runtimes.set(definition.slug, new VirtualMcpRuntime(definition, this.pool, approvals, this.subjects, this.revocationOf));
        log.info("virtual MCP loaded", { virtualMcp: definition.slug, connectors: definition.connectors.length });
      } else {
        runtime.update(definition, approvals, true);
      }
    }
  }

  /** Adds and replaces connectors; those no longer configured are removed by syncNow once no Virtual MCP shows them. */
  private async syncConnectors(connectors: ConnectorDefinition[]): Promise<void> {
    for (const definition of connectors) {
      const before = this.pool.get(definition.name);
      const connector = await this.pool.upsert(definition, this.credentialVersions(definition));
      if (connector !== before) {
        connector.onCatalogueChange(() => {
          this.store.gatewayConfig.saveCatalogue(connector.name, JSON.stringify(connector.catalogue), Date.now());
        });
      }
    }
  }

  /** The versions of the secrets a connector's env or headers reference, e.g. `docs-token@3`. */
  private credentialVersions(definition: ConnectorDefinition): string {
    const names = secretsReferencedBy(definition.spec).sort();
    return names.map((name) => `${name}@${this.store.secrets.get(name)?.version ?? "unset"}`).join(",");
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.syncing;
    await Promise.all([...this.runtimes.values()].map((r) => r.dispose()));
    this.runtimes.clear();
    await this.pool.stopAll();
  }
}

export type { VirtualMcpDefinition };

/** The tool approvals of one Virtual MCP on record, as curation looks them up. */
export function approvalLookup(store: Store, slug: string): ApprovalLookup {
  const approved = new Map(store.gatewayConfig.approvals(slug).map((a) => [`${a.connector}\u0000${a.toolName}`, a.definitionHash]));
  return (connector, tool) => approved.get(`${connector}\u0000${tool}`);
}
