import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { accessTokens, users, virtualMcps } from "../schema.ts";

export interface AccessTokenRow {
  id: string;
  subject: string;
  virtualMcp: string | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
  /** 1 when the people with this email (in any case: people's emails are stored lower-case) are all disabled (a disabled person's tokens stop working). */
  subjectDisabled: number;
}

const columns = {
  id: accessTokens.id,
  subject: accessTokens.subject,
  virtualMcp: virtualMcps.slug,
  createdAt: accessTokens.createdAt,
  expiresAt: accessTokens.expiresAt,
  revokedAt: accessTokens.revokedAt,
  lastUsedAt: accessTokens.lastUsedAt,
  subjectDisabled: sql<number>`(exists (select 1 from ${users} where ${users.email} = lower(${accessTokens.subject}) and ${users.disabledAt} is not null) and not exists (select 1 from ${users} where ${users.email} = lower(${accessTokens.subject}) and ${users.disabledAt} is null))`,
};

/** Personal access tokens; only SHA-256 hashes of the tokens are stored. */
export class AccessTokenRepository {
  /** Prepared once: every request to /mcp/* looks its token up. */
  private readonly byHash;

  constructor(private readonly db: StoreDb) {
    this.byHash = db
      .select(columns)
      .from(accessTokens)
      .leftJoin(virtualMcps, eq(virtualMcps.id, accessTokens.virtualMcpId))
      .where(eq(accessTokens.tokenHash, sql.placeholder("hash")))
      .prepare();
  }

  add(row: { id: string; subject: string; virtualMcpId: string | null; tokenHash: string; createdAt: number; expiresAt: number | null }): void {
    this.db.insert(accessTokens).values(row).run();
  }

  findByHash(tokenHash: string): AccessTokenRow | undefined {
    return this.byHash.get({ hash: tokenHash });
  }

  findById(id: string): AccessTokenRow | undefined {
    return this.db.select(columns).from(accessTokens).leftJoin(virtualMcps, eq(virtualMcps.id, accessTokens.virtualMcpId)).where(eq(accessTokens.id, id)).get();
  }

  list(): AccessTokenRow[] {
    return this.db.select(columns).from(accessTokens).leftJoin(virtualMcps, eq(virtualMcps.id, accessTokens.virtualMcpId)).orderBy(asc(accessTokens.createdAt)).all();
  }

  /** Revokes a token not revoked yet (an earlier revocation keeps its time); false when nothing changed. */
  revoke(id: string, now: number): boolean {
    return this.db.update(accessTokens).set({ revokedAt: now }).where(and(eq(accessTokens.id, id), isNull(accessTokens.revokedAt))).returning({ id: accessTokens.id }).all().length > 0;
  }

  /**
   * Deletes tokens that expired or were revoked before `before`, at most `limit` a call. No index: people
   * hold a few tokens each, so the table stays small enough to scan.
   */
  deleteEndedBefore(before: number, limit: number): number {
    return this.db.$client
      .query(`DELETE FROM access_tokens WHERE id IN (SELECT id FROM access_tokens WHERE revoked_at < $before OR expires_at < $before LIMIT $limit)`)
      .run({ before, limit }).changes;
  }

  touch(id: string, now: number): void {
    this.db.update(accessTokens).set({ lastUsedAt: now }).where(eq(accessTokens.id, id)).run();
  }
}
