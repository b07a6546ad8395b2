/**
 * One-line structured logs on stderr: `time level message key=value…`, or with
 * the JSON format one object per line, `{"time","level","msg",…fields}`, for
 * log shippers (Loki, Datadog, CloudWatch, Vector).
 * Callers pass values they know are safe; secrets are never given to the logger.
 */
import { printable, printableLines } from "../terminal/index.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined>;
export type LogFormat = "text" | "json";
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The level MINTGATE_LOG_LEVEL names (any case), or undefined when it names none (the CLI refuses that). */
export function logLevelOf(text: string): LogLevel | undefined {
  const level = text.toLowerCase();
  return Object.hasOwn(ORDER, level) ? (level as LogLevel) : undefined;
}

let threshold: number = ORDER[logLevelOf(process.env.MINTGATE_LOG_LEVEL ?? "info") ?? "info"];
// Text until `serve` sets its --log-format: the other commands' lines are for people.
let json = false;

function format(value: string | number | boolean): string {
  const text = String(value);
  // Values may quote an upstream's stderr or a client's input: an ESC or a line break in them must not reach a terminal raw.
  const plain = /^[^\s"=]+$/.test(text) ? printable(text) : undefined;
  return plain === text ? text : printable(JSON.stringify(text));
}

/** Field names of a JSON line that a field must not replace; such a field is written as `fields.NAME` (as logrus does). */
const RECORD_KEYS = new Set(["time", "level", "msg"]);

/**
 * One JSON line. JSON.stringify escapes line breaks and C0 controls (ESC included), so no value can
 * end the line or forge another; printable() then escapes what it leaves raw (DEL, C1 controls such as
 * the 8-bit CSI, U+2028/U+2029 and bidi overrides) as \uXXXX, which every JSON parser reads back to the
 * same character, so a shipper gets the exact text while someone reading the raw log in a terminal
 * (journalctl, kubectl logs) sees no reordered or broken line.
 */
function jsonLine(level: LogLevel, message: string, fields: LogFields | undefined): string {
  const record: Record<string, string | number | boolean> = { time: new Date().toISOString(), level, msg: message };
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      // JSON has no NaN or Infinity: JSON.stringify would write null.
      record[RECORD_KEYS.has(key) ? `fields.${key}` : key] = typeof value === "number" && !Number.isFinite(value) ? String(value) : value;
    }
  }
  return printable(JSON.stringify(record));
}

function write(level: LogLevel, message: string, fields?: LogFields): void {
  if (ORDER[level] < threshold) return;
  if (json) {
    process.stderr.write(jsonLine(level, message, fields) + "\n");
    return;
  }
  let line = `${new Date().toISOString()} ${level.padEnd(5)} ${message}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${format(value)}`;
    }
  }
  process.stderr.write(line + "\n");
}

export const log = {
  debug: (message: string, fields?: LogFields) => write("debug", message, fields),
  info: (message: string, fields?: LogFields) => write("info", message, fields),
  warn: (message: string, fields?: LogFields) => write("warn", message, fields),
  error: (message: string, fields?: LogFields) => write("error", message, fields),
  /** Whether lines at `level` are written: a line built per request asks first, so at info it costs nothing. */
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= threshold;
  },
  setLevel(level: LogLevel) {
    threshold = ORDER[level];
  },
  setFormat(format: LogFormat) {
    json = format === "json";
  },
};

/**
 * A line the gateway prints whatever the log level, with "\n": the "listening on" line, the sentence
 * it fails with. In the text format it is `text` with its unprintable characters escaped, line feeds kept (the fields say nothing more); in the JSON
 * format it is a record at `level` with `text` as its message and the fields, so a shipper can parse it.
 */
export function statusLine(level: LogLevel, text: string, fields?: LogFields): string {
  // The sentence quotes what was typed or read (an ID, a slug, a file's line): an ESC in it must not reach the terminal raw.
  return (json ? jsonLine(level, text, fields) : printableLines(text)) + "\n";
}

/** Budgets holding a count not yet logged: a shutdown logs them (`reportAllNotLogged`) rather than lose them. */
const pending = new Set<LineBudget>();

/** Logs every budget's count of lines not logged yet; serve calls it on its way out, when no window will end. */
export function reportAllNotLogged(): void {
  for (const budget of [...pending]) budget.reportNotLogged();
}

/**
 * What one noisy source (a stdio child's stderr, an upstream's log messages)
 * may put in the log: at most `lines` per window of `windowMs`. Past that,
 * lines are counted instead of written, and the count is logged once, as a
 * warning, when the window ends or the source does (`reportNotLogged()`),
 * so a flood cannot fill the log (and the disk).
 */
export class LineBudget {
  private windowStart = 0;
  private writtenInWindow = 0;
  private notLogged = 0;

  constructor(
    private readonly source: {
      lines: number;
      windowMs: number;
      /** LogFields every line of this source carries first, e.g. `{ connector }`. */
      fields: LogFields;
      /** The warning that counts the lines not logged, e.g. "upstream stderr: lines not logged, too many". */
      notLoggedMessage: string;
    },
  ) {}

  /** Writes the line if this window has room for it, else counts it. A line below the log level is neither written nor counted. */
  write(level: LogLevel, message: string, fields: LogFields): void {
    if (ORDER[level] < threshold) return;
    const now = Date.now();
    if (now - this.windowStart >= this.source.windowMs) {
      this.reportNotLogged();
      this.windowStart = now;
      this.writtenInWindow = 0;
    }
    if (this.writtenInWindow < this.source.lines) {
      this.writtenInWindow++;
      write(level, message, { ...this.source.fields, ...fields });
    } else {
      // The count is written when the window ends even if the source then goes quiet.
      if (this.notLogged++ === 0) {
        pending.add(this);
        setTimeout(() => this.reportNotLogged(), this.windowStart + this.source.windowMs - now + 1).unref();
      }
    }
  }

  /** Logs how many lines were counted instead of written since the last report, if any; call it when the source ends. */
  reportNotLogged(): void {
    if (this.notLogged === 0) return;
    const { lines, windowMs, fields, notLoggedMessage } = this.source;
    write("warn", notLoggedMessage, { ...fields, lines: this.notLogged, perSeconds: `${lines}/${windowMs / 1000}` });
    this.notLogged = 0;
    pending.delete(this);
  }
}
