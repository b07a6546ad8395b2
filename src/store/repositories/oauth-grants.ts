import { and, desc, eq, gt, gte, isNotNull, isNull, ne, sql } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { oauthCodes, oauthConsents, oauthGrants, oauthTokens, users, virtualMcps } from "../schema.ts";

export type OAuthCodeRow = typeof oauthCodes.$inferSelect;
export type OAuthGrantRow = typeof oauthGrants.$inferSelect;
export type OAuthConsentRow = typeof oauthConsents.$inferSelect;

/** A token with what verifying it needs: its grant, the person and the audience. */
export interface OAuthTokenLookup {
  tokenHash: string;
  kind: "access" | "refresh";
  grantId: string;
  clientId: string;
  userId: string;
  email: string;
  userDisabledAt: number | null;
  virtualMcp: string;
  scope: string;
  refreshable: number;
  expiresAt: number;
  rotatedAt: number | null;
  revokedAt: number | null;
  grantRevokedAt: number | null;
}

export interface GrantListing {
  id: string;
  clientId: string;
  userId: string;
  email: string;
  virtualMcp: string;
  scope: string;
  createdAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

/** Authorization codes, grants (token families), their tokens and people's consents. Only hashes of codes and tokens are kept. */
export class OAuthGrantRepository {
  /** Prepared once: every OAuth-authenticated request to /mcp/* looks its token up. */
  private readonly tokenByHash;

  constructor(private readonly db: StoreDb) {
    this.tokenByHash = db
      .select({
        tokenHash: oauthTokens.tokenHash,
        kind: oauthTokens.kind,
        grantId: oauthTokens.grantId,
        clientId: oauthGrants.clientId,
        userId: oauthGrants.userId,
        email: users.email,
        userDisabledAt: users.disabledAt,
        virtualMcp: virtualMcps.slug,
        scope: oauthGrants.scope,
        refreshable: oauthGrants.refreshable,
        expiresAt: oauthTokens.expiresAt,
        rotatedAt: oauthTokens.rotatedAt,
        revokedAt: oauthTokens.revokedAt,
        grantRevokedAt: oauthGrants.revokedAt,
      })
      .from(oauthTokens)
      .innerJoin(oauthGrants, eq(oauthGrants.id, oauthTokens.grantId))
      .innerJoin(users, eq(users.id, oauthGrants.userId))
      .innerJoin(virtualMcps, eq(virtualMcps.id, oauthGrants.virtualMcpId))
      .where(eq(oauthTokens.tokenHash, sql.placeholder("hash")))
      .prepare();
  }

  addCode(row: typeof oauthCodes.$inferInsert): void {
    this.db.insert(oauthCodes).values(row).run();
  }

  findCode(codeHash: string): OAuthCodeRow | undefined {
    return this.db.select().from(oauthCodes).where(eq(oauthCodes.codeHash, codeHash)).get();
  }

  /** Marks a code used; false when it already was (two exchanges racing: only one wins). */
  useCode(codeHash: string, now: number, grantId: string): boolean {
    return (
      this.db
        .update(oauthCodes)
        .set({ usedAt: now, grantId })
        .where(and(eq(oauthCodes.codeHash, codeHash), isNull(oauthCodes.usedAt)))
        .returning({ codeHash: oauthCodes.codeHash })
        .all().length === 1
    );
  }

  /**
   * Housekeeping, at most `limit` rows a call so a caller can yield between
   * calls. Each returns how many rows it deleted.
   */
  deleteCodesExpiredBefore(before: number, limit: number): number {
    return this.db.$client.query("DELETE FROM oauth_codes WHERE code_hash IN (SELECT code_hash FROM oauth_codes WHERE expires_at < $before LIMIT $limit)").run({ before, limit }).changes;
  }

  /** Tokens past their expiry (revoked, rotated or not) answer nothing but "expired"; a replayed one can no longer be told from a made-up one, which is harmless then. */
  deleteTokensExpiredBefore(before: number, limit: number): number {
    return this.db.$client.query("DELETE FROM oauth_tokens WHERE rowid IN (SELECT rowid FROM oauth_tokens WHERE expires_at < $before LIMIT $limit)").run({ before, limit }).changes;
  }

