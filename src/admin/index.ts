import { CHECKPOINT_KEY_PURPOSE, readInThread, type AdminActor, type ChainAnchor } from "../audit/index.ts";
import type { AccessTokenService } from "../auth/index.ts";
import { invalid, notFound, unauthorized } from "../errors/index.ts";
import { exposedUiPointers, uiPointersOf, unmatchedProblem, type Gateway, type PendingTool, type UiPointers, type VirtualMcpDefinition, type VirtualMcpRuntime } from "../gateway/index.ts";
import { hashToken, type SecretStore } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";
import { VERSION } from "../version.ts";
import { connectorRevision, virtualMcpRevision, type GatewayConfigService } from "./gateway-config.ts";
import { ConnectorAdmin } from "./connector-admin.ts";
import type { ConnectorSpec } from "../connectors/index.ts";

export { issueAdminToken } from "./tokens.ts";
export { refuseToDeleteUsedSecret } from "./connector-admin.ts";

/** last_used_at is refreshed at most this often, so admin reads stay reads. */
const TOUCH_INTERVAL_MS = 60_000;

export interface GatewayStatus {
  version: string;
  uptimeSeconds: number;
  startedAt: string;
  dataDir: string;
  /** The URL clients are given (--public-url), or null when none is set and clients are given the listen URL (absent from gateways before it). */
  publicUrl?: string | null;
  schemaVersion: number;
  secrets: { count: number };
  /** `notReady`: each connector not ready now, with its state and, when failed, why (absent from gateways before it). */
  connectors: { total: number; ready: number; notReady?: { name: string; state: string; reason?: string | undefined }[] };
  virtualMcps: number;
  sessions: number;
  /** Tools held back by an `approve` policy, across every Virtual MCP (`mintgate approve SLUG TOOL` lets one through); `ui`: the interface an MCP App tool names, by exposed URI. */
  pendingApprovals: { virtualMcp: string; tool: string; reason: string; ui?: UiPointers | undefined }[];
  /** Each Virtual MCP's problems (as `problems` of GET /admin/api/virtual-mcps/SLUG; absent from gateways before it). */
  problems?: { virtualMcp: string; problem: string }[];
}

export interface ConnectorStatus {
  name: string;
  kind: string;
  state: string;
  reason?: string | undefined;
  restarts: number;
  lastError: string | undefined;
  tools: number;
  prompts: number;
  resources: number;
  /** Its definition (secret references, never values): what the TUI's edit form starts from. */
  spec: ConnectorSpec;
  timeoutMs: number;
  /** The revision of its definition: sent back as If-Match with a PUT, a change made meanwhile by someone else is refused, not overwritten. */
  revision: string;
}

/**
 * One Virtual MCP as GET /admin/api/virtual-mcps lists it: what a list shows (names, counts, what waits, problems)
 * and its definition for an edit, but no tool's definition; GET /admin/api/virtual-mcps/SLUG adds those.
 */
export interface VirtualMcpSummary {
  slug: string;
  name: string;
  description: string;
  newTools: string;
  connectors: string[];
  sessions: number;
  /** How many tools it exposes. */
  toolCount: number;
  /** Tools held back by the approve policy, by name: what an approval would cover is in the one Virtual MCP's answer. */
  pending: { name: string; reason: string }[];
  /** Tools hidden by a problem (a bad or shared name), names in its curation or policy that match no tool, then tools, prompts and resources whose definition holds invisible characters, one sentence each. */
  problems: string[];
  /** Its definition as a `virtualMcps` entry of mintgate.yaml (every key written out): what PUT /admin/api/virtual-mcps/:slug takes. */
  definition: VirtualMcpFileEntry;
  /** The revision of that definition (also its ETag): sent back as If-Match, a change made meanwhile by someone else is refused, not overwritten. */
  revision: string;
}

/** One Virtual MCP as GET /admin/api/virtual-mcps/SLUG answers it: its summary with every tool's definition. */
export interface VirtualMcpStatus extends VirtualMcpSummary {
  tools: { name: string; connector: string; upstreamName: string; description: string | undefined }[];
  /** Held back by the approve policy, with the definition an approval would cover (`ui`: the interface an MCP App tool names, by the URIs clients get) and its hash. */
  pending: { name: string; connector: string; upstreamName: string; reason: string; hash: string; description: string | undefined; inputSchema: unknown; annotations: unknown; ui?: UiPointers | undefined; /** For a changed tool: what was approved before, when the audit trail still has it (its `ui` by exposed URIs too). */ approved?: unknown }[];
  /** Every tool of each attached connector (included or not), for curating: by connector name. */
  catalogues: Record<string, { state: string; tools: { name: string; description: string | undefined; inputSchema: unknown }[] }>;
}

