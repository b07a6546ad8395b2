import { randomUUID } from "node:crypto";
import { canonicalEmail } from "../../email/index.ts";
import { conflict, invalid, MintgateError, notFound, unauthorized } from "../../errors/index.ts";
import { isEmailAddress, isGroupName } from "../../policy/index.ts";
import type { Store, UserIdentityRow, UserRow } from "../../store/index.ts";
import { counted, printable, unprintableAsSpaces, unwritableCharacterIn } from "../../terminal/index.ts";
import { AuthEvents } from "../events.ts";
import { WindowLimiter } from "../rate-limit.ts";
import { LoginThrottle } from "./throttle.ts";

export type Role = "admin" | "member";

/** A person as the rest of mintgate sees them. */
export interface UserRecord {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  /** Every group, whatever its source, sorted and without duplicates. */
  groups: string[];
  createdAt: string;
  lastSignInAt: string | null;
}

export interface UserIdentityInfo {
  /** "local" or an SSO provider's name. */
  provider: string;
  subject: string;
  email: string | null;
  createdAt: string;
  lastSignInAt: string | null;
  /** Non-secret facts from the last ID token (hd, tid, groups overage…). */
  claims: Record<string, unknown> | null;
}

/** What the admin API and `users list` show. */
export interface UserDetails extends UserRecord {
  disabledAt: string | null;
  hasPassword: boolean;
  /** Each group with where it came from: "manual" or a provider name. */
  groupSources: { group: string; source: string }[];
  identities: UserIdentityInfo[];
}

export interface ProviderSignIn {
  provider: string;
  /** The provider's immutable subject (Entra: `${tid}:${oid}`). */
  subject: string;
  email: string;
  name?: string | null | undefined;
  /** The groups the provider vouches for now; they replace this provider's earlier ones. */
  groups: string[];
  /** Non-secret claims worth keeping on the identity (hd, tid, overage…). */
  claims?: Record<string, unknown> | undefined;
}

/** Sign-in refused because of too many failures; `retryAt` says when to try again. */
export class SignInThrottled extends MintgateError {
  constructor(
    message: string,
    readonly retryAt: number,
  ) {
    super("unauthorized", message);
    this.name = "SignInThrottled";
  }
}

/** On top of isEmailAddress: a local account's address has a dot in its domain. */
const DOTTED_DOMAIN = /@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD_LENGTH = 12;
const MAX_PASSWORD_LENGTH = 1024;
const LOCAL = "local";
const MANUAL = "manual";
/** Failures before an account, or an IP address, is locked out (an IP has more room: a whole office may share it). */
const ACCOUNT_THRESHOLD = 5;
const IP_THRESHOLD = 20;
const WRONG_CREDENTIALS = "The email or password is not right.";
/** Refused sign-ins that name no account recorded per client address (see authenticatePassword). */
const NOBODYS_REFUSALS_RECORDED = { max: 30, windowMs: 60_000 };

export function normaliseEmail(email: string): string {
  const value = canonicalEmail(email);
  if (!isEmailAddress(value) || !DOTTED_DOMAIN.test(value)) throw invalid(`"${email}" is not an email address.`);
  return value;
}

/**
 * A password as it is hashed and verified: in NFC, so "é" typed precomposed (U+00E9) or as e + U+0301 (as some Mac
 * keyboards and browsers send it) is one password. NIST SP 800-63B §5.1.1.2 asks for NFKC or NFD; NFC makes the same
 * strings equal as NFD (canonical equivalence), is the form emails are kept in (canonicalEmail), and is RFC 8265's for
 * passwords. Not NFKC: it would also fold characters that differ ("²" into "2", "ﬁ" into "fi", full-width letters into
 * ASCII), leaving fewer passwords than people chose.
 */
function normalisePassword(password: string): string {
  return password.normalize("NFC");
}

/** A normalised password's length in characters as a person counts them: code points (é is one however typed, and so is 😀). */
function passwordLength(normalised: string): number {
  let length = 0;
  for (const _ of normalised) length++;
  return length;
}

function checkPassword(normalised: string): void {
  const length = passwordLength(normalised);
  if (length < MIN_PASSWORD_LENGTH) throw invalid(`The password is too short: use at least ${MIN_PASSWORD_LENGTH} characters.`);
  if (length > MAX_PASSWORD_LENGTH) throw invalid(`The password is too long: use at most ${MAX_PASSWORD_LENGTH} characters.`);
}

