import { randomBytes, timingSafeEqual } from "node:crypto";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import { hashToken } from "../../secrets/index.ts";
import type { OAuthClientRow, Store } from "../../store/index.ts";
import type { AdminActor } from "../../audit/index.ts";
import type { AuthEvents } from "../events.ts";
import { OAuthError, wireDescription } from "../oauth-error.ts";
import { PINNED_CLIENTS } from "./pinned.ts";
import { DEFAULT_PRIVATE_USE_SCHEMES, matchRedirectUri, redirectUriProblem } from "./redirect-uris.ts";
import { SafeFetcher, SafeFetchError } from "./safe-fetch.ts";
import { RefusalRecords, WindowLimiter } from "../rate-limit.ts";

export type TokenEndpointAuthMethod = "none" | "client_secret_basic" | "client_secret_post" | "private_key_jwt";

/** A client as the authorization server sees it, whichever way it was registered. */
export interface OAuthClient {
  clientId: string;
  kind: "cimd" | "dcr" | "static";
  name: string;
  redirectUris: string[];
  grantTypes: string[];
  /** The method the client registered; acceptedAuthMethods may list more. */
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Every method this client may authenticate with at /token and /revoke. */
  acceptedAuthMethods: TokenEndpointAuthMethod[];
  jwksUri?: string | undefined;
  /** Redirect URIs allowed by prefix (the pinned ChatGPT client only). */
  redirectUriPrefixes?: string[] | undefined;
  /** True when a CIMD client comes from the copy shipped in the binary (its live document could not be fetched). */
  pinned?: boolean | undefined;
  /** The rest of the client's metadata (client_uri, logo_uri, software_id, jwks…), as registered. */
  metadata: Record<string, unknown>;
}

/** What POST /register answers: a status and a JSON body (and headers on a rate limit). */
export interface RegistrationResponse {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface StaticClientInfo {
  clientId: string;
  name: string;
  redirectUris: string[];
  confidential: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface ClientRegistryOptions {
  store: Store;
  events: AuthEvents;
  /** Fetches CIMD documents and JWKS; tests pass one that may reach their 127.0.0.1 servers. */
  fetcher?: SafeFetcher;
  /** Fetches JWKS (bigger documents than CIMD); default: a SafeFetcher with a 64 KiB cap and the fetcher's other options. */
  jwksFetcher?: SafeFetcher;
  /** Private-use redirect URI schemes that may be registered (default ["cursor"]). */
  privateUseSchemes?: readonly string[];
  /** Open registrations per IP per window (default 30 per minute). */
  registrationLimit?: { max: number; windowMs: number };
  /** Registered clients that have not signed in yet past which POST /register refuses new ones (default 10,000; tests set a few). */
  maxPendingRegistrations?: number;
  /** Use the pinned vendor documents when a fetch fails (default true). */
  usePinned?: boolean;
  now?: () => number;
}

const CLIENT_ID_PREFIX = "mgc_";
const SECRET_PREFIX = "mgcs_";
const SUPPORTED_GRANTS = ["authorization_code", "refresh_token"];
const DEFAULT_GRANTS = ["authorization_code", "refresh_token"];
const SECRET_METHODS: TokenEndpointAuthMethod[] = ["client_secret_basic", "client_secret_post"];
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Asymmetric algorithms only: `none` and HMAC (which an attacker could "sign" with the public key) are never accepted. */
const ASSERTION_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
/** Registered metadata echoed back and kept (RFC 7591 §2); anything else is ignored. */
const KEPT_METADATA = ["client_uri", "logo_uri", "tos_uri", "policy_uri", "software_id", "software_version", "scope", "application_type", "contacts", "jwks_uri", "jwks"];
const MAX_NAME = 100;
const MAX_REDIRECT_URIS = 20;
const MAX_METADATA_JSON = 16 * 1024;
const CIMD_CACHE_SIZE = 500;
const CIMD_DEFAULT_TTL_MS = 5 * 60_000;
const CIMD_MAX_TTL_MS = 24 * 3_600_000;
const JWKS_TTL_MS = 10 * 60_000;
const JWKS_REFETCH_MIN_MS = 30_000;
const MAX_ASSERTION_LIFETIME_S = 3600;
const USED_JTI_CAP = 50_000;
const TOUCH_INTERVAL_MS = 60_000;
const CACHE_KEY = "mintgate_cache_expires_at";
/**
 * Registered clients no sign-in completed for, past which /register refuses new ones. An AI client signs in right
 * after registering, so a team leaves a few such clients a day (abandoned sign-ins), and the sweep deletes them after
 * one: 10,000 is far above that, yet bounds what a flood from many addresses stores (at most about 160 MB of metadata).
 */
const MAX_PENDING_REGISTRATIONS = 10_000;
/** While the cap is hit, how often the clients are counted again (sign-ins and the hourly sweep lower the count). */
const PENDING_RECOUNT_MS = 60_000;
/** How often a refusal by the cap, or by one address's rate limit, is recorded (and logged); the others are counted. */
const REFUSAL_RECORD_INTERVAL_MS = 60_000;
/** The one key of the cap's refusals: the same cause whichever address was refused. */
const CAP_REFUSALS = "cap";

const invalidClient = (description: string) => new OAuthError("invalid_client", description);
const badMetadata = (description: string) => new OAuthError("invalid_client_metadata", description);

/**
 * Names are shown on the consent page, so what could make one read as another goes: control characters
 * (C0 and C1) and line breaks become spaces; invisible format characters, among them the bidirectional
 * overrides that show "Evil\u202Eedualc" as "Evilclaude", are removed. Capped by characters, never inside one.
 */
const cleanName = (name: string) => [...name.replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, " ").replace(/\p{Cf}/gu, "").trim()].slice(0, MAX_NAME).join("").trim();

/**
 * Whether a client_id is a Client ID Metadata Document URL: https, a path,
 * no fragment, no userinfo, and already in canonical form (so no dot-segments,
 * no upper-case host, no default port).
 */
export function isCimdClientId(clientId: string): boolean {
  if (!clientId.startsWith("https://") || clientId.includes("#")) return false;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return false;
  }
  if (url.href !== clientId || url.username || url.password || url.pathname === "/" || url.pathname === "") return false;
  return !/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(url.pathname);
}

