import { blob, index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { AUDIT_OUTCOMES } from "./repositories/audit-records.ts";

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
  /** JSON VirtualMcpPolicy (schema v5); null: no policy, so admins only. */
  policy: text("policy"),
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

/** Each connector's last catalogue, so configuration can be checked while it is offline. */
export const connectorCatalogues = sqliteTable("connector_catalogues", {
  connectorId: text("connector_id")
    .primaryKey()
    .references(() => connectors.id, { onDelete: "cascade" }),
  catalogue: text("catalogue").notNull(),
  fetchedAt: integer("fetched_at").notNull(),
});

/** People: local accounts and everyone who signed in through SSO. */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    /** Lowercased; shown and used for PAT subjects, never the key of an SSO identity. */
    email: text("email").notNull(),
    name: text("name"),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    /** Argon2id (Bun.password) for local accounts; null for SSO-only people. */
    passwordHash: text("password_hash"),
    disabledAt: integer("disabled_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    lastSignInAt: integer("last_sign_in_at"),
  },
  (t) => [index("users_by_email").on(t.email)],
);

/** SSO providers mintgate signs people in through (mintgate is the OIDC relying party). */
export const identityProviders = sqliteTable("identity_providers", {
  id: text("id").primaryKey(),
  /** Used in the callback URL /sso/callback/<name>. */
  name: text("name").notNull().unique(),
  kind: text("kind", { enum: ["okta", "google", "entra", "oidc"] }).notNull(),
  issuer: text("issuer").notNull(),
  clientId: text("client_id").notNull(),
  /** Name of the secret-store entry that holds the client secret. */
  clientSecretName: text("client_secret_name").notNull(),
  /** JSON: allowed email domains, groups claim, tenant and the like, per kind. */
  settings: text("settings").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** How a person proves who they are: ("local", email) or (provider name, the provider's immutable subject). */
export const userIdentities = sqliteTable(
  "user_identities",
  {
    provider: text("provider").notNull(),
    subject: text("subject").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    email: text("email"),
    /** JSON of the last ID token's non-secret claims worth showing (groups, hd, tid). */
    claims: text("claims"),
    createdAt: integer("created_at").notNull(),
    lastSignInAt: integer("last_sign_in_at"),
  },
  (t) => [primaryKey({ columns: [t.provider, t.subject] }), index("user_identities_by_user").on(t.userId)],
);

/** Group membership; `source` is "manual" or the provider name it came from (replaced at each sign-in). */
export const userGroups = sqliteTable(
  "user_groups",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    groupName: text("group_name").notNull(),
    source: text("source").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupName, t.source] })],
);

/** OAuth clients of mintgate's authorization server: CIMD documents, DCR registrations, admin-added clients. */
export const oauthClients = sqliteTable("oauth_clients", {
  clientId: text("client_id").primaryKey(),
  kind: text("kind", { enum: ["cimd", "dcr", "static"] }).notNull(),
  name: text("name").notNull(),
  /** JSON array. */
  redirectUris: text("redirect_uris").notNull(),
  /** JSON array. */
  grantTypes: text("grant_types").notNull(),
  tokenEndpointAuthMethod: text("token_endpoint_auth_method").notNull(),
  /** SHA-256 of the client secret, for confidential clients. */
  secretHash: text("secret_hash"),
  /** JSON of the remaining client metadata (jwks_uri, logo_uri, software_id…). */
  metadata: text("metadata").notNull(),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
  lastUsedAt: integer("last_used_at"),
});

/** A person's approval of one client; revoking it also revokes that client's grants for the person. */
export const oauthConsents = sqliteTable(
  "oauth_consents",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    clientId: text("client_id").notNull(),
    scope: text("scope").notNull(),
    grantedAt: integer("granted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId] })],
);

/** One authorization (a token family): the code exchange and every refresh that follows it. */
export const oauthGrants = sqliteTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    clientId: text("client_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The audience: tokens of this grant work on this Virtual MCP only. */
    virtualMcpId: text("virtual_mcp_id")
      .notNull()
      .references(() => virtualMcps.id, { onDelete: "cascade" }),
    scope: text("scope").notNull(),
    /** 1 when refresh tokens are issued for this grant. */
    refreshable: integer("refreshable").notNull(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
    revokedReason: text("revoked_reason"),
  },
  (t) => [index("oauth_grants_by_user").on(t.userId)],
);

/** Authorization codes (hashed), single use, about 60 s. */
export const oauthCodes = sqliteTable("oauth_codes", {
  codeHash: text("code_hash").primaryKey(),
  clientId: text("client_id").notNull(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  virtualMcpId: text("virtual_mcp_id")
    .notNull()
    .references(() => virtualMcps.id, { onDelete: "cascade" }),
  redirectUri: text("redirect_uri").notNull(),
  /** PKCE S256 challenge. */
  codeChallenge: text("code_challenge").notNull(),
  scope: text("scope").notNull(),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
  /** The grant the exchange created, so a replayed code can revoke it. */
  grantId: text("grant_id"),
});

/** Opaque OAuth access and refresh tokens, stored as SHA-256 hashes. */
export const oauthTokens = sqliteTable(
  "oauth_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    grantId: text("grant_id")
      .notNull()
      .references(() => oauthGrants.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["access", "refresh"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    /** Refresh tokens: when it was exchanged for a new pair (a later use is a replay). */
    rotatedAt: integer("rotated_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("oauth_tokens_by_grant").on(t.grantId)],
);

/**
 * The audit trail: one row per MCP request, auth event and admin change,
 * each hash-chained to the one before (src/audit). `call_records` and
 * `auth_events` are views of it since schema version 4.
 */
export const auditRecords = sqliteTable(
  "audit_records",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    kind: text("kind", { enum: ["mcp", "auth", "admin"] }).notNull(),
    /** The person's email (or the admin actor). */
    person: text("person"),
    userId: text("user_id"),
    clientId: text("client_id"),
    tokenId: text("token_id"),
    ip: text("ip"),
    sessionId: text("session_id"),
    virtualMcp: text("virtual_mcp"),
    connector: text("connector"),
    /** JSON-RPC method, auth event type, or admin action. */
    method: text("method").notNull(),
    exposedName: text("exposed_name"),
    upstreamName: text("upstream_name"),
    /** JSON, redacted and size-capped. */
    arguments: text("arguments"),
    /** JSON, redacted and size-capped; `result_size` is the full size. */
    result: text("result"),
    resultSize: integer("result_size"),
    outcome: text("outcome", { enum: AUDIT_OUTCOMES }).notNull(),
    error: text("error"),
    durationMs: real("duration_ms"),
    /** JSON: auth event facts, or an admin change's before and after. */
    detail: text("detail"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [index("audit_records_by_time").on(t.at), index("audit_records_by_vmcp").on(t.virtualMcp, t.at)],
);

/** Left by retention: the last deleted record's id and hash, signed, so the rest of the chain still verifies. */
export const auditCheckpoints = sqliteTable("audit_checkpoints", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  at: integer("at").notNull(),
  lastId: integer("last_id").notNull(),
  lastHash: text("last_hash").notNull(),
  lastAt: integer("last_at").notNull(),
  deleted: integer("deleted").notNull(),
  /** The master key version whose derived key made the signature. */
  keyVersion: integer("key_version").notNull(),
  /** HMAC-SHA256, hex. */
  signature: text("signature").notNull(),
});
