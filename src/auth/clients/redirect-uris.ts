/**
 * Redirect URIs: which shapes may be registered, and whether the one an
 * authorization request names is one the client registered (checklist §4, §11).
 *
 * Matching is exact string equality, with two exceptions:
 * - a registered loopback URI (http://127.0.0.1, http://[::1], http://localhost)
 *   matches the same URI with any port (RFC 8252 §7.3; VS Code and Claude Code
 *   pick a port at run time);
 * - prefixes the client carries (the pinned ChatGPT client: one callback per
 *   connector under https://chatgpt.com/connector/oauth/).
 */

export const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Private-use schemes allowed by default: Cursor's `cursor://anysphere.cursor-mcp/oauth/callback`. */
export const DEFAULT_PRIVATE_USE_SCHEMES = ["cursor"];

const MAX_URI_LENGTH = 2000;

/** Why a redirect URI may not be registered, or undefined when it may. */
export function redirectUriProblem(uri: unknown, privateUseSchemes: readonly string[]): string | undefined {
  if (typeof uri !== "string" || uri === "") return "a redirect URI must be a non-empty string";
  if (uri.length > MAX_URI_LENGTH) return `a redirect URI may be at most ${MAX_URI_LENGTH} characters`;
  if (/[\u0000-\u0020\u007f\\]/.test(uri)) return `the redirect URI ${JSON.stringify(uri)} contains spaces, control characters or backslashes`;
  if (uri.includes("#")) return `the redirect URI ${uri} has a fragment`;
  if (uri.includes("*")) return `the redirect URI ${uri} has a wildcard`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${JSON.stringify(uri)} is not an absolute URI`;
  }
  if (url.username || url.password) return `the redirect URI ${uri} carries a user name or password`;
  const scheme = url.protocol.slice(0, -1);
  if (scheme === "https") {
    if (!url.hostname) return `the redirect URI ${uri} has no host`;
    return undefined;
  }
  if (scheme === "http") {
    if (LOOPBACK_HOSTS.has(url.hostname)) return undefined;
    return `the redirect URI ${uri} uses http on a host other than 127.0.0.1, [::1] or localhost; use https`;
  }
  if (privateUseSchemes.includes(scheme)) return undefined;
  return `the redirect URI scheme "${scheme}:" is not allowed (https, http on loopback${privateUseSchemes.length ? `, or ${privateUseSchemes.map((s) => `${s}:`).join(", ")}` : ""})`;
}

function parse(uri: string): URL | undefined {
  try {
    return new URL(uri);
  } catch {
    return undefined;
  }
}

/**
 * A URI given in a request is only ever compared in its canonical form: what a browser would go to is what was checked.
 * An empty path is the canonical "/" (RFC 3986 §6.2.3): VS Code 1.102 and 1.103 send `http://127.0.0.1:PORT`.
 */
function canonical(uri: string): URL | undefined {
  if (uri.includes("#") || /[\u0000-\u0020\u007f\\]/.test(uri)) return undefined;
  const url = parse(uri);
  if (!url || url.username || url.password || (url.href !== uri && url.href !== `${uri}/`)) return undefined;
  return url;
}

const isLoopback = (url: URL) => url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);

/**
 * Whether `uri` is one of `registered` (exact), a loopback one with another
 * port, or a single path segment under one of `prefixes`.
 */
export function matchRedirectUri(registered: readonly string[], uri: string, prefixes: readonly string[] = []): boolean {
  if (typeof uri !== "string" || uri === "") return false;
  if (registered.includes(uri)) return !uri.includes("#");
  const candidate = canonical(uri);
  if (!candidate) return false;
  if (isLoopback(candidate)) {
    for (const entry of registered) {
      const url = parse(entry);
      if (!url || !isLoopback(url)) continue;
      // Same host name, path and query; only the port may differ.
      if (url.hostname === candidate.hostname && url.pathname === candidate.pathname && url.search === candidate.search) return true;
    }
    return false;
  }
  for (const prefix of prefixes) {
    if (!uri.startsWith(prefix) || candidate.search !== "") continue;
    if (/^[A-Za-z0-9_-]{1,200}$/.test(uri.slice(prefix.length))) return true;
  }
  return false;
}
