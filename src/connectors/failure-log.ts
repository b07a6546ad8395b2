import { log, type LogLevel } from "../log/index.ts";

/** While one failure repeats, how often it is logged again as a warning, with how many times it happened. */
const REPEAT_SUMMARY_EVERY_MS = 10 * 60_000;

/**
 * How one connector's failures reach the log. A crash loop, or an upstream down for hours, fails the
 * same way on every retry (every 30 s once the backoff is at its cap, forever): the first failure is a
 * warning; the same failure again is a debug line, and a warning that counts them once every 10 minutes;
 * another reason is a warning at once. While failures repeat, a ready that may not last is debug, and
 * the recovery is said once it has lasted (`stable`), with how many failures it ends.
 */
export class ConnectorFailureLog {
  private reason: string | undefined;
  private failures = 0;
  private since = 0;
  private warnedAt = 0;

  constructor(private readonly connector: string) {}

  failed(reason: string, retryInMs: number): void {
    const now = Date.now();
    if (reason !== this.reason) {
      this.reason = reason;
      this.since = now;
      this.warnedAt = now;
      this.failures += 1;
      log.warn("connector failed; restarting", { connector: this.connector, reason, retryInMs });
      return;
    }
    this.failures += 1;
    if (now - this.warnedAt < REPEAT_SUMMARY_EVERY_MS) {
      log.debug("connector failed; restarting", { connector: this.connector, reason, retryInMs, failures: this.failures });
      return;
    }
    this.warnedAt = now;
    log.warn("connector still failing; restarting", { connector: this.connector, reason, retryInMs, failures: this.failures, since: new Date(this.since).toISOString() });
  }

  /** Since a failure, a new child's stderr is debug: in a crash loop the same lines come on every retry (the admin Connectors view keeps them). */
  get recovering(): boolean {
    return this.failures > 0;
  }

  /** The level of the "connector ready" line: once failures repeat, a ready may be one more turn of the loop. */
  readyLevel(): LogLevel {
    return this.failures > 1 ? "debug" : "info";
  }

  /** The connector stayed ready long enough for its backoff to start over: the failures are over. */
  stable(): void {
    if (this.failures > 1) log.info("connector ready again after repeated failures", { connector: this.connector, failures: this.failures, since: new Date(this.since).toISOString() });
    this.startOver();
  }

  /** An administrator restarted the connector: what happens next is news again. */
  startOver(): void {
    this.reason = undefined;
    this.failures = 0;
  }
}
