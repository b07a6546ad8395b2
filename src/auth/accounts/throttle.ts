/**
 * In-memory sign-in throttling. After `threshold` failures for one key (an
 * account or an IP address) further attempts are refused for a lockout that
 * doubles with each failure, from 30 s up to 15 min. Failures are forgotten
 * 15 min after the last one. State is per process: a restart clears it.
 */
const BASE_LOCKOUT_MS = 30_000;
const MAX_LOCKOUT_MS = 15 * 60_000;
const FORGET_AFTER_MS = 15 * 60_000;
const MAX_KEYS = 100_000;

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly threshold: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** When `key` may try again (ms since epoch), or undefined when it may now. */
  lockedUntil(key: string): number | undefined {
    const entry = this.current(key);
    return entry && entry.lockedUntil > this.now() ? entry.lockedUntil : undefined;
  }

  fail(key: string): void {
    const now = this.now();
    const entry = this.current(key) ?? { failures: 0, lastFailureAt: now, lockedUntil: 0 };
    entry.failures++;
    entry.lastFailureAt = now;
    if (entry.failures >= this.threshold) {
      entry.lockedUntil = now + Math.min(MAX_LOCKOUT_MS, BASE_LOCKOUT_MS * 2 ** (entry.failures - this.threshold));
    }
    if (!this.entries.has(key) && this.entries.size >= MAX_KEYS) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  private current(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.lastFailureAt > FORGET_AFTER_MS && entry.lockedUntil <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
