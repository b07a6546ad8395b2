/**
 * In-memory sign-in throttling. After `threshold` failures for one key (an
 * account or an IP address) further attempts are refused for a lockout that
 * doubles with each failure, from 30 s up to 15 min. Failures are forgotten
 * 15 min after the last one. State is per process: a restart clears it.
 *
 * Checking a password takes a while (argon2id), so the attempts still being
 * checked count too: guesses sent all at once cannot all get past the check
 * before the first of them fails. As many may be in flight as failures are
 * left before the lockout (one at a time once past it).
 */
const BASE_LOCKOUT_MS = 30_000;
const MAX_LOCKOUT_MS = 15 * 60_000;
const FORGET_AFTER_MS = 15 * 60_000;
const MAX_KEYS = 100_000;
/** How long an attempt refused because others are still being checked is told to wait. */
const CHECKING_RETRY_MS = 1_000;

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  /** Attempts per key whose password is being checked now. */
  private readonly checking = new Map<string, number>();

  constructor(
    private readonly threshold: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** When `key` may try again (ms since epoch), or undefined when it may now. */
  lockedUntil(key: string): number | undefined {
    const entry = this.current(key);
    const now = this.now();
    if (entry && entry.lockedUntil > now) return entry.lockedUntil;
    const room = Math.max(1, this.threshold - (entry?.failures ?? 0));
    return (this.checking.get(key) ?? 0) >= room ? now + CHECKING_RETRY_MS : undefined;
  }

  /** An attempt for `key` is being checked; call `checked` when it is done, whatever the outcome. */
  checkingStarted(key: string): void {
    this.checking.set(key, (this.checking.get(key) ?? 0) + 1);
  }

  checked(key: string): void {
    const left = (this.checking.get(key) ?? 1) - 1;
    if (left > 0) this.checking.set(key, left);
    else this.checking.delete(key);
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
