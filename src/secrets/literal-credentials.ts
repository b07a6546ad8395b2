import { SECRET_REFERENCE } from "./references.ts";

/**
 * Literal credentials in a connector's env and headers. Configuration holds secrets only as
 * `${secret:NAME}` references: a literal would be stored in plain text in the config tables,
 * printed by `export`, returned by the admin API and shown in the TUI.
 */

/** A key's words: `X-Api-Key` → x, api, key; `accessToken` → access, token; `GITHUB_TOKEN` → github, token; `DBPassword` → db, password. */
export function wordsOf(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    // An acronym ends where its last capital starts a word: `APIToken` is API and Token, not one word `apitoken`.
    .replace(/([A-Z])([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * The last words that make an env or header name a credential's: `API_KEY`, `X-Api-Key`, `GITHUB_TOKEN`,
 * `CLIENT_SECRET`, `DB_PASSWORD`, `Authorization`, `Proxy-Authorization`, `Cookie`. Only the last word counts,
 * so `TOKEN_FILE`, `GITHUB_TOKEN_URL`, `KEY_ID` and `AUTH_MODE` name settings. `pwd` is left out: `PWD` is the
 * working directory.
 */
export const CREDENTIAL_WORDS: ReadonlySet<string> = new Set([
  "key",
  "apikey",
  "token",
  "secret",
  "password",
  "passwd",
  "passphrase",
  "authorization",
  "cookie",
  "credential",
  "credentials",
]);

/** Literal text this long (non-space characters) in a credential's value is taken for the credential itself; `true` or `1` is not. */
const LITERAL_CREDENTIAL_LENGTH = 8;

/** An auth scheme that may precede the reference, as in `Bearer ${secret:NAME}`. */
const AUTH_SCHEME = /^(bearer|basic|token|bot)(?=\s|$)/i;

/** True when an env or header name says its value is a credential. */
export function isCredentialName(name: string): boolean {
  const last = wordsOf(name).at(-1);
  return last !== undefined && CREDENTIAL_WORDS.has(last);
}

/**
 * Whether a credential's value holds the credential itself rather than `${secret:NAME}` references: undefined when
 * it does not; otherwise the auth scheme it starts with, if any (`Bearer`), for the reference that should replace it.
 */
export function literalCredentialIn(value: string): { scheme: string | undefined } | undefined {
  const rest = value.replace(SECRET_REFERENCE, "").trim();
  const scheme = AUTH_SCHEME.exec(rest)?.[0];
  const literal = (scheme === undefined ? rest : rest.slice(scheme.length)).replace(/\s+/g, "");
  return literal.length >= LITERAL_CREDENTIAL_LENGTH ? { scheme } : undefined;
}

/**
 * A url's user name and password (`https://user:pass@host/mcp`) are a literal credential too, and no
 * `${secret:NAME}` may stand in a url (it is sent as written): they belong in an Authorization header.
 */
export function urlHoldsCredentials(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.username !== "" || url.password !== "";
}

/** What to do instead of a user name or password in a connector's url; the end of a sentence saying it holds one. */
export const URL_CREDENTIALS_ADVICE =
  'remove them from the url, store base64 of "user:password" with `mintgate secrets set NAME` and add the header Authorization: "Basic ${secret:NAME}"';
