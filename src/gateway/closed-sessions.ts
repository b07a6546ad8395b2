/** How many closed sessions' reasons are kept, and for how long: a client comes back within minutes, if at all. */
const REMEMBERED = 5_000;
const REMEMBERED_MS = 3_600_000;

/**
 * Why the gateway closed recently closed sessions, so the 404 a client gets on its next request can say it
 * (a person past the session cap, an idle timeout, a revocation, a shutdown) rather than only "not found".
 * Bounded: the oldest are forgotten first, and any after an hour. Told only to the person whose session it was.
 */
export class ClosedSessions {
  /** In the order they closed: the first is the oldest. */
  private readonly reasons = new Map<string, { owner: string; reason: string; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  remember(id: string, owner: string, reason: string): void {
    const at = this.now();
    this.reasons.delete(id);
    this.reasons.set(id, { owner, reason, at });
    for (const [oldest, closed] of this.reasons) {
      if (this.reasons.size <= REMEMBERED && at - closed.at <= REMEMBERED_MS) break;
      this.reasons.delete(oldest);
    }
  }

  /** Why session `id` was closed, if it was `owner`'s and closed by the gateway within the hour. */
  reasonFor(id: string, owner: string): string | undefined {
    const closed = this.reasons.get(id);
    if (!closed || closed.owner !== owner || this.now() - closed.at > REMEMBERED_MS) return undefined;
    return closed.reason;
  }
}
