/**
 * Upstream SSO: mintgate as an OpenID Connect relying party of Okta, Entra ID,
 * Google or any OIDC provider. Authorization code + PKCE (S256) + state +
 * nonce; the ID token is verified by openid-client (signature against the
 * provider's JWKS, iss, aud, exp, nonce). People are keyed by the provider's
 * immutable subject (Entra: `${tid}:${oid}`), never by email alone.
 */
import { randomUUID } from "node:crypto";
import * as oidc from "openid-client";
import { canonicalEmail } from "../../email/index.ts";
import { conflict, invalid, MintgateError, notFound, unauthorized, unknownName } from "../../errors/index.ts";
import { Redactor } from "../../audit/redact.ts";
import { log } from "../../log/index.ts";
import { secretsReferencedBy } from "../../connectors/types.ts";
import type { SecretStore } from "../../secrets/index.ts";
import type { IdentityProviderRow, Store } from "../../store/index.ts";
import { counted, hasUnprintable, joinedWithAnd, printable } from "../../terminal/index.ts";
import { isGroupName } from "../../policy/index.ts";
import type { UserDirectory, UserRecord } from "../accounts/index.ts";
import { LOOPBACK_HOSTS } from "../clients/index.ts";
import { AuthEvents } from "../events.ts";

export type ProviderKind = "okta" | "google" | "entra" | "oidc";
export const PROVIDER_KINDS: ProviderKind[] = ["okta", "google", "entra", "oidc"];

/** Kind-specific settings, stored as JSON in identity_providers.settings. */
interface ProviderSettings {
  label?: string;
  allowedDomains: string[];
  /** The claim holding groups (okta/oidc; entra reads `groups` and `roles`). */
  groupsClaim?: string;
  domain?: string;
  authServer?: string;
  tenant?: string;
  /** oidc: the provider sends no `email_verified` claim but gives out only addresses it has verified (an admin's word). */
  assumeEmailVerified?: boolean;
}

export interface ProviderInput {
  name: string;
  kind: ProviderKind;
  /** oidc: the issuer URL (okta/entra/google derive it). */
  issuer?: string | undefined;
  /** okta: the org domain, e.g. example.okta.com. */
  domain?: string | undefined;
  /** okta: a custom authorization server id such as `default`. */
  authServer?: string | undefined;
  /** entra: the directory (tenant) id, a GUID. */
  tenant?: string | undefined;
  clientId: string;
  /** Stored in the secret store; never returned. */
  clientSecret: string;
  allowedDomains?: string[] | undefined;
  groupsClaim?: string | undefined;
  label?: string | undefined;
  /** oidc: take the provider's emails as verified when it sends no `email_verified` claim. */
  assumeEmailVerified?: boolean | undefined;
}

/** What can change on an existing provider; absent fields stay as they are. */
export interface ProviderPatch {
  clientId?: string | undefined;
  /** A new client secret (rotation); stored in the secret store, never returned. */
  clientSecret?: string | undefined;
  allowedDomains?: string[] | undefined;
  groupsClaim?: string | undefined;
  label?: string | undefined;
  assumeEmailVerified?: boolean | undefined;
}

const INPUT_STRINGS = ["name", "kind", "issuer", "domain", "authServer", "tenant", "clientId", "clientSecret", "groupsClaim", "label"] as const;
const PATCH_STRINGS = ["clientId", "clientSecret", "groupsClaim", "label"] as const;

/** A JSON body's fields with their types checked: `strings` as strings, `allowedDomains` as a list of strings, `assumeEmailVerified` as a boolean; null means absent. */
function checkedBody(body: unknown, strings: readonly string[], what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid(`Send ${what} as a JSON object.`);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null) continue;
    fields[key] = value;
    if (key === "allowedDomains") {
      if (!Array.isArray(value) || value.some((d) => typeof d !== "string")) throw invalid(`allowedDomains must be a list of email domains such as ["example.com"].`);
    } else if (key === "assumeEmailVerified") {
      if (typeof value !== "boolean") throw invalid("assumeEmailVerified must be true or false.");
    } else if (!strings.includes(key)) {
      throw unknownName(key, "field", what, [...strings, "allowedDomains", "assumeEmailVerified"]);
    } else if (typeof value !== "string") {
      throw invalid(`${key} must be a string.`);
    }
  }
  return fields;
}

/** A new provider from an admin API body, its field types checked (the values are checked by `add`). */
export function providerInputOf(body: unknown): ProviderInput {
  return checkedBody(body, INPUT_STRINGS, "a sign-in provider") as unknown as ProviderInput;
}

/** A change from an admin API body, its field types checked (the values are checked by `update`). */
export function providerPatchOf(body: unknown): ProviderPatch {
  const fields = checkedBody(body, PATCH_STRINGS, "a sign-in provider change");
  if (Object.keys(fields).length === 0) {
    throw invalid("Nothing to change: give clientId, clientSecret, allowedDomains, groupsClaim, label or assumeEmailVerified.");
  }
  return fields as ProviderPatch;
}

