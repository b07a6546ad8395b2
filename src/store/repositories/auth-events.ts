import { and, desc, eq, gte, lte, type SQL } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { authEvents } from "../schema.ts";

export type AuthEventRow = typeof authEvents.$inferSelect;
export type NewAuthEvent = Omit<typeof authEvents.$inferInsert, "id">;

/** Sign-in, consent, client and token events, in the order they happened. */
export class AuthEventRepository {
  constructor(private readonly db: StoreDb) {}

  add(event: NewAuthEvent): void {
    this.db.insert(authEvents).values(event).run();
  }

  /** Newest first. */
  list(filter: { type?: string; userId?: string; clientId?: string; since?: number; until?: number; limit?: number } = {}): AuthEventRow[] {
    const conditions: SQL[] = [];
    if (filter.type) conditions.push(eq(authEvents.type, filter.type));
    if (filter.userId) conditions.push(eq(authEvents.userId, filter.userId));
    if (filter.clientId) conditions.push(eq(authEvents.clientId, filter.clientId));
    if (filter.since !== undefined) conditions.push(gte(authEvents.at, filter.since));
    if (filter.until !== undefined) conditions.push(lte(authEvents.at, filter.until));
    return this.db
      .select()
      .from(authEvents)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(desc(authEvents.id))
      .limit(Math.min(filter.limit ?? 100, 10_000))
      .all();
  }
}
