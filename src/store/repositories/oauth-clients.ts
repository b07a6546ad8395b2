import { asc, eq } from "drizzle-orm";
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

  /**
   * Deletes clients that registered themselves (DCR) or were fetched (CIMD
   * documents, a cache) and were not used since `before`: registered before
   * it and never used, or last used before it. At most `limit` rows a call.
   */
  deleteUnusedSince(before: number, limit: number): number {
    return this.db.$client
      .query(
        `DELETE FROM oauth_clients WHERE client_id IN (
           SELECT client_id FROM oauth_clients
           WHERE kind IN ('dcr', 'cimd') AND COALESCE(last_used_at, created_at) < $before
           LIMIT $limit)`,
      )
      .run({ before, limit }).changes;
  }

  /** How many registered (DCR) clients no sign-in completed for (no grant names them), the ones open registration lets anyone add. */
  countNeverGrantedRegistrations(): number {
    return this.db.$client.query<{ n: number }, []>(`SELECT count(*) AS n FROM oauth_clients WHERE kind = 'dcr' AND client_id NOT IN (SELECT client_id FROM oauth_grants)`).get()!.n;
  }

  /**
   * Deletes DCR and CIMD clients registered before `before` that no sign-in
   * ever completed for (no grant names them): anyone on the internet may
   * register, and an AI client signs in right after it registers.
   */
  deleteNeverGrantedBefore(before: number, limit: number): number {
    return this.db.$client
      .query(
        `DELETE FROM oauth_clients WHERE client_id IN (
           SELECT client_id FROM oauth_clients
           WHERE kind IN ('dcr', 'cimd') AND created_at < $before
             AND client_id NOT IN (SELECT client_id FROM oauth_grants)
           LIMIT $limit)`,
      )
      .run({ before, limit }).changes;
  }
}
