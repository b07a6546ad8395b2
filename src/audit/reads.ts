/**
 * The reads of the audit trail that grow with it, which a serving gateway runs on the reader thread
 * (src/audit/reader-thread.ts, asked through `readInThread`): on the request thread, a search for a person with
 * few records walked 2 million of them and held every request of the gateway, tool calls included, for 0.8 s.
 * Each read gets a read-only connection of its own and answers plain data (it crosses to the gateway's thread).
 */
import type { AuditFilter, AuthEventRepository, StoreReader, UsageGrouping } from "../store/index.ts";
import { verifyChainGradually, type ChainAnchor, type CheckpointKey } from "./chain.ts";

type AuthEventFilter = Parameters<AuthEventRepository["list"]>[0];

export const READS = {
  usageToolCalls: (reader: StoreReader, by: UsageGrouping, since: number, until: number) => reader.usage.toolCalls(by, since, until),
  usageTimeline: (reader: StoreReader, since: number, until: number, stepMs: number, totalsWindow: { since: number; until: number }) =>
    reader.usage.timeline(since, until, stepMs, totalsWindow),
  auditSearch: (reader: StoreReader, filter: AuditFilter, limit: number, beforeId?: number) => reader.audit.search(filter, limit, beforeId),
  auditCount: (reader: StoreReader, filter: AuditFilter) => reader.audit.count(filter),
  auditIdRange: (reader: StoreReader, filter: AuditFilter) => reader.audit.idRangeOf(filter),
  auditPage: (reader: StoreReader, afterId: number, limit: number, filter: AuditFilter, throughId?: number) => reader.audit.page(afterId, limit, filter, throughId),
  /**
   * The whole chain from one snapshot (its reader is opened with one: see SNAPSHOT_READS): records the gateway
   * commits meanwhile are neither counted nor taken for deleted ones. It yields between pages, so the thread
   * answers other reads (the TUI's statistics) during a walk of millions of records.
   */
  auditVerify: (reader: StoreReader, key: CheckpointKey | undefined, anchor?: ChainAnchor) => verifyChainGradually(reader.audit, key, anchor),
  authEvents: (reader: StoreReader, filter: AuthEventFilter) => reader.authEvents.list(filter),
};

export type ReadName = keyof typeof READS;
/** The reads whose reader holds one read transaction for as long as they run. */
export const SNAPSHOT_READS: ReadonlySet<ReadName> = new Set(["auditVerify"]);
/** A read's arguments after its reader. */
export type ReadArgs<N extends ReadName> = (typeof READS)[N] extends (reader: StoreReader, ...args: infer A) => unknown ? A : never;
export type ReadAnswer<N extends ReadName> = Awaited<ReturnType<(typeof READS)[N]>>;
