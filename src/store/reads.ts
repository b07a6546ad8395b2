/**
 * The reads of the store that grow with the audit trail, which a serving gateway runs on the reader thread
 * (src/store/reader-thread.ts, asked through `readInThread`): on the request thread, a search for a person with
 * few records walked 2 million of them and held every request of the gateway, tool calls included, for 0.8 s.
 * Each read gets a read-only connection of its own and answers plain data (it crosses to the gateway's thread).
 */
import { verifyChainGradually, type ChainAnchor, type CheckpointKey } from "../audit/chain.ts";
import type { StoreDb } from "./connection.ts";
import { AuditRecordRepository, type AuditFilter } from "./repositories/audit-records.ts";
import { AuthEventRepository } from "./repositories/auth-events.ts";
import { UsageStatsRepository, type UsageGrouping } from "./repositories/usage-stats.ts";

type AuthEventFilter = Parameters<AuthEventRepository["list"]>[0];

export const READS = {
  usageToolCalls: (db: StoreDb, by: UsageGrouping, since: number, until: number) => new UsageStatsRepository(db).toolCalls(by, since, until),
  usageTimeline: (db: StoreDb, since: number, until: number, stepMs: number, totalsWindow: { since: number; until: number }) =>
    new UsageStatsRepository(db).timeline(since, until, stepMs, totalsWindow),
  auditSearch: (db: StoreDb, filter: AuditFilter, limit: number, beforeId?: number) => new AuditRecordRepository(db).search(filter, limit, beforeId),
  auditCount: (db: StoreDb, filter: AuditFilter) => new AuditRecordRepository(db).count(filter),
  auditIdRange: (db: StoreDb, filter: AuditFilter) => new AuditRecordRepository(db).idRangeOf(filter),
  auditPage: (db: StoreDb, afterId: number, limit: number, filter: AuditFilter, throughId?: number) => new AuditRecordRepository(db).page(afterId, limit, filter, throughId),
  /**
   * The whole chain from one snapshot (a read transaction on this read's connection): records the gateway commits
   * meanwhile are neither counted nor taken for deleted ones. It yields between pages, so the thread answers
   * other reads (the TUI's statistics) during a walk of millions of records.
   */
  auditVerify: async (db: StoreDb, key: CheckpointKey | undefined, anchor?: ChainAnchor) => {
    db.$client.exec("BEGIN");
    try {
      return await verifyChainGradually(new AuditRecordRepository(db), key, anchor);
    } finally {
      db.$client.exec("COMMIT");
    }
  },
  authEvents: (db: StoreDb, filter: AuthEventFilter) => new AuthEventRepository(db).list(filter),
};

export type ReadName = keyof typeof READS;
/** A read's arguments after its connection. */
export type ReadArgs<N extends ReadName> = (typeof READS)[N] extends (db: StoreDb, ...args: infer A) => unknown ? A : never;
export type ReadAnswer<N extends ReadName> = Awaited<ReturnType<(typeof READS)[N]>>;
