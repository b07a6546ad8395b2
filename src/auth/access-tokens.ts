import { randomBytes, randomUUID } from "node:crypto";
import { hashToken } from "../secrets/index.ts";
import { invalid, notFound, unauthorized, type MintgateError } from "../errors/index.ts";
import { canonicalEmail } from "../email/index.ts";
import { decide, isEmailAddress, SubjectResolver } from "../policy/index.ts";
import type { AccessTokenRow, OAuthTokenLookup, Store } from "../store/index.ts";
import { ACCESS_TOKEN_PREFIX } from "./authorization-server.ts";
import { AuthEvents } from "./events.ts";
import { RefusalRecords } from "./rate-limit.ts";

/** Who is calling, as proven by a bearer token. */
export interface Principal {
  /** The person's email, as shown in records. */
  subject: string;
  /** A personal access token's id, or the OAuth grant's. */
  tokenId: string;
  /** Set when the token works on one Virtual MCP only (always, for OAuth tokens). */
  virtualMcp: string | null;
  /** The person's id, for OAuth tokens (personal access tokens name an email only). */
  userId?: string | undefined;
  /** The OAuth client the token was issued to. */
  clientId?: string | undefined;
  /** When the token stops working (ms since the epoch), or null for one that never expires: the streams it opens end then. */
  expiresAt: number | null;
  /** The address the request came from (Bun's server.requestIP), for the records. */
  ip?: string | null | undefined;
}

/**
 * Which person a principal is: the person's id for OAuth tokens (two people may share an email), else the token's
 * subject (a personal access token names an email only). Their sessions, and request bytes in flight, are counted under it.
 */
export const ownerOf = (principal: Principal): string => principal.userId ?? principal.subject;

export interface AccessTokenInfo {
  id: string;
  subject: string;
  virtualMcp: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const TOKEN_PREFIX = "mgt_pat_";
const LAST_USED_RESOLUTION_MS = 60_000;
const REFUSAL_RECORD_INTERVAL_MS = 60_000;

/** `30d`, `12h`, `90m`, `45s`: how long a token lives. */
export function parseLifetime(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const ms = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : NaN;
  if (!Number.isSafeInteger(ms) || ms <= 0 || ms > 3650 * unit.d) {
    throw invalid(`"${text}" is not a lifetime: use a number with s, m, h or d, such as 30d (at most 3650d).`);
  }
  return ms;
}

function toInfo(row: AccessTokenRow): AccessTokenInfo {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return { id: row.id, subject: row.subject, virtualMcp: row.virtualMcp, createdAt: iso(row.createdAt)!, expiresAt: iso(row.expiresAt), revokedAt: iso(row.revokedAt), lastUsedAt: iso(row.lastUsedAt) };
}

/** How many verified tokens are remembered; the oldest is dropped first. */
const VERIFIED_CACHE_SIZE = 10_000;

/** Bearer tokens for /mcp/*: personal access tokens (people, scripts) and the OAuth access tokens AI clients get by signing in. */
export class AccessTokenService {
  /**
   * Verified tokens, so the per-request check is a map lookup. Emptied when
   * the store changes (another process's commit moves `data_version`) and on
   * every revocation here, so a revoked token is refused on its next request.
   */
  private readonly verified = new Map<string, { row: AccessTokenRow } | { oauth: OAuthTokenLookup }>();
  private verifiedAt = -1;
  private versionCheckedThisTurn = false;
  /** Refused tokens' records: a client retrying a dead token records one event a minute, not one per request. */
  private readonly refusals: RefusalRecords;
  private readonly events: AuthEvents;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.events = new AuthEvents(store, now);
    this.refusals = new RefusalRecords(REFUSAL_RECORD_INTERVAL_MS, now);
  }

  /** Refuses a token we issued (revoked, expired, disabled person, other Virtual MCP), with an auth event. */
  private refuse(reason: string, holder: { tokenId: string; email: string; userId?: string; clientId?: string }, slug: string, ip: string | null): MintgateError {
    if (this.refusals.take(holder.tokenId) !== undefined) {
      this.events.record({ type: "token_refused", outcome: "refused", reason, userId: holder.userId, email: holder.email, clientId: holder.clientId, ip, detail: { token: holder.tokenId, virtualMcp: slug } });
    }
    return unauthorized(reason);
  }

