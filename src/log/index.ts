/**
 * One-line structured logs on stderr: `time level message key=value…`.
 * Callers pass values they know are safe; secrets are never given to the logger.
 */
type Level = "debug" | "info" | "warn" | "error";
type Fields = Record<string, string | number | boolean | undefined>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** The level MINTGATE_LOG_LEVEL names (any case), or undefined when it names none (the CLI refuses that). */
export function logLevelOf(text: string): Level | undefined {
  const level = text.toLowerCase();
  return Object.hasOwn(ORDER, level) ? (level as Level) : undefined;
}

let threshold: number = ORDER[logLevelOf(process.env.MINTGATE_LOG_LEVEL ?? "info") ?? "info"];

function format(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function write(level: Level, message: string, fields?: Fields): void {
  if (ORDER[level] < threshold) return;
  let line = `${new Date().toISOString()} ${level.padEnd(5)} ${message}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${format(value)}`;
    }
  }
  process.stderr.write(line + "\n");
}

export const log = {
  debug: (message: string, fields?: Fields) => write("debug", message, fields),
  info: (message: string, fields?: Fields) => write("info", message, fields),
  warn: (message: string, fields?: Fields) => write("warn", message, fields),
  error: (message: string, fields?: Fields) => write("error", message, fields),
  setLevel(level: Level) {
    threshold = ORDER[level];
  },
};
