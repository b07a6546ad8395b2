import type { Store } from "../store/index.ts";

const DAY_MS = 86_400_000;
/** Rows deleted per statement: a request waits for one batch at most (about 10 ms for 1,000 tokens). */
const BATCH = 1_000;

/** How long after expiry codes and tokens are kept (so an expired one is still refused as expired, not unknown, for a while). */
const EXPIRED_KEPT_MS = 7 * DAY_MS;
/** DCR and CIMD clients no sign-in completed for this long after registering are deleted; AI clients sign in right away, and re-register after invalid_client. */
const NEVER_GRANTED_KEPT_MS = DAY_MS;
/** Clients that registered themselves (or were fetched) and were unused this long are deleted. */
const UNUSED_CLIENT_KEPT_MS = 90 * DAY_MS;
/**
 * How long personal access tokens are kept after they expired or were revoked: meanwhile `tokens list` shows them
 * as expired or revoked, and a use is refused and recorded as such; after, it is refused as not valid, unrecorded.
 */
const ENDED_PERSONAL_TOKEN_KEPT_MS = 90 * DAY_MS;

export interface AuthSweepReport {
  codes: number;
  tokens: number;
  grants: number;
  clients: number;
  consents: number;
  personalTokens: number;
}

/**
 * Deletes the OAuth rows nothing can use any more, which would otherwise
 * pile up for good: expired codes and tokens, sign-ins (grants) with no
 * token left that a newer one replaced, self-registered clients no sign-in
 * completed for or unused for 90 days, consents to deleted clients, and
 * personal access tokens 90 days after they expired or were revoked.
 * In batches, yielding to the event loop between them, so the gateway's
 * requests (and the audit trail's commits, on the same connection) wait
 * for one batch at most. Stops between batches when `stopped()` says so.
 */
export async function sweepAuthRows(store: Store, options: { now?: number; stopped?: () => boolean } = {}): Promise<AuthSweepReport> {
  const now = options.now ?? Date.now();
  const grants = store.oauthGrants;
  const clients = store.oauthClients;
  const report: AuthSweepReport = { codes: 0, tokens: 0, grants: 0, clients: 0, consents: 0, personalTokens: 0 };
  // In this order: tokens go first, so the grants they held can go in the same sweep, and grants before the clients they name.
  const steps: [keyof AuthSweepReport, () => number][] = [
    ["codes", () => grants.deleteCodesExpiredBefore(now - EXPIRED_KEPT_MS, BATCH)],
    ["tokens", () => grants.deleteTokensExpiredBefore(now - EXPIRED_KEPT_MS, BATCH)],
    ["grants", () => grants.deleteSupersededGrants(now - DAY_MS, BATCH)],
    ["clients", () => clients.deleteNeverGrantedBefore(now - NEVER_GRANTED_KEPT_MS, BATCH)],
    ["clients", () => clients.deleteUnusedSince(now - UNUSED_CLIENT_KEPT_MS, BATCH)],
    ["consents", () => grants.deleteConsentsOfGoneClients(BATCH)],
    ["personalTokens", () => store.accessTokens.deleteEndedBefore(now - ENDED_PERSONAL_TOKEN_KEPT_MS, BATCH)],
  ];
  for (const [counted, step] of steps) {
    for (;;) {
      if (options.stopped?.()) return report;
      const deleted = step();
      report[counted] += deleted;
      if (deleted < BATCH) break;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return report;
}