  /** The stored row of a token, from the cache when the store has not changed since. */
  private lookup(token: string): { row: AccessTokenRow } | { oauth: OAuthTokenLookup } | undefined {
    if (!this.versionCheckedThisTurn) {
      // Once per turn of the event loop: requests read in the same turn arrived before any later commit could be seen.
      this.versionCheckedThisTurn = true;
      setImmediate(() => (this.versionCheckedThisTurn = false));
      const version = this.store.dataVersion();
      if (version !== this.verifiedAt) {
        this.verified.clear();
        this.verifiedAt = version;
      }
    }
    const cached = this.verified.get(token);
    if (cached) return cached;
    const hash = hashToken(token);
    let found: { row: AccessTokenRow } | { oauth: OAuthTokenLookup } | undefined;
    if (token.startsWith(ACCESS_TOKEN_PREFIX)) {
      const oauth = this.store.oauthGrants.findToken(hash);
      if (oauth?.kind === "access") found = { oauth };
    } else {
      const row = this.store.accessTokens.findByHash(hash);
      if (row) found = { row };
    }
    if (found) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, found);
    }
    return found;
  }

  /**
   * Creates a token; `warnings` says, a sentence each, why the gateway would
   * refuse it if used now (the person is disabled, or the access policy keeps
   * them out of the Virtual MCP, or out of every one for a token good on all).
   * It is made all the same: policies and people change, in any order.
   */
  create(options: { subject: string; virtualMcp?: string | undefined; lifetimeMs?: number | undefined }): { id: string; token: string; info: AccessTokenInfo; warnings: string[] } {
    // Stored as people's emails are (canonicalEmail): one person is one subject in the audit trail and in the disabled check.
    const subject = canonicalEmail(options.subject);
    if (!isEmailAddress(subject)) throw invalid(`"${options.subject}" is not an email address; tokens are issued to a person (--user EMAIL).`);
    let virtualMcpId: string | null = null;
    const slug = options.virtualMcp?.trim();
    if (slug !== undefined) {
      // Given but empty (an unset variable) is a mistake, not "every virtual MCP", which is asked for by leaving it out.
      if (slug === "") throw invalid("The virtual MCP (--vmcp) is empty; give its slug, or leave it out for a token good on every virtual MCP.");
      virtualMcpId = this.store.gatewayConfig.virtualMcpId(slug) ?? null;
      if (!virtualMcpId) throw notFound(`There is no virtual MCP "${slug}"; \`mintgate export\` lists them.`);
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    const id = randomUUID();
    const now = this.now();
    this.store.accessTokens.add({
      id,
      subject,
      virtualMcpId,
      tokenHash: hashToken(token),
      createdAt: now,
      expiresAt: options.lifetimeMs === undefined ? null : now + options.lifetimeMs,
    });
    return { id, token, info: toInfo(this.store.accessTokens.findByHash(hashToken(token))!), warnings: this.refusalsToday(subject, slug) };
  }

  private refusalsToday(email: string, slug: string | undefined): string[] {
    const store = this.store;
    if (store.users.emailDisabled(email)) {
      return [`${email} is disabled, so the gateway refuses this token until \`mintgate users enable ${email}\`.`];
    }
    const subject = new SubjectResolver(store).subjectOf({ subject: email });
    const virtualMcps = store.gatewayConfig.virtualMcps().filter((v) => slug === undefined || v.slug === slug);
    const denied = virtualMcps.map((v) => ({ slug: v.slug, reach: decide(subject, { kind: "reach", virtualMcp: v.slug, policy: v.policy ?? {} }) })).filter((d) => !d.reach.allow);
    if (denied.length === 0 || denied.length < virtualMcps.length) return [];
    if (slug !== undefined) {
      return [
        `${email} may not use virtual MCP "${slug}" today (rule: ${denied[0]!.reach.rule}), so the gateway refuses this token until its policy admits them; \`mintgate policy explain --user ${email} --vmcp ${slug}\` says why.`,
      ];
    }
    const slugs = denied.map((d) => `"${d.slug}"`);
    const which = slugs.length === 1 ? `${slugs[0]} does not admit them` : `none of ${slugs.join(", ")} admits them`;
    return [
      `${email} may not use any virtual MCP today (${which}), so the gateway refuses this token until a policy does; \`mintgate policy explain --user ${email} --vmcp ${denied[0]!.slug}\` says why.`,
    ];
  }

  list(): AccessTokenInfo[] {
    return this.store.accessTokens.list().map(toInfo);
  }

  private readonly accessListeners = new Set<() => void>();

  /**
   * Calls `listener` (soon after) whenever access may have been taken away:
   * a token or grant revoked, a person disabled, or another process changed the store.
   */
  onAccessChanged(listener: () => void): void {
    this.accessListeners.add(listener);
  }

  private accessChangeScheduled = false;

  /** Forgets every verified token; the next request of each is checked against the store again. */
  forgetVerified(): void {
    this.verified.clear();
    if (this.accessListeners.size === 0 || this.accessChangeScheduled) return;
    this.accessChangeScheduled = true;
    // After the revoking transaction has committed, and once for a burst of changes.
    setImmediate(() => {
      this.accessChangeScheduled = false;
      for (const listener of this.accessListeners) listener();
    });
  }

  /** Revokes a personal access token; "already" when it was revoked before (its revocation time stays). */
  revoke(id: string): "revoked" | "already" {
    if (!this.store.accessTokens.findById(id)) throw notFound(`There is no token with id "${id}"; \`mintgate tokens list\` shows them.`);
    const revoked = this.store.accessTokens.revoke(id, this.now());
    this.forgetVerified();
    return revoked ? "revoked" : "already";
  }

  /**
   * Why a principal verified earlier may no longer act (its token or grant
   * revoked, its person disabled), or undefined while it still may. Expiry is
   * not a reason: a client refreshes its token and carries on in its session.
   */
  revocationOf(principal: Principal): string | undefined {
    if (principal.clientId !== undefined) {
      const grant = this.store.oauthGrants.getGrant(principal.tokenId);
      if (!grant || grant.revokedAt !== null) return "its sign-in was revoked";
      const user = principal.userId === undefined ? undefined : this.store.users.get(principal.userId);
      return user?.disabledAt != null ? "the account was disabled" : undefined;
    }
    const row = this.store.accessTokens.findById(principal.tokenId);
    if (!row || row.revokedAt !== null) return "its access token was revoked";
    return row.subjectDisabled ? "the account was disabled" : undefined;
  }

  /**
   * Checks an Authorization header for the Virtual MCP `slug`. The error
   * says why, and whether a token was sent at all (the 401 challenge differs). `ip`: the client's address (behind
   * a trusted proxy, the one it forwarded), recorded with a refusal as every other refusal records it.
   */
  verify(authorization: string | null, slug: string, ip: string | null = null): Principal {
    const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match) {
      // Another scheme (Basic…) or nothing is no token at all; a Bearer header with more than one token is a bad one.
      if (!/^Bearer\s+\S/i.test(authorization ?? "")) throw new MissingToken();
      throw unauthorized("The Authorization header must be `Bearer` followed by one token.");
    }
    const found = this.lookup(match[1]!);
    if (!found) throw unauthorized("The access token is not valid.");
    const now = this.now();
    if ("oauth" in found) {
      const token = found.oauth;
      const holder = { tokenId: token.grantId, email: token.email, userId: token.userId, clientId: token.clientId };
      if (token.revokedAt !== null || token.grantRevokedAt !== null) throw this.refuse("The access token was revoked; sign in again.", holder, slug, ip);
      if (token.expiresAt <= now) throw this.refuse("The access token has expired; refresh it or sign in again.", holder, slug, ip);
      if (token.userDisabledAt !== null) throw this.refuse("The account is disabled; ask an admin.", holder, slug, ip);
      if (token.virtualMcp !== slug) throw this.refuse(`The access token is for virtual MCP "${token.virtualMcp}", not "${slug}".`, holder, slug, ip);
      return { subject: token.email, tokenId: token.grantId, virtualMcp: token.virtualMcp, userId: token.userId, clientId: token.clientId, expiresAt: token.expiresAt };
    }
    const row = found.row;
    const holder = { tokenId: row.id, email: row.subject };
    if (row.revokedAt !== null) throw this.refuse("The access token was revoked.", holder, slug, ip);
    if (row.subjectDisabled) throw this.refuse("The account is disabled; ask an admin.", holder, slug, ip);
    if (row.expiresAt !== null && row.expiresAt <= now) throw this.refuse("The access token has expired.", holder, slug, ip);
    if (row.virtualMcp !== null && row.virtualMcp !== slug) throw this.refuse(`The access token is for virtual MCP "${row.virtualMcp}", not "${slug}".`, holder, slug, ip);
    if (row.lastUsedAt === null || now - row.lastUsedAt > LAST_USED_RESOLUTION_MS) {
      try {
        this.store.accessTokens.touch(row.id, now);
      } catch {
        // When a token was last used is a hint: a write that fails (a full disk) must not turn a valid token into a 401,
        // which sends clients to sign in again. Not retried on every request meanwhile.
      }
      row.lastUsedAt = now;
    }
    return { subject: row.subject, tokenId: row.id, virtualMcp: row.virtualMcp, expiresAt: row.expiresAt };
  }
}

/** No bearer token at all: the challenge then carries no error code. */
export class MissingToken extends Error {
  constructor() {
    super("This endpoint needs `Authorization: Bearer <token>`; create one with `mintgate tokens create --user EMAIL`.");
    this.name = "MissingToken";
  }
}
