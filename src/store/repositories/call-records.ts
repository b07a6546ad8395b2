import type { Statement } from "bun:sqlite";
import { desc } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { callRecords } from "../schema.ts";

export type CallOutcome = "ok" | "error" | "denied" | "timeout" | "cancelled";

export interface CallRecord {
  at: number;
  subject: string;
  tokenId: string | null;
  sessionId: string | null;
  virtualMcp: string;
  connector: string | null;
  method: string;
  exposedName: string;
  upstreamName: string | null;
  /** JSON text of the arguments as sent upstream. */
  arguments: string | null;
  outcome: CallOutcome;
  error: string | null;
  durationMs: number;
}

/**
 * The per-call record. The insert is a plain prepared bun:sqlite statement
 * rather than a drizzle query: it runs on every tools/call, and drizzle's
 * parameter mapping was a measurable share of the gateway's CPU there.
 */
export class CallRecordRepository {
  private readonly insert: Statement;

  constructor(private readonly db: StoreDb) {
    this.insert = db.$client.prepare(
      "INSERT INTO call_records (at, subject, token_id, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, outcome, error, duration_ms) " +
        "VALUES ($at, $subject, $tokenId, $sessionId, $virtualMcp, $connector, $method, $exposedName, $upstreamName, $arguments, $outcome, $error, $durationMs)",
    );
  }

  add(record: CallRecord): void {
    this.insert.run(record as unknown as Record<string, string | number | null>);
  }

  recent(limit: number): (CallRecord & { id: number })[] {
    return this.db.select().from(callRecords).orderBy(desc(callRecords.id)).limit(limit).all() as (CallRecord & { id: number })[];
  }
}