/** A provider as shown to admins: never the client secret, only the name of the secret that holds it. */
export interface ProviderInfo {
  name: string;
  kind: ProviderKind;
  label: string;
  issuer: string;
  clientId: string;
  clientSecretName: string;
  allowedDomains: string[];
  /** Where groups come from, in words. */
  groups: string;
  groupsClaim: string | null;
  /** oidc: the admin vouched that the provider gives out only verified emails, so a missing `email_verified` is accepted. */
  assumeEmailVerified: boolean;
  tenant: string | null;
  /** The path to register at the provider; `callbackUrl` when the public URL is known. */
  callbackPath: string;
  callbackUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What the browser's round trip to the provider must bring back; kept server-side by the caller. */
export interface PendingSsoSignIn {
  provider: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  createdAt: number;
}

export interface DiscoveryReport {
  ok: boolean;
  provider: string;
  kind: ProviderKind;
  issuer: string;
  discoveryUrl: string;
  /** Why discovery failed, as a sentence. */
  error?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  jwksUri?: string;
  userinfoEndpoint?: string | null;
  jwksKeys?: number;
  scopesSupported?: string[] | null;
  claimsSupported?: string[] | null;
  pkceS256?: boolean | "not advertised";
  offlineAccess?: boolean;
  groupsClaimAdvertised?: boolean | "not advertised";
  /** What to check, as sentences (missing S256, groups not advertised…). */
  warnings: string[];
  groups: string;
}

export type GroupRefresh =
  | { ok: true; provider: string; groups: string[] }
  | { ok: false; provider: string; reason: string; /** The provider refused the refresh token: the person's session there ended. */ revoked: boolean };

interface SsoOptions {
  store: Store;
  secrets: SecretStore;
  users: UserDirectory;
  /** Builds the callback URL; absent (CLI without --public-url) means only the path is known. */
  urls?: { ssoCallback(provider: string): string } | undefined;
  events?: AuthEvents;
  now?: () => number;
  /** Seconds for discovery, JWKS and token requests. */
  timeoutSeconds?: number;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const PENDING_LIFETIME_MS = 10 * 60_000;
const DISCOVERY_CACHE_MS = 60 * 60_000;
const OKTA_GROUPS_LIMIT = 100;
const GOOGLE_GROUPS_NOTE = "none: groups from the Google Directory API are not supported yet (only the hd domain is checked)";

const secretNameOf = (provider: string) => `sso.${provider}.client-secret`;
const refreshSecretNameOf = (provider: string, userId: string) => `sso.${provider}.refresh.${userId}`;

function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

function defaultLabel(kind: ProviderKind, name: string): string {
  return { okta: "Okta", google: "Google", entra: "Microsoft Entra ID", oidc: name }[kind];
}

function groupsDescription(kind: ProviderKind, settings: ProviderSettings): string {
  if (kind === "google") return GOOGLE_GROUPS_NOTE;
  if (kind === "entra") return "the ID token's `groups` and `roles` claims (an overage is reported; then only roles are used)";
  return `the ID token's \`${settings.groupsClaim ?? "groups"}\` claim`;
}

function parseSettings(row: IdentityProviderRow): ProviderSettings {
  const parsed = JSON.parse(row.settings) as Partial<ProviderSettings>;
  return { ...parsed, allowedDomains: parsed.allowedDomains ?? [] };
}

/** The issuer of a provider from what the admin typed; refuses what cannot work. */
export function issuerFor(input: Pick<ProviderInput, "kind" | "issuer" | "domain" | "authServer" | "tenant">): string {
  switch (input.kind) {
    case "google":
      return "https://accounts.google.com";
    case "entra": {
      const tenant = input.tenant?.trim() ?? "";
      if (!GUID.test(tenant)) throw invalid(`An Entra provider needs --tenant with the directory (tenant) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 ("common" and "organizations" are not supported).`);
      return `https://login.microsoftonline.com/${tenant.toLowerCase()}/v2.0`;
    }
    case "okta": {
      const domain = input.domain?.trim().replace(/^https:\/\//, "").replace(/\/$/, "") ?? "";
      if (!DOMAIN.test(domain)) throw invalid(`An Okta provider needs --domain with your Okta domain, such as example.okta.com.`);
      const server = input.authServer?.trim();
      if (server !== undefined && server !== "" && !/^[A-Za-z0-9_-]{1,64}$/.test(server)) throw invalid(`"${server}" is not an Okta authorization server id (such as default or aus1a2b3c).`);
      return server ? `https://${domain.toLowerCase()}/oauth2/${server}` : `https://${domain.toLowerCase()}`;
    }
    case "oidc": {
      const raw = input.issuer?.trim() ?? "";
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw invalid(`An oidc provider needs --issuer with the provider's issuer URL, such as https://idp.example.com.`);
      }
      if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url))) throw invalid(`The issuer ${raw} must use https (plain http is allowed only on 127.0.0.1 or localhost).`);
      if (url.search || url.hash) throw invalid(`The issuer ${raw} must not have a query or fragment.`);
      // An issuer never carries credentials; these would be shown wherever the issuer is (sso list, the admin API).
      if (url.username || url.password) throw invalid(`The issuer must not contain a user name or password; give the provider's issuer URL, such as https://idp.example.com.`);
      return raw.replace(/\/$/, "");
    }
    default:
      throw invalid(`"${String(input.kind)}" is not a provider kind: use ${PROVIDER_KINDS.join(", ")}.`);
  }
}

function parseDomains(domains: string[] | undefined): string[] {
  return [...new Set((domains ?? []).map((d) => d.trim().toLowerCase().replace(/^@/, "")).filter(Boolean))].map((d) => {
    if (!DOMAIN.test(d)) throw invalid(`"${d}" is not an email domain such as example.com.`);
    return d;
  });
}

/** More groups than this from one provider refuse the sign-in: the provider should send only those mintgate's policies use. */
export const MAX_PROVIDER_GROUPS = 1000;

/**
 * A claim's value as a list of group names: an array of strings, or one string; absent or null is none. Anything
 * else (a number in the list, an object) is refused, not dropped: dropping it could skip a policy that denies it.
 */
function groupsFrom(claim: string, value: unknown): { groups: string[] } | UnusableGroups {
  if (value === undefined || value === null) return { groups: [] };
  if (typeof value === "string") return { groups: value.trim() ? [value.trim()] : [] };
  if (!Array.isArray(value)) return { claim, notAList: typeof value === "object" ? "an object" : `a ${typeof value}` };
  const groups: string[] = [];
  for (const item of value) {
    if (typeof item !== "string") return { claim, notAName: item };
    if (item.trim()) groups.push(item.trim());
  }
  return { groups };
}

/** A groups claim that is not a list of names (`notAList`: what it is), or a list holding something else (`notAName`). */
type UnusableGroups = { claim: string; notAList: string } | { claim: string; notAName: unknown };

/** The refusal of a groups claim mintgate cannot read as names, for the person and the sign-in record. */
function unusableGroups(label: string, bad: UnusableGroups, email: string): { refused: string; message: string; email: string } {
  if ("notAList" in bad) {
    return {
      refused: `${bad.claim} claim is not a list (${bad.notAList})`,
      message: `${label} sent the ${bad.claim} claim as ${bad.notAList}, not a list of group names; ask your administrator to check the claim mintgate reads groups from, then start again.`,
      email,
    };
  }
  const shown = String(JSON.stringify(bad.notAName)).slice(0, 60);
  return {
    refused: `unusable group name ${shown} (${bad.notAName === null ? "null" : typeof bad.notAName})`,
    message: `${label} sent a group mintgate cannot use (${shown}: group names must be text); ask your administrator to rename that group or leave it out of the groups sent to mintgate, then start again.`,
    email,
  };
}