/** One `virtualMcps` entry of mintgate.yaml as JSON. */
export interface VirtualMcpFileEntry {
  slug: string;
  name: string;
  description: string;
  newTools: string;
  connectors: { connector: string; prefix: string; include?: string[]; exclude?: string[]; rename: Record<string, string>; describe: Record<string, string> }[];
  access?: unknown;
  tools?: unknown;
  prompts?: unknown;
  resources?: unknown;
}

/** The interface a pending tool names, by the URIs clients would get: what an admin approves it to show. */
function exposedInterfaceOf(pending: PendingTool): UiPointers | undefined {
  return exposedUiPointers(pending.prefix, uiPointersOf(pending.definition._meta));
}

/** A definition approved before (as the audit trail holds it: upstream URIs) with its interface by exposed URIs, as the pending one is shown. */
function withExposedInterface(prefix: string, approved: unknown): unknown {
  const ui = (approved as { ui?: UiPointers } | undefined)?.ui;
  return ui === undefined ? approved : { ...(approved as object), ui: exposedUiPointers(prefix, ui) };
}

/** What an admin should look at in a Virtual MCP: tools hidden by a problem, names that match no tool, and definitions holding invisible characters. */
function problemsOf(runtime: VirtualMcpRuntime): string[] {
  const { catalogue, definition } = runtime;
  return [...catalogue.problems, ...catalogue.unmatched.map((unmatched) => unmatchedProblem(definition.slug, unmatched)), ...catalogue.invisibleText];
}

function fileEntryOf(definition: VirtualMcpDefinition): VirtualMcpFileEntry {
  const { policy, connectors, ...rest } = definition;
  return {
    ...rest,
    connectors: connectors.map((a) => ({ connector: a.connector, prefix: a.prefix, ...(a.include ? { include: a.include } : {}), ...(a.exclude ? { exclude: a.exclude } : {}), rename: a.rename, describe: a.describe })),
    ...(policy ?? {}),
  };
}

function revisionToDelete(expected: string | null | undefined): string | undefined {
  if (expected === null) throw invalid('A deletion is of something that exists: send If-Match with its revision, not If-None-Match.');
  return expected;
}

/** The admin operations behind the admin HTTP API, the CLI and the TUI. */
export class AdminService {
  constructor(
    private readonly deps: {
      store: Store;
      secrets: SecretStore;
      dataDir: string;
      /** --public-url, reported by `status` for `mintgate connect`. */
      publicUrl?: string | undefined;
      startedAt: number;
      /** The running gateway's parts; absent in commands that only read the store. */
      gateway?: { gateway: Gateway; config: GatewayConfigService; tokens: AccessTokenService; sessions: () => number };
      now?: () => number;
    },
  ) {}

