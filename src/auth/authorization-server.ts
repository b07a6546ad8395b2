import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { hashToken } from "../secrets/index.ts";
import type { Store } from "../store/index.ts";
import type { AuthEvents } from "./events.ts";
import type { OAuthGrants } from "./grants.ts";
import { OAuthError, wireDescription } from "./oauth-error.ts";
import { WindowLimiter } from "./rate-limit.ts";
import type { PublicUrls } from "./public-urls.ts";

/** A registered OAuth client as the authorization server needs it (the client registry owns the rest). */
export interface AuthorizationClient {
  clientId: string;
  /** Registered by itself (dcr), known by its metadata document's URL (cimd), or added by an admin (static). */
  kind: "cimd" | "dcr" | "static";
  name: string;
  redirectUris: string[];
  grantTypes: string[];
}

/** The client registry, as seen from here: find a client, check a redirect URI, authenticate at /token. */
export interface ClientLookup {
  /** `ip`: the requester's address, for the record of a refused client. */
  resolve(clientId: string, ip: string | null): Promise<AuthorizationClient>;
  redirectUriAllowed(client: AuthorizationClient, redirectUri: string): boolean;
  /** Whether someone other than whoever registered the client vouches for its redirect URIs (see AuthorizationServer.refusal). */
  redirectUrisVouchedFor(client: AuthorizationClient): boolean;
  authenticate(form: URLSearchParams, headers: Headers, tokenEndpointUrl: string, ip: string | null): Promise<AuthorizationClient>;
  /** The client id a request presented (Basic header or form), whether or not it authenticated; never its secret. */
  presentedClientId(form: URLSearchParams, headers: Headers): string | undefined;
}

/** Re-reads a person's groups from their identity provider when a refresh token is used; throws when they may no longer sign in. */
export type GroupRefresher = (userId: string) => Promise<void>;

/** A Virtual MCP as the audience of codes and tokens. */
export interface VirtualMcpAudience {
  id: string;
  slug: string;
  name: string;
}

/** A checked /authorize request, waiting for the person to sign in and consent. */
export interface AuthorizationRequest {
  client: AuthorizationClient;
  redirectUri: string;
  state: string;
  codeChallenge: string;
  scope: string;
  /**
   * The Virtual MCP the `resource` parameter named (or the only one there is). Undefined when the client sent
   * no `resource` (2025-03-26 clients, mcp-remote --disable-resource-parameter) and the gateway serves several:
   * then the person's access, or their choice on the consent page, decides.
   */
  virtualMcp: VirtualMcpAudience | undefined;
  /** OIDC `prompt`: "login" signs in again, "consent" asks again, "none" shows no page (an error instead). */
  prompt: ReadonlySet<string>;
}

/** A request whose Virtual MCP is known: the only kind a code is issued for. */
export type TargetedAuthorizationRequest = AuthorizationRequest & { virtualMcp: VirtualMcpAudience };

/** Whether the request's Virtual MCP is known yet (narrows it for issueCode). */
export const isTargeted = (request: AuthorizationRequest): request is TargetedAuthorizationRequest => request.virtualMcp !== undefined;

/** An /authorize problem found after the redirect URI was checked: it goes back to the client. */
export class AuthorizationRedirectError extends Error {
  constructor(
    readonly redirectUri: string,
    readonly error: string,
    readonly description: string,
    readonly state: string | null,
  ) {
    super(description);
  }
}

/** Where an error about an /authorize request goes: back to the client, or onto this gateway's own page. */
export type AuthorizationRefusal = { redirectTo: string } | { shownHere: string };

export const SUPPORTED_SCOPES = ["mcp", "offline_access"] as const;
export const BASELINE_SCOPE = "mcp";

const CODE_TTL_MS = 60_000;
export const DEFAULT_ACCESS_TOKEN_TTL_MS = 3_600_000;
const REFRESH_TTL_MS = 30 * 86_400_000;
/** A rotated refresh token used again within this window (and before its replacement) is a client retry, not a replay. */
const REFRESH_GRACE_MS = 30_000;
const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export const ACCESS_TOKEN_PREFIX = "mgt_at_";
const REFRESH_TOKEN_PREFIX = "mgt_rt_";
const CODE_PREFIX = "mgt_ac_";

