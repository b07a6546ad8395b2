import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { AuthorizationRequest } from "./authorization-server.ts";

/**
 * The browser side of sign-in, held in memory: authorization requests waiting
 * for a person (10 min), sign-ins in flight at an identity provider (10 min)
 * and signed-in browser sessions (8 h). A restart ends them; people then
 * start again from their AI client, which is what they would do anyway.
 */

const FLOW_TTL_MS = 10 * 60_000;
const SESSION_TTL_MS = 8 * 3_600_000;
/** Bounds memory whatever unauthenticated clients send; the oldest entries go first. */
const MAX_ENTRIES = 20_000;

const newId = () => randomBytes(24).toString("base64url");

class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  set(key: string, value: V): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  take(key: string): V | undefined {
    const value = this.get(key);
    this.entries.delete(key);
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  deleteWhere(predicate: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (predicate(entry.value)) this.entries.delete(key);
  }
}

export interface PendingSso<P> {
  flow: string | undefined;
  provider: string;
  pending: P;
}

/** A signed-in browser: who, and since when (a change to their account after that ends it). */
export interface BrowserSession {
  userId: string;
  openedAt: number;
}

/** What the sign-out page's CSRF token is bound to besides the session. */
export const SIGN_OUT_FORM = "sign-out";

export class SignInFlows<P = unknown> {
  /** Each flow with the browser that started it (a random key in a cookie): only that browser may continue it. */
  private readonly flows: ExpiringMap<{ request: AuthorizationRequest; browser: string }>;
  private readonly sso: ExpiringMap<PendingSso<P>>;
  private readonly sessions: ExpiringMap<BrowserSession>;
  /** Signs CSRF tokens; per process, like the sessions it protects. */
  private readonly key = randomBytes(32);

  constructor(private readonly now: () => number = Date.now) {
    this.flows = new ExpiringMap(FLOW_TTL_MS, now);
    this.sso = new ExpiringMap(FLOW_TTL_MS, now);
    this.sessions = new ExpiringMap(SESSION_TTL_MS, now);
  }

  readonly sessionMaxAgeSeconds = SESSION_TTL_MS / 1000;
  readonly ssoMaxAgeSeconds = FLOW_TTL_MS / 1000;

  /** A random key for a browser's cookie, binding the flows it starts to it. */
  newBrowserKey(): string {
    return newId();
  }

  startFlow(request: AuthorizationRequest, browser: string): string {
    const id = newId();
    this.flows.set(id, { request, browser });
    return id;
  }

  /**
   * The flow `id`, if `browser` started it. A page elsewhere that posts someone
   * else's flow id (login CSRF: signing the victim in as the attacker) gets nothing.
   */
  flow(id: string | null | undefined, browser: string | undefined): AuthorizationRequest | undefined {
    const entry = id ? this.flows.get(id) : undefined;
    return entry && browser !== undefined && entry.browser === browser ? entry.request : undefined;
  }

  endFlow(id: string): void {
    this.flows.delete(id);
  }

  /** Remembers an identity-provider sign-in under its `state`; the callback takes it once. */
  awaitProvider(state: string, entry: PendingSso<P>): void {
    this.sso.set(state, entry);
  }

  takeProvider(state: string | null): PendingSso<P> | undefined {
    return state ? this.sso.take(state) : undefined;
  }

  openSession(userId: string): string {
    const id = newId();
    this.sessions.set(id, { userId, openedAt: this.now() });
    return id;
  }

  session(id: string | undefined): BrowserSession | undefined {
    return id ? this.sessions.get(id) : undefined;
  }

  endSession(id: string): void {
    this.sessions.delete(id);
  }

  /** Ends every browser session of a person (disabled, or signed out everywhere). */
  endSessionsOf(userId: string): void {
    this.sessions.deleteWhere((session) => session.userId === userId);
  }

  /**
   * A CSRF token bound to both the browser session and the flow, so a page from elsewhere cannot post it.
   * The sign-out page, which has no flow, passes SIGN_OUT_FORM (never a flow id: those are 32 random characters).
   */
  csrfToken(sessionId: string, flow: string): string {
    return createHmac("sha256", this.key).update(`${sessionId}\n${flow}`).digest("base64url");
  }

  csrfValid(sessionId: string, flow: string, token: string | null): boolean {
    if (!token) return false;
    const expected = Buffer.from(this.csrfToken(sessionId, flow));
    const given = Buffer.from(token);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
