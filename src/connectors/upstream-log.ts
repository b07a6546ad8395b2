import { LineBudget, type LogLevel } from "../log/index.ts";

/** The gateway's level for each MCP logging level (RFC 5424 severities). */
const LEVELS: Record<string, LogLevel> = {
  debug: "debug",
  info: "info",
  notice: "info",
  warning: "warn",
  error: "error",
  critical: "error",
  alert: "error",
  emergency: "error",
};
/** Log messages one connector may put in the gateway's log per window; the rest are counted, not logged. */
const LOGGED_PER_WINDOW = 200;
const LOG_WINDOW_MS = 10_000;
/** Longest `data` text logged; longer text is cut, and says so. */
const MAX_DATA_CHARS = 2_000;
const MAX_LOGGER_CHARS = 200;

/**
 * An upstream's log messages (`notifications/message`) written to the
 * gateway's own log, tagged with the connector, at the gateway's level for
 * theirs, with the connector's secret values redacted and at most 200 per
 * 10 s.
 */
export class UpstreamLog {
  private readonly budget: LineBudget;

  constructor(
    connector: string,
    /** The connector's secret redaction, applied to everything logged before it is cut. */
    private readonly redact: (text: string) => string,
  ) {
    this.budget = new LineBudget({
      lines: LOGGED_PER_WINDOW,
      windowMs: LOG_WINDOW_MS,
      fields: { connector },
      notLoggedMessage: "upstream log: lines not logged, too many",
    });
  }

  /** Logs one notifications/message's params (`{ level, logger?, data }`, as the upstream sent them: not trusted to be well-formed). */
  write(params: Record<string, unknown> | undefined): void {
    const given = params?.level;
    const level = typeof given === "string" && Object.hasOwn(LEVELS, given) ? LEVELS[given]! : "info";
    const logger = typeof params?.logger === "string" ? this.text(params.logger, MAX_LOGGER_CHARS) : undefined;
    const data = params?.data;
    this.budget.write(level, "upstream log", {
      upstreamLevel: given === level ? undefined : typeof given === "string" ? this.text(given, MAX_LOGGER_CHARS) : "(none)",
      logger,
      data: data === undefined ? undefined : this.text(typeof data === "string" ? data : JSON.stringify(data), MAX_DATA_CHARS),
    });
  }

  /** Logs how many messages the budget held back, if any; call it when the upstream session ends. */
  end(): void {
    this.budget.reportNotLogged();
  }

  /** Redacted first, then cut: a secret value that straddles the cut is still replaced whole. */
  private text(raw: string, max: number): string {
    const text = this.redact(raw);
    if (text.length <= max) return text;
    // Not between the two halves of a surrogate pair.
    const end = /[\uD800-\uDBFF]/.test(text[max - 1]!) ? max - 1 : max;
    return `${text.slice(0, end)}… [cut, ${text.length} characters in all]`;
  }
}
