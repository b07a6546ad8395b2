import { canonicalEmail } from "../email/index.ts";
import type { Store } from "../store/index.ts";
import { hasUnprintable } from "../terminal/index.ts";
import type { Subject } from "./types.ts";

/** What the resolver needs of a caller (a Principal from src/auth). */
export interface Caller {
  subject: string;
  userId?: string | undefined;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const MAX_EMAIL_LENGTH = 320;

/**
 * Whether `text` can be a person's email as policies and tokens name them: one "@" with text either side, no
 * spaces, at most 320 characters, and nothing a terminal acts on (an ESC sequence, a bidi override), since
 * `tokens list`, `policy explain`, the TUI and the audit trail all print it. No real address holds one.
 */
export function isEmailAddress(text: string): boolean {
  return text.length <= MAX_EMAIL_LENGTH && EMAIL.test(text) && !hasUnprintable(text);
}

/**
 * Whether a (trimmed) group name can be stored: 1–256 characters, none that a terminal acts on (a control character,
 * a bidi override). Every group a person is in is one, so a policy naming another would match no one.
 */
export function isGroupName(name: string): boolean {
  return name.length > 0 && name.length <= 256 && !hasUnprintable(name);
}

const CACHE_SIZE = 10_000;
// Token subjects are stored in canonical form (canonicalEmail), so the per-request key is the subject as it is.
const keyOf = (caller: Caller) => (caller.userId ? `id:${caller.userId}` : `email:${caller.subject}`);

/**
 * Turns callers into policy subjects: role and groups from the store. OAuth
 * callers carry the person's id; personal access tokens only an email, which
 * is looked up (a token for an email with no person record acts as a member
 * with no groups; an email several SSO people share gets all their groups,
 * and admin if any of them is one). Cached until `invalidate()`, which the
 * gateway calls whenever the store changed (another process's commit moves
 * data_version and triggers a sync; in-process changes call it directly), so
 * the per-request path is one map lookup.
 */
export class SubjectResolver {
  private readonly cache = new Map<string, Subject>();
  /** Moves on every invalidate(): views computed for an older generation are stale. */
  generation = 0;

  constructor(private readonly store: Store) {}

  invalidate(): void {
    this.cache.clear();
    this.generation++;
  }

  /** Drops one caller's cached subject: the next lookup reads the store (a new session, after a sign-in). */
  forget(caller: Caller): void {
    this.cache.delete(keyOf(caller));
  }

  subjectOf(caller: Caller): Subject {
    const key = keyOf(caller);
    let subject = this.cache.get(key);
    if (!subject) {
      subject = this.load(caller);
      if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, subject);
    }
    return subject;
  }

  private load(caller: Caller): Subject {
    const users = this.store.users;
    // Once per cache miss, not per call: decide() compares emails as they are. A person's row an upgrade left
    // as it was (two rows that would have become one email) still matches policies, which are canonical.
    const email = canonicalEmail(caller.subject);
    if (caller.userId) {
      const row = users.get(caller.userId);
      const groups = row ? [...new Set(users.groupsOf([row.id]).map((g) => g.groupName))].sort() : [];
      return { userId: caller.userId, email, role: row?.role ?? null, groups };
    }
    const rows = users.findByEmail(caller.subject).filter((r) => r.disabledAt === null);
    if (rows.length === 0) return { userId: null, email, role: null, groups: [] };
    const groups = [...new Set(users.groupsOf(rows.map((r) => r.id)).map((g) => g.groupName))].sort();
    return { userId: rows.length === 1 ? rows[0]!.id : null, email, role: rows.some((r) => r.role === "admin") ? "admin" : "member", groups };
  }
}