/** A checked password's argon2id hash, as stored. */
export interface HashedPassword {
  readonly argon2id: string;
}

/**
 * Checks and hashes a password. Hashing takes a while and is asynchronous;
 * done first, the change that stores it needs no await and can share one
 * transaction with its audit record (the CLI's commands).
 */
export async function hashPassword(password: string): Promise<HashedPassword> {
  const normalised = normalisePassword(password);
  checkPassword(normalised);
  return { argon2id: await Bun.password.hash(normalised, { algorithm: "argon2id" }) };
}

/** A group an admin names (`groups add`, the admin API), trimmed; refused with the character that has no place in it. */
function checkGroupName(group: string): string {
  const name = group.trim();
  const character = unwritableCharacterIn(name, { lines: false });
  if (character !== undefined) throw invalid(`The group name "${printable(name)}" contains ${character}; remove it: a group name is one line, without control characters or bidirectional controls.`);
  if (!isGroupName(name)) throw invalid(`"${group}" is not a group name: use 1–256 printable characters.`);
  return name;
}

/**
 * A person's display name: printed by `users list|show`, the TUI and the audit trail, so no control characters (an
 * ESC sequence would drive the admin's terminal) and no bidi overrides (they would show other text than is there),
 * and at most 256 characters. An admin's is refused; a provider's is cleaned, never a reason to refuse the sign-in.
 */
function checkPersonName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const character = unwritableCharacterIn(name, { lines: false });
  if (character !== undefined) throw invalid(`A person's name cannot hold ${character}; remove it: a name is one line, without control characters or bidirectional controls.`);
  if (name.length > 256) throw invalid("A person's name must be at most 256 printable characters, without line breaks or control characters.");
  return name;
}

const cleanPersonName = (name: string | null | undefined) => (name == null ? name : unprintableAsSpaces(name).trim().slice(0, 256) || null);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function minutesFromNow(at: number, now: number): string {
  const seconds = Math.max(1, Math.ceil((at - now) / 1000));
  return seconds < 90 ? counted(seconds, "second") : counted(Math.ceil(seconds / 60), "minute");
}

/**
 * People: local accounts (argon2id passwords) and everyone who signed in
 * through an SSO provider, with their roles and groups. SSO people are keyed
 * by (provider, subject), never by email alone.
 */
