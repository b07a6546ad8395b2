import { parseTime, readInThread } from "../audit/index.ts";
import { invalid } from "../errors/index.ts";
import type { Store, UsageGrouping, UsageRow, UsageTimeline } from "../store/index.ts";
import { USAGE_GROUPINGS } from "../store/index.ts";

export type { UsageGrouping, UsageRow, UsageTimeline };
export { USAGE_GROUPINGS };

/** The window when none is given: the last 24 hours. */
export const DEFAULT_WINDOW_MS = 24 * 3_600_000;

/** What a caller asks for; every field as typed on a command line or in a query string. */
export interface UsageQuery {
  by?: string | undefined;
  /** A duration back from now: `30m`, `1h`, `24h`, `7d`, `2w`. */
  last?: string | undefined;
  /** An ISO 8601 time (`2026-05-01`, `2026-05-01T09:00:00Z`), Unix milliseconds, or a duration ago (`2h`). */
  since?: string | undefined;
  /** As `since`; default now. */
  until?: string | undefined;
}

export interface UsageReport {
  by: UsageGrouping;
  since: string;
  until: string;
  rows: UsageRow[];
}

/** The largest time a Date can hold. */
const MAX_DATE_MS = 8.64e15;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Longer spans than this are typing mistakes, and would leave the range of dates. */
const LONGEST_SPAN_MS = 100 * 365 * UNIT_MS.d;

/** `90s`, `30m`, `24h`, `7d`, `2w` in milliseconds; undefined when `text` is not a duration (of at most 100 years). */
function durationMs(text: string): number | undefined {
  const match = /^(\d+)(s|m|h|d|w)$/.exec(text.trim());
  const span = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : undefined;
  return span !== undefined && span <= LONGEST_SPAN_MS ? span : undefined;
}

/**
 * What errors call each field: the admin API's query parameters (`by`), or
 * the CLI's flags (`--by`), so a message names what the caller typed.
 */
export type UsageQueryNames = Record<keyof UsageQuery, string>;

const QUERY_PARAMETERS: UsageQueryNames = { by: "by", last: "last", since: "since", until: "until" };

/** A point in time: ISO 8601, Unix ms, or a duration back from `now`, read as the audit commands read it. */
function instant(text: string, name: string, now: number): number {
  const parsed = parseTime(text, now) ?? Number.NaN;
  // Unreadable text is NaN; Unix ms past year 275760 are no date either.
  if (!(Math.abs(parsed) <= MAX_DATE_MS)) throw invalid(`${name} must be a time such as 2026-05-01T09:00:00Z, Unix milliseconds, or a duration ago such as 2h, not "${text}".`);
  return parsed;
}

/** The grouping and the window [since, until) a query names, checked; errors call the fields `names`. */
export function resolveUsageQuery(query: UsageQuery, now: number, names: UsageQueryNames = QUERY_PARAMETERS): { by: UsageGrouping; since: number; until: number } {
  const by = (query.by ?? "tool") as UsageGrouping;
  if (!USAGE_GROUPINGS.includes(by)) throw invalid(`${names.by} must be one of ${USAGE_GROUPINGS.join(", ")}, not "${query.by}".`);
  if (query.last !== undefined && (query.since !== undefined || query.until !== undefined)) {
    throw invalid(`Give either ${names.last} or ${names.since}/${names.until}, not both.`);
  }
  let since: number;
  let until = now;
  if (query.last !== undefined) {
    const span = durationMs(query.last);
    if (span === undefined || span <= 0) throw invalid(`${names.last} must be a duration such as 1h, 24h or 7d, not "${query.last}".`);
    since = now - span;
  } else {
    until = query.until === undefined ? now : instant(query.until, names.until, now);
    since = query.since === undefined ? until - DEFAULT_WINDOW_MS : instant(query.since, names.since, now);
  }
  if (!(since < until)) throw invalid(`The window is empty: ${names.since} (${new Date(since).toISOString()}) must be before ${names.until} (${new Date(until).toISOString()}).`);
  return { by, since, until };
}

/**
 * Usage analytics from the audit trail: per Virtual MCP, tool, connector or
 * person, the tool calls in a window with their outcomes and p50/p95/p99
 * latency. Used by `GET /admin/api/stats` and `mintgate stats`.
 */
export class UsageAnalytics {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** `names`: what errors call the fields (default the admin API's query parameters). */
  report(query: UsageQuery, names?: UsageQueryNames): UsageReport {
    const { by, since, until } = resolveUsageQuery(query, this.now(), names);
    const rows = this.store.usage.toolCalls(by, since, until);
    return { by, since: new Date(since).toISOString(), until: new Date(until).toISOString(), rows };
  }

  /** The same report for the serving gateway (GET /admin/api/stats): the query runs on the reader thread, off the request path. */
  async reportInThread(query: UsageQuery, names?: UsageQueryNames): Promise<UsageReport> {
    const { by, since, until } = resolveUsageQuery(query, this.now(), names);
    const rows = await readInThread(this.store, "usageToolCalls", by, since, until);
    return { by, since: new Date(since).toISOString(), until: new Date(until).toISOString(), rows };
  }

  /**
   * Tool calls per step over the last `last` (default 5m, step 5s; at most
   * 1000 buckets), with totals and p50/p95: the TUI Overview. The buckets'
   * window ends at the current step's end, so they stay aligned; the totals
   * are those of the last `last` up to now, the window `report` reads for
   * the same `last`, so the Overview's "last hour" line and its tables count
   * the same calls.
   */
  timeline(query: { last?: string | undefined; step?: string | undefined }): UsageTimeline & { since: string; until: string } {
    const { since, until, stepMs, totalsWindow } = this.timelineWindow(query);
    return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), ...this.store.usage.timeline(since, until, stepMs, totalsWindow) };
  }

  /** The same timeline for the serving gateway (GET /admin/api/stats/timeline), on the reader thread. */
  async timelineInThread(query: { last?: string | undefined; step?: string | undefined }): Promise<UsageTimeline & { since: string; until: string }> {
    const { since, until, stepMs, totalsWindow } = this.timelineWindow(query);
    return { since: new Date(since).toISOString(), until: new Date(until).toISOString(), ...(await readInThread(this.store, "usageTimeline", since, until, stepMs, totalsWindow)) };
  }

  private timelineWindow(query: { last?: string | undefined; step?: string | undefined }) {
    const span = durationMs(query.last ?? "5m");
    const step = durationMs(query.step ?? "5s");
    if (span === undefined || span <= 0) throw invalid(`last must be a duration such as 5m or 1h, not "${query.last}".`);
    if (step === undefined || step <= 0) throw invalid(`step must be a duration such as 5s or 1m, not "${query.step}".`);
    if (span / step > 1000) throw invalid(`last/step gives more than 1000 buckets; choose a longer step.`);
    const now = this.now();
    const until = Math.ceil((now + 1) / step) * step;
    const since = until - Math.ceil(span / step) * step;
    return { since, until, stepMs: step, totalsWindow: { since: now - span, until: now } };
  }
}
