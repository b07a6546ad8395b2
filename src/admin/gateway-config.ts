import { cliActor, recordAdminChange, type AdminActor } from "../audit/index.ts";
import type { GatewayConfig, GatewayConfigFile } from "../config-file/index.ts";
import { EMPTY_CATALOGUE, sameUpstreamSpec, type Catalogue, type ConnectorDefinition } from "../connectors/index.ts";
import { conflict, invalid, notFound } from "../errors/index.ts";
import { approvalCovers, canonicalJson, curate, type Gateway, type VirtualMcpDefinition } from "../gateway/index.ts";
import type { VirtualMcpPolicy } from "../policy/index.ts";
import type { SecretStore } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";
import { counted, joinedWithAnd } from "../terminal/index.ts";

export interface ApplyReport {
  changes: string[];
}

/**
 * What a client saw of one connector or Virtual MCP before it changed it: its
 * revision (If-Match), or null when it saw none there (If-None-Match: *). A
 * change made meanwhile by someone else is then refused rather than overwritten.
 */
export interface ExpectedRevision {
  of: "connector" | "virtual MCP";
  /** The connector's name or the Virtual MCP's slug. */
  name: string;
  revision: string | null;
}

/** A Virtual MCP's revision: a hash of its whole stored definition (curation and policy). */
export function virtualMcpRevision(definition: VirtualMcpDefinition): string {
  return new Bun.CryptoHasher("sha256").update(canonicalJson(definition)).digest("hex").slice(0, 20);
}

/** A connector's revision: a hash of its whole stored definition (spec and timeout). */
export function connectorRevision(definition: ConnectorDefinition): string {
  return new Bun.CryptoHasher("sha256").update(canonicalJson(definition)).digest("hex").slice(0, 20);
}

function checkExpected(current: GatewayConfig, expected: ExpectedRevision): void {
  const connector = expected.of === "connector";
  const found = connector ? current.connectors.find((c) => c.name === expected.name) : current.virtualMcps.find((v) => v.slug === expected.name);
  const label = `${connector ? "Connector" : "Virtual MCP"} "${expected.name}"`;
  if (expected.revision === null) {
    if (found) throw conflict(connector ? `A connector named "${expected.name}" exists already; choose another name, or edit that one.` : `${label} exists already (someone created it meanwhile); open it and change it there.`);
    return;
  }
  if (!found) throw conflict(`${label} was deleted since it was loaded.`);
  const revision = connector ? connectorRevision(found as ConnectorDefinition) : virtualMcpRevision(found as VirtualMcpDefinition);
  if (revision !== expected.revision) {
    throw conflict(`${label} was changed since it was loaded (by another admin, \`mintgate apply\` or another TUI); load it again and redo the change.`);
  }
}

/** How many approvedDefinition answers are kept (each a tool's definition); past it they are found again. */
const APPROVED_DEFINITIONS_KEPT = 1000;
const UNFOUND_DEFINITION_KEPT_MS = 60_000;

/**
 * Reads and changes the gateway's configuration: connectors, Virtual MCPs and
 * tool approvals. Every write path (the YAML file, the admin API, the demo)
 * goes through `apply`, so one validator guards them all. With a running
 * gateway in the same process, changes take effect at once; other processes
 * are picked up through the store.
 */