  /**
   * Grants (sign-ins) with no token left, created before `before`, that a
   * newer grant of the same person, client and Virtual MCP replaced. The
   * newest one stays, whatever its state: it is what lets that person skip
   * the consent page next time (hasGrantFor), and there is one per
   * (person, client, Virtual MCP), so they do not pile up.
   */
  deleteSupersededGrants(before: number, limit: number): number {
    return this.db.$client
      .query(
        `DELETE FROM oauth_grants WHERE id IN (
           SELECT g.id FROM oauth_grants g
           WHERE g.created_at < $before
             AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.grant_id = g.id)
             AND EXISTS (SELECT 1 FROM oauth_grants n WHERE n.user_id = g.user_id AND n.client_id = g.client_id AND n.virtual_mcp_id = g.virtual_mcp_id AND n.created_at > g.created_at)
           LIMIT $limit)`,
      )
      .run({ before, limit }).changes;
  }

  /** Consents to clients that were deleted (pruned or removed) and left no grant behind. */
  deleteConsentsOfGoneClients(limit: number): number {
    return this.db.$client
      .query(
        `DELETE FROM oauth_consents WHERE rowid IN (
           SELECT c.rowid FROM oauth_consents c
           WHERE NOT EXISTS (SELECT 1 FROM oauth_clients k WHERE k.client_id = c.client_id)
             AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.user_id = c.user_id AND g.client_id = c.client_id)
           LIMIT $limit)`,
      )
      .run({ limit }).changes;
  }

  addGrant(row: typeof oauthGrants.$inferInsert): void {
    this.db.insert(oauthGrants).values(row).run();
  }

  addToken(row: typeof oauthTokens.$inferInsert): void {
    this.db.insert(oauthTokens).values(row).run();
  }

  findToken(tokenHash: string): OAuthTokenLookup | undefined {
    return this.tokenByHash.get({ hash: tokenHash }) as OAuthTokenLookup | undefined;
  }

  /** Marks a refresh token exchanged; false when another exchange got there first. */
  rotateToken(tokenHash: string, now: number): boolean {
    return (
      this.db
        .update(oauthTokens)
        .set({ rotatedAt: now })
        .where(and(eq(oauthTokens.tokenHash, tokenHash), isNull(oauthTokens.rotatedAt)))
        .returning({ tokenHash: oauthTokens.tokenHash })
        .all().length === 1
    );
  }

  /**
   * Whether a refresh token of the grant issued at or after `since`, other than `presented` (the hash of the one asking),
   * has itself been exchanged: the family moved on. The one asking may have been issued in the very millisecond it was
   * rotated (a code exchange and a refresh back to back), and its own rotation is no successor's use.
   */
  refreshUsedSince(grantId: string, since: number, presented: string): boolean {
    return (
      this.db
        .select({ tokenHash: oauthTokens.tokenHash })
        .from(oauthTokens)
        .where(and(eq(oauthTokens.grantId, grantId), eq(oauthTokens.kind, "refresh"), gte(oauthTokens.createdAt, since), isNotNull(oauthTokens.rotatedAt), ne(oauthTokens.tokenHash, presented)))
        .limit(1)
        .get() !== undefined
    );
  }

  /** Revokes the grant's refresh tokens issued at or after `since` and not exchanged yet (the answer a retried refresh replaces). */
  revokeRefreshIssuedSince(grantId: string, since: number, now: number): void {
    this.db
      .update(oauthTokens)
      .set({ revokedAt: now })
      .where(and(eq(oauthTokens.grantId, grantId), eq(oauthTokens.kind, "refresh"), gte(oauthTokens.createdAt, since), isNull(oauthTokens.rotatedAt), isNull(oauthTokens.revokedAt)))
      .run();
  }

  /** Revokes every active grant made to a client (it was removed). Returns how many. */
  revokeGrantsOfClient(clientId: string, now: number, reason: string): number {
    return this.db.update(oauthGrants).set({ revokedAt: now, revokedReason: reason }).where(and(eq(oauthGrants.clientId, clientId), isNull(oauthGrants.revokedAt))).returning({ id: oauthGrants.id }).all().length;
  }

  /** Whether the person signed this client in to this Virtual MCP at or after `since` (an approval is per Virtual MCP). */
  hasGrantFor(userId: string, clientId: string, virtualMcpId: string, since: number): boolean {
    return (
      this.db
        .select({ id: oauthGrants.id })
        .from(oauthGrants)
        .where(and(eq(oauthGrants.userId, userId), eq(oauthGrants.clientId, clientId), eq(oauthGrants.virtualMcpId, virtualMcpId), gte(oauthGrants.createdAt, since)))
        .limit(1)
        .get() !== undefined
    );
  }

