import { randomUUID } from "node:crypto";
import { and, asc, count, eq, isNull } from "drizzle-orm";
import type { ConnectorDefinition, ConnectorSpec } from "../../connectors/types.ts";
import type { ConnectorAttachment, VirtualMcpDefinition } from "../../gateway/types.ts";
import type { VirtualMcpPolicy } from "../../policy/index.ts";
import type { StoreDb } from "../connection.ts";
import { accessTokens, connectorCatalogues, connectors, oauthGrants, toolApprovals, virtualMcpConnectors, virtualMcps } from "../schema.ts";

export interface ToolApproval {
  connector: string;
  toolName: string;
  definitionHash: string;
  approvedAt: number;
  approvedBy: string;
}

interface Curation {
  include?: string[];
  exclude?: string[];
  rename: Record<string, string>;
  describe: Record<string, string>;
}

/** Connectors, Virtual MCPs and tool approvals, as definitions keyed by name and slug. */
export class GatewayConfigRepository {
  constructor(private readonly db: StoreDb) {}

  connectors(): ConnectorDefinition[] {
    return this.db
      .select()
      .from(connectors)
      .orderBy(asc(connectors.name))
      .all()
      .map((row) => ({ name: row.name, spec: JSON.parse(row.spec) as ConnectorSpec, timeoutMs: row.timeoutMs }));
  }

  /** Id, slug and name of every Virtual MCP: what the authorization server binds tokens to. */
  listVirtualMcps(): { id: string; slug: string; name: string }[] {
    return this.db.select({ id: virtualMcps.id, slug: virtualMcps.slug, name: virtualMcps.name }).from(virtualMcps).orderBy(asc(virtualMcps.slug)).all();
  }

  virtualMcps(): VirtualMcpDefinition[] {
    const rows = this.db.select().from(virtualMcps).orderBy(asc(virtualMcps.slug)).all();
    const attachments = this.db
      .select({ vmcp: virtualMcpConnectors.virtualMcpId, connector: connectors.name, prefix: virtualMcpConnectors.prefix, curation: virtualMcpConnectors.curation })
      .from(virtualMcpConnectors)
      .innerJoin(connectors, eq(connectors.id, virtualMcpConnectors.connectorId))
      .orderBy(asc(virtualMcpConnectors.position))
      .all();
    return rows.map((row) => ({
      slug: row.slug,
      name: row.name,
      description: row.description,
      newTools: row.newTools,
      ...(row.policy === null ? {} : { policy: JSON.parse(row.policy) as VirtualMcpPolicy }),
      connectors: attachments
        .filter((a) => a.vmcp === row.id)
        .map((a): ConnectorAttachment => {
          const curation = JSON.parse(a.curation) as Curation;
          return { connector: a.connector, prefix: a.prefix, include: curation.include, exclude: curation.exclude, rename: curation.rename, describe: curation.describe };
        }),
    }));
  }

  putConnector(definition: ConnectorDefinition, now: number): void {
    const values = { kind: definition.spec.kind, spec: JSON.stringify(definition.spec), timeoutMs: definition.timeoutMs, updatedAt: now };
    const existing = this.db.select({ id: connectors.id }).from(connectors).where(eq(connectors.name, definition.name)).get();
    if (existing) this.db.update(connectors).set(values).where(eq(connectors.id, existing.id)).run();
    else this.db.insert(connectors).values({ id: randomUUID(), name: definition.name, createdAt: now, ...values }).run();
  }

  /** Fails (foreign key) while a Virtual MCP still uses the connector. */
  deleteConnector(name: string): boolean {
    return this.db.delete(connectors).where(eq(connectors.name, name)).returning({ id: connectors.id }).all().length > 0;
  }

  /** Creates or replaces a Virtual MCP and its attachments. */
  putVirtualMcp(definition: VirtualMcpDefinition, now: number): void {
    const policy = definition.policy && Object.keys(definition.policy).length > 0 ? JSON.stringify(definition.policy) : null;
    const values = { name: definition.name, description: definition.description, newTools: definition.newTools, policy, updatedAt: now };
    let id = this.virtualMcpId(definition.slug);
    if (id) this.db.update(virtualMcps).set(values).where(eq(virtualMcps.id, id)).run();
    else {
      id = randomUUID();
      this.db.insert(virtualMcps).values({ id, slug: definition.slug, createdAt: now, ...values }).run();
    }
    this.db.delete(virtualMcpConnectors).where(eq(virtualMcpConnectors.virtualMcpId, id)).run();
    definition.connectors.forEach((attachment, position) => {
      const connector = this.db.select({ id: connectors.id }).from(connectors).where(eq(connectors.name, attachment.connector)).get();
      if (!connector) throw new Error(`Connector "${attachment.connector}" does not exist (it was deleted while this change was made); add it again or detach it.`);
      const curation: Curation = { include: attachment.include, exclude: attachment.exclude, rename: attachment.rename, describe: attachment.describe };
      this.db.insert(virtualMcpConnectors).values({ virtualMcpId: id!, connectorId: connector.id, position, prefix: attachment.prefix, curation: JSON.stringify(curation) }).run();
    });
  }

