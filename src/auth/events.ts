import { appendToChain } from "../audit/index.ts";
import { LineBudget, log } from "../log/index.ts";
import type { AuthEventRow, Store } from "../store/index.ts";
import { authDetail } from "../store/migrations.ts";

/** Every kind of auth event mintgate records. */
export const AUTH_EVENT_TYPES = [
  "sign_in",
  "sign_out",
  "consent_granted",
  "consent_revoked",
  "client_registered",
  "token_issued",
  "token_refreshed",
  "token_revoked",
  "token_refused",
  "user_disabled",
] as const;
export type AuthEventType = (typeof AUTH_EVENT_TYPES)[number];

export interface AuthEvent {
  type: AuthEventType;
  outcome: "ok" | "refused";
  userId?: string | null | undefined;
  email?: string | null | undefined;
  clientId?: string | null | undefined;
  provider?: string | null | undefined;
  ip?: string | null | undefined;
  /** Why it was refused, as a sentence; never a secret. */
  reason?: string | null | undefined;
  /** Further non-secret facts (scope, Virtual MCP, grant id). */
  detail?: Record<string, unknown> | undefined;
}

/**
 * Refused auth events in the log, for the whole process: a client hammering a locked account or a dead token would
 * otherwise write a warning per attempt. The audit trail keeps every one; past this, the log counts them.
 */
const refusedLines = new LineBudget({ lines: 50, windowMs: 60_000, fields: {}, notLoggedMessage: "auth events refused: lines not logged, too many" });

/**
 * Writes auth events into the audit trail (kind "auth", hash-chained with
 * every other record) and the log; committed before `record` returns. A
 * failure to record is logged, never thrown at the person signing in.
 */
export class AuthEvents {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  record(event: AuthEvent): void {
    // The person's email, as every record and line names them; an event that only knows their ID (a consent, a token)
    // looks it up, or a search of the trail for that person would miss it.
    const email = event.email ?? (event.userId ? (this.store.users.get(event.userId)?.email ?? null) : null);
    const virtualMcp = typeof event.detail?.virtualMcp === "string" ? event.detail.virtualMcp : null;
    try {
      appendToChain(this.store, [
        {
          at: this.now(), kind: "auth", person: email, userId: event.userId ?? null, clientId: event.clientId ?? null, tokenId: null, ip: event.ip ?? null,
          sessionId: null, virtualMcp, connector: null, method: event.type, exposedName: null, upstreamName: null, arguments: null, result: null, resultSize: null,
          outcome: event.outcome, error: event.reason ?? null, durationMs: null,
          detail: authDetail(event.provider ?? null, event.detail ? JSON.stringify(event.detail) : null),
        },
      ]);
    } catch (error) {
      log.error("could not record an auth event", { type: event.type, error: String(error) });
    }
    const fields = { type: event.type, subject: email ?? undefined, client: event.clientId ?? undefined, provider: event.provider ?? undefined, virtualMcp: virtualMcp ?? undefined, ip: event.ip ?? undefined, reason: event.reason ?? undefined };
    if (event.outcome === "ok") log.info("auth event", fields);
    else refusedLines.write("warn", "auth event refused", fields);
  }

  list(filter?: Parameters<Store["authEvents"]["list"]>[0]): AuthEventRow[] {
    return this.store.authEvents.list(filter);
  }
}
