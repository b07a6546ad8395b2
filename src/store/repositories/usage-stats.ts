import type { StoreDb } from "../connection.ts";

/** What usage is grouped by. */
export type UsageGrouping = "vmcp" | "tool" | "connector" | "person";
export const USAGE_GROUPINGS: readonly UsageGrouping[] = ["vmcp", "tool", "connector", "person"];

/** One group's tool calls in a window. Latencies are nearest-rank percentiles of calls that were not denied. */
export interface UsageRow {
  virtualMcp?: string;
  tool?: string;
  connector?: string;
  person?: string;
  calls: number;
  ok: number;
  /** Calls that failed: the tool's own errors plus timeouts. */
  errors: number;
  timeouts: number;
  denied: number;
  cancelled: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** The audit_records columns each grouping keys on, with the field names they come back as. */
const KEYS: Record<UsageGrouping, [column: string, field: string][]> = {
  vmcp: [["virtual_mcp", "virtualMcp"]],
  tool: [
    ["virtual_mcp", "virtualMcp"],
    ["exposed_name", "tool"],
    ["connector", "connector"],
  ],
  connector: [["connector", "connector"]],
  person: [["person", "person"]],
};

/**
 * Usage analytics over the audit trail: per group, counts by outcome and
 * p50/p95/p99 latency of the tools/call records in [since, until). One
 * statement: the window is found through the index on `at`, the counts are
 * one GROUP BY, and the percentiles are read at their nearest ranks
 * (ceil(p·n)) from a ROW_NUMBER() over each group's ordered durations.
 */
export class UsageStatsRepository {
  constructor(private readonly db: StoreDb) {}

  toolCalls(by: UsageGrouping, since: number, until: number): UsageRow[] {
    const keys = KEYS[by];
    // NULL keys (a call to a tool that did not exist has no connector) become "", so groups join.
    const select = keys.map(([column, field]) => `COALESCE(${column}, '') AS ${field}`).join(", ");
    const names = keys.map(([, field]) => field).join(", ");
    const sql = `
      WITH calls AS (
        SELECT ${select}, outcome, duration_ms
        FROM audit_records
        WHERE at >= $since AND at < $until AND kind = 'mcp' AND method = 'tools/call'
      ),
      ranked AS (
        SELECT ${names}, duration_ms,
          ROW_NUMBER() OVER (PARTITION BY ${names} ORDER BY duration_ms) AS rank,
          COUNT(*) OVER (PARTITION BY ${names}) AS n
        FROM calls
        WHERE outcome <> 'denied' AND duration_ms IS NOT NULL
      ),
      latency AS (
        SELECT ${names},
          MAX(CASE WHEN rank = (n + 1) / 2 THEN duration_ms END) AS p50Ms,
          MAX(CASE WHEN rank = (95 * n + 99) / 100 THEN duration_ms END) AS p95Ms,
          MAX(CASE WHEN rank = (99 * n + 99) / 100 THEN duration_ms END) AS p99Ms
        FROM ranked
        WHERE rank = (n + 1) / 2 OR rank = (95 * n + 99) / 100 OR rank = (99 * n + 99) / 100
        GROUP BY ${names}
      ),
      counts AS (
        SELECT ${names},
          COUNT(*) AS calls,
          SUM(outcome = 'ok') AS ok,
          SUM(outcome IN ('error', 'timeout')) AS errors,
          SUM(outcome = 'timeout') AS timeouts,
          SUM(outcome = 'denied') AS denied,
          SUM(outcome = 'cancelled') AS cancelled
        FROM calls
        GROUP BY ${names}
      )
      SELECT counts.*, latency.p50Ms, latency.p95Ms, latency.p99Ms
      FROM counts LEFT JOIN latency USING (${names})
      ORDER BY calls DESC, ${names}`;
    return this.db.$client.query(sql).all({ since, until }) as UsageRow[];
  }

  /**
   * Tool calls per `stepMs` bucket in [since, until) (the Overview's
   * sparkline), with the totals and nearest-rank p50/p95 latency of the
   * calls that were not denied in `totalsWindow` (default the buckets' window).
   * Empty buckets are included.
   */
  timeline(since: number, until: number, stepMs: number, totalsWindow: { since: number; until: number } = { since, until }): UsageTimeline {
    const client = this.db.$client;
    const where = "at >= $since AND at < $until AND kind = 'mcp' AND method = 'tools/call'";
    const rows = client
      .query(`SELECT (at - $since) / $step AS bucket, COUNT(*) AS calls, SUM(outcome IN ('error', 'timeout')) AS errors, SUM(outcome = 'denied') AS denied FROM audit_records WHERE ${where} GROUP BY bucket`)
      .all({ since, until, step: stepMs }) as { bucket: number; calls: number; errors: number; denied: number }[];
    const count = Math.ceil((until - since) / stepMs);
    const buckets = Array.from({ length: count }, (_, i) => ({ at: since + i * stepMs, calls: 0, errors: 0, denied: 0 }));
    const total = { calls: 0, ok: 0, errors: 0, denied: 0, p50Ms: null as number | null, p95Ms: null as number | null };
    for (const row of rows) {
      const bucket = buckets[Math.floor(row.bucket)];
      if (!bucket) continue;
      bucket.calls = row.calls;
      bucket.errors = row.errors;
      bucket.denied = row.denied;
    }
    const totals = client
      .query(`SELECT COUNT(*) AS calls, COALESCE(SUM(outcome = 'ok'), 0) AS ok, COALESCE(SUM(outcome IN ('error', 'timeout')), 0) AS errors, COALESCE(SUM(outcome = 'denied'), 0) AS denied FROM audit_records WHERE ${where}`)
      .get(totalsWindow) as { calls: number; ok: number; errors: number; denied: number };
    Object.assign(total, totals);
    const latency = client
      .query(
        `WITH ranked AS (SELECT duration_ms, ROW_NUMBER() OVER (ORDER BY duration_ms) AS rank, COUNT(*) OVER () AS n FROM audit_records WHERE ${where} AND outcome <> 'denied' AND duration_ms IS NOT NULL)
         SELECT MAX(CASE WHEN rank = (n + 1) / 2 THEN duration_ms END) AS p50Ms, MAX(CASE WHEN rank = (95 * n + 99) / 100 THEN duration_ms END) AS p95Ms FROM ranked WHERE rank = (n + 1) / 2 OR rank = (95 * n + 99) / 100`,
      )
      .get(totalsWindow) as { p50Ms: number | null; p95Ms: number | null } | null;
    total.p50Ms = latency?.p50Ms ?? null;
    total.p95Ms = latency?.p95Ms ?? null;
    return { stepMs, buckets, total };
  }
}

/** Tool calls over time: per bucket, and in total (over the window asked for; see UsageStatsRepository.timeline). */
export interface UsageTimeline {
  stepMs: number;
  buckets: { at: number; calls: number; errors: number; denied: number }[];
  total: { calls: number; ok: number; errors: number; denied: number; p50Ms: number | null; p95Ms: number | null };
}