  /** Replaces one Virtual MCP's policy; false when there is no such Virtual MCP. */
  setPolicy(slug: string, policy: VirtualMcpPolicy | undefined, now: number): boolean {
    const text = policy && Object.keys(policy).length > 0 ? JSON.stringify(policy) : null;
    return this.db.update(virtualMcps).set({ policy: text, updatedAt: now }).where(eq(virtualMcps.slug, slug)).returning({ id: virtualMcps.id }).all().length > 0;
  }

  /** What deleting a Virtual MCP deletes with it (the store cascades): its unrevoked access tokens and its tool approvals. */
  deletedWith(slug: string): { accessTokens: number; signIns: number; toolApprovals: number } {
    const id = this.virtualMcpId(slug);
    if (!id) return { accessTokens: 0, signIns: 0, toolApprovals: 0 };
    const tokens = this.db.select({ n: count() }).from(accessTokens).where(and(eq(accessTokens.virtualMcpId, id), isNull(accessTokens.revokedAt))).get()?.n ?? 0;
    const approvals = this.db.select({ n: count() }).from(toolApprovals).where(eq(toolApprovals.virtualMcpId, id)).get()?.n ?? 0;
    // OAuth sign-ins (grants) not revoked: each holds a client's access and refresh tokens for this Virtual MCP.
    const signIns = this.db.select({ n: count() }).from(oauthGrants).where(and(eq(oauthGrants.virtualMcpId, id), isNull(oauthGrants.revokedAt))).get()?.n ?? 0;
    return { accessTokens: tokens, signIns, toolApprovals: approvals };
  }

  deleteVirtualMcp(slug: string): boolean {
    return this.db.delete(virtualMcps).where(eq(virtualMcps.slug, slug)).returning({ id: virtualMcps.id }).all().length > 0;
  }

  virtualMcpId(slug: string): string | undefined {
    return this.db.select({ id: virtualMcps.id }).from(virtualMcps).where(eq(virtualMcps.slug, slug)).get()?.id;
  }

  approvals(slug: string): ToolApproval[] {
    return this.db
      .select({ connector: connectors.name, toolName: toolApprovals.toolName, definitionHash: toolApprovals.definitionHash, approvedAt: toolApprovals.approvedAt, approvedBy: toolApprovals.approvedBy })
      .from(toolApprovals)
      .innerJoin(virtualMcps, eq(virtualMcps.id, toolApprovals.virtualMcpId))
      .innerJoin(connectors, eq(connectors.id, toolApprovals.connectorId))
      .where(eq(virtualMcps.slug, slug))
      .all();
  }

  approve(slug: string, connector: string, toolName: string, definitionHash: string, approvedBy: string, now: number): void {
    const vmcpId = this.virtualMcpId(slug);
    const connectorId = this.db.select({ id: connectors.id }).from(connectors).where(eq(connectors.name, connector)).get()?.id;
    if (!vmcpId || !connectorId) throw new Error("unknown virtual MCP or connector");
    this.db
      .delete(toolApprovals)
      .where(and(eq(toolApprovals.virtualMcpId, vmcpId), eq(toolApprovals.connectorId, connectorId), eq(toolApprovals.toolName, toolName)))
      .run();
    this.db.insert(toolApprovals).values({ virtualMcpId: vmcpId, connectorId, toolName, definitionHash, approvedAt: now, approvedBy }).run();
  }

  /** Remembers a connector's catalogue (as JSON text) for offline checks. */
  saveCatalogue(connector: string, catalogueJson: string, now: number): void {
    const id = this.db.select({ id: connectors.id }).from(connectors).where(eq(connectors.name, connector)).get()?.id;
    if (!id) return;
    this.db
      .insert(connectorCatalogues)
      .values({ connectorId: id, catalogue: catalogueJson, fetchedAt: now })
      .onConflictDoUpdate({ target: connectorCatalogues.connectorId, set: { catalogue: catalogueJson, fetchedAt: now } })
      .run();
  }

  /** Last known catalogues (JSON text) by connector name. */
  savedCatalogues(): Map<string, string> {
    const rows = this.db
      .select({ name: connectors.name, catalogue: connectorCatalogues.catalogue })
      .from(connectorCatalogues)
      .innerJoin(connectors, eq(connectors.id, connectorCatalogues.connectorId))
      .all();
    return new Map(rows.map((r) => [r.name, r.catalogue]));
  }
}