/** Seconds until a fetched document goes stale, from Cache-Control then Expires; 0 for no-store/no-cache. */
function cacheLifetimeMs(headers: Headers, now: number): number {
  const control = (headers.get("cache-control") ?? "").toLowerCase();
  if (/\b(no-store|no-cache|private)\b/.test(control)) return 0;
  const maxAge = /\bmax-age\s*=\s*"?(\d+)/.exec(control);
  if (maxAge) return Math.min(Number(maxAge[1]) * 1000, CIMD_MAX_TTL_MS);
  const expires = headers.get("expires");
  if (expires) {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? 0 : Math.max(0, Math.min(at - now, CIMD_MAX_TTL_MS));
  }
  return CIMD_DEFAULT_TTL_MS;
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string") ? (value as string[]) : undefined;
}

function secretMatches(secret: string, storedHash: string | null): boolean {
  if (!storedHash) return false;
  const given = Buffer.from(hashToken(secret), "utf8");
  const stored = Buffer.from(storedHash, "utf8");
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** Decodes `Authorization: Basic` as RFC 6749 §2.3.1 has it (each part form-urlencoded). */
function basicCredentials(headers: Headers): { clientId: string; secret: string } | undefined {
  const header = headers.get("authorization");
  const match = header?.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
  if (!header) return undefined;
  if (!match) {
    if (/^Basic\b/i.test(header)) throw invalidClient("The Basic authorization header is malformed.");
    return undefined;
  }
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw invalidClient("The Basic authorization header is malformed.");
  const unescape = (part: string) => {
    try {
      return decodeURIComponent(part.replaceAll("+", " "));
    } catch {
      throw invalidClient("The Basic authorization header is malformed.");
    }
  };
  return { clientId: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
}

/** The refusal of a registration while too many registered clients have not signed in; recorded once a minute, not each time. */
class RegistrationsFull extends OAuthError {
  constructor(retryAfterSeconds: number) {
    super("temporarily_unavailable", "This server has too many registered clients that have not signed in yet; retry in a few minutes, and ask its admin if this lasts.", 429, {
      "retry-after": String(retryAfterSeconds),
    });
  }
}

/** The refusal of a registration by the per-address rate limit; recorded once a minute per address, not each time. */
class RegistrationsTooFrequent extends OAuthError {
  constructor(retryAfterSeconds: number) {
    super("temporarily_unavailable", `Too many client registrations from this address; retry in ${retryAfterSeconds} s.`, 429, { "retry-after": String(retryAfterSeconds) });
  }
}

/**
 * Every OAuth client mintgate knows: metadata documents (CIMD) fetched
 * safely, open dynamic registration (DCR) and clients an admin added.
 */
export class ClientRegistry {
  private readonly store: Store;
  private readonly events: AuthEvents;
  private readonly fetcher: SafeFetcher;
  private readonly jwksFetcher: SafeFetcher;
  private readonly privateUseSchemes: readonly string[];
  private readonly limit: { max: number; windowMs: number };
  private readonly usePinned: boolean;
  private readonly now: () => number;
  private readonly cimdCache = new Map<string, { client: OAuthClient; expiresAt: number }>();
  private readonly cimdInFlight = new Map<string, Promise<OAuthClient>>();
  private readonly registrations: WindowLimiter;
  private readonly jwksCache = new Map<string, { keys: JSONWebKeySet; fetchedAt: number }>();
  private readonly usedJti = new Map<string, number>();
  private readonly touched = new Map<string, number>();
  private readonly maxPending: number;
  /**
   * Registered clients not signed in yet: counted once (one query, about 50 ms at 10,000), then one more per
   * registration here, so it only errs high (sign-ins do not lower it); counted again when it reaches the cap.
   */
  private pending: { count: number; countedAt: number } | undefined;
  /** Refusals by the cap, recorded one a minute whichever address was refused. */
  private readonly capRefusals: RefusalRecords;
  /** Refusals by the per-address limit, recorded one a minute per address. */
  private readonly rateRefusals: RefusalRecords;
  /** Metadata documents refused (unreachable, invalid), recorded one a minute per address. */
  private readonly cimdRefusals: RefusalRecords;

  constructor(options: ClientRegistryOptions) {
    this.store = options.store;
    this.events = options.events;
    this.fetcher = options.fetcher ?? new SafeFetcher();
    this.jwksFetcher = options.jwksFetcher ?? options.fetcher ?? new SafeFetcher({ maxBytes: 64 * 1024 });
    this.privateUseSchemes = options.privateUseSchemes ?? DEFAULT_PRIVATE_USE_SCHEMES;
    this.limit = options.registrationLimit ?? { max: 30, windowMs: 60_000 };
    this.registrations = new WindowLimiter(this.limit, () => this.now());
    this.usePinned = options.usePinned ?? true;
    this.maxPending = options.maxPendingRegistrations ?? MAX_PENDING_REGISTRATIONS;
    this.now = options.now ?? Date.now;
    this.capRefusals = new RefusalRecords(REFUSAL_RECORD_INTERVAL_MS, () => this.now());
    this.rateRefusals = new RefusalRecords(REFUSAL_RECORD_INTERVAL_MS, () => this.now());
    this.cimdRefusals = new RefusalRecords(REFUSAL_RECORD_INTERVAL_MS, () => this.now());
  }

  // ---------------------------------------------------------------- resolve

  /**
   * The client with this id; unknown, unreachable or invalid → OAuthError invalid_client (401). `ip`: the address of
   * the request naming it, for the record of a metadata document refused.
   */
  async resolve(clientId: unknown, ip: string | null = null): Promise<OAuthClient> {
    if (typeof clientId !== "string" || clientId === "") throw new OAuthError("invalid_request", "The request has no client_id.");
    if (clientId.length > 2000) throw invalidClient("The client_id is too long.");
    if (/^https?:\/\//i.test(clientId)) {
      if (!isCimdClientId(clientId)) {
        throw invalidClient(`The client_id ${clientId} is not a valid client metadata document URL (https, a path, no fragment, user name or dot-segments, in canonical form).`);
      }
      return this.resolveCimd(clientId, ip);
    }
    const row = this.store.oauthClients.find(clientId);
    if (!row || row.kind === "cimd") throw invalidClient("This client is not registered with this server (it may have been removed); register it again.");
    this.touch(row.clientId);
    return this.toClient(row);
  }

  /** Whether `uri` may receive this client's authorization responses. */
  redirectUriAllowed(client: OAuthClient, uri: string): boolean {
    return matchRedirectUri(client.redirectUris, uri, client.redirectUriPrefixes ?? []);
  }

  /**
   * Whether someone other than whoever registered the client vouches for its redirect URIs: an admin added it, or it
   * is a vendor client whose document ships in the binary. A self-registered client, or a CIMD one at any other URL,
   * is whatever its registrant says it is (they may host the document and the redirect URI on the same site).
   */
  redirectUrisVouchedFor(client: Pick<OAuthClient, "clientId" | "kind">): boolean {
    return client.kind === "static" || (client.kind === "cimd" && Object.hasOwn(PINNED_CLIENTS, client.clientId));
  }

  private toClient(row: OAuthClientRow, extra: Partial<OAuthClient> = {}): OAuthClient {
    const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
    delete metadata[CACHE_KEY];
    const method = row.tokenEndpointAuthMethod as TokenEndpointAuthMethod;
    return {
      clientId: row.clientId,
      kind: row.kind,
      name: row.name,
      redirectUris: JSON.parse(row.redirectUris) as string[],
      grantTypes: JSON.parse(row.grantTypes) as string[],
      tokenEndpointAuthMethod: method,
      acceptedAuthMethods: SECRET_METHODS.includes(method) ? [...SECRET_METHODS] : [method],
      jwksUri: typeof metadata.jwks_uri === "string" ? metadata.jwks_uri : undefined,
      metadata,
      ...extra,
    };
  }

  private touch(clientId: string): void {
    const now = this.now();
    if (now - (this.touched.get(clientId) ?? 0) < TOUCH_INTERVAL_MS) return;
    if (this.touched.size > 10_000) this.touched.clear();
    this.touched.set(clientId, now);
    try {
      this.store.oauthClients.touch(clientId, now);
    } catch {
      // last_used_at is a hint for pruning; never fail a sign-in over it.
    }
  }

  // ---------------------------------------------------------------- CIMD

  private async resolveCimd(url: string, ip: string | null): Promise<OAuthClient> {
    const now = this.now();
    const cached = this.cimdCache.get(url);
    if (cached && cached.expiresAt > now) return cached.client;
    // A document fetched by this or another process and still fresh.
    const row = this.store.oauthClients.find(url);
    if (row?.kind === "cimd") {
      const expiresAt = Number((JSON.parse(row.metadata) as Record<string, unknown>)[CACHE_KEY] ?? 0);
      if (expiresAt > now) {
        const client = this.withPinnedRules(this.toClient(row));
        this.remember(url, client, expiresAt);
        return client;
      }
    }
    let pending = this.cimdInFlight.get(url);
    if (!pending) {
      // Anyone may name a document URL, unauthenticated, each time a new one: every fetch (up to 8 s, to a host they
      // choose) counts against the address's registration limit, as a registration is what it amounts to.
      const retryAfter = this.registrations.hit(ip ?? "unknown");
      if (retryAfter !== undefined) return this.pinnedOrRefuse(url, `Too many new clients from this address; retry in ${retryAfter} s.`, ip);
      pending = this.fetchCimd(url, ip).finally(() => this.cimdInFlight.delete(url));
      this.cimdInFlight.set(url, pending);
    }
    return pending;
  }

  private remember(url: string, client: OAuthClient, expiresAt: number): void {
    this.cimdCache.delete(url);
    if (this.cimdCache.size >= CIMD_CACHE_SIZE) this.cimdCache.delete(this.cimdCache.keys().next().value!);
    this.cimdCache.set(url, { client, expiresAt });
  }

  private withPinnedRules(client: OAuthClient): OAuthClient {
    const pinned = PINNED_CLIENTS[client.clientId];
    if (!pinned) return client;
    const accepted = [...new Set([...client.acceptedAuthMethods, ...((pinned.alsoAcceptedAuthMethods ?? []) as TokenEndpointAuthMethod[])])];
    return { ...client, redirectUriPrefixes: pinned.redirectUriPrefixes, acceptedAuthMethods: accepted };
  }

  private async fetchCimd(url: string, ip: string | null): Promise<OAuthClient> {
    const now = this.now();
    let fetched;
    try {
      fetched = await this.fetcher.fetchJson(url);
    } catch (error) {
      const reason = error instanceof SafeFetchError ? error.message : `Fetching ${url} failed.`;
      return this.pinnedOrRefuse(url, reason, ip);
    }
    let client: OAuthClient;
    try {
      client = this.validateCimd(url, fetched.json);
    } catch (error) {
      return this.pinnedOrRefuse(url, (error as OAuthError).description, ip);
    }
    const ttl = cacheLifetimeMs(fetched.headers, now);
    const before = this.store.oauthClients.find(url);
    this.store.oauthClients.upsert({
      clientId: url,
      kind: "cimd",
      name: client.name,
      redirectUris: JSON.stringify(client.redirectUris),
      grantTypes: JSON.stringify(client.grantTypes),
      tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
      secretHash: null,
      metadata: JSON.stringify({ ...client.metadata, [CACHE_KEY]: now + ttl }),
      createdAt: before?.createdAt ?? now,
      updatedAt: now,
      lastUsedAt: now,
    });
    if (!before) this.events.record({ type: "client_registered", outcome: "ok", clientId: url, detail: { kind: "cimd", name: client.name } });
    client = this.withPinnedRules(client);
    if (ttl > 0) this.remember(url, client, now + ttl);
    return client;
  }

  private pinnedOrRefuse(url: string, reason: string, ip: string | null): OAuthClient {
    const pinned = this.usePinned ? PINNED_CLIENTS[url] : undefined;
    if (pinned) {
      const client = this.validateCimd(url, pinned.document);
      return { ...this.withPinnedRules(client), pinned: true };
    }
    // Anyone may name a made-up document URL at /token, as often as they like (each a new one, so none is cached):
    // one record (and log line) a minute per address, as for registrations, not one per request.
    const unrecorded = this.cimdRefusals.take(ip ?? "unknown");
    if (unrecorded !== undefined) {
      this.events.record({ type: "client_registered", outcome: "refused", clientId: url, ip, reason, detail: { kind: "cimd", refusedUnrecorded: unrecorded } });
    }
    throw invalidClient(`The client metadata document could not be used: ${reason}`);
  }

  /** Checks a metadata document (draft-ietf-oauth-client-id-metadata-document §4) and turns it into a client. */
  private validateCimd(url: string, document: unknown): OAuthClient {
    if (typeof document !== "object" || document === null || Array.isArray(document)) throw invalidClient(`${url} is not a JSON object.`);
    const doc = document as Record<string, unknown>;
    if (doc.client_id !== url) throw invalidClient(`The document's client_id is not exactly its URL ${url}.`);
    if (typeof doc.client_name !== "string" || cleanName(doc.client_name) === "") throw invalidClient(`The document at ${url} has no client_name.`);
    const uris = stringArray(doc.redirect_uris);
    if (!uris || uris.length === 0) throw invalidClient(`The document at ${url} has no redirect_uris.`);
    // URIs of a shape that could not be registered are left out; the rest still work.
    const redirectUris = uris.filter((u) => redirectUriProblem(u, this.privateUseSchemes) === undefined).slice(0, MAX_REDIRECT_URIS);
    if (redirectUris.length === 0) throw invalidClient(`None of the redirect_uris in ${url} is allowed.`);
    const method = doc.token_endpoint_auth_method ?? "none";
    if (typeof method !== "string") throw invalidClient(`The document's token_endpoint_auth_method is not a string.`);
    if (method.startsWith("client_secret")) throw invalidClient(`A metadata document cannot use ${method}: it cannot carry a shared secret.`);
    if (method !== "none" && method !== "private_key_jwt") throw invalidClient(`The token_endpoint_auth_method ${method} is not supported.`);
    const metadata = this.keptMetadata(doc);
    if (method === "private_key_jwt") {
      const jwksUri = metadata.jwks_uri;
      if (!(typeof jwksUri === "string" && jwksUri.startsWith("https://")) && typeof metadata.jwks !== "object") {
        throw invalidClient(`The document at ${url} uses private_key_jwt without an https jwks_uri or jwks.`);
      }
    }
    const grants = stringArray(doc.grant_types) ?? DEFAULT_GRANTS;
    const grantTypes = grants.filter((g) => SUPPORTED_GRANTS.includes(g));
    if (!grantTypes.includes("authorization_code")) throw invalidClient(`The document at ${url} does not use the authorization_code grant.`);
    const accepted: TokenEndpointAuthMethod[] = [method];
    // Documents may list alternatives (ChatGPT: none beside private_key_jwt).
    const alternatives = stringArray(doc.token_endpoint_auth_methods_supported) ?? stringArray(doc.token_endpoint_auth_methods) ?? [];
    if (alternatives.includes("none") && method !== "none") accepted.push("none");
    return {
      clientId: url,
      kind: "cimd",
      name: cleanName(doc.client_name),
      redirectUris,
      grantTypes,
      tokenEndpointAuthMethod: method,
      acceptedAuthMethods: accepted,
      jwksUri: typeof metadata.jwks_uri === "string" ? metadata.jwks_uri : undefined,
      metadata,
    };
  }

  private keptMetadata(body: Record<string, unknown>): Record<string, unknown> {
    const kept: Record<string, unknown> = {};
    for (const key of KEPT_METADATA) {
      const value = body[key];
      if (typeof value === "string" && value.length <= 2000) kept[key] = value;
      else if (key === "contacts" && stringArray(value)) kept[key] = (value as string[]).slice(0, 10);
      else if (key === "jwks" && typeof value === "object" && value !== null && Array.isArray((value as { keys?: unknown }).keys)) kept[key] = value;
    }
    return kept;
  }

  // ---------------------------------------------------------------- DCR

  /** POST /register (RFC 7591): open, rate-limited per IP. Refusals are OAuth errors in the returned response. */
  async register(body: unknown, ip: string): Promise<RegistrationResponse> {
    try {
      this.checkRateLimit(ip);
      const client = this.validateRegistration(body);
      this.checkRoomForPending();
      const now = this.now();
      const clientId = CLIENT_ID_PREFIX + randomBytes(18).toString("base64url");
      const secret = SECRET_METHODS.includes(client.method) ? SECRET_PREFIX + randomBytes(32).toString("base64url") : undefined;
      this.store.oauthClients.add({
        clientId,
        kind: "dcr",
        name: client.name,
        redirectUris: JSON.stringify(client.redirectUris),
        grantTypes: JSON.stringify(client.grantTypes),
        tokenEndpointAuthMethod: client.method,
        secretHash: secret ? hashToken(secret) : null,
        metadata: JSON.stringify(client.metadata),
        createdAt: now,
        updatedAt: now,
        lastUsedAt: null,
      });
      this.pending!.count++;
      this.events.record({ type: "client_registered", outcome: "ok", clientId, ip, detail: { kind: "dcr", name: client.name, redirectUris: client.redirectUris } });
      const issuedAt = Math.floor(now / 1000);
      return {
        status: 201,
        body: {
          client_id: clientId,
          client_id_issued_at: issuedAt,
          ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
          client_name: client.name,
          redirect_uris: client.redirectUris,
          grant_types: client.grantTypes,
          response_types: ["code"],
          token_endpoint_auth_method: client.method,
          ...client.metadata,
        },
        headers: { "cache-control": "no-store", pragma: "no-cache" },
      };
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (error instanceof RegistrationsFull) this.recordCapRefusal(ip);
      else if (error instanceof RegistrationsTooFrequent) this.recordRateRefusal(ip, error);
      else this.events.record({ type: "client_registered", outcome: "refused", ip, reason: error.description, detail: { kind: "dcr" } });
      return { status: error.status, body: { error: error.code, error_description: wireDescription(error.description) }, headers: { "cache-control": "no-store", pragma: "no-cache", ...error.headers } };
    }
  }

  private checkRateLimit(ip: string): void {
    const retryAfter = this.registrations.hit(ip);
    if (retryAfter !== undefined) throw new RegistrationsTooFrequent(retryAfter);
  }

  /** One audit record (and so one warning line) a minute per address over its limit: a flood must not fill the trail and the log. */
  private recordRateRefusal(ip: string, error: RegistrationsTooFrequent): void {
    const unrecorded = this.rateRefusals.take(ip);
    if (unrecorded === undefined) return;
    this.events.record({ type: "client_registered", outcome: "refused", ip, reason: error.description, detail: { kind: "dcr", refusedUnrecorded: unrecorded } });
  }

  /**
   * Refuses a registration while too many registered clients have not signed in (a flood from many addresses, each
   * within its rate limit): 429 temporarily_unavailable with Retry-After, like the per-address limit. Not 400
   * invalid_client_metadata, which blames the client's metadata, nor 503, which says the server is down; no AI client
   * retries a failed registration by itself, so the sentence is what the person sees.
   */
  private checkRoomForPending(): void {
    const now = this.now();
    if (this.pending === undefined || (this.pending.count >= this.maxPending && now - this.pending.countedAt >= PENDING_RECOUNT_MS)) {
      this.pending = { count: this.store.oauthClients.countNeverGrantedRegistrations(), countedAt: now };
    }
    if (this.pending.count < this.maxPending) {
      this.capRefusals.forget(CAP_REFUSALS);
      return;
    }
    const retryAfter = Math.max(1, Math.ceil((this.pending.countedAt + PENDING_RECOUNT_MS - now) / 1000));
    throw new RegistrationsFull(retryAfter);
  }

  /** One audit record (and so one warning line) a minute while the cap is hit: a flood must not fill the trail and the log. */
  private recordCapRefusal(ip: string): void {
    const unrecorded = this.capRefusals.take(CAP_REFUSALS);
    if (unrecorded === undefined) return;
    const reason =
      `${this.pending!.count} registered clients have not signed in yet (the cap is ${this.maxPending}), so POST /register refuses new ones ` +
      `until sign-ins complete or the hourly housekeeping deletes those a day old; clients with a metadata document (Claude, ChatGPT, VS Code) ` +
      `and those added with \`mintgate clients add\` still sign in.`;
    this.events.record({ type: "client_registered", outcome: "refused", ip, reason, detail: { kind: "dcr", pending: this.pending!.count, refusedUnrecorded: unrecorded } });
  }

  private validateRegistration(body: unknown): { name: string; redirectUris: string[]; grantTypes: string[]; method: TokenEndpointAuthMethod; metadata: Record<string, unknown> } {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badMetadata("The registration request must be a JSON object.");
    if (JSON.stringify(body).length > MAX_METADATA_JSON) throw badMetadata(`The client metadata is larger than ${MAX_METADATA_JSON} bytes.`);
    const doc = body as Record<string, unknown>;
    const redirectUris = this.checkRedirectUris(doc.redirect_uris);
    const grants = doc.grant_types === undefined ? DEFAULT_GRANTS : stringArray(doc.grant_types);
    if (!grants) throw badMetadata("grant_types must be an array of strings.");
    const grantTypes = [...new Set(grants.filter((g) => SUPPORTED_GRANTS.includes(g)))];
    if (!grantTypes.includes("authorization_code")) throw badMetadata("grant_types must include authorization_code (refresh_token is the only other grant supported).");
    const responseTypes = doc.response_types === undefined ? ["code"] : stringArray(doc.response_types);
    if (!responseTypes?.includes("code")) throw badMetadata('response_types must include "code".');
    const method = doc.token_endpoint_auth_method ?? "none";
    if (method !== "none" && method !== "client_secret_basic" && method !== "client_secret_post" && method !== "private_key_jwt") {
      throw badMetadata(`token_endpoint_auth_method ${JSON.stringify(method)} is not supported (none, client_secret_basic, client_secret_post or private_key_jwt).`);
    }
    const metadata = this.keptMetadata(doc);
    if (metadata.jwks_uri !== undefined && !String(metadata.jwks_uri).startsWith("https://")) throw badMetadata("jwks_uri must be an https URL.");
    if (method === "private_key_jwt" && metadata.jwks_uri === undefined && metadata.jwks === undefined) throw badMetadata("private_key_jwt needs jwks_uri or jwks.");
    if (metadata.application_type !== undefined && metadata.application_type !== "native" && metadata.application_type !== "web") {
      throw badMetadata('application_type must be "native" or "web".');
    }
    const rawName = typeof doc.client_name === "string" ? cleanName(doc.client_name) : "";
    const name = rawName || `Client at ${new URL(redirectUris[0]!).host || new URL(redirectUris[0]!).protocol}`;
    return { name, redirectUris, grantTypes, method, metadata };
  }

  private checkRedirectUris(value: unknown): string[] {
    const uris = stringArray(value);
    if (!uris || uris.length === 0) throw new OAuthError("invalid_redirect_uri", "redirect_uris must be a non-empty array of URIs.");
    if (uris.length > MAX_REDIRECT_URIS) throw new OAuthError("invalid_redirect_uri", `At most ${MAX_REDIRECT_URIS} redirect URIs may be registered.`);
    for (const uri of uris) {
      const problem = redirectUriProblem(uri, this.privateUseSchemes);
      if (problem) throw new OAuthError("invalid_redirect_uri", problem.charAt(0).toUpperCase() + problem.slice(1) + ".");
    }
    return [...new Set(uris)];
  }

  // ---------------------------------------------------------------- static clients

  /**
   * A client added by an admin; the secret (confidential clients) is returned once and stored as a hash. `actor`
   * (the admin API's) gives the event the request's address; the CLI has none.
   */
  addStatic(options: { name: string; redirectUris: string[]; confidential?: boolean }, actor?: AdminActor): { clientId: string; clientSecret: string | null } {
    const name = cleanName(options.name ?? "");
    if (!name) throw new OAuthError("invalid_client_metadata", "A client needs a name (--name).");
    const redirectUris = this.checkRedirectUris(options.redirectUris);
    const confidential = options.confidential ?? true;
    const now = this.now();
    const clientId = CLIENT_ID_PREFIX + randomBytes(18).toString("base64url");
    const clientSecret = confidential ? SECRET_PREFIX + randomBytes(32).toString("base64url") : undefined;
    this.store.oauthClients.add({
      clientId,
      kind: "static",
      name,
      redirectUris: JSON.stringify(redirectUris),
      grantTypes: JSON.stringify(DEFAULT_GRANTS),
      tokenEndpointAuthMethod: confidential ? "client_secret_basic" : "none",
      secretHash: clientSecret ? hashToken(clientSecret) : null,
      metadata: "{}",
      createdAt: now,
      updatedAt: now,
      lastUsedAt: null,
    });
    this.events.record({ type: "client_registered", outcome: "ok", clientId, ip: actor?.ip ?? null, detail: { kind: "static", name, redirectUris } });
    // A public client's clientSecret is null, not left out: `clients add --json` and the admin API answer the same keys either way.
    return { clientId, clientSecret: clientSecret ?? null };
  }

  /** Clients added by an admin, oldest first. */
  listStatic(): StaticClientInfo[] {
    return this.store.oauthClients.list("static").map((row) => ({
      clientId: row.clientId,
      name: row.name,
      redirectUris: JSON.parse(row.redirectUris) as string[],
      confidential: row.tokenEndpointAuthMethod !== "none",
      createdAt: new Date(row.createdAt).toISOString(),
      lastUsedAt: row.lastUsedAt === null ? null : new Date(row.lastUsedAt).toISOString(),
    }));
  }

  /** Every known client of every kind, for the admin API (never a secret). */
  listAll(): { clientId: string; kind: string; name: string; redirectUris: string[]; tokenEndpointAuthMethod: string; createdAt: string; lastUsedAt: string | null }[] {
    return this.store.oauthClients.list().map((row) => ({
      clientId: row.clientId,
      kind: row.kind,
      name: row.name,
      redirectUris: JSON.parse(row.redirectUris) as string[],
      tokenEndpointAuthMethod: row.tokenEndpointAuthMethod,
      createdAt: new Date(row.createdAt).toISOString(),
      lastUsedAt: row.lastUsedAt === null ? null : new Date(row.lastUsedAt).toISOString(),
    }));
  }

  /** Removes a client (any kind); its next request is refused with invalid_client. False when there was none. */
  /** Removes a client and revokes every sign-in it holds: its access tokens stop working at once, not at expiry. */
  remove(clientId: string): boolean {
    this.cimdCache.delete(clientId);
    return this.store.transaction(() => {
      const removed = this.store.oauthClients.remove(clientId);
      if (removed) this.store.oauthGrants.revokeGrantsOfClient(clientId, this.now(), "client removed");
      return removed;
    });
  }

  // ---------------------------------------------------------------- client authentication

  /**
   * Authenticates the client of a /token or /revoke request: `none`,
   * `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
   * Any failure is invalid_client (401).
   */
  async authenticate(form: URLSearchParams, headers: Headers, tokenEndpointUrl: string, ip: string | null = null): Promise<OAuthClient> {
    const basic = basicCredentials(headers);
    const formId = form.get("client_id") ?? undefined;
    const formSecret = form.get("client_secret") ?? undefined;
    const assertion = form.get("client_assertion") ?? undefined;
    const assertionType = form.get("client_assertion_type") ?? undefined;
    const used = [basic, formSecret, assertion].filter((x) => x !== undefined).length;
    if (used > 1) throw new OAuthError("invalid_request", "Use one way of authenticating the client, not several.");

    let method: TokenEndpointAuthMethod;
    let clientId: string | undefined;
    if (basic) {
      method = "client_secret_basic";
      clientId = basic.clientId;
      if (formId !== undefined && formId !== clientId) throw invalidClient("The client_id in the form differs from the one in the Authorization header.");
    } else if (formSecret !== undefined) {
      method = "client_secret_post";
      clientId = formId;
    } else if (assertion !== undefined || assertionType !== undefined) {
      method = "private_key_jwt";
      if (assertionType !== JWT_BEARER) throw invalidClient(`client_assertion_type must be ${JWT_BEARER}.`);
      if (!assertion) throw invalidClient("client_assertion is missing.");
      let claims;
      try {
        claims = decodeJwt(assertion);
      } catch {
        throw invalidClient("client_assertion is not a JWT.");
      }
      clientId = formId ?? (typeof claims.sub === "string" ? claims.sub : undefined);
    } else {
      method = "none";
      clientId = formId;
    }
    if (!clientId) throw invalidClient("The request does not say which client it is (client_id).");

    let client: OAuthClient;
    try {
      client = await this.resolve(clientId, ip);
    } catch (error) {
      if (error instanceof OAuthError && error.code !== "invalid_client") throw invalidClient(error.description);
      throw error;
    }
    if (!client.acceptedAuthMethods.includes(method)) {
      throw invalidClient(
        method === "none"
          ? `The client ${client.name} must authenticate (${client.tokenEndpointAuthMethod}).`
          : `The client ${client.name} does not authenticate with ${method} (registered: ${client.acceptedAuthMethods.join(" or ")}).`,
      );
    }
    if (method === "client_secret_basic" || method === "client_secret_post") {
      const secret = method === "client_secret_basic" ? basic!.secret : formSecret!;
      const row = this.store.oauthClients.find(client.clientId);
      if (!secretMatches(secret, row?.secretHash ?? null)) throw invalidClient("The client secret is not valid.");
    } else if (method === "private_key_jwt") {
      await this.verifyAssertion(client, assertion!, tokenEndpointUrl);
    }
    this.touch(client.clientId);
    return client;
  }

  /**
   * The client a /token or /revoke request says it is (its Basic header, else the form's client_id), for the record
   * of a refused authentication: an admin sees whose secret is being guessed. Never the secret; undefined when it names none.
   */
  presentedClientId(form: URLSearchParams, headers: Headers): string | undefined {
    let basic: { clientId: string } | undefined;
    try {
      basic = basicCredentials(headers);
    } catch {
      // A malformed header names no client; the form may.
    }
    return basic?.clientId || form.get("client_id") || undefined;
  }

  private async verifyAssertion(client: OAuthClient, assertion: string, tokenEndpointUrl: string): Promise<void> {
    const issuer = new URL(tokenEndpointUrl).origin;
    const audience = [...new Set([tokenEndpointUrl, issuer, `${issuer}/`, `${issuer}/token`])];
    const verify = async (keys: JSONWebKeySet) =>
      jwtVerify(assertion, createLocalJWKSet(keys), {
        issuer: client.clientId,
        subject: client.clientId,
        audience,
        algorithms: ASSERTION_ALGORITHMS,
        requiredClaims: ["exp", "jti"],
        clockTolerance: 30,
        currentDate: new Date(this.now()),
      });
    let payload;
    try {
      payload = (await verify(await this.jwksOf(client, false))).payload;
    } catch (error) {
      // A key the cached set does not have: the client may have rotated; fetch once more (not more often than every 30 s).
      const code = (error as { code?: string }).code;
      if (code !== "ERR_JWKS_NO_MATCHING_KEY" || !client.jwksUri) throw invalidClient(`The client assertion is not valid (${(error as Error).message}).`);
      try {
        payload = (await verify(await this.jwksOf(client, true))).payload;
      } catch (again) {
        throw invalidClient(`The client assertion is not valid (${(again as Error).message}).`);
      }
    }
    const nowS = Math.floor(this.now() / 1000);
    if (payload.exp! - nowS > MAX_ASSERTION_LIFETIME_S) throw invalidClient("The client assertion expires too far in the future (at most one hour).");
    const key = `${client.clientId} ${payload.jti}`;
    for (const [k, exp] of this.usedJti) {
      if (exp >= nowS - 60 && this.usedJti.size < USED_JTI_CAP) break;
      this.usedJti.delete(k);
    }
    if (this.usedJti.has(key)) throw invalidClient("The client assertion was already used (jti).");
    this.usedJti.set(key, payload.exp!);
  }

  private async jwksOf(client: OAuthClient, refresh: boolean): Promise<JSONWebKeySet> {
    const inline = client.metadata.jwks as JSONWebKeySet | undefined;
    if (!client.jwksUri) {
      if (inline) return inline;
      throw invalidClient("The client has no keys (jwks_uri or jwks).");
    }
    const now = this.now();
    const cached = this.jwksCache.get(client.jwksUri);
    if (cached && (refresh ? now - cached.fetchedAt < JWKS_REFETCH_MIN_MS : now - cached.fetchedAt < JWKS_TTL_MS)) return cached.keys;
    let keys: JSONWebKeySet;
    try {
      const { json } = await this.jwksFetcher.fetchJson(client.jwksUri);
      if (!json || typeof json !== "object" || !Array.isArray((json as JSONWebKeySet).keys)) throw new SafeFetchError(`${client.jwksUri} is not a JWK set.`);
      keys = json as JSONWebKeySet;
    } catch (error) {
      throw invalidClient(`The client's keys could not be fetched: ${(error as Error).message}`);
    }
    if (this.jwksCache.size > 100) this.jwksCache.clear();
    this.jwksCache.set(client.jwksUri, { keys, fetchedAt: now });
    return keys;
  }
}
