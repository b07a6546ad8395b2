import { desc, sql } from "drizzle-orm";
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

/** The per-call record; the insert is prepared once because it runs on every tools/call. */
export class CallRecordRepository {
  private readonly insert;

  constructor(private readonly db: StoreDb) {
    const p = (name: keyof CallRecord) => sql.placeholder(name);
    this.insert = db
      .insert(callRecords)
      .values({
        at: p("at"),
        subject: p("subject"),
        tokenId: p("tokenId"),
        sessionId: p("sessionId"),
        virtualMcp: p("virtualMcp"),
        connector: p("connector"),
        method: p("method"),
        exposedName: p("exposedName"),
        upstreamName: p("upstreamName"),
        arguments: p("arguments"),
        outcome: p("outcome"),
        error: p("error"),
        durationMs: p("durationMs"),
      })
      .prepare();
  }

  add(record: CallRecord): void {
    this.insert.run(record as unknown as Record<string, unknown>);
  }

  recent(limit: number): (CallRecord & { id: number })[] {
    return this.db.select().from(callRecords).orderBy(desc(callRecords.id)).limit(limit).all() as (CallRecord & { id: number })[];
  }
}
