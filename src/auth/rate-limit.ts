/**
 * Counts events per key (a client address) in fixed windows: enough to stop
 * one address from flooding an unauthenticated endpoint, with memory bounded
 * by pruning expired windows once there are many.
 */
export class WindowLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: { max: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one event for `key`: undefined while within the limit, else the seconds until the window resets. */
  hit(key: string): number | undefined {
    const now = this.now();
    if (this.windows.size > 10_000) {
      for (const [k, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(k);
    }
    let entry = this.windows.get(key);
    if (!entry || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + this.limit.windowMs };
      this.windows.set(key, entry);
    }
    entry.count++;
    return entry.count > this.limit.max ? Math.max(1, Math.ceil((entry.resetAt - now) / 1000)) : undefined;
  }
}
