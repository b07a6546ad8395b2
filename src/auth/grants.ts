import { notFound } from "../errors/index.ts";
import type { GrantListing, Store } from "../store/index.ts";
import type { AuthEvents } from "./events.ts";

export interface ConsentInfo {
  userId: string;
  email: string;
  clientId: string;
  scope: string;
  grantedAt: string;
}

/** A grant as people read it: times as ISO strings. */
export type GrantInfo = Omit<GrantListing, "createdAt" | "revokedAt"> & { createdAt: string; revokedAt: string | null };

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * What people have approved and what AI clients hold: consents (one per
 * person and client) and grants (one per sign-in, a family of access and
 * refresh tokens). Used by the sign-in pages, the admin API and the CLI.
 */
export class OAuthGrants {
  constructor(
    private readonly deps: {
      store: Store;
      events: AuthEvents;
      /** Called after anything is revoked, so verified-token caches forget it at once. */
      onRevoked?: (() => void) | undefined;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private revoked(changed: boolean): void {
    if (changed) this.deps.onRevoked?.();
  }

  /**
   * Whether the person approved this client for this Virtual MCP before (an approval for one Virtual MCP is not one
   * for another): a sign-in to it since their approval of the client. One from before an approval they revoked is not.
   * `staysSignedIn` says whether a scope gets the client refresh tokens: approved without them (the consent page
   * said so), a request with them is asked about again.
   */
  hasConsent(request: { userId: string; clientId: string; virtualMcpId: string; scope: string }, staysSignedIn: (scope: string) => boolean): boolean {
    const { userId, clientId, virtualMcpId, scope } = request;
    const grants = this.deps.store.oauthGrants;
    const consent = grants.findConsent(userId, clientId);
    if (consent === undefined || (staysSignedIn(scope) && !staysSignedIn(consent.scope))) return false;
    return grants.hasGrantFor(userId, clientId, virtualMcpId, consent.grantedAt);
  }

  grantConsent(consent: { userId: string; clientId: string; scope: string; virtualMcp: string; ip: string | null }): void {
    this.deps.store.oauthGrants.saveConsent({ userId: consent.userId, clientId: consent.clientId, scope: consent.scope, grantedAt: this.now() });
    this.deps.events.record({ type: "consent_granted", outcome: "ok", userId: consent.userId, clientId: consent.clientId, ip: consent.ip, detail: { virtualMcp: consent.virtualMcp, scope: consent.scope } });
  }

  /** Forgets a person's approval of a client and revokes what the client holds for them. */
  revokeConsent(userId: string, clientId: string, by: string): { grantsRevoked: number } {
    const store = this.deps.store;
    const result = store.transaction(() => {
      const existed = store.oauthGrants.deleteConsent(userId, clientId);
      const grantsRevoked = store.oauthGrants.revokeGrantsOf(userId, this.now(), "consent revoked", clientId);
      return { existed, grantsRevoked };
    });
    this.revoked(result.grantsRevoked > 0);
    if (!result.existed && result.grantsRevoked === 0) throw notFound(`That person has not approved the client "${clientId}"; \`mintgate consents list\` shows the approvals.`);
    this.deps.events.record({ type: "consent_revoked", outcome: "ok", userId, clientId, detail: { by, grantsRevoked: result.grantsRevoked } });
    return { grantsRevoked: result.grantsRevoked };
  }

  /** People's approvals of clients, newest first. */
  listConsents(userId?: string): ConsentInfo[] {
    return this.deps.store.oauthGrants.listConsents(userId).map((c) => ({ userId: c.userId, email: c.email, clientId: c.clientId, scope: c.scope, grantedAt: iso(c.grantedAt)! }));
  }

  /** Sign-ins of AI clients, newest first. */
  listGrants(filter: { userId?: string; activeOnly?: boolean } = {}): GrantInfo[] {
    return this.deps.store.oauthGrants.listGrants(filter).map((g) => ({ ...g, createdAt: iso(g.createdAt)!, revokedAt: iso(g.revokedAt) }));
  }

  /** Whether `id` names a grant (so `tokens revoke ID` knows which kind it is). */
  isGrant(id: string): boolean {
    return this.deps.store.oauthGrants.getGrant(id) !== undefined;
  }

  /** Revokes one sign-in of an AI client: its access and refresh tokens stop working at once. */
  revokeGrant(id: string, by: string): "revoked" | "already" {
    const grant = this.deps.store.oauthGrants.getGrant(id);
    if (!grant) throw notFound(`There is no OAuth sign-in "${id}"; \`mintgate tokens list\` shows them.`);
    if (grant.revokedAt !== null) return "already";
    this.revoked(this.deps.store.oauthGrants.revokeGrant(id, this.now(), `revoked by ${by}`));
    this.deps.events.record({ type: "token_revoked", outcome: "ok", userId: grant.userId, clientId: grant.clientId, detail: { grant: id, by } });
    return "revoked";
  }
}