const saysTrue = (value: unknown) => value === true || value === "true";
/** Some providers send the flag as a string ("false"), which is not a boolean false but means the same. */
const saysFalse = (value: unknown) => value === false || value === "false";

/** Only a generic OIDC provider may have its emails taken as verified without the claim. */
function checkAssumeEmailVerified(kind: ProviderKind): void {
  if (kind !== "oidc") {
    throw invalid("--assume-email-verified applies to oidc providers only: Okta and Google always say whether an email is verified, and Entra ID is checked by its tenant and its xms_edov claim.");
  }
}

/**
 * Why the provider does not vouch for the person's email, for the sign-in record (undefined when it does), and
 * whether it said "not verified" or nothing. Policies, personal access tokens and the admin's commands find people
 * by email, so an address the provider has not verified must not become a person's: whoever typed someone else's
 * address at a provider that lets people pick one would get that person's grants.
 * - Google and Okta send `email_verified` with the email scope: without it, or false, refused.
 * - Generic OIDC: false is refused; a missing claim too, unless the admin vouched for the provider (`assumeEmailVerified`).
 * - Entra ID sends no `email_verified`. Only the one tenant mintgate trusts signs in, and its admins own its directory's
 *   addresses; where the app registration adds the optional `xms_edov` claim, a false one (a domain the tenant has not
 *   verified) is refused.
 */
function unvouchedEmail(row: IdentityProviderRow, settings: ProviderSettings, claims: Record<string, unknown>): { reason: string; saidNotVerified: boolean } | undefined {
  const flag = claims.email_verified;
  if (saysFalse(flag)) return { reason: "email not verified", saidNotVerified: true };
  if (saysTrue(flag)) return undefined;
  if (flag !== undefined) return { reason: `email_verified claim is ${String(JSON.stringify(flag)).slice(0, 40)}, neither true nor false`, saidNotVerified: false };
  if (row.kind === "entra") return saysFalse(claims.xms_edov) ? { reason: "email domain not verified by the tenant (xms_edov false)", saidNotVerified: true } : undefined;
  if (row.kind === "oidc") {
    if (settings.assumeEmailVerified) return undefined;
    return { reason: `no email_verified claim (if this provider gives out only verified addresses, run: mintgate sso update ${row.name} --assume-email-verified yes)`, saidNotVerified: false };
  }
  return { reason: `no email_verified claim (${defaultLabel(row.kind, row.name)} sends it with the email scope: check the claims of mintgate's app there)`, saidNotVerified: false };
}

/** Why the provider could not be reached at all (timeout, refused, no such host), or undefined when it answered. */
function unreachable(error: unknown): string | undefined {
  const err = error as Error & { code?: string; cause?: unknown };
  const cause = err.cause as (Error & { code?: string }) | undefined;
  if (err.name === "TimeoutError" || err.name === "AbortError" || cause?.name === "TimeoutError") return "the request timed out";
  const code = cause?.code ?? err.code;
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return "the connection was refused";
  if (code === "ENOTFOUND") return "the host name does not resolve";
  return undefined;
}