const newSecret = (prefix: string) => prefix + randomBytes(32).toString("base64url");

/** Lenient scopes (checklist §5): keep the ones we know, ignore the rest; none means the baseline. */
export function grantedScope(requested: string | null): string {
  const known = new Set((requested ?? "").split(/\s+/).filter((s) => (SUPPORTED_SCOPES as readonly string[]).includes(s)));
  known.add(BASELINE_SCOPE);
  return [...SUPPORTED_SCOPES].filter((s) => known.has(s)).join(" ");
}

/**
 * Whether a sign-in gets a refresh token: the client registered the refresh_token grant, or asked for
 * offline_access (checklist §6: some clients never send offline_access). The consent page says so by the same rule.
 */
export function issuesRefreshTokens(client: AuthorizationClient, scope: string): boolean {
  return client.grantTypes.includes("refresh_token") || scope.split(" ").includes("offline_access");
}

function s256(verifier: string): string {
  return new Bun.CryptoHasher("sha256").update(verifier).digest("base64url");
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Compares resource URLs the way RFC 8707 / the MCP spec allow: scheme and host case-insensitive, no trailing slash. */
function canonicalResource(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.hash || url.search) return undefined;
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, "")}`;
  } catch {
    return undefined;
  }
}

/** RFC 8707 lets a client name several resources; a token here is for one Virtual MCP. Said at /authorize and /token alike. */
const SEVERAL_RESOURCES = "A token is for one virtual MCP; send one resource (its URL) per sign-in.";

interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/** Refused /token requests that name no person (unknown client, code or refresh token) recorded per address. */
const ANONYMOUS_REFUSALS_RECORDED = { max: 30, windowMs: 60_000 };

/**
 * mintgate's OAuth 2.1 authorization server for AI clients: checks /authorize
 * requests, mints single-use codes, exchanges them (PKCE S256 only) and
 * rotates refresh tokens. Tokens are opaque and stored as hashes.
 */
export class AuthorizationServer {
  /** Refused /token requests that name no person, recorded per client address (see `refused`). */
  private readonly anonymousRefusals = new WindowLimiter(ANONYMOUS_REFUSALS_RECORDED, () => this.now());

  constructor(
    private readonly deps: {
      store: Store;
      clients: ClientLookup;
      grants: OAuthGrants;
      urls: PublicUrls;
      events: AuthEvents;
      refreshGroups?: GroupRefresher | undefined;
      accessTokenTtlMs?: number | undefined;
      refreshGraceMs?: number | undefined;
      /** Called after anything is revoked here, so verified-token caches forget it at once. */
      onRevoked?: () => void;
      now?: () => number;
    },
  ) {}

  private get accessTtlMs(): number {
    return this.deps.accessTokenTtlMs ?? DEFAULT_ACCESS_TOKEN_TTL_MS;
  }

  private get refreshGraceMs(): number {
    return this.deps.refreshGraceMs ?? REFRESH_GRACE_MS;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Every Virtual MCP a token can be for: what a request without `resource` chooses from. */
  virtualMcps(): VirtualMcpAudience[] {
    return this.deps.store.gatewayConfig.listVirtualMcps();
  }

  /** Whether `resource` is the URL of one of the Virtual MCP's endpoints: Streamable HTTP, or legacy HTTP+SSE. */
  private names(resource: string, slug: string): boolean {
    const wanted = canonicalResource(resource);
    return wanted !== undefined && [this.deps.urls.resource(slug), this.deps.urls.legacyResource(slug)].some((url) => canonicalResource(url) === wanted);
  }

  /**
   * Why the `resource`s a /token request sent do not fit the Virtual MCP `slug` its code or grant is for (`differs`
   * when they name another one), or undefined when they do. RFC 8707 lets a client repeat `resource`: as at
   * /authorize, the same Virtual MCP named more than once is one audience, different ones are refused.
   */
  private resourceMismatch(form: URLSearchParams, slug: string, differs: string): string | undefined {
    const resources = form.getAll("resource");
    if (resources.every((resource) => this.names(resource, slug))) return undefined;
    const audiences = new Set(resources.map((resource) => this.virtualMcps().find((v) => this.names(resource, v.slug))?.id ?? canonicalResource(resource) ?? resource));
    return audiences.size > 1 ? SEVERAL_RESOURCES : differs;
  }

  /**
   * Where an error about this request goes (RFC 9700 §4.11.2). Anyone may register a client whose redirect URI is
   * their own site and send people a link to /authorize meant to fail: redirecting that error at once would make a
   * link to this gateway a link to their site. So an error goes back to the client only once the person has acted
   * here (signed in, answered the consent page), or when an admin or a vendor document shipped in the binary vouches
   * for the client's redirect URIs; otherwise it is a sentence for this gateway's own page, naming the client.
   */
  refusal(request: { client: AuthorizationClient; redirectUri: string; state: string | null }, error: string, description: string, personActed: boolean): AuthorizationRefusal {
    if (personActed || this.deps.clients.redirectUrisVouchedFor(request.client)) {
      return { redirectTo: this.redirectWith(request.redirectUri, { error, error_description: description, state: request.state }) };
    }
    const { name, clientId } = request.client;
    return { shownHere: `The application "${name}" (${clientId}) sent a sign-in request this gateway refuses: ${description}` };
  }

  /**
   * Checks an /authorize request. Problems with the client or the redirect URI
   * throw OAuthError (shown as a page, never redirected); later problems throw
   * AuthorizationRedirectError (sent back to the client with `state` and `iss`)
   * when `refusal` lets them go back, else OAuthError too. `ip`: the requester's address, for the records.
   */
  async checkAuthorizationRequest(params: URLSearchParams, ip: string | null): Promise<AuthorizationRequest> {
    const clientId = params.get("client_id");
    if (!clientId) throw new OAuthError("invalid_request", "The request has no client_id.");
    const client = await this.deps.clients.resolve(clientId, ip);
    // RFC 6749 §3.1: a parameter sent twice is an error (which one would the check and the redirect use?).
    // Twice the client or the redirect URI: nowhere is known to be safe to send the error to, so it is a page.
    for (const name of ["client_id", "redirect_uri"]) {
      if (params.getAll(name).length > 1) throw new OAuthError("invalid_request", `The request repeats ${name}; send it once.`);
    }
    const redirectUri = params.get("redirect_uri");
    if (!redirectUri) throw new OAuthError("invalid_request", "The request has no redirect_uri.");
    if (!this.deps.clients.redirectUriAllowed(client, redirectUri)) {
      throw new OAuthError("invalid_request", `The redirect URI ${redirectUri} is not registered for the client "${client.name}".`);
    }
    // From here on the redirect URI is the client's own: a problem goes back to it, so the client learns of it,
    // unless it might be a phishing site (see `refusal`).
    const states = params.getAll("state");
    const state = states.length === 1 ? states[0]! : null;
    const fail = (error: "invalid_request" | "unsupported_response_type" | "invalid_target", description: string) => {
      const refusal = this.refusal({ client, redirectUri, state }, error, description, false);
      return "shownHere" in refusal ? new OAuthError(error, refusal.shownHere) : new AuthorizationRedirectError(redirectUri, error, description, state);
    };
    for (const name of ["response_type", "state", "code_challenge", "code_challenge_method", "scope", "prompt"]) {
      if (params.getAll(name).length > 1) throw fail("invalid_request", `The request repeats ${name}; send it once.`);
    }
    // RFC 6749 §3.1: a parameter sent empty counts as not sent; a missing one is invalid_request (§4.1.2.1), not an unsupported one.
    const responseType = params.get("response_type");
    if (!responseType) throw fail("invalid_request", "The request has no response_type; send response_type=code.");
    if (responseType !== "code") throw fail("unsupported_response_type", "Only response_type=code is supported.");
    if (!state) throw fail("invalid_request", "The request has no state; send a random state value.");
    const challenge = params.get("code_challenge");
    const method = params.get("code_challenge_method");
    if (!challenge) throw fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256.");
    // Left out or empty, the method is plain (RFC 7636 §4.3).
    if (method !== "S256") throw fail("invalid_request", `Only the S256 PKCE method is supported, not "${method || "plain"}".`);
    if (!PKCE_CHALLENGE.test(challenge)) throw fail("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the code verifier.");
    // RFC 8707 lets a client name several resources; a token here is for one Virtual MCP, so they must all name it.
    const resources = params.getAll("resource").filter((r) => r !== "");
    const all = this.virtualMcps();
    let virtualMcp: VirtualMcpAudience | undefined;
    if (resources.length > 0) {
      for (const resource of resources) {
        const named = all.find((v) => this.names(resource, v.slug));
        if (!named) throw fail("invalid_target", `${resource} is not a virtual MCP of this gateway.`);
        if (virtualMcp && named.id !== virtualMcp.id) throw fail("invalid_target", SEVERAL_RESOURCES);
        virtualMcp = named;
      }
    } else {
      if (all.length === 0) throw fail("invalid_target", "This gateway serves no virtual MCP yet.");
      // Without `resource` and with several Virtual MCPs, the person decides after signing in (left undefined here).
      virtualMcp = all.length === 1 ? all[0] : undefined;
    }
    const prompt = new Set((params.get("prompt") ?? "").split(" ").filter(Boolean));
    return { client, redirectUri, state, codeChallenge: challenge, scope: grantedScope(params.get("scope")), virtualMcp, prompt };
  }

  /** Mints the single-use code for a consented request; returns the URL to send the browser to. */
  issueCode(request: TargetedAuthorizationRequest, userId: string): string {
    const code = newSecret(CODE_PREFIX);
    const now = this.now();
    this.deps.store.oauthGrants.addCode({
      codeHash: hashToken(code),
      clientId: request.client.clientId,
      userId,
      virtualMcpId: request.virtualMcp.id,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      scope: request.scope,
      createdAt: now,
      expiresAt: now + CODE_TTL_MS,
    });
    return this.redirectWith(request.redirectUri, { code, state: request.state });
  }

  /** The redirect back to the client, with `iss` always (RFC 9207; we advertise it); an error_description in RFC 6749's character set. */
  redirectWith(redirectUri: string, params: Record<string, string | null>): string {
    const url = new URL(redirectUri);
    for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.set(key, key === "error_description" ? wireDescription(value) : value);
    url.searchParams.set("iss", this.deps.urls.issuer);
    return url.href;
  }

  /** POST /token. */
  async exchange(form: URLSearchParams, headers: Headers, ip: string | null): Promise<TokenResponse> {
    const grantType = form.get("grant_type");
    if (!grantType) throw new OAuthError("invalid_request", "The request has no grant_type; send authorization_code or refresh_token.");
    if (grantType !== "authorization_code" && grantType !== "refresh_token") {
      throw new OAuthError("unsupported_grant_type", `grant_type must be authorization_code or refresh_token, not "${grantType ?? ""}".`);
    }
    const client = await this.authenticatedClient(form, headers, "/token", ip);
    return grantType === "authorization_code" ? this.exchangeCode(client, form, ip) : this.refresh(client, form, ip);
  }

  /** The client of a /token or /revoke request; a refusal is recorded naming the client the request claimed to be. */
  private async authenticatedClient(form: URLSearchParams, headers: Headers, endpoint: "/token" | "/revoke", ip: string | null): Promise<AuthorizationClient> {
    try {
      return await this.deps.clients.authenticate(form, headers, this.deps.urls.at(endpoint), ip);
    } catch (error) {
      if (error instanceof OAuthError) {
        this.refused(error.description, { clientId: this.deps.clients.presentedClientId(form, headers), ip, detail: endpoint === "/revoke" ? { endpoint } : undefined });
      }
      throw error;
    }
  }

  private revoked(changed: boolean): void {
    if (changed) this.deps.onRevoked?.();
  }


  private refused(reason: string, fields: { clientId?: string | null; userId?: string | null; ip: string | null; detail?: Record<string, unknown> }): void {
    // A made-up client, code or refresh token costs its sender one request and us an audit record and a log line:
    // past the limit, one address's refusals that concern nobody are refused unrecorded. Those naming a person always are.
    if (!fields.userId && this.anonymousRefusals.hit(fields.ip ?? "unknown") !== undefined) return;
    this.deps.events.record({ type: "token_refused", outcome: "refused", reason, ...fields });
  }

  private exchangeCode(client: AuthorizationClient, form: URLSearchParams, ip: string | null): TokenResponse {
    const store = this.deps.store;
    const code = form.get("code");
    const verifier = form.get("code_verifier");
    if (!code) throw new OAuthError("invalid_request", "The request has no code.");
    if (!verifier) throw new OAuthError("invalid_request", "PKCE is required: send the code_verifier.");
    const row = store.oauthGrants.findCode(hashToken(code));
    const now = this.now();
    const refuse = (reason: string, userId?: string, code: "invalid_grant" | "invalid_target" | "invalid_request" = "invalid_grant") => {
      this.refused(reason, { clientId: client.clientId, userId, ip });
      return new OAuthError(code, reason);
    };
    if (!row) throw refuse("The authorization code is not valid.");
    if (row.usedAt !== null) {
      // OAuth 2.1 §4.1.3: a code used twice was probably stolen; revoke what it issued.
      if (row.grantId) this.revoked(store.oauthGrants.revokeGrant(row.grantId, now, "authorization code reused"));
      throw refuse("The authorization code was already used; the tokens it issued are revoked.", row.userId);
    }
    if (row.clientId !== client.clientId) throw refuse("The authorization code was issued to another client.", row.userId);
    if (row.expiresAt <= now) throw refuse("The authorization code has expired; start the sign-in again.", row.userId);
    // RFC 6749 §4.1.3: every /authorize here carries a redirect_uri, so the exchange must send the same one, not leave it out.
    const redirectUri = form.get("redirect_uri");
    if (redirectUri === null) throw refuse("The request has no redirect_uri; send the one used at /authorize.", row.userId, "invalid_request");
    if (redirectUri !== row.redirectUri) throw refuse("redirect_uri differs from the one used at /authorize.", row.userId);
    if (!PKCE_VERIFIER.test(verifier) || !sameText(s256(verifier), row.codeChallenge)) throw refuse("The code_verifier does not match the code_challenge.", row.userId);
    const virtualMcp = store.gatewayConfig.listVirtualMcps().find((v) => v.id === row.virtualMcpId);
    const mismatch = virtualMcp && this.resourceMismatch(form, virtualMcp.slug, "resource differs from the one the code was issued for; send the same resource as at /authorize.");
    if (mismatch) throw refuse(mismatch, row.userId, "invalid_target");
    const refreshable = issuesRefreshTokens(client, row.scope);
    const grantId = randomUUID();
    const issued = store.transaction(() => {
      store.oauthGrants.addGrant({ id: grantId, clientId: client.clientId, userId: row.userId, virtualMcpId: row.virtualMcpId, scope: row.scope, refreshable: refreshable ? 1 : 0, createdAt: now });
      if (!store.oauthGrants.useCode(row.codeHash, now, grantId)) return undefined;
      return this.mintTokens(grantId, row.scope, refreshable, now);
    });
    if (!issued) throw refuse("The authorization code was already used.", row.userId);
    this.deps.events.record({ type: "token_issued", outcome: "ok", userId: row.userId, clientId: client.clientId, ip, detail: { grant: grantId, virtualMcp: virtualMcp?.slug, scope: row.scope } });
    return issued;
  }

  private mintTokens(grantId: string, scope: string, refreshable: boolean, now: number): TokenResponse {
    const accessToken = newSecret(ACCESS_TOKEN_PREFIX);
    this.deps.store.oauthGrants.addToken({ tokenHash: hashToken(accessToken), grantId, kind: "access", createdAt: now, expiresAt: now + this.accessTtlMs });
    const response: TokenResponse = { access_token: accessToken, token_type: "Bearer", expires_in: Math.round(this.accessTtlMs / 1000), scope };
    if (refreshable) {
      const refreshToken = newSecret(REFRESH_TOKEN_PREFIX);
      this.deps.store.oauthGrants.addToken({ tokenHash: hashToken(refreshToken), grantId, kind: "refresh", createdAt: now, expiresAt: now + REFRESH_TTL_MS });
      response.refresh_token = refreshToken;
    }
    return response;
  }

  private async refresh(client: AuthorizationClient, form: URLSearchParams, ip: string | null): Promise<TokenResponse> {
    const store = this.deps.store;
    const presented = form.get("refresh_token");
    if (!presented) throw new OAuthError("invalid_request", "The request has no refresh_token.");
    const row = store.oauthGrants.findToken(hashToken(presented));
    const now = this.now();
    const refuse = (reason: string, code: "invalid_grant" | "invalid_target" = "invalid_grant") => {
      this.refused(reason, { clientId: client.clientId, userId: row?.userId, ip, detail: row ? { grant: row.grantId } : undefined });
      return new OAuthError(code, reason);
    };
    if (!row || row.kind !== "refresh") throw refuse("The refresh token is not valid.");
    if (row.clientId !== client.clientId) throw refuse("The refresh token was issued to another client.");
    if (row.grantRevokedAt !== null) throw refuse("The refresh token was revoked; sign in again.");
    if (row.revokedAt !== null) {
      // A refresh token abandoned by a retried refresh came back: two holders of one family. End it for both.
      this.revoked(store.oauthGrants.revokeGrant(row.grantId, now, "abandoned refresh token used"));
      throw refuse("The refresh token was replaced by a retried refresh; every token of this sign-in is revoked. Sign in again.");
    }
    if (row.expiresAt <= now) throw refuse("The refresh token has expired; sign in again.");
    if (row.userDisabledAt !== null) throw refuse("The account is disabled.");
    const mismatch = this.resourceMismatch(form, row.virtualMcp, "resource differs from the one originally granted; send the same resource, or none.");
    if (mismatch) throw refuse(mismatch, "invalid_target");
    // A rotated token may come back once more shortly after, from a client that lost the answer
    // (its replacement is then still unused). Later, or once the replacement was used, it is a replay.
    if (row.rotatedAt !== null && (now - row.rotatedAt > this.refreshGraceMs || store.oauthGrants.refreshUsedSince(row.grantId, row.rotatedAt, row.tokenHash))) {
      // An old refresh token came back after its replacement was issued: the family may be stolen.
      this.revoked(store.oauthGrants.revokeGrant(row.grantId, now, "refresh token replayed"));
      throw refuse("The refresh token was already used; every token of this sign-in is revoked. Sign in again.");
    }
    if (this.deps.refreshGroups) {
      try {
        await this.deps.refreshGroups(row.userId);
      } catch (error) {
        this.revoked(store.oauthGrants.revokeGrant(row.grantId, now, "identity provider refused"));
        throw refuse(`The identity provider no longer signs this person in: ${(error as Error).message}`);
      }
    }
    const issued = store.transaction(() => {
      if (!store.oauthGrants.rotateToken(row.tokenHash, now)) {
        // A retry, or a parallel refresh: the answer issued before is abandoned, so one family never has two live refresh tokens.
        const rotatedAt = store.oauthGrants.findToken(row.tokenHash)?.rotatedAt ?? now;
        store.oauthGrants.revokeRefreshIssuedSince(row.grantId, rotatedAt, now);
      }
      return this.mintTokens(row.grantId, row.scope, true, now);
    });
    this.deps.events.record({ type: "token_refreshed", outcome: "ok", userId: row.userId, clientId: client.clientId, ip, detail: { grant: row.grantId, virtualMcp: row.virtualMcp, retry: row.rotatedAt !== null } });
    return issued;
  }

  /** POST /revoke (RFC 7009): always succeeds for a known client, whatever the token. */
  async revoke(form: URLSearchParams, headers: Headers, ip: string | null): Promise<void> {
    const client = await this.authenticatedClient(form, headers, "/revoke", ip);
    const token = form.get("token");
    if (!token) throw new OAuthError("invalid_request", "The request has no token.");
    const row = this.deps.store.oauthGrants.findToken(hashToken(token));
    if (!row || row.clientId !== client.clientId) return;
    const now = this.now();
    // Revoking a refresh token ends the whole sign-in (RFC 7009 §2.1); an access token only itself.
    if (row.kind === "refresh") this.deps.store.oauthGrants.revokeGrant(row.grantId, now, "revoked by the client");
    else this.deps.store.oauthGrants.revokeToken(row.tokenHash, now);
    this.revoked(true);
    this.deps.events.record({ type: "token_revoked", outcome: "ok", userId: row.userId, clientId: client.clientId, ip, detail: { grant: row.grantId, kind: row.kind } });
  }
}
