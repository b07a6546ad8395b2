/**
 * A thread that runs one usage-statistics query on a read-only connection of
 * its own and posts the rows back: over a year of a busy gateway the query
 * reads and sorts millions of records (9 s for 2 million), which on the
 * request thread held every request of the gateway for as long.
 * Started by `usageStatsInThread` and kept for the next question; message in:
 * {id, path, question}; message out: {id, answer} or {id, error}.
 */
import { openSqlite, wrapWithDrizzle } from "./connection.ts";
import { UsageStatsRepository, type UsageQuestion } from "./repositories/usage-stats.ts";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ id: number; path: string; question: UsageQuestion }>) => {
  const { id, path, question } = event.data;
  try {
    const connection = openSqlite(path, { readonly: true });
    try {
      const usage = new UsageStatsRepository(wrapWithDrizzle(connection));
      const answer =
        question.kind === "toolCalls"
          ? usage.toolCalls(question.by, question.since, question.until)
          : usage.timeline(question.since, question.until, question.stepMs, question.totalsWindow);
      self.postMessage({ id, answer });
    } finally {
      connection.close();
    }
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message });
  }
};
