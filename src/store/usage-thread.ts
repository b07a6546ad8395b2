/**
 * A thread that runs one usage-statistics query on a read-only connection of
 * its own and posts the rows back: over a year of a busy gateway the query
 * reads and sorts millions of records (9 s for 2 million), which on the
 * request thread held every request of the gateway for as long.
 * Started by `usageStatsInThread` and kept for the next question; message in:
 * {id, path, by, since, until}; message out: {id, rows} or {id, error}.
 */
import { openSqlite, wrapWithDrizzle } from "./connection.ts";
import { UsageStatsRepository, type UsageGrouping } from "./repositories/usage-stats.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ id: number; path: string; by: UsageGrouping; since: number; until: number }>) => {
  const { id, path, by, since, until } = event.data;
  try {
    const connection = openSqlite(path, { readonly: true });
    try {
      self.postMessage({ id, rows: new UsageStatsRepository(wrapWithDrizzle(connection)).toolCalls(by, since, until) });
    } finally {
      connection.close();
    }
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message });
  }
};
