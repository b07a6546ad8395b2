import { and, asc, eq, lt, isNull, or } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { oauthClients } from "../schema.ts";

export type OAuthClientRow = typeof oauthClients.$inferSelect;
export type OAuthClientKind = OAuthClientRow["kind"];

/** OAuth clients: registered (DCR), added by an admin (static) or fetched metadata documents (CIMD). Secrets only as hashes. */
export class OAuthClientRepository {
  constructor(private readonly db: StoreDb) {}

  find(clientId: string): OAuthClientRow | undefined {
    return this.db.select().from(oauthClients).where(eq(oauthClients.clientId, clientId)).get();
  }

  add(row: OAuthClientRow): void {
    this.db.insert(oauthClients).values(row).run();
  }

  /** Inserts or replaces a row (CIMD documents are refreshed in place). */
  upsert(row: OAuthClientRow): void {
    const { clientId: _, createdAt: __, ...changes } = row;
    this.db.insert(oauthClients).values(row).onConflictDoUpdate({ target: oauthClients.clientId, set: changes }).run();
  }

  list(kind?: OAuthClientKind): OAuthClientRow[] {
    return this.db
      .select()
      .from(oauthClients)
      .where(kind ? eq(oauthClients.kind, kind) : undefined)
      .orderBy(asc(oauthClients.createdAt))
      .all();
  }

  remove(clientId: string): boolean {
    return this.db.delete(oauthClients).where(eq(oauthClients.clientId, clientId)).returning({ id: oauthClients.clientId }).all().length > 0;
  }

  touch(clientId: string, now: number): void {
    this.db.update(oauthClients).set({ lastUsedAt: now }).where(eq(oauthClients.clientId, clientId)).run();
  }

  /** Deletes dynamically registered clients not used since `before` (registered before it and never used, or last used before it). */
  pruneDynamic(before: number): number {
    return this.db
      .delete(oauthClients)
      .where(and(eq(oauthClients.kind, "dcr"), or(and(isNull(oauthClients.lastUsedAt), lt(oauthClients.createdAt, before)), lt(oauthClients.lastUsedAt, before))))
      .returning({ id: oauthClients.clientId })
      .all().length;
  }
}
