import { count, eq } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { adminTokens } from "../schema.ts";

export interface AdminTokenRow {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export class AdminTokenRepository {
  constructor(private readonly db: StoreDb) {}

  count(): number {
    return this.db.select({ n: count() }).from(adminTokens).get()?.n ?? 0;
  }

  add(row: { id: string; name: string; tokenHash: string; createdAt: number }): void {
    this.db.insert(adminTokens).values(row).run();
  }

  findByHash(tokenHash: string): AdminTokenRow | undefined {
    return this.db
      .select({ id: adminTokens.id, name: adminTokens.name, createdAt: adminTokens.createdAt, lastUsedAt: adminTokens.lastUsedAt })
      .from(adminTokens)
      .where(eq(adminTokens.tokenHash, tokenHash))
      .get();
  }

  has(id: string): boolean {
    return this.db.select({ id: adminTokens.id }).from(adminTokens).where(eq(adminTokens.id, id)).get() !== undefined;
  }

  deleteAll(): void {
    this.db.delete(adminTokens).run();
  }

  touch(id: string, now: number): void {
    this.db.update(adminTokens).set({ lastUsedAt: now }).where(eq(adminTokens.id, id)).run();
  }
}
