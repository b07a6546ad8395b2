import { and, asc, eq, inArray } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { userGroups, userIdentities, users } from "../schema.ts";

export type UserRow = typeof users.$inferSelect;
export type UserIdentityRow = typeof userIdentities.$inferSelect;
export interface UserGroupRow {
  groupName: string;
  source: string;
}

/** People, how they sign in (identities) and their groups. */
export class UserRepository {
  constructor(private readonly db: StoreDb) {}

  add(row: typeof users.$inferInsert): void {
    this.db.insert(users).values(row).run();
  }

  update(id: string, patch: Partial<Omit<UserRow, "id" | "createdAt">>): boolean {
    return this.db.update(users).set(patch).where(eq(users.id, id)).returning({ id: users.id }).all().length > 0;
  }

  get(id: string): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.id, id)).get();
  }

  /** Everyone with this email, in canonical form (canonicalEmail): SSO people from different providers may share one. */
  findByEmail(email: string): UserRow[] {
    return this.db.select().from(users).where(eq(users.email, email)).orderBy(asc(users.createdAt)).all();
  }

  /** True when there are people with this (canonical) email and all of them are disabled: the gateway then refuses it, as its tokens' check does. */
  emailDisabled(email: string): boolean {
    const people = this.findByEmail(email);
    return people.length > 0 && people.every((p) => p.disabledAt !== null);
  }

  list(): UserRow[] {
    return this.db.select().from(users).orderBy(asc(users.email), asc(users.createdAt)).all();
  }

  findIdentity(provider: string, subject: string): UserIdentityRow | undefined {
    return this.db
      .select()
      .from(userIdentities)
      .where(and(eq(userIdentities.provider, provider), eq(userIdentities.subject, subject)))
      .get();
  }

  addIdentity(row: typeof userIdentities.$inferInsert): void {
    this.db.insert(userIdentities).values(row).run();
  }

  updateIdentity(provider: string, subject: string, patch: Partial<Pick<UserIdentityRow, "email" | "claims" | "lastSignInAt">>): void {
    this.db
      .update(userIdentities)
      .set(patch)
      .where(and(eq(userIdentities.provider, provider), eq(userIdentities.subject, subject)))
      .run();
  }

  /** Moves every identity of provider `from` to the name `to` (a removed provider's, which no provider can take). */
  renameIdentityProvider(from: string, to: string): void {
    this.db.update(userIdentities).set({ provider: to }).where(eq(userIdentities.provider, from)).run();
  }

  identitiesOf(userIds: string[]): UserIdentityRow[] {
    if (userIds.length === 0) return [];
    return this.db.select().from(userIdentities).where(inArray(userIdentities.userId, userIds)).orderBy(asc(userIdentities.createdAt)).all();
  }

  groupsOf(userIds: string[]): (UserGroupRow & { userId: string })[] {
    if (userIds.length === 0) return [];
    return this.db
      .select({ userId: userGroups.userId, groupName: userGroups.groupName, source: userGroups.source })
      .from(userGroups)
      .where(inArray(userGroups.userId, userIds))
      .orderBy(asc(userGroups.groupName), asc(userGroups.source))
      .all();
  }

  addGroup(userId: string, groupName: string, source: string): boolean {
    return this.db.insert(userGroups).values({ userId, groupName, source }).onConflictDoNothing().returning({ g: userGroups.groupName }).all().length > 0;
  }

  removeGroup(userId: string, groupName: string, source: string): boolean {
    return (
      this.db
        .delete(userGroups)
        .where(and(eq(userGroups.userId, userId), eq(userGroups.groupName, groupName), eq(userGroups.source, source)))
        .returning({ g: userGroups.groupName })
        .all().length > 0
    );
  }

  /** Sets the groups that came from one source (a provider) to exactly `names`; other sources are kept. */
  replaceGroups(userId: string, source: string, names: string[]): void {
    this.db.delete(userGroups).where(and(eq(userGroups.userId, userId), eq(userGroups.source, source))).run();
    const unique = [...new Set(names)];
    if (unique.length) this.db.insert(userGroups).values(unique.map((groupName) => ({ userId, groupName, source }))).onConflictDoNothing().run();
  }
}
