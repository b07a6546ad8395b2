/** Connector timeouts in mintgate.yaml: `500ms`, `30s`, `2m`, `1h`, or a bare whole number of milliseconds. */

export const MIN_TIMEOUT_MS = 1_000;
export const MAX_TIMEOUT_MS = 3_600_000;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h)?$/;

export type TimeoutReading =
  | { ok: true; ms: number }
  | { ok: false; problem: "format" | "range" };

export function readTimeout(value: string | number): TimeoutReading {
  const text = typeof value === "number" ? String(value) : value.trim();
  const match = DURATION.exec(text);
  if (!match) return { ok: false, problem: "format" };
  const ms = Number(match[1]) * UNIT_MS[(match[2] ?? "ms") as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms < MIN_TIMEOUT_MS || ms > MAX_TIMEOUT_MS) return { ok: false, problem: "range" };
  return { ok: true, ms };
}

/** The shortest exact spelling: whole minutes as `m`, whole seconds as `s`, otherwise `ms`. */
export function formatTimeout(ms: number): string {
  if (ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}