export class GatewayConfigService {
  constructor(
    private readonly deps: { store: Store; secrets: SecretStore; gateway?: Gateway | undefined; now?: () => number },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  current(): GatewayConfig {
    return { connectors: this.deps.store.gatewayConfig.connectors(), virtualMcps: this.deps.store.gatewayConfig.virtualMcps() };
  }

  // The file format (and its YAML library) loads on first use: serving never needs it.
  async export(format: "yaml" | "json" = "yaml"): Promise<string> {
    const { serializeConfigFile, serializeConfigFileJson } = await import("../config-file/index.ts");
    return format === "json" ? serializeConfigFileJson(this.current()) : serializeConfigFile(this.current());
  }

  /** Parses and validates mintgate.yaml, as text or as the file's bytes (JSON is YAML too); `prune`: it is to be applied with pruning. */
  async parse(file: string | Uint8Array, fileName = "mintgate.yaml", options: { prune?: boolean } = {}): Promise<GatewayConfigFile> {
    const { decodeConfigFile, parseConfigFileSections } = await import("../config-file/index.ts");
    const text = typeof file === "string" ? file : decodeConfigFile(file, fileName);
    return parseConfigFileSections(text, { knownSecrets: new Set(this.deps.secrets.list().map((s) => s.name)), fileName, prune: options.prune ?? false, stored: this.current() });
  }

  /**
   * Makes the store match `config`: connectors and Virtual MCPs in it are
   * created or updated; with `prune`, those not in it are deleted, in the sections
   * it has (a section it leaves out stays as it is). All or nothing.
   * `config` may be worked out from the configuration as it is inside the
   * write transaction (a deletion), so nothing another process committed
   * just before is reverted.
   */
  async apply(
    config: GatewayConfigFile | ((current: GatewayConfig) => GatewayConfigFile),
    options: { prune?: boolean; dryRun?: boolean; /** Who, and from where, for the audit trail. */ actor?: AdminActor | undefined; /** Refuse unless that connector or Virtual MCP is still as the caller saw it. */ expected?: ExpectedRevision | undefined } = {},
  ): Promise<ApplyReport> {
    const repo = this.deps.store.gatewayConfig;
    const now = this.now();
    // Read, check and write in one write transaction: two applies at once (two shells, the TUI and the CLI)
    // then give the result of one after the other, never a mix of both.
    const changes = this.deps.store.transaction(() => {
      const before = this.current();
      if (options.expected) checkExpected(before, options.expected);
      const next = merge(before, typeof config === "function" ? config(before) : config, options.prune ?? false);
      checkAttachedConnectorsKept(next);
      this.checkAgainstCatalogues(next, before);
      const changes = describeChanges(before, next, (slug) => repo.deletedWith(slug), options.dryRun ?? false);
      if (changes.length === 0 || options.dryRun) return changes;
      const keptVmcps = new Set(next.virtualMcps.map((v) => v.slug));
      for (const vmcp of before.virtualMcps) if (!keptVmcps.has(vmcp.slug)) repo.deleteVirtualMcp(vmcp.slug);
      for (const connector of next.connectors) repo.putConnector(connector, now);
      for (const vmcp of next.virtualMcps) repo.putVirtualMcp(vmcp, now);
      const keptConnectors = new Set(next.connectors.map((c) => c.name));
      for (const connector of before.connectors) if (!keptConnectors.has(connector.name)) repo.deleteConnector(connector.name);
      // In the same transaction: the change and its audit record commit together.
      recordConfigChanges(this.deps.store, options.actor ?? { name: this.deps.gateway ? "gateway" : cliActor(), ip: null }, before, next);
      return changes;
    });
    if (changes.length > 0 && !options.dryRun) await this.deps.gateway?.sync();
    return { changes };
  }

  /** `expectedRevision` (If-Match): only if it is still that revision. */
  async deleteConnector(name: string, actor?: AdminActor, expectedRevision?: string): Promise<ApplyReport> {
    return this.apply(
      (current) => {
        if (!current.connectors.some((c) => c.name === name)) throw notFound(`There is no connector "${name}".`);
        const users = current.virtualMcps.filter((v) => v.connectors.some((a) => a.connector === name)).map((v) => v.slug);
        if (users.length > 0) throw conflict(`Connector "${name}" is used by ${users.length === 1 ? "virtual MCP" : "virtual MCPs"} ${joinedWithAnd(users.map((u) => `"${u}"`))}; detach it there first.`);
        return { connectors: current.connectors.filter((c) => c.name !== name), virtualMcps: current.virtualMcps };
      },
      { prune: true, actor, expected: expectedRevision === undefined ? undefined : { of: "connector", name, revision: expectedRevision } },
    );
  }

  /** `expectedRevision` (If-Match): only if it is still that revision. */
  async deleteVirtualMcp(slug: string, actor?: AdminActor, expectedRevision?: string): Promise<ApplyReport> {
    return this.apply(
      (current) => {
        if (!current.virtualMcps.some((v) => v.slug === slug)) throw notFound(`There is no virtual MCP "${slug}".`);
        return { connectors: current.connectors, virtualMcps: current.virtualMcps.filter((v) => v.slug !== slug) };
      },
      { prune: true, actor, expected: expectedRevision === undefined ? undefined : { of: "virtual MCP", name: slug, revision: expectedRevision } },
    );
  }

  /**
   * Creates or replaces one Virtual MCP (the admin API's PUT): through `apply`
   * without pruning, so it is checked against the catalogues like the file.
   */
  async putVirtualMcp(definition: VirtualMcpDefinition, actor?: AdminActor, expectedRevision?: string | null): Promise<ApplyReport & { created: boolean }> {
    const created = !this.current().virtualMcps.some((v) => v.slug === definition.slug);
    const expected = expectedRevision === undefined ? undefined : { of: "virtual MCP" as const, name: definition.slug, revision: expectedRevision };
    return { ...(await this.apply({ connectors: [], virtualMcps: [definition] }, { actor, expected })), created };
  }

  /**
   * What an admin approved last for one tool (the audit trail keeps it with
   * the approval), so a changed tool can be shown as a diff. Undefined when
   * no approval of that hash is on record (older approvals kept only the hash).
   */
  approvedDefinition(slug: string, connector: string, tool: string): { hash: string; definition: unknown } | undefined {
    const hash = this.deps.store.gatewayConfig.approvals(slug).find((a) => a.connector === connector && a.toolName === tool)?.definitionHash;
    if (!hash) return undefined;
    const key = JSON.stringify([slug, connector, tool, hash]);
    const known = this.approvedDefinitions.get(key);
    if (known && (known.definition !== undefined || this.now() - known.at < UNFOUND_DEFINITION_KEPT_MS)) return { hash, definition: known.definition };
    let definition: unknown;
    for (const row of this.deps.store.audit.search({ kind: "admin", method: "tool.approve" }, 500)) {
      if (!row.exposedName?.startsWith(`${slug}/`) || !row.detail) continue;
      try {
        const after = (JSON.parse(row.detail) as { after?: { connector?: string; tool?: string; hash?: string; definition?: unknown } }).after;
        if (after?.connector === connector && after.tool === tool && after.hash === hash && after.definition) {
          definition = after.definition;
          break;
        }
      } catch {
        // a record cut by the size limit: not usable for a diff
      }
    }
    if (this.approvedDefinitions.size >= APPROVED_DEFINITIONS_KEPT) this.approvedDefinitions.clear();
    this.approvedDefinitions.set(key, { definition, at: this.now() });
    return { hash, definition };
  }

  /**
   * approvedDefinition's answers by Virtual MCP, connector, tool and approved hash (a hash's definition never
   * changes): finding one walks the audit trail back, 0.5 s at 2 million records on the request thread, and the
   * Virtual MCP listing the TUI polls asks again for each changed tool every time. One not found is looked for
   * again a minute later: its approval's record may not have been committed yet.
   */
  private readonly approvedDefinitions = new Map<string, { definition: unknown; at: number }>();

  /** One Virtual MCP's access policy (empty when it has none: admins only) and the revision it belongs to. */
  policy(slug: string): { policy: VirtualMcpPolicy; revision: string } {
    const vmcp = this.current().virtualMcps.find((v) => v.slug === slug);
    if (!vmcp) throw notFound(`There is no virtual MCP "${slug}".`);
    return { policy: vmcp.policy ?? {}, revision: virtualMcpRevision(vmcp) };
  }

  /** Replaces one Virtual MCP's policy through `apply`, so it is validated like the file. */
  async setPolicy(slug: string, policy: VirtualMcpPolicy, actor?: AdminActor, expectedRevision?: string): Promise<ApplyReport> {
    const vmcp = this.current().virtualMcps.find((v) => v.slug === slug);
    if (!vmcp) throw notFound(`There is no virtual MCP "${slug}".`);
    const { policy: _, ...rest } = vmcp;
    // Checked in apply's transaction against the definition it changes, the curation read here included.
    const expected = { of: "virtual MCP" as const, name: slug, revision: expectedRevision ?? virtualMcpRevision(vmcp) };
    return this.apply({ connectors: [], virtualMcps: [{ ...rest, ...(Object.keys(policy).length > 0 ? { policy } : {}) }] }, { actor, expected });
  }

  /**
   * Approves a held-back tool. With `reviewedHash`, only if the tool is still
   * exactly what the admin looked at: an upstream may change it in between.
   */
  async approveTool(slug: string, exposedName: string, approvedBy: AdminActor, reviewedHash?: string): Promise<{ connector: string; tool: string; hash: string }> {
    const runtime = this.deps.gateway?.virtualMcp(slug);
    if (!runtime) throw notFound(`There is no running virtual MCP "${slug}".`);
    const pending = runtime.catalogue.pending.find((p) => p.exposedName === exposedName);
    if (!pending) throw notFound(`No tool "${exposedName}" is waiting for approval in virtual MCP "${slug}".`);
    if (reviewedHash !== undefined && reviewedHash !== pending.hash) {
      throw conflict(`"${exposedName}" changed since it was reviewed (its definition hash is now ${pending.hash.slice(0, 12)}…); look at it again before approving.`);
    }
    this.deps.store.transaction(() => {
      this.deps.store.gatewayConfig.approve(slug, pending.connector, pending.upstreamName, pending.hash, approvedBy.name, this.now());
      recordAdminChange(this.deps.store, {
        actor: approvedBy.name,
        ip: approvedBy.ip,
        action: "tool.approve",
        target: `${slug}/${exposedName}`,
        before: { state: "pending", reason: pending.reason },
        // The definition approved, so that a later change can be shown as a diff against it.
        after: { state: "approved", connector: pending.connector, tool: pending.upstreamName, hash: pending.hash, definition: approvalCovers(pending.definition) },
      });
    });
    await this.deps.gateway?.sync();
    return { connector: pending.connector, tool: pending.upstreamName, hash: pending.hash };
  }

  /** Names that only the upstreams' catalogues reveal (collisions, over-long names) are refused too. */
  private checkAgainstCatalogues(config: GatewayConfig, before: GatewayConfig): void {
    const saved = this.deps.store.gatewayConfig.savedCatalogues();
    // A connector this change redefines (another command, URL, env) may offer other tools: its old list proves nothing.
    // A new timeout alone leaves the same server running, tools and all.
    const redefined = new Set(
      config.connectors.filter((c) => {
        const old = before.connectors.find((b) => b.name === c.name);
        return old !== undefined && !sameUpstreamSpec(old, c);
      }).map((c) => c.name),
    );
    const catalogueOf = (name: string): Catalogue => {
      if (redefined.has(name)) return EMPTY_CATALOGUE;
      const live = this.deps.gateway?.pool.get(name);
      if (live && live.state.status === "ready") return live.catalogue;
      const text = saved.get(name);
      return text ? (JSON.parse(text) as Catalogue) : EMPTY_CATALOGUE;
    };
    const known = (name: string) => !redefined.has(name) && (this.deps.gateway?.pool.get(name)?.state.status === "ready" ? true : saved.has(name));
    const problems = config.virtualMcps.flatMap((vmcp) => {
      const curated = curate({ ...vmcp, newTools: "auto" }, catalogueOf, () => undefined, undefined, known);
      // Policy names are refused (curation names are not: a tool the upstream removes later would make the export of
      // a working configuration fail to apply); the runtime reports both (`unmatched`), as apply found them.
      const policyNames = curated.unmatched.flatMap(({ where, names }) => ("policy" in where ? names.map((name) => ({ section: where.policy, name })) : []));
      const exposing = (section: "tools" | "prompts") => (section === "tools" ? curated.tools : curated.prompts).map((item) => item.name).sort();
      return [
        ...curated.problems,
        ...policyNames.map(({ section, name }) => {
          const names = exposing(section);
          return `The policy of virtual MCP "${vmcp.slug}" names the ${section === "tools" ? "tool" : "prompt"} "${name}", which it does not expose${names.length ? ` (it exposes ${names.join(", ")})` : ""}.`;
        }),
      ];
    });
    if (problems.length > 0) throw invalid(problems.join("\n"));
  }
}

/**
 * `change` replaces items of the same name in `current`; the rest stay unless pruning. A section
 * `change` leaves out stays as it is, pruning or not.
 */
function merge(current: GatewayConfig, change: GatewayConfigFile, prune: boolean): GatewayConfig {
  const byName = <T>(items: T[], key: (item: T) => string, changed: T[] | undefined) => {
    if (changed === undefined) return items;
    const replaced = new Map(changed.map((item) => [key(item), item]));
    const kept = prune ? [] : items.filter((item) => !replaced.has(key(item)));
    return [...kept, ...changed].sort((a, b) => key(a).localeCompare(key(b)));
  };
  return {
    connectors: byName(current.connectors, (c) => c.name, change.connectors),
    virtualMcps: byName(current.virtualMcps, (v) => v.slug, change.virtualMcps),
  };
}

/**
 * A pruned connector that a Virtual MCP left as it is still attaches (a file with connectors but no
 * virtualMcps section) is refused by name, rather than by the store's foreign key.
 */
function checkAttachedConnectorsKept(config: GatewayConfig): void {
  const defined = new Set(config.connectors.map((c) => c.name));
  const problems = config.virtualMcps.flatMap((vmcp) =>
    vmcp.connectors
      .filter((a) => !defined.has(a.connector))
      .map((a) => `Connector "${a.connector}" would be deleted, but virtual MCP "${vmcp.slug}" attaches it; keep the connector, or list "${vmcp.slug}" without it under "virtualMcps".`),
  );
  if (problems.length > 0) throw conflict(problems.join("\n"));
}

/** One admin record per connector or Virtual MCP created, updated or deleted, with its definition before and after. */
function recordConfigChanges(store: Store, actor: AdminActor, before: GatewayConfig, after: GatewayConfig): void {
  const each = <T>(kind: string, a: T[], b: T[], key: (item: T) => string) => {
    const old = new Map(a.map((item) => [key(item), item]));
    const neu = new Map(b.map((item) => [key(item), item]));
    for (const [name, item] of neu) {
      const was = old.get(name);
      if (was === undefined) recordAdminChange(store, { actor: actor.name, ip: actor.ip, action: `${kind}.create`, target: name, after: item });
      else if (canonicalJson(was) !== canonicalJson(item)) recordAdminChange(store, { actor: actor.name, ip: actor.ip, action: `${kind}.update`, target: name, before: was, after: item });
    }
    for (const [name, item] of old) if (!neu.has(name)) recordAdminChange(store, { actor: actor.name, ip: actor.ip, action: `${kind}.delete`, target: name, before: item });
  };
  each("connector", before.connectors, after.connectors, (c) => c.name);
  each("virtual_mcp", before.virtualMcps, after.virtualMcps, (v) => v.slug);
}

/**
 * One line per item created, updated or deleted; a deleted Virtual MCP says what goes with it.
 * A dry run's lines say what would happen ("would delete virtual MCP sales"), in every output:
 * the CLI's text and --json, and the admin API's `changes`.
 */
function describeChanges(
  before: GatewayConfig,
  after: GatewayConfig,
  deletedWith: (slug: string) => { accessTokens: number; signIns: number; toolApprovals: number },
  dryRun: boolean,
): string[] {
  const changes: string[] = [];
  const [create, update, remove] = dryRun ? ["would create", "would update", "would delete"] : ["created", "updated", "deleted"];
  const diff = <T>(kind: string, a: T[], b: T[], key: (item: T) => string, alsoDeleted: (name: string) => string = () => "") => {
    const old = new Map(a.map((item) => [key(item), canonicalJson(item)]));
    const neu = new Map(b.map((item) => [key(item), canonicalJson(item)]));
    for (const [name, json] of neu) {
      if (!old.has(name)) changes.push(`${create} ${kind} ${name}`);
      else if (old.get(name) !== json) changes.push(`${update} ${kind} ${name}`);
    }
    for (const name of old.keys()) if (!neu.has(name)) changes.push(`${remove} ${kind} ${name}${alsoDeleted(name)}`);
  };
  diff("connector", before.connectors, after.connectors, (c) => c.name);
  diff("virtual MCP", before.virtualMcps, after.virtualMcps, (v) => v.slug, (slug) => {
    const { accessTokens, signIns, toolApprovals } = deletedWith(slug);
    const parts = [
      ...(accessTokens > 0 ? [counted(accessTokens, "access token")] : []),
      ...(signIns > 0 ? [counted(signIns, "OAuth sign-in")] : []),
      ...(toolApprovals > 0 ? [counted(toolApprovals, "tool approval")] : []),
    ];
    return parts.length > 0 ? ` (with its ${joinedWithAnd(parts)})` : "";
  });
  return changes;
}
