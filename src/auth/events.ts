import { log } from "../log/index.ts";
import type { AuthEventRow, Store } from "../store/index.ts";

/** Every kind of auth event mintgate records. */
export type AuthEventType =
  | "sign_in"
  | "consent_granted"
  | "consent_revoked"
  | "client_registered"
  | "token_issued"
  | "token_refreshed"
  | "token_revoked"
  | "token_refused"
  | "user_disabled";

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

/** Writes auth events to the store (and the log); a failure to record is logged, never thrown at the person signing in. */
export class AuthEvents {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  record(event: AuthEvent): void {
    const row = {
      at: this.now(),
      type: event.type,
      outcome: event.outcome,
      userId: event.userId ?? null,
      email: event.email ?? null,
      clientId: event.clientId ?? null,
      provider: event.provider ?? null,
      ip: event.ip ?? null,
      reason: event.reason ?? null,
      detail: event.detail ? JSON.stringify(event.detail) : null,
    };
    try {
      this.store.authEvents.add(row);
    } catch (error) {
      log.error("could not record an auth event", { type: event.type, error: String(error) });
    }
    const fields = { type: event.type, user: row.email ?? row.userId ?? undefined, client: row.clientId ?? undefined, provider: row.provider ?? undefined, reason: row.reason ?? undefined };
    if (event.outcome === "ok") log.info("auth event", fields);
    else log.warn("auth event refused", fields);
  }

  list(filter?: Parameters<Store["authEvents"]["list"]>[0]): AuthEventRow[] {
    return this.store.authEvents.list(filter);
  }
}