/** A client id or secret as client_secret_basic writes it before the base64: form-encoded, with - _ . ! ~ * ' ( ) encoded too. */
function basicAuthEncoded(text: string): string {
  return encodeURIComponent(text).replace(/(?:[-_.!~*'()]|%20)/g, (c) => (c === "%20" ? "+" : `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
}

function describeError(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError) return `the provider answered "${error.error}"${error.error_description ? `: ${error.error_description}` : ""}`;
  if (error instanceof oidc.ResponseBodyError) return `the provider's token endpoint answered "${error.error}"${error.error_description ? `: ${error.error_description}` : ""}`;
  return unreachable(error) ?? ((error as Error).message ?? String(error)).split("\n")[0]!.slice(0, 300);
}

interface Resolved {
  row: IdentityProviderRow;
  settings: ProviderSettings;
  config: oidc.Configuration;
}

export class SsoService {
  private readonly store: Store;
  private readonly secrets: SecretStore;
  private readonly users: UserDirectory;
  private readonly urls: SsoOptions["urls"];
  private readonly events: AuthEvents;
  private readonly now: () => number;
  private readonly timeoutSeconds: number;
  private readonly configs = new Map<string, { key: string; at: number; config: Promise<oidc.Configuration> }>();

  /**
   * The client secrets this service resolved, replaced by [secret:NAME] in what a provider answered before it reaches
   * the auth events, the log or the person: a token endpoint may quote the request it refused, credentials included.
   */
  private readonly redactor = new Redactor([]);

  constructor(options: SsoOptions) {
    this.store = options.store;
    this.secrets = options.secrets;
    this.users = options.users;
    this.urls = options.urls;
    this.now = options.now ?? Date.now;
    this.events = options.events ?? new AuthEvents(options.store, this.now);
    this.timeoutSeconds = options.timeoutSeconds ?? 10;
  }

  /**
   * What went wrong with a provider, in a sentence, with the client secrets it was sent replaced, and `sent`, a
   * credential of this one request (a person's refresh token), too: it is not kept among the long-lived secrets.
   */
  private said(error: unknown, sent?: { name: string; value: string }): string {
    const text = describeError(error);
    if (!sent) return this.redactor.text(text);
    const thisRequest = new Redactor([]);
    thisRequest.addSecret(sent.name, sent.value);
    return this.redactor.text(thisRequest.text(text));
  }

  private info(row: IdentityProviderRow): ProviderInfo {
    const settings = parseSettings(row);
    const kind = row.kind;
    const callbackPath = `/sso/callback/${encodeURIComponent(row.name)}`;
    let callbackUrl: string | null = null;
    try {
      callbackUrl = this.urls?.ssoCallback(row.name) ?? null;
    } catch {
      callbackUrl = null;
    }
    return {
      name: row.name,
      kind,
      label: settings.label || defaultLabel(kind, row.name),
      issuer: row.issuer,
      clientId: row.clientId,
      clientSecretName: row.clientSecretName,
      allowedDomains: settings.allowedDomains,
      groups: groupsDescription(kind, settings),
      groupsClaim: kind === "google" ? null : kind === "entra" ? "groups, roles" : (settings.groupsClaim ?? "groups"),
      assumeEmailVerified: settings.assumeEmailVerified === true,
      tenant: settings.tenant ?? null,
      callbackPath,
      callbackUrl,
      createdAt: new Date(row.createdAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  }

  private row(name: string): IdentityProviderRow {
    const row = this.store.identityProviders.get(name);
    if (!row) throw notFound(`There is no sign-in provider "${name}"; \`mintgate sso list\` shows them.`);
    return row;
  }

  /** For the sign-in page: the providers to offer, by name and label. */
  providers(): { name: string; kind: ProviderKind; label: string }[] {
    return this.store.identityProviders.list().map((row) => {
      const info = this.info(row);
      return { name: info.name, kind: info.kind, label: info.label };
    });
  }

  list(): ProviderInfo[] {
    return this.store.identityProviders.list().map((row) => this.info(row));
  }

  get(name: string): ProviderInfo {
    return this.info(this.row(name));
  }

  /**
   * Checks a new provider, all but its client secret, and returns what `add`
   * stores: the CLI checks before it asks for the secret, so no one types it
   * only to hear that an option is missing or the name is taken.
   */
  checkNew(input: Omit<ProviderInput, "clientSecret">): { name: string; issuer: string; clientId: string; settings: ProviderSettings } {
    const name = input.name?.trim() ?? "";
    if (!name) throw invalid('A provider needs a name: 1–63 lower-case letters, digits and "-", starting with a letter (it becomes part of the callback URL).');
    if (!NAME.test(name)) throw invalid(`"${input.name}" is not a provider name: use 1–63 lower-case letters, digits and "-", starting with a letter (it becomes part of the callback URL).`);
    if (name === "local" || name === "manual") throw invalid(`"${name}" is reserved; choose another provider name.`);
    if (input.kind === undefined) throw invalid(`A provider needs a kind: use ${PROVIDER_KINDS.join(", ")}.`);
    if (!PROVIDER_KINDS.includes(input.kind)) throw invalid(`"${String(input.kind)}" is not a provider kind: use ${PROVIDER_KINDS.join(", ")}.`);
    const issuer = issuerFor(input);
    const clientId = input.clientId?.trim() ?? "";
    if (!clientId || clientId.length > 512) throw invalid("A provider needs --client-id: the client (application) id the provider gave mintgate.");
    const allowedDomains = parseDomains(input.allowedDomains);
    if (input.kind === "google" && allowedDomains.length === 0) {
      throw invalid("A Google provider needs --allowed-domains (your Workspace domains): without it any Google account in the world could sign in.");
    }
    const groupsClaim = input.groupsClaim?.trim();
    if (groupsClaim !== undefined && groupsClaim !== "" && input.kind !== "oidc" && input.kind !== "okta") throw invalid(`--groups-claim applies to okta and oidc providers only.`);
    if (groupsClaim && !/^[A-Za-z0-9_:./-]{1,128}$/.test(groupsClaim)) throw invalid(`"${groupsClaim}" is not a claim name.`);
    if (input.assumeEmailVerified) checkAssumeEmailVerified(input.kind);
    const settings: ProviderSettings = {
      allowedDomains,
      ...(input.assumeEmailVerified ? { assumeEmailVerified: true } : {}),
      ...(input.label?.trim() ? { label: input.label.trim().slice(0, 80) } : {}),
      ...(groupsClaim ? { groupsClaim } : {}),
      ...(input.kind === "okta" ? { domain: input.domain!.trim().toLowerCase(), ...(input.authServer ? { authServer: input.authServer.trim() } : {}) } : {}),
      ...(input.kind === "entra" ? { tenant: input.tenant!.trim().toLowerCase() } : {}),
    };
    this.refuseTakenName(name);
    return { name, issuer, clientId, settings };
  }

  private refuseTakenName(name: string): void {
    if (this.store.identityProviders.get(name)) throw conflict(`A sign-in provider named "${name}" exists already; remove it first or choose another name.`);
  }

  add(input: ProviderInput): ProviderInfo {
    const { name, issuer, clientId, settings } = this.checkNew(input);
    if (!input.clientSecret) throw invalid("A provider needs its client secret on standard input.");
    const now = this.now();
    const clientSecretName = secretNameOf(name);
    this.store.transaction(() => {
      // Again: another may have been added since the check.
      this.refuseTakenName(name);
      this.secrets.set(clientSecretName, input.clientSecret);
      this.store.identityProviders.add({ id: randomUUID(), name, kind: input.kind, issuer, clientId, clientSecretName, settings: JSON.stringify(settings), createdAt: now, updatedAt: now });
    });
    return this.get(name);
  }

  /** Checks a change, all but a new client secret (asked for after it, as in `checkNew`), and returns what `update` stores. */
  checkChange(name: string, patch: Omit<ProviderPatch, "clientSecret">): { row: IdentityProviderRow; settings: ProviderSettings; clientId: string | undefined } {
    const row = this.row(name);
    const settings = parseSettings(row);
    if (patch.allowedDomains !== undefined) {
      settings.allowedDomains = parseDomains(patch.allowedDomains);
      if (row.kind === "google" && settings.allowedDomains.length === 0) throw invalid("A Google provider needs at least one allowed domain.");
    }
    if (patch.groupsClaim !== undefined) {
      if (row.kind !== "oidc" && row.kind !== "okta") throw invalid(`--groups-claim applies to okta and oidc providers only.`);
      if (!/^[A-Za-z0-9_:./-]{1,128}$/.test(patch.groupsClaim)) throw invalid(`"${patch.groupsClaim}" is not a claim name.`);
      settings.groupsClaim = patch.groupsClaim;
    }
    if (patch.assumeEmailVerified !== undefined) {
      if (patch.assumeEmailVerified) {
        checkAssumeEmailVerified(row.kind);
        settings.assumeEmailVerified = true;
      } else delete settings.assumeEmailVerified;
    }
    if (patch.label !== undefined) {
      // An empty label goes back to the default, as in `add`: an empty one would leave a blank button on the sign-in page.
      const label = patch.label.trim().slice(0, 80);
      if (label) settings.label = label;
      else delete settings.label;
    }
    const clientId = patch.clientId?.trim();
    if (clientId !== undefined && (!clientId || clientId.length > 512)) throw invalid("The client id must not be empty.");
    return { row, settings, clientId };
  }

  /** Changes the client id, secret, allowed domains, groups claim or label. */
  update(name: string, patch: ProviderPatch): ProviderInfo {
    const { row, settings, clientId } = this.checkChange(name, patch);
    if (patch.clientSecret !== undefined && !patch.clientSecret) throw invalid("The new client secret must not be empty.");
    const now = this.now();
    this.store.transaction(() => {
      if (patch.clientSecret !== undefined) this.secrets.set(row.clientSecretName, patch.clientSecret);
      this.store.identityProviders.update(name, { ...(clientId ? { clientId } : {}), settings: JSON.stringify(settings), updatedAt: Math.max(now, row.updatedAt + 1) });
      // People of a domain no longer allowed could not sign in now; a browser signed in before must not go on as them.
      const allowed = settings.allowedDomains;
      if (patch.allowedDomains !== undefined && allowed.length > 0) {
        this.endBrowserSignIns(name, now, (email) => !allowed.includes(email.slice(email.lastIndexOf("@") + 1)));
      }
    });
    this.configs.delete(name);
    return this.get(name);
  }

  /**
   * Removes a provider and its client secret. People who signed in through it stay, with their groups from it removed,
   * and their identities move to a name no provider can have ("corp (removed …)"): a subject is unique only within one
   * issuer, so a provider added later under the same name must not sign its subject "1" in as the old provider's "1".
   * Their mintgate sign-ins end at the next refresh, when the removed provider cannot vouch for them; their browser
   * sign-ins end at once (their account counts as changed, in every process), or a browser this provider signed in
   * would go on approving new clients for hours.
   */
  remove(name: string): void {
    const row = this.row(name);
    // Its client secret goes with it: not while a connector borrows that secret.
    const borrowers = this.store.gatewayConfig.connectors().filter((c) => secretsReferencedBy(c.spec).includes(row.clientSecretName));
    if (borrowers.length > 0) {
      const used = borrowers.length === 1 ? `connector "${borrowers[0]!.name}"; remove the reference` : `connectors ${joinedWithAnd(borrowers.map((c) => `"${c.name}"`))}; remove the references`;
      throw conflict(`The provider's client secret "${row.clientSecretName}" is used by ${used} there first.`);
    }
    const now = this.now();
    this.store.transaction(() => {
      this.store.identityProviders.remove(name);
      for (const secret of this.secrets.list()) if (secret.name === row.clientSecretName || secret.name.startsWith(`sso.${name}.refresh.`)) this.secrets.delete(secret.name);
      for (const user of this.users.list()) if (user.groupSources.some((g) => g.source === name)) this.users.replaceProviderGroups(user.id, name, []);
      this.endBrowserSignIns(name, now);
      this.store.users.renameIdentityProvider(name, `${name} (removed ${new Date(now).toISOString()}, ${row.id.slice(0, 8)})`);
    });
    this.configs.delete(name);
  }

  /**
   * Ends the browser sign-ins to mintgate of the people `provider` signs in (those whose email it gave `which` picks):
   * their accounts count as changed, which every process's sessions check (UserDirectory.activeSince).
   */
  private endBrowserSignIns(provider: string, now: number, which: (email: string) => boolean = () => true): void {
    for (const user of this.users.list()) {
      if (user.identities.some((i) => i.provider === provider && which(i.email ?? user.email))) this.store.users.update(user.id, { updatedAt: now });
    }
  }

  /** The provider's OpenID configuration, discovered once an hour (or after a change to the provider). */
  private async resolve(name: string): Promise<Resolved> {
    const row = this.row(name);
    const settings = parseSettings(row);
    const key = `${row.issuer}|${row.clientId}|${row.updatedAt}`;
    const cached = this.configs.get(name);
    if (cached && cached.key === key && this.now() - cached.at < DISCOVERY_CACHE_MS) {
      try {
        return { row, settings, config: await cached.config };
      } catch {
        // A failed discovery is not cached: try again below.
      }
    }
    const config = this.discover(row);
    this.configs.set(name, { key, at: this.now(), config });
    try {
      return { row, settings, config: await config };
    } catch (error) {
      this.configs.delete(name);
      throw new MintgateError("upstream_failed", `The sign-in provider "${name}" cannot be reached (${this.said(error)}); try again in a minute, and if it persists tell your administrator (\`mintgate sso test ${name}\` checks it).`, { cause: error });
    }
  }

  private async discover(row: IdentityProviderRow): Promise<oidc.Configuration> {
    const issuer = new URL(row.issuer);
    const insecure = issuer.protocol === "http:" && isLoopback(issuer);
    const discovered = await oidc.discovery(issuer, row.clientId, undefined, oidc.None(), { timeout: this.timeoutSeconds, ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}) });
    const server = discovered.serverMetadata();
    const methods = server.token_endpoint_auth_methods_supported;
    const secret = this.secrets.resolveSecret(row.clientSecretName);
    this.redactor.addSecret(row.clientSecretName, secret);
    // client_secret_basic sends id:secret, each form-encoded as RFC 6749 says (openid-client also encodes - _ . ! ~ * ' ( )), in base64: an echo of that header holds this.
    this.redactor.addSecret(row.clientSecretName, `${basicAuthEncoded(row.clientId)}:${basicAuthEncoded(secret)}`);
    const auth = methods && !methods.includes("client_secret_basic") && methods.includes("client_secret_post") ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
    const config = new oidc.Configuration(server, row.clientId, { client_secret: secret }, auth);
    if (insecure) oidc.allowInsecureRequests(config);
    // openid-client checks iss, aud, exp and nonce, but an ID token's signature only when asked (at sign-in and refresh).
    oidc.enableNonRepudiationChecks(config);
    config.timeout = this.timeoutSeconds;
    return config;
  }

  private callbackUrl(name: string): string {
    if (!this.urls) throw new MintgateError("config", "The public URL is not known, so no SSO callback URL can be built.");
    return this.urls.ssoCallback(name);
  }

  /** Starts a sign-in: the URL to send the browser to, and what `complete` needs back (keep it server-side). */
  async begin(name: string): Promise<{ url: string; pending: PendingSsoSignIn }> {
    const { row, settings, config } = await this.resolve(name);
    const server = config.serverMetadata();
    if (server.code_challenge_methods_supported && !server.code_challenge_methods_supported.includes("S256")) {
      throw new MintgateError("config", `The sign-in provider "${name}" does not support PKCE with S256, which mintgate requires.`);
    }
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const pending: PendingSsoSignIn = { provider: name, state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier, createdAt: this.now() };
    const scopes = ["openid", "email", "profile"];
    const params: Record<string, string> = {
      redirect_uri: this.callbackUrl(name),
      response_type: "code",
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    };
    if (row.kind === "google") {
      // Google has no offline_access scope; a refresh token comes with access_type=offline on a consent.
      params.access_type = "offline";
      params.prompt = "consent";
      if (settings.allowedDomains.length === 1) params.hd = settings.allowedDomains[0]!;
    } else if (row.kind === "entra" || !server.scopes_supported || server.scopes_supported.includes("offline_access")) {
      scopes.push("offline_access");
    }
    if (row.kind === "okta" && server.scopes_supported?.includes("groups")) scopes.push("groups");
    params.scope = scopes.join(" ");
    return { url: oidc.buildAuthorizationUrl(config, params).href, pending };
  }

  /**
   * Finishes a sign-in from the provider's redirect back to the callback:
   * checks state, exchanges the code, verifies the ID token, applies the
   * provider's rules (domains, hd, tid), and signs the person in.
   */
  async complete(name: string, callbackRequestUrl: URL, pendingValue: unknown, ip?: string | null): Promise<UserRecord> {
    const refuse = (reason: string, message: string, extra: { email?: string | undefined; userId?: string | undefined; detail?: Record<string, unknown> } = {}): never => {
      this.events.record({ type: "sign_in", outcome: "refused", provider: name, ip, reason, email: extra.email, userId: extra.userId, detail: extra.detail });
      throw unauthorized(message);
    };
    const pending = pendingValue as Partial<PendingSsoSignIn> | null | undefined;
    if (!pending || typeof pending !== "object" || pending.provider !== name || typeof pending.state !== "string" || typeof pending.nonce !== "string" || typeof pending.codeVerifier !== "string" || typeof pending.createdAt !== "number") {
      return refuse("no matching sign-in in progress", "This sign-in was not started here or was already used; start again from the sign-in page.");
    }
    if (this.now() - pending.createdAt > PENDING_LIFETIME_MS) return refuse("sign-in took too long", "The sign-in took too long; start again from the sign-in page.");
    // The provider's own refusal (a person not assigned to the app, a cancelled sign-in) needs no discovery to be recorded.
    const providerError = callbackRequestUrl.searchParams.get("error");
    if (providerError) {
      const description = callbackRequestUrl.searchParams.get("error_description")?.slice(0, 300);
      return refuse(
        `provider error: ${providerError}${description ? `: ${description}` : ""}`.slice(0, 400),
        `${this.info(this.row(name)).label} did not sign you in (${providerError}${description ? `: ${description}` : ""}); if you should have access, ask your administrator, then start again from the sign-in page.`,
      );
    }
    let resolved: Resolved;
    try {
      resolved = await this.resolve(name);
    } catch (error) {
      return refuse("provider unreachable", error instanceof MintgateError ? error.message : "The sign-in provider cannot be reached; try again later.");
    }
    const { row, settings, config } = resolved;
    // The code was issued for the public callback URL; the request may have arrived on another address.
    const current = new URL(this.callbackUrl(name));
    current.search = callbackRequestUrl.search;
    if (current.searchParams.get("state") !== pending.state) return refuse("state mismatch", "This sign-in response does not belong to the sign-in you started; start again from the sign-in page.");
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
    } catch (error) {
      const reason = this.said(error);
      log.warn("sso code exchange failed", { provider: name, reason });
      // An outage is not a failed check: say so, or the person would retry at once and blame their account.
      const message = unreachable(error)
        ? `${this.info(row).label} cannot be reached right now (${reason}), so your sign-in could not be finished; try again in a few minutes, and if it persists tell your administrator.`
        : `The sign-in through ${this.info(row).label} could not be verified; start again from the sign-in page.`;
      return refuse(`code exchange or ID token check failed: ${reason}`, message);
    }
    const claims = tokens.claims();
    if (!claims) return refuse("no ID token", `${this.info(row).label} sent no ID token; ask your administrator to check that mintgate's app at ${this.info(row).label} uses OpenID Connect.`);
    const mapped = this.mapClaims(row, settings, claims as Record<string, unknown>);
    if ("refused" in mapped) return refuse(mapped.refused, mapped.message, { email: mapped.email });
    let user: UserRecord;
    try {
      user = this.users.upsertFromProvider({ provider: name, subject: mapped.subject, email: mapped.email, name: mapped.name, groups: mapped.groups, claims: mapped.facts });
    } catch (error) {
      const existing = this.store.users.findIdentity(name, mapped.subject);
      return refuse(error instanceof MintgateError && error.kind === "unauthorized" ? "account disabled" : `could not record the person: ${this.said(error)}`, error instanceof MintgateError ? error.message : "The sign-in could not be recorded; try again.", { email: mapped.email, userId: existing?.userId });
    }
    this.keepRefreshToken(name, user.id, tokens.refresh_token);
    this.events.record({ type: "sign_in", outcome: "ok", provider: name, ip, userId: user.id, email: user.email, detail: { groups: mapped.groups.length, ...mapped.notes } });
    return user;
  }

  private keepRefreshToken(provider: string, userId: string, refreshToken: string | undefined): void {
    if (!refreshToken) return;
    try {
      this.secrets.set(refreshSecretNameOf(provider, userId), refreshToken);
    } catch (error) {
      log.warn("could not keep the provider's refresh token", { provider, error: this.said(error) });
    }
  }

  /** The person's key, email, name and groups from verified ID token claims, or why they are refused. */
  private mapClaims(
    row: IdentityProviderRow,
    settings: ProviderSettings,
    claims: Record<string, unknown>,
  ): { subject: string; email: string; name: string | null; groups: string[]; facts: Record<string, unknown>; notes: Record<string, unknown> } | { refused: string; message: string; email?: string } {
    const label = settings.label || defaultLabel(row.kind, row.name);
    const str = (key: string) => (typeof claims[key] === "string" ? (claims[key] as string) : undefined);
    const facts: Record<string, unknown> = {};
    const notes: Record<string, unknown> = {};
    let subject = str("sub");
    if (!subject) return { refused: "no sub claim", message: `${label} sent no subject for you; ask your administrator to check how mintgate is set up at ${label}.` };
    const sentEmail = str("email") ?? (row.kind === "entra" ? (str("preferred_username") ?? str("upn")) : undefined);
    if (!sentEmail) return { refused: "no email claim", message: `${label} did not share your email address with mintgate; ask your administrator to release the email claim.` };
    const email = canonicalEmail(sentEmail);
    // One @ and no spaces; and no character that becomes plain ASCII in the canonical form (the Kelvin sign K becomes k):
    // emails are kept and compared in that form, so "\u212Aate@…" would become kate@…. An accent sent apart (e + U+0301)
    // is not refused: it is the same letter as é, and becomes it.
    if (sentEmail !== sentEmail.trim() || !/^[^\s@]+@[^\s@]+$/.test(email) || [...sentEmail].some((c) => c > "\x7f" && canonicalEmail(c) <= "\x7f")) {
      const shown = JSON.stringify(sentEmail.slice(0, 80));
      return { refused: `email claim ${shown} is not an email address`, message: `${label} sent ${shown} as your email address, which mintgate cannot use; ask your administrator to check the email claim.` };
    }
    const unvouched = unvouchedEmail(row, settings, claims);
    if (unvouched) {
      const message = unvouched.saidNotVerified
        ? `${label} says your email address ${email} is not verified; verify it at ${label} (or ask your administrator to), then start again.`
        : `${label} did not say whether your email address ${email} is verified, so mintgate cannot use it; ask your administrator to check the provider's email_verified claim.`;
      return { refused: unvouched.reason, message, email };
    }
    let groups: string[] = [];
    if (row.kind === "entra") {
      const tid = str("tid");
      const oid = str("oid");
      if (!tid || !oid) return { refused: "no tid/oid claims", message: `${label} sent no tenant and object id for you; ask your administrator to check how mintgate is set up at ${label}.`, email };
      if (settings.tenant && tid.toLowerCase() !== settings.tenant) return { refused: `wrong tenant ${tid}`, message: `Your account belongs to another Entra tenant than the one this mintgate trusts; sign in with your account in your organisation's tenant, or ask your administrator.`, email };
      subject = `${tid.toLowerCase()}:${oid.toLowerCase()}`;
      facts.tid = tid;
      const claimNames = claims._claim_names as Record<string, unknown> | undefined;
      const overage = (claimNames && typeof claimNames === "object" && "groups" in claimNames) || claims.hasgroups === true;
      const roles = groupsFrom("roles", claims.roles);
      const fromGroups = overage ? { groups: [] as string[] } : groupsFrom("groups", claims.groups);
      if (!("groups" in roles)) return unusableGroups(label, roles, email);
      if (!("groups" in fromGroups)) return unusableGroups(label, fromGroups, email);
      if (overage) {
        facts.groupsOverage = true;
        notes.groupsOverage = "Entra sent a groups overage (too many groups for the token); only the roles claim was used";
      }
      groups = [...fromGroups.groups, ...roles.groups];
    } else if (row.kind === "google") {
      const hd = str("hd")?.toLowerCase();
      if (!hd || !settings.allowedDomains.includes(hd)) {
        return { refused: `hosted domain ${hd ?? "(none)"} not allowed`, message: `Sign in with a Google account of ${settings.allowedDomains.join(" or ")}${hd ? `, not ${hd}` : " (a Workspace account, not a personal one)"}.`, email };
      }
      facts.hd = hd;
      notes.groups = "groups from the Google Directory API are not supported yet";
    } else {
      const claim = settings.groupsClaim ?? "groups";
      const from = groupsFrom(claim, claims[claim]);
      if (!("groups" in from)) return unusableGroups(label, from, email);
      groups = from.groups;
      if (row.kind === "okta" && groups.length >= OKTA_GROUPS_LIMIT) {
        facts.groupsPossiblyTruncated = true;
        notes.groupsPossiblyTruncated = `Okta sent ${groups.length} groups; it truncates the claim at about ${OKTA_GROUPS_LIMIT}`;
      }
    }
    // A group holding a control character or a bidi override (a mis-decoded name, an RTL name with isolates) is stored
    // escaped ("eng\u202e"), neither refused nor dropped: refusing would lock out everyone in it for a name they
    // cannot change, dropping could skip a policy that denies that group; the escaped name is printable on a terminal,
    // the same at every sign-in, and can be named in a policy. The sign-in record says which were escaped.
    const escaped = groups.filter(hasUnprintable);
    if (escaped.length > 0) {
      groups = groups.map(printable);
      notes.groupsEscaped = `${counted(escaped.length, "group name")} held control or bidirectional characters and ${escaped.length > 1 ? "are" : "is"} stored escaped: ${escaped.slice(0, 5).map((g) => `"${printable(g).slice(0, 60)}"`).join(", ")}`;
    }
    if (groups.length > MAX_PROVIDER_GROUPS) {
      return {
        refused: `too many groups (${groups.length})`,
        message: `${label} sent ${groups.length} groups, more than the ${MAX_PROVIDER_GROUPS} mintgate takes; ask your administrator to send mintgate only the groups its policies use (a group filter at the provider), then start again.`,
        email,
      };
    }
    // A group that cannot be stored is refused, not dropped: dropping it could skip a policy that denies that group.
    const unusable = groups.find((group) => !isGroupName(group));
    if (unusable !== undefined) {
      const shown = JSON.stringify(unusable.length > 60 ? `${unusable.slice(0, 60)}…` : unusable);
      return {
        refused: `unusable group name ${shown} (${counted(unusable.length, "character")})`,
        message: `${label} sent a group mintgate cannot use (${shown}: group names must be 1–256 printable characters); ask your administrator to rename that group or leave it out of the groups sent to mintgate, then start again.`,
        email,
      };
    }
    const domain = email.slice(email.lastIndexOf("@") + 1);
    if (settings.allowedDomains.length > 0 && !settings.allowedDomains.includes(domain)) {
      return { refused: `email domain ${domain} not allowed`, message: `Accounts of ${domain} cannot sign in here; this provider accepts ${settings.allowedDomains.join(", ")}.`, email };
    }
    facts.groups = groups;
    const name = str("name") ?? null;
    return { subject, email, name, groups, facts, notes };
  }

  /**
   * Reads a person's groups again from each provider they signed in through,
   * with the refresh token the provider gave at sign-in (kept encrypted in the
   * secret store). Called when mintgate's own refresh token is used.
   */
  async refreshGroups(userId: string): Promise<GroupRefresh[]> {
    const results: GroupRefresh[] = [];
    for (const identity of this.users.identitiesOf(userId)) {
      if (identity.provider === "local") continue;
      const provider = identity.provider;
      const secretName = refreshSecretNameOf(provider, userId);
      if (!this.store.identityProviders.get(provider)) {
        results.push({ ok: false, provider, reason: "the provider was removed", revoked: true });
        continue;
      }
      if (!this.store.secrets.get(secretName)) {
        results.push({ ok: false, provider, reason: "the provider gave no refresh token at sign-in", revoked: false });
        continue;
      }
      let refreshToken: string | undefined;
      try {
        const { row, settings, config } = await this.resolve(provider);
        refreshToken = this.secrets.resolveSecret(secretName);
        const response = await oidc.refreshTokenGrant(config, refreshToken);
        if (response.refresh_token) this.secrets.set(secretName, response.refresh_token);
        const claims = response.claims();
        if (!claims) {
          results.push({ ok: false, provider, reason: "the provider sent no ID token on refresh", revoked: false });
          continue;
        }
        const mapped = this.mapClaims(row, settings, claims as Record<string, unknown>);
        if ("refused" in mapped) {
          this.events.record({ type: "token_refused", outcome: "refused", provider, userId, reason: `group refresh: ${mapped.refused}` });
          results.push({ ok: false, provider, reason: mapped.refused, revoked: true });
          continue;
        }
        if (mapped.subject !== identity.subject) {
          results.push({ ok: false, provider, reason: "the provider answered for another subject", revoked: true });
          continue;
        }
        this.users.replaceProviderGroups(userId, provider, mapped.groups, mapped.facts);
        results.push({ ok: true, provider, groups: mapped.groups });
      } catch (error) {
        const revoked = error instanceof oidc.ResponseBodyError && error.error === "invalid_grant";
        if (revoked) this.secrets.delete(secretName);
        // A token endpoint may quote the request it refused: the person's refresh token is named, never shown.
        results.push({ ok: false, provider, reason: this.said(error, refreshToken ? { name: secretName, value: refreshToken } : undefined), revoked });
      }
    }
    return results;
  }

  /** Runs discovery (not cached) and reports what the provider offers, or why it failed. */
  async test(name: string): Promise<DiscoveryReport> {
    const row = this.row(name);
    const settings = parseSettings(row);
    const discoveryUrl = `${row.issuer}/.well-known/openid-configuration`;
    const report: DiscoveryReport = { ok: false, provider: name, kind: row.kind, issuer: row.issuer, discoveryUrl, warnings: [], groups: groupsDescription(row.kind, settings) };
    let server: oidc.ServerMetadata;
    try {
      this.configs.delete(name);
      server = (await this.discover(row)).serverMetadata();
    } catch (error) {
      report.error = `Discovery at ${discoveryUrl} failed: ${this.said(error)}.`;
      return report;
    }
    report.authorizationEndpoint = server.authorization_endpoint;
    report.tokenEndpoint = server.token_endpoint;
    report.jwksUri = server.jwks_uri;
    report.userinfoEndpoint = server.userinfo_endpoint ?? null;
    report.scopesSupported = server.scopes_supported ?? null;
    report.claimsSupported = server.claims_supported ?? null;
    report.pkceS256 = server.code_challenge_methods_supported ? server.code_challenge_methods_supported.includes("S256") : "not advertised";
    report.offlineAccess = row.kind === "google" || row.kind === "entra" || !server.scopes_supported || server.scopes_supported.includes("offline_access");
    const claim = row.kind === "google" ? undefined : row.kind === "entra" ? "groups" : (settings.groupsClaim ?? "groups");
    report.groupsClaimAdvertised = claim === undefined ? false : server.claims_supported ? server.claims_supported.includes(claim) : "not advertised";
    if (report.pkceS256 === false) report.warnings.push("The provider does not list S256 in code_challenge_methods_supported; sign-in will be refused.");
    if (!server.authorization_endpoint || !server.token_endpoint || !server.jwks_uri) report.warnings.push("The discovery document lacks an authorization, token or JWKS endpoint.");
    if (report.groupsClaimAdvertised === false && claim) report.warnings.push(`The provider does not list the "${claim}" claim; configure it to put groups in the ID token.`);
    if (row.kind === "google") report.warnings.push("Groups from the Google Directory API are not supported yet; Google people get no groups from SSO.");
    if (server.jwks_uri) {
      try {
        const response = await fetch(server.jwks_uri, { signal: AbortSignal.timeout(this.timeoutSeconds * 1000), redirect: "error" });
        const body = (await response.json()) as { keys?: unknown[] };
        report.jwksKeys = Array.isArray(body.keys) ? body.keys.length : 0;
        if (!response.ok || !report.jwksKeys) report.warnings.push(`The JWKS at ${server.jwks_uri} has no keys (HTTP ${response.status}).`);
      } catch (error) {
        report.warnings.push(`The JWKS at ${server.jwks_uri} could not be read: ${this.said(error)}.`);
      }
    }
    report.ok = report.pkceS256 !== false && !!server.authorization_endpoint && !!server.token_endpoint && !!server.jwks_uri && (report.jwksKeys ?? 0) > 0;
    return report;
  }
}
