import { MintgateError } from "../errors/index.ts";
import { LineBudget, log, type LogLevel } from "../log/index.ts";

/** Failed calls one connector may put in the log per window; the rest are counted in one line. */
const CALL_FAILURES_PER_WINDOW = 5;
const CALL_FAILURE_WINDOW_MS = 60_000;
/** Longest error text of a failed call logged; the audit record has it whole. */
const MAX_CALL_ERROR_CHARS = 300;

/** While one failure repeats, how often it is logged again as a warning, with how many times it happened. */
const REPEAT_SUMMARY_EVERY_MS = 10 * 60_000;

/**
 * How one connector's failures reach the log. A crash loop, or an upstream down for hours, fails the
 * same way on every retry (every 30 s once the backoff is at its cap, forever): the first failure is a
 * warning; the same failure again is a debug line, and a warning that counts them once every 10 minutes;
 * another reason is a warning at once. While failures repeat, a ready that may not last is debug, and
 * the recovery is said once it has lasted (`stable`), with how many failures it ends and the last one's reason.
 */
export class ConnectorFailureLog {
  private reason: string | undefined;
  private failures = 0;
  private since = 0;
  private warnedAt = 0;

  /** A slow or broken upstream fails every call the same way: a few lines say so, a count says how often. */
  private readonly callFailures: LineBudget;

  constructor(private readonly connector: string) {
    this.callFailures = new LineBudget({
      lines: CALL_FAILURES_PER_WINDOW,
      windowMs: CALL_FAILURE_WINDOW_MS,
      fields: { connector },
      notLoggedMessage: "upstream calls failed: lines not logged, too many",
    });
  }

  /**
   * A call to a ready connector failed on the upstream's side (it timed out, answered an HTTP error or
   * something that is not an answer): not a state change, so nothing else says it. A JSON-RPC error the
   * upstream answered, or a tool's own error result, is its answer (the audit trail has it), not logged.
   * `error` is already redacted of the connector's secrets.
   */
  callFailed(method: string, error: unknown): void {
    if (!(error instanceof MintgateError) || (error.kind !== "timeout" && error.kind !== "upstream_failed")) return;
    const message = error.kind === "timeout" ? "upstream call timed out" : "upstream call failed";
    this.callFailures.write("warn", message, { method: method.slice(0, 100), error: error.message.slice(0, MAX_CALL_ERROR_CHARS) });
  }

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
    // The last reason, as the failure lines gave it (redacted of the connector's secrets): the one the warnings may have said 10 minutes ago.
    if (this.failures > 1) log.info("connector ready again after repeated failures", { connector: this.connector, failures: this.failures, since: new Date(this.since).toISOString(), lastReason: this.reason });
    this.startOver();
  }

  /** An administrator restarted the connector: what happens next is news again. */
  startOver(): void {
    this.reason = undefined;
    this.failures = 0;
  }
}
