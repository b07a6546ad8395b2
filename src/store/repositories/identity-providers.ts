import { asc, eq } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { identityProviders } from "../schema.ts";

export type IdentityProviderRow = typeof identityProviders.$inferSelect;

/** SSO providers; the client secret itself lives in the secret store, only its name is here. */
export class IdentityProviderRepository {
  constructor(private readonly db: StoreDb) {}

  add(row: IdentityProviderRow): void {
    this.db.insert(identityProviders).values(row).run();
  }

  update(name: string, patch: Partial<Omit<IdentityProviderRow, "id" | "name" | "createdAt">>): boolean {
    return this.db.update(identityProviders).set(patch).where(eq(identityProviders.name, name)).returning({ id: identityProviders.id }).all().length > 0;
  }

  get(name: string): IdentityProviderRow | undefined {
    return this.db.select().from(identityProviders).where(eq(identityProviders.name, name)).get();
  }

  list(): IdentityProviderRow[] {
    return this.db.select().from(identityProviders).orderBy(asc(identityProviders.name)).all();
  }

  remove(name: string): boolean {
    return this.db.delete(identityProviders).where(eq(identityProviders.name, name)).returning({ id: identityProviders.id }).all().length > 0;
  }
}
