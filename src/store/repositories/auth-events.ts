import type { StoreDb } from "../connection.ts";

export interface AuthEventRow {
  id: number;
  at: number;
  /** sign_in, consent_granted, consent_revoked, client_registered, token_issued, token_refreshed, token_revoked, token_refused… */
  type: string;
  outcome: "ok" | "refused";
  userId: string | null;
  email: string | null;
  clientId: string | null;
  provider: string | null;
  ip: string | null;
  reason: string | null;
  /** JSON of further non-secret facts. */
  detail: string | null;
}
export type NewAuthEvent = Omit<AuthEventRow, "id">;

/** Sign-in, consent, client and token events: the auth records of the audit trail, in the earlier shape. */
export class AuthEventRepository {
  constructor(private readonly db: StoreDb) {}

  /** Newest first. */
  list(filter: { type?: string | undefined; userId?: string | undefined; clientId?: string | undefined; since?: number | undefined; until?: number | undefined; limit?: number | undefined } = {}): AuthEventRow[] {
    const conditions = ["kind = 'auth'"];
    const params: Record<string, string | number> = { limit: Math.min(filter.limit ?? 100, 10_000) };
    const add = (sql: string, name: string, value: string | number | undefined) => {
      if (value === undefined || (typeof value === "number" && Number.isNaN(value))) return;
      conditions.push(sql);
      params[name] = value;
    };
    add("method = $type", "type", filter.type);
    add("user_id = $userId", "userId", filter.userId);
    add("client_id = $clientId", "clientId", filter.clientId);
    add("at >= $since", "since", filter.since);
    add("at <= $until", "until", filter.until);
    return this.db.$client
      .query(
        "SELECT id, at, method AS type, outcome, user_id AS userId, person AS email, client_id AS clientId, json_extract(detail, '$.provider') AS provider, ip, " +
          `error AS reason, json_extract(detail, '$.detail') AS detail FROM audit_records WHERE ${conditions.join(" AND ")} ORDER BY id DESC LIMIT $limit`,
      )
      .all(params) as AuthEventRow[];
  }
}
