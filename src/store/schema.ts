import { blob, index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

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

export const connectors = sqliteTable("connectors", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  kind: text("kind", { enum: ["stdio", "http", "sse", "builtin"] }).notNull(),
  /** JSON of the kind's settings; secret references stay references. */
  spec: text("spec").notNull(),
  timeoutMs: integer("timeout_ms").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const virtualMcps = sqliteTable("virtual_mcps", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  description: text("description").notNull(),
  newTools: text("new_tools", { enum: ["auto", "approve"] }).notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

export const virtualMcpConnectors = sqliteTable(
  "virtual_mcp_connectors",
  {
    virtualMcpId: text("virtual_mcp_id")
      .notNull()
      .references(() => virtualMcps.id, { onDelete: "cascade" }),
    connectorId: text("connector_id")
      .notNull()
      .references(() => connectors.id, { onDelete: "restrict" }),
    position: integer("position").notNull(),
    prefix: text("prefix").notNull(),
    /** JSON: include, exclude, rename, describe. */
    curation: text("curation").notNull(),
  },
  (t) => [primaryKey({ columns: [t.virtualMcpId, t.connectorId] }), index("virtual_mcp_connectors_by_connector").on(t.connectorId)],
);

export const toolApprovals = sqliteTable(
  "tool_approvals",
  {
    virtualMcpId: text("virtual_mcp_id")
      .notNull()
      .references(() => virtualMcps.id, { onDelete: "cascade" }),
    connectorId: text("connector_id")
      .notNull()
      .references(() => connectors.id, { onDelete: "cascade" }),
    toolName: text("tool_name").notNull(),
    definitionHash: text("definition_hash").notNull(),
    approvedAt: integer("approved_at").notNull(),
    approvedBy: text("approved_by").notNull(),
  },
  (t) => [primaryKey({ columns: [t.virtualMcpId, t.connectorId, t.toolName] })],
);

/** Personal access tokens for /mcp/*; only hashes are kept. */
export const accessTokens = sqliteTable("access_tokens", {
  id: text("id").primaryKey(),
  /** Who the token acts for (an email until people get their own table). */
  subject: text("subject").notNull(),
  /** When set, the token works on this Virtual MCP only. */
  virtualMcpId: text("virtual_mcp_id").references(() => virtualMcps.id, { onDelete: "cascade" }),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at"),
  revokedAt: integer("revoked_at"),
  lastUsedAt: integer("last_used_at"),
});

/** One row per tools/call (and later every governed request); the audit issue extends it. */
export const callRecords = sqliteTable(
  "call_records",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    subject: text("subject").notNull(),
    tokenId: text("token_id"),
    sessionId: text("session_id"),
    virtualMcp: text("virtual_mcp").notNull(),
    connector: text("connector"),
    method: text("method").notNull(),
    exposedName: text("exposed_name").notNull(),
    upstreamName: text("upstream_name"),
    /** JSON of the arguments as sent upstream. */
    arguments: text("arguments"),
    outcome: text("outcome", { enum: ["ok", "error", "denied", "timeout", "cancelled"] }).notNull(),
    error: text("error"),
    durationMs: real("duration_ms").notNull(),
  },
  (t) => [index("call_records_by_time").on(t.at)],
);

/** Each connector's last catalogue, so configuration can be checked while it is offline. */
export const connectorCatalogues = sqliteTable("connector_catalogues", {
  connectorId: text("connector_id")
    .primaryKey()
    .references(() => connectors.id, { onDelete: "cascade" }),
  catalogue: text("catalogue").notNull(),
  fetchedAt: integer("fetched_at").notNull(),
});