export class UserDirectory {
  private readonly events: AuthEvents;
  private readonly now: () => number;
  private readonly accountThrottle: LoginThrottle;
  private readonly ipThrottle: LoginThrottle;
  private readonly nobodysRefusals = new WindowLimiter(NOBODYS_REFUSALS_RECORDED, () => this.now());
  private dummyHash: Promise<string> | undefined;
  private readonly onSignInsEnded: ((userId: string) => void) | undefined;
  private readonly onGroupsChanged: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    options: {
      events?: AuthEvents;
      now?: () => number;
      /** Called when a person's sign-ins end in this process (disabled, password changed), so cached token checks and browser sessions end at once. */
      onSignInsEnded?: (userId: string) => void;
      /** Called when a provider changed a person's groups in this process (a sign-in, a group refresh), so access policies see them at once. */
      onGroupsChanged?: () => void;
    } = {},
  ) {
    this.onSignInsEnded = options.onSignInsEnded;
    this.onGroupsChanged = options.onGroupsChanged;
    this.now = options.now ?? Date.now;
    this.events = options.events ?? new AuthEvents(store, this.now);
    this.accountThrottle = new LoginThrottle(ACCOUNT_THRESHOLD, this.now);
    this.ipThrottle = new LoginThrottle(IP_THRESHOLD, this.now);
  }

  private details(rows: UserRow[]): UserDetails[] {
    const ids = rows.map((r) => r.id);
    const groups = this.store.users.groupsOf(ids);
    const identities = this.store.users.identitiesOf(ids);
    return rows.map((row) => {
      const own = groups.filter((g) => g.userId === row.id);
      return {
        id: row.id,
        email: row.email,
        name: row.name,
        role: row.role,
        disabled: row.disabledAt !== null,
        groups: [...new Set(own.map((g) => g.groupName))].sort(),
        createdAt: iso(row.createdAt)!,
        lastSignInAt: iso(row.lastSignInAt),
        disabledAt: iso(row.disabledAt),
        hasPassword: row.passwordHash !== null,
        groupSources: own.map((g) => ({ group: g.groupName, source: g.source })),
        identities: identities.filter((i) => i.userId === row.id).map(toIdentityInfo),
      };
    });
  }

  private record(row: UserRow): UserRecord {
    const { id, email, name, role, disabled, groups, createdAt, lastSignInAt } = this.details([row])[0]!;
    return { id, email, name, role, disabled, groups, createdAt, lastSignInAt };
  }

  /** Everyone, sorted by email. */
  list(): UserDetails[] {
    return this.details(this.store.users.list());
  }

  /** One person with groups and identities; throws not_found. */
  get(id: string): UserDetails {
    const row = this.store.users.get(id);
    if (!row) throw notFound(`There is no person with id "${id}"; \`mintgate users list\` shows them.`);
    return this.details([row])[0]!;
  }

  /** The person with this id, or undefined (for token checks: is this person still allowed in?). */
  find(id: string): UserRecord | undefined {
    const row = this.store.users.get(id);
    return row && this.record(row);
  }

  /**
   * The person behind a browser session opened at `since` (ms), if they are not disabled and their account has not
   * changed since: a password reset, a disable (even one undone since) or a role change ends the session, whichever
   * process made it (this gateway's in-memory sessions are not told of the CLI's changes).
   */
  activeSince(id: string, since: number): UserRecord | undefined {
    const row = this.store.users.get(id);
    return row && row.disabledAt === null && row.updatedAt <= since ? this.record(row) : undefined;
  }

  /** Everyone with this email (SSO people from different providers can share one). */
  findByEmail(email: string): UserRecord[] {
    return this.store.users.findByEmail(canonicalEmail(email)).map((row) => this.record(row));
  }

  /** A person by id or by email; an email shared by several people must be given as an id. */
  resolve(ref: string): UserRow {
    const byId = this.store.users.get(ref);
    if (byId) return byId;
    const matches = this.store.users.findByEmail(canonicalEmail(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw conflict(`${matches.length} people have the email ${ref} (ids ${matches.map((m) => m.id).join(", ")}); name one by its id.`);
    }
    throw notFound(`There is no person "${ref}"; \`mintgate users list\` shows them.`);
  }

  /** Adds a local account that signs in with a password. */
  async addLocal(options: { email: string; password: string; role?: Role; name?: string | undefined }): Promise<UserDetails> {
    const email = normaliseEmail(options.email);
    return this.addLocalHashed({ ...options, email, password: await hashPassword(options.password) });
  }

  /** `addLocal` with the password hashed beforehand (`hashPassword`): no await. */
  addLocalHashed(options: { email: string; password: HashedPassword; role?: Role; name?: string | undefined }): UserDetails {
    const email = normaliseEmail(options.email);
    const name = checkPersonName(options.name);
    const passwordHash = options.password.argon2id;
    const now = this.now();
    const id = randomUUID();
    this.store.transaction(() => {
      if (this.store.users.findIdentity(LOCAL, email)) throw conflict(`A local account for ${email} exists already; use \`mintgate users set-password ${email}\` to change its password.`);
      this.store.users.add({ id, email, name: name ?? null, role: options.role ?? "member", passwordHash, createdAt: now, updatedAt: now });
      this.store.users.addIdentity({ provider: LOCAL, subject: email, userId: id, email, createdAt: now });
    });
    return this.get(id);
  }

  /**
   * Sets a local account's password and ends the person's AI client sign-ins
   * (their OAuth grants): a reset after a stolen password must not leave the
   * thief's clients signed in. Personal access tokens, issued by an admin, stay.
   * Returns how many sign-ins were ended.
   */
  async setPassword(ref: string, password: string): Promise<{ signInsEnded: number }> {
    // Refused before the slow hash when there is no local account to set.
    this.checkLocalAccount(ref);
    return this.setPasswordHashed(ref, await hashPassword(password));
  }

  /** Refuses a person who does not exist or has no local account (no password to set). */
  checkLocalAccount(ref: string): void {
    this.localIdentityOf(this.resolve(ref));
  }

  /** `setPassword` with the password hashed beforehand (`hashPassword`): no await. */
  setPasswordHashed(ref: string, password: HashedPassword): { signInsEnded: number } {
    const row = this.resolve(ref);
    const local = this.localIdentityOf(row);
    const passwordHash = password.argon2id;
    const now = this.now();
    const signInsEnded = this.store.transaction(() => {
      this.store.users.update(row.id, { passwordHash, updatedAt: now });
      return this.store.oauthGrants.revokeGrantsOf(row.id, now, "password changed");
    });
    this.accountThrottle.clear(local.subject);
    // Browser sign-ins of this gateway process end too (the gateway's own directory; a CLI's has no sessions).
    this.onSignInsEnded?.(row.id);
    return { signInsEnded };
  }

  private localIdentityOf(row: { id: string; email: string }) {
    const local = this.store.users.identitiesOf([row.id]).find((i) => i.provider === LOCAL);
    if (!local) throw invalid(`${row.email} signs in through SSO only and has no local account; add one with \`mintgate users add\`.`);
    return local;
  }

  setRole(ref: string, role: Role): UserDetails {
    if (role !== "admin" && role !== "member") throw invalid(`"${role}" is not a role: use admin or member.`);
    const row = this.resolve(ref);
    if (row.role !== role) this.store.users.update(row.id, { role, updatedAt: this.now() });
    return this.get(row.id);
  }

  /** Disables a person: sign-in is refused, their AI clients' sign-ins are revoked, and personal access tokens stop working while disabled. */
  disable(ref: string, actor?: { ip?: string | undefined; by?: string | undefined }): UserDetails {
    const row = this.resolve(ref);
    const now = this.now();
    if (row.disabledAt === null) {
      this.store.transaction(() => {
        this.store.users.update(row.id, { disabledAt: now, updatedAt: now });
        // Deprovisioning ends every sign-in: enabling the person later must not bring a stolen token back.
        this.store.oauthGrants.revokeGrantsOf(row.id, now, "person disabled");
      });
      this.events.record({ type: "user_disabled", outcome: "ok", userId: row.id, email: row.email, ip: actor?.ip, detail: actor?.by ? { by: actor.by } : undefined });
      this.onSignInsEnded?.(row.id);
    }
    return this.get(row.id);
  }

  enable(ref: string): UserDetails {
    const row = this.resolve(ref);
    if (row.disabledAt !== null) this.store.users.update(row.id, { disabledAt: null, updatedAt: this.now() });
    return this.get(row.id);
  }

  addGroup(ref: string, group: string): UserDetails {
    return this.assignGroup(ref, group).user;
  }

  /**
   * Puts a person in a group by hand. `added`: false when they were in it by
   * hand already (nothing changed); `fromProviders`: the providers that put
   * them in it as well.
   */
  assignGroup(ref: string, group: string): { user: UserDetails; group: string; added: boolean; fromProviders: string[] } {
    const row = this.resolve(ref);
    const name = checkGroupName(group);
    const added = this.store.users.addGroup(row.id, name, MANUAL);
    return { user: this.get(row.id), group: name, added, fromProviders: this.providersOfGroup(row.id, name) };
  }

  /** Removes a group assigned by hand; groups from a provider come back at the next sign-in, so they cannot be removed here. */
  removeGroup(ref: string, group: string): UserDetails {
    const { user, group: name, removed } = this.unassignGroup(ref, group);
    if (!removed) throw notFound(`${user.email} is not in the group "${name}".`);
    return user;
  }

  /**
   * Takes a person out of a group assigned by hand. `removed`: false when
   * they were not in the group at all (nothing changed); `fromProviders`:
   * the providers that still put them in it. Refused when only providers
   * put them in it: the change belongs there.
   */
  unassignGroup(ref: string, group: string): { user: UserDetails; group: string; removed: boolean; fromProviders: string[] } {
    const row = this.resolve(ref);
    // Not checkGroupName: a group stored before names were checked as they are now can still be taken away.
    const name = group.trim();
    if (name.length === 0 || name.length > 256) throw invalid(`"${printable(group)}" is not a group name: use 1–256 printable characters.`);
    const removed = this.store.users.removeGroup(row.id, name, MANUAL);
    const fromProviders = this.providersOfGroup(row.id, name);
    if (!removed && fromProviders.length) {
      throw conflict(`${row.email} is in "${name}" through the provider${fromProviders.length > 1 ? "s" : ""} ${fromProviders.join(" and ")}, not by hand; change it there.`);
    }
    return { user: this.get(row.id), group: name, removed, fromProviders };
  }

  /** The providers (SSO sources) that put a person in `group`. */
  private providersOfGroup(userId: string, group: string): string[] {
    return this.store.users.groupsOf([userId]).filter((g) => g.groupName === group && g.source !== MANUAL).map((g) => g.source);
  }

  private hashOfNobody(): Promise<string> {
    this.dummyHash ??= Bun.password.hash(randomUUID(), { algorithm: "argon2id" });
    return this.dummyHash;
  }

  /**
   * Whether `password` matches `hash`, compared in NFC as it is hashed; with no hash (unknown account) or a password
   * too long, false after the same work. One answer for the attempt, so the lockout counts it once.
   */
  private async passwordMatches(password: string, hash: string | null): Promise<boolean> {
    const normalised = normalisePassword(password);
    if (hash === null || passwordLength(normalised) > MAX_PASSWORD_LENGTH) {
      await Bun.password.verify(normalised.slice(0, MAX_PASSWORD_LENGTH), await this.hashOfNobody());
      return false;
    }
    if (await Bun.password.verify(normalised, hash)) return true;
    // A hash stored before passwords were normalised was made from the password as it was typed then.
    return normalised !== password && Bun.password.verify(password, hash);
  }

  /**
   * Checks a local account's password. Refused with one sentence; the
   * same one for an unknown email and a wrong password, after the same work.
   */
  async authenticatePassword(email: string, password: string, ip: string | null | undefined): Promise<UserRecord> {
    const key = canonicalEmail(email);
    const ipKey = ip ?? "unknown";
    const identity = key.length <= 320 ? this.store.users.findIdentity(LOCAL, key) : undefined;
    const record = (reason: string, userId?: string) => {
      // A locked-out address is refused at once, so a flood of made-up emails costs its sender one request per audit
      // record: past the limit, one address's refusals that name no account go unrecorded. Those naming one always are.
      if (identity === undefined && this.nobodysRefusals.hit(ipKey) !== undefined) return;
      this.events.record({ type: "sign_in", outcome: "refused", provider: LOCAL, email: key.slice(0, 320), userId, ip, reason });
    };
    const refuse = (reason: string, message: string, userId?: string) => {
      record(reason, userId);
      return unauthorized(message);
    };
    const now = this.now();
    const lockedUntil = Math.max(this.accountThrottle.lockedUntil(key) ?? 0, this.ipThrottle.lockedUntil(ipKey) ?? 0);
    if (lockedUntil > now) {
      const which = (this.accountThrottle.lockedUntil(key) ?? 0) >= lockedUntil ? "this account" : "this address";
      record(`throttled: too many failed sign-ins for ${which}`);
      throw new SignInThrottled(`Too many failed sign-ins for ${which}; try again in ${minutesFromNow(lockedUntil, now)}.`, lockedUntil);
    }
    const row = identity ? this.store.users.get(identity.userId) : undefined;
    // While the (slow) check runs, this attempt counts against the lockout: guesses sent at once cannot all get past it.
    this.accountThrottle.checkingStarted(key);
    this.ipThrottle.checkingStarted(ipKey);
    let right: boolean;
    try {
      right = await this.passwordMatches(password, row?.passwordHash ?? null);
    } finally {
      this.accountThrottle.checked(key);
      this.ipThrottle.checked(ipKey);
    }
    if (!row || !right) {
      this.accountThrottle.fail(key);
      this.ipThrottle.fail(ipKey);
      throw refuse(!row ? "unknown account" : row.passwordHash === null ? "no password set" : "wrong password", WRONG_CREDENTIALS, row?.id);
    }
    // Only after the password is right: a guesser learns nothing about disabled accounts.
    if (row.disabledAt !== null) throw refuse("account disabled", "This account is disabled; ask an administrator of this mintgate.", row.id);
    this.accountThrottle.clear(key);
    const at = this.now();
    this.store.users.update(row.id, { lastSignInAt: at });
    this.store.users.updateIdentity(LOCAL, key, { lastSignInAt: at });
    this.events.record({ type: "sign_in", outcome: "ok", provider: LOCAL, email: row.email, userId: row.id, ip });
    return this.record(this.store.users.get(row.id)!);
  }

  /**
   * The person behind an SSO sign-in: found by (provider, subject), created as
   * a member the first time. Email and name follow the provider; this
   * provider's groups are replaced by `groups`; manual groups stay. Throws
   * unauthorized for a disabled person (the caller records the event).
   */
  upsertFromProvider(signIn: ProviderSignIn): UserRecord {
    if (signIn.provider === LOCAL || signIn.provider === MANUAL) throw invalid(`"${signIn.provider}" cannot be an SSO provider name.`);
    const email = canonicalEmail(signIn.email);
    const groups = signIn.groups.map(checkGroupName);
    const name = cleanPersonName(signIn.name);
    const claims = signIn.claims ? JSON.stringify(signIn.claims) : null;
    const now = this.now();
    let changed = false;
    const id = this.store.transaction(() => {
      const identity = this.store.users.findIdentity(signIn.provider, signIn.subject);
      if (identity) {
        const row = this.store.users.get(identity.userId)!;
        if (row.disabledAt !== null) throw unauthorized("Your mintgate account is disabled; ask an administrator of this mintgate.");
        // Not `updatedAt`: a change to the account ends the person's browser sign-ins (activeSince), and signing in is none.
        this.store.users.update(row.id, { email, name: name ?? row.name, lastSignInAt: now });
        this.store.users.updateIdentity(signIn.provider, signIn.subject, { email, claims, lastSignInAt: now });
        changed = this.replaceGroupsOf(row.id, signIn.provider, groups);
        return row.id;
      }
      // A disabled person stays out whatever way they come back: not as a new person with the same email (policies match by email).
      if (this.store.users.findByEmail(email).some((other) => other.disabledAt !== null)) {
        throw unauthorized("Your mintgate account is disabled; ask an administrator of this mintgate.");
      }
      const userId = randomUUID();
      this.store.users.add({ id: userId, email, name: name ?? null, role: "member", passwordHash: null, createdAt: now, updatedAt: now, lastSignInAt: now });
      this.store.users.addIdentity({ provider: signIn.provider, subject: signIn.subject, userId, email, claims, createdAt: now, lastSignInAt: now });
      changed = this.replaceGroupsOf(userId, signIn.provider, groups);
      return userId;
    });
    if (changed) this.onGroupsChanged?.();
    return this.record(this.store.users.get(id)!);
  }

  /** Replaces one provider's groups for a person (a group refresh without a sign-in). */
  replaceProviderGroups(userId: string, provider: string, groups: string[], claims?: Record<string, unknown>): UserRecord {
    const row = this.store.users.get(userId);
    if (!row) throw notFound(`There is no person with id "${userId}".`);
    let changed = false;
    this.store.transaction(() => {
      changed = this.replaceGroupsOf(userId, provider, groups.map(checkGroupName));
      if (claims) {
        const identity = this.store.users.identitiesOf([userId]).find((i) => i.provider === provider);
        if (identity) this.store.users.updateIdentity(provider, identity.subject, { claims: JSON.stringify(claims) });
      }
    });
    if (changed) this.onGroupsChanged?.();
    return this.record(this.store.users.get(userId)!);
  }

  /** Replaces one provider's groups for a person; true when they differ from before. */
  private replaceGroupsOf(userId: string, provider: string, groups: string[]): boolean {
    const namesOf = (names: string[]) => [...new Set(names)].sort().join("\n");
    const before = namesOf(this.store.users.groupsOf([userId]).filter((g) => g.source === provider).map((g) => g.groupName));
    this.store.users.replaceGroups(userId, provider, groups);
    return namesOf(groups) !== before;
  }

  /** The SSO identities of a person (provider and subject), for a group refresh. */
  identitiesOf(userId: string): UserIdentityInfo[] {
    return this.store.users.identitiesOf([userId]).map(toIdentityInfo);
  }
}

function toIdentityInfo(row: UserIdentityRow): UserIdentityInfo {
  let claims: Record<string, unknown> | null = null;
  try {
    claims = row.claims ? (JSON.parse(row.claims) as Record<string, unknown>) : null;
  } catch {
    claims = null;
  }
  return { provider: row.provider, subject: row.subject, email: row.email, createdAt: iso(row.createdAt)!, lastSignInAt: iso(row.lastSignInAt), claims };
}
