import type { StoreDb } from "../connection.ts";

export type CallOutcome = "ok" | "error" | "denied" | "timeout" | "cancelled";

export interface CallRecord {
  at: number;
  /** The person's email. */
  subject: string;
  tokenId: string | null;
  sessionId: string | null;
  virtualMcp: string;
  connector: string | null;
  /** JSON-RPC method. */
  method: string;
  /** Tool or prompt name, resource URI; "" for list and initialize. */
  exposedName: string;
  upstreamName: string | null;
  /** JSON text of the arguments as sent upstream. */
  arguments: string | null;
  outcome: CallOutcome;
  error: string | null;
  /** null for a request refused before anything ran (its form, at the transport): it has no time to count. */
  durationMs: number | null;
}

/** The MCP requests of the audit trail in the shape of the earlier call records (GET /admin/api/calls). */
export class CallRecordRepository {
  constructor(private readonly db: StoreDb) {}

  recent(limit: number): (CallRecord & { id: number })[] {
    return this.db.$client
      .query(
        "SELECT id, at, person AS subject, token_id AS tokenId, session_id AS sessionId, virtual_mcp AS virtualMcp, connector, method, exposed_name AS exposedName, " +
          "upstream_name AS upstreamName, arguments, outcome, error, duration_ms AS durationMs FROM audit_records WHERE kind = 'mcp' ORDER BY id DESC LIMIT $limit",
      )
      .all({ limit }) as (CallRecord & { id: number })[];
  }
}