  private get running() {
    if (!this.deps.gateway) throw notFound("This gateway runs no virtual MCPs.");
    return this.deps.gateway;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Checks an `Authorization: Bearer …` value; throws `unauthorized` with a reason. */
  authenticate(authorization: string | null | undefined): { tokenId: string; name: string } {
    const match = authorization?.match(/^Bearer\s+(\S+)$/i);
    if (!match) {
      throw unauthorized("This endpoint needs the admin token: send `Authorization: Bearer <token>` (the token is in DATA_DIR/admin.token).");
    }
    const row = this.deps.store.adminTokens.findByHash(hashToken(match[1]!));
    if (!row) throw unauthorized("The admin token is not valid; use the one in DATA_DIR/admin.token.");
    const now = this.now();
    if (row.lastUsedAt === null || now - row.lastUsedAt > TOUCH_INTERVAL_MS) {
      try {
        this.deps.store.adminTokens.touch(row.id, now);
      } catch {
        // A hint only: a write that fails (a full disk) must not refuse the admin API's reads.
      }
    }
    return { tokenId: row.id, name: row.name };
  }

  status(): GatewayStatus {
    const now = this.now();
    return {
      version: VERSION,
      uptimeSeconds: Math.floor((now - this.deps.startedAt) / 1000),
      startedAt: new Date(this.deps.startedAt).toISOString(),
      dataDir: this.deps.dataDir,
      publicUrl: this.deps.publicUrl ?? null,
      schemaVersion: this.deps.store.schemaVersion,
      secrets: { count: this.deps.secrets.count() },
      connectors: this.connectorCounts(),
      virtualMcps: this.deps.gateway?.gateway.virtualMcps().length ?? 0,
      sessions: this.deps.gateway?.sessions() ?? 0,
      pendingApprovals: (this.deps.gateway?.gateway.virtualMcps() ?? []).flatMap((runtime) =>
        runtime.catalogue.pending.map((p) => ({ virtualMcp: runtime.definition.slug, tool: p.exposedName, reason: p.reason, ui: exposedInterfaceOf(p) })),
      ),
      problems: (this.deps.gateway?.gateway.virtualMcps() ?? []).flatMap((runtime) => problemsOf(runtime).map((problem) => ({ virtualMcp: runtime.definition.slug, problem }))),
    };
  }

  private connectorCounts(): GatewayStatus["connectors"] {
    const pool = this.deps.gateway?.gateway.pool.list() ?? [];
    const notReady = pool.filter((c) => c.state.status !== "ready");
    return {
      total: pool.length,
      ready: pool.length - notReady.length,
      notReady: notReady.map((c) => ({ name: c.name, state: c.state.status, reason: c.state.status === "failed" ? c.state.reason : undefined })),
    };
  }

  connectors(): ConnectorStatus[] {
    return this.running.gateway.pool.list().map((c) => ({
      name: c.name,
      kind: c.definition.spec.kind,
      state: c.state.status,
      reason: c.state.status === "failed" ? c.state.reason : undefined,
      restarts: c.restarts,
      lastError: c.lastError,
      tools: c.catalogue.tools.length,
      prompts: c.catalogue.prompts.length,
      resources: c.catalogue.resources.length + c.catalogue.resourceTemplates.length,
      spec: c.definition.spec,
      timeoutMs: c.definition.timeoutMs,
      revision: connectorRevision(c.definition),
    }));
  }

  /** One connector as `connectors()` lists it. */
  connector(name: string): ConnectorStatus {
    const connector = this.connectors().find((c) => c.name === name);
    if (!connector) throw notFound(`There is no connector "${name}".`);
    return connector;
  }

  /**
   * Every Virtual MCP as a list shows it: the TUI polls this every 3 s, and with each tool's description and each
   * pending tool's schema (and the connectors' whole catalogues before that) it was most of a megabyte at a team's size.
   */
  virtualMcps(): VirtualMcpSummary[] {
    return this.running.gateway.virtualMcps().map((runtime) => this.summaryOf(runtime));
  }

  virtualMcp(slug: string): VirtualMcpStatus {
    const runtime = this.running.gateway.virtualMcp(slug);
    if (!runtime) throw notFound(`There is no virtual MCP "${slug}".`);
    const { definition, catalogue } = runtime;
    return {
      ...this.summaryOf(runtime),
      tools: catalogue.tools.map((t) => ({ name: t.name, connector: t.connector, upstreamName: t.upstreamName, description: t.definition.description })),
      pending: catalogue.pending.map((p) => ({
        name: p.exposedName,
        connector: p.connector,
        upstreamName: p.upstreamName,
        reason: p.reason,
        hash: p.hash,
        description: p.definition.description,
        inputSchema: p.definition.inputSchema,
        annotations: p.definition.annotations,
        ui: exposedInterfaceOf(p),
        ...(p.reason === "changed" ? { approved: withExposedInterface(p.prefix, this.running.config.approvedDefinition(definition.slug, p.connector, p.upstreamName)?.definition) } : {}),
      })),
      catalogues: Object.fromEntries(
        definition.connectors.map((a) => {
          const connector = this.running.gateway.pool.get(a.connector);
          const tools = connector?.catalogue.tools.map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema })) ?? [];
          return [a.connector, { state: connector?.state.status ?? "missing", tools }];
        }),
      ),
    };
  }

  private summaryOf(runtime: VirtualMcpRuntime): VirtualMcpSummary {
    const { definition, catalogue } = runtime;
    return {
      slug: definition.slug,
      name: definition.name,
      description: definition.description,
      newTools: definition.newTools,
      connectors: definition.connectors.map((a) => a.connector),
      sessions: runtime.sessions.size,
      toolCount: catalogue.tools.length,
      pending: catalogue.pending.map((p) => ({ name: p.exposedName, reason: p.reason })),
      problems: problemsOf(runtime),
      definition: fileEntryOf(definition),
      revision: virtualMcpRevision(definition),
    };
  }

  exportConfig(): Promise<string> {
    return this.running.config.export();
  }

  /** Applies mintgate.yaml (JSON works too) sent to the admin API, as its bytes: one that is not UTF-8 is refused. */
  async applyConfig(text: string | Uint8Array, options: { prune: boolean; dryRun: boolean; actor?: AdminActor }) {
    const config = await this.running.config.parse(text, "request", { prune: options.prune });
    return this.running.config.apply(config, options);
  }

  /** One Virtual MCP's access policy ({} when it has none: admins only), with the revision of the Virtual MCP it belongs to. */
  policy(slug: string) {
    return this.running.config.policy(slug);
  }

  /**
   * Replaces one Virtual MCP's access policy from JSON or YAML text, or its bytes (refused when not UTF-8, as
   * applyConfig's); the whole of it is checked first. With `expectedRevision` (If-Match), only if the Virtual MCP is
   * still that revision.
   */
  async setPolicy(slug: string, text: string | Uint8Array, actor?: AdminActor, expectedRevision?: string) {
    const { decodeConfigFile, parsePolicyText } = await import("../config-file/index.ts");
    const source = typeof text === "string" ? text : decodeConfigFile(text, "request");
    const policy = parsePolicyText(source, { fileName: "request", label: `the policy of virtual MCP "${slug}"` });
    const report = await this.running.config.setPolicy(slug, policy, actor, expectedRevision);
    return { ...report, policy: this.running.config.policy(slug).policy };
  }

  /**
   * Creates or replaces one Virtual MCP from its mintgate.yaml entry (JSON or YAML, as text or its bytes: refused when
   * not UTF-8), checked like the file; without a `slug`, the URL's is taken (as a connector's name is), and one that
   * differs is refused. `expectedRevision`: the revision it must still have (If-Match), or null if it must not exist
   * yet (If-None-Match: *).
   */
  async putVirtualMcp(slug: string, text: string | Uint8Array, actor?: AdminActor, expectedRevision?: string | null) {
    const { decodeConfigFile, parseVirtualMcpText } = await import("../config-file/index.ts");
    const config = this.running.config;
    const stored = config.current();
    const source = typeof text === "string" ? text : decodeConfigFile(text, "request");
    const definition = parseVirtualMcpText(source, { fileName: "request", knownSecrets: new Set(this.deps.secrets.list().map((s) => s.name)), knownConnectors: stored.connectors.map((c) => c.name), stored, slug });
    if (definition.slug !== slug) throw invalid(`The definition's slug "${definition.slug}" is not the "${slug}" of the URL; a slug cannot be changed (create the new one, then delete the old).`);
    const report = await config.putVirtualMcp(definition, actor, expectedRevision);
    return { ...report, virtualMcp: this.virtualMcp(slug) };
  }

  private connectorAdmin: ConnectorAdmin | undefined;

  /** One connector at a time (put, test, restart, logs) and the secrets by name (src/admin/connector-admin.ts). */
  get connectorsAndSecrets(): ConnectorAdmin {
    this.connectorAdmin ??= new ConnectorAdmin({ store: this.deps.store, secrets: this.deps.secrets, running: () => this.running });
    return this.connectorAdmin;
  }

  /** `expectedRevision`: from If-Match; If-None-Match (must not exist) cannot hold for something being deleted. */
  deleteConnector(name: string, actor?: AdminActor, expectedRevision?: string | null) {
    return this.running.config.deleteConnector(name, actor, revisionToDelete(expectedRevision));
  }

  deleteVirtualMcp(slug: string, actor?: AdminActor, expectedRevision?: string | null) {
    return this.running.config.deleteVirtualMcp(slug, actor, revisionToDelete(expectedRevision));
  }

  approveTool(slug: string, body: { tool?: unknown; hash?: unknown } | null, approvedBy: AdminActor) {
    const tool = body?.tool;
    if (typeof tool !== "string" || tool === "") throw invalid('Send {"tool": "<exposed tool name>", "hash": "<the hash you reviewed>"} to approve a tool.');
    if (body?.hash !== undefined && typeof body.hash !== "string") throw invalid('"hash" must be the definition hash shown with the pending tool.');
    return this.running.config.approveTool(slug, tool, approvedBy, body?.hash as string | undefined);
  }

  /** The store, for the audit trail's search and export. */
  get store(): Store {
    return this.deps.store;
  }

  /** Walks the audit chain (GET /admin/api/audit/verify) on the audit reader thread: a year's (2 million records) is 8 s of reading and hashing. `anchor`: a head kept elsewhere. */
  verifyAudit(anchor?: ChainAnchor) {
    return readInThread(this.deps.store, "auditVerify", this.deps.secrets.derivedKey(CHECKPOINT_KEY_PURPOSE), anchor);
  }

  recentCalls(limit: number) {
    return this.deps.store.callRecords.recent(Math.min(Math.max(1, limit || 100), 1000));
  }
}