  revokeToken(tokenHash: string, now: number): void {
    this.db.update(oauthTokens).set({ revokedAt: now }).where(and(eq(oauthTokens.tokenHash, tokenHash), isNull(oauthTokens.revokedAt))).run();
  }

  /** Revokes a grant: every token of it stops working. True when it was active. */
  revokeGrant(grantId: string, now: number, reason: string): boolean {
    return (
      this.db
        .update(oauthGrants)
        .set({ revokedAt: now, revokedReason: reason })
        .where(and(eq(oauthGrants.id, grantId), isNull(oauthGrants.revokedAt)))
        .returning({ id: oauthGrants.id })
        .all().length === 1
    );
  }

  /**
   * Revokes every active grant of a person (optionally only one client's), and expires their codes not yet exchanged:
   * a code issued a moment before (a thief's, ahead of a password reset) would otherwise become a new grant after it.
   * Returns how many grants.
   */
  revokeGrantsOf(userId: string, now: number, reason: string, clientId?: string): number {
    const codeConditions = [eq(oauthCodes.userId, userId), isNull(oauthCodes.usedAt), gt(oauthCodes.expiresAt, now)];
    if (clientId !== undefined) codeConditions.push(eq(oauthCodes.clientId, clientId));
    this.db.update(oauthCodes).set({ expiresAt: now }).where(and(...codeConditions)).run();
    const conditions = [eq(oauthGrants.userId, userId), isNull(oauthGrants.revokedAt)];
    if (clientId !== undefined) conditions.push(eq(oauthGrants.clientId, clientId));
    return this.db.update(oauthGrants).set({ revokedAt: now, revokedReason: reason }).where(and(...conditions)).returning({ id: oauthGrants.id }).all().length;
  }

  getGrant(id: string): OAuthGrantRow | undefined {
    return this.db.select().from(oauthGrants).where(eq(oauthGrants.id, id)).get();
  }

  listGrants(filter: { userId?: string; activeOnly?: boolean } = {}): GrantListing[] {
    const conditions = [];
    if (filter.userId) conditions.push(eq(oauthGrants.userId, filter.userId));
    if (filter.activeOnly) conditions.push(isNull(oauthGrants.revokedAt));
    return this.db
      .select({
        id: oauthGrants.id,
        clientId: oauthGrants.clientId,
        userId: oauthGrants.userId,
        email: users.email,
        virtualMcp: virtualMcps.slug,
        scope: oauthGrants.scope,
        createdAt: oauthGrants.createdAt,
        revokedAt: oauthGrants.revokedAt,
        revokedReason: oauthGrants.revokedReason,
      })
      .from(oauthGrants)
      .innerJoin(users, eq(users.id, oauthGrants.userId))
      .innerJoin(virtualMcps, eq(virtualMcps.id, oauthGrants.virtualMcpId))
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(desc(oauthGrants.createdAt))
      .all();
  }

  findConsent(userId: string, clientId: string): OAuthConsentRow | undefined {
    return this.db.select().from(oauthConsents).where(and(eq(oauthConsents.userId, userId), eq(oauthConsents.clientId, clientId))).get();
  }

  /**
   * Records an approval. One already there keeps its `grantedAt`: the sign-ins made since then are what it approved
   * (hasGrantFor), and a later approval for another Virtual MCP must not make them older than the approval.
   */
  saveConsent(row: OAuthConsentRow): void {
    this.db.insert(oauthConsents).values(row).onConflictDoUpdate({ target: [oauthConsents.userId, oauthConsents.clientId], set: { scope: row.scope } }).run();
  }

  deleteConsent(userId: string, clientId: string): boolean {
    return this.db.delete(oauthConsents).where(and(eq(oauthConsents.userId, userId), eq(oauthConsents.clientId, clientId))).returning({ u: oauthConsents.userId }).all().length === 1;
  }

  listConsents(userId?: string): (OAuthConsentRow & { email: string })[] {
    return this.db
      .select({ userId: oauthConsents.userId, clientId: oauthConsents.clientId, scope: oauthConsents.scope, grantedAt: oauthConsents.grantedAt, email: users.email })
      .from(oauthConsents)
      .innerJoin(users, eq(users.id, oauthConsents.userId))
      .where(userId ? eq(oauthConsents.userId, userId) : undefined)
      .orderBy(desc(oauthConsents.grantedAt))
      .all();
  }
}
