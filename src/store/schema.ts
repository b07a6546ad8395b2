import { blob, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * drizzle's view of the tables. The tables themselves are created by the
 * embedded SQL migrations (migrations.ts); test/store.test.ts checks the two agree.
 * Times are Unix milliseconds.
 */

/** One row per master key generation; `check` proves a key is the right one. */
export const keyVersions = sqliteTable("key_versions", {
  version: integer("version").primaryKey(),
  checkNonce: blob("check_nonce", { mode: "buffer" }).notNull(),
  checkCiphertext: blob("check_ciphertext", { mode: "buffer" }).notNull(),
  createdAt: integer("created_at").notNull(),
});

export const secrets = sqliteTable("secrets", {
  name: text("name").primaryKey(),
  /** Bumped on every `set`, so people can tell a value changed. */
  version: integer("version").notNull(),
  keyVersion: integer("key_version")
    .notNull()
    .references(() => keyVersions.version),
  nonce: blob("nonce", { mode: "buffer" }).notNull(),
  ciphertext: blob("ciphertext", { mode: "buffer" }).notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** Admin API tokens; only the SHA-256 of each token is kept. */
export const adminTokens = sqliteTable("admin_tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: integer("created_at").notNull(),
  lastUsedAt: integer("last_used_at"),
});
