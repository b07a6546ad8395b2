/** Addresses counted at once; past this the oldest window is forgotten (its address starts a new one). */
const MAX_KEYS = 100_000;

/**
 * Counts events per key (a client address) in fixed windows: enough to stop
 * one address from flooding an unauthenticated endpoint. Every window has the
 * same length and is kept in the order it opened, so expired ones are
 * forgotten from the front, a few at a time: a flood from ever new addresses
 * (an IPv6 range, or X-Forwarded-For behind a trusted proxy) costs each
 * request the same, and memory stays bounded.
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
    this.forgetExpired(now);
    let entry = this.windows.get(key);
    // Expired, yet kept behind a later window (the clock went back): opened again, at the back.
    if (entry && entry.resetAt <= now) this.windows.delete(key);
    if (!entry || entry.resetAt <= now) {
      if (this.windows.size >= MAX_KEYS) this.windows.delete(this.windows.keys().next().value!);
      entry = { count: 0, resetAt: now + this.limit.windowMs };
      this.windows.set(key, entry);
    }
    entry.count++;
    return entry.count > this.limit.max ? Math.max(1, Math.ceil((entry.resetAt - now) / 1000)) : undefined;
  }

  private forgetExpired(now: number): void {
    for (const [key, entry] of this.windows) {
      if (entry.resetAt > now) return;
      this.windows.delete(key);
    }
  }
}

/**
 * Lets one refusal record per key (an address, or one shared cause) through per interval and counts the rest, so a
 * flood against a limit fills neither the audit trail nor the log; each record carries how many went unrecorded
 * before it. Keys are kept in the order they were last recorded, at most MAX_KEYS (the oldest is forgotten).
 */
export class RefusalRecords {
  private readonly keys = new Map<string, { recordedAt: number; unrecorded: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one refusal for `key`: the number left unrecorded since its last record when this one is to be recorded, else undefined. */
  take(key: string): number | undefined {
    const now = this.now();
    const entry = this.keys.get(key);
    if (entry && now >= entry.recordedAt && now - entry.recordedAt < this.intervalMs) {
      entry.unrecorded++;
      return undefined;
    }
    this.keys.delete(key);
    if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(key, { recordedAt: now, unrecorded: 0 });
    return entry?.unrecorded ?? 0;
  }

  /** Forgets `key` (what refused it is over): its next refusal is recorded at once. */
  forget(key: string): void {
    this.keys.delete(key);
  }
}
