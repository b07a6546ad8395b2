/**
 * Who may call from a browser, and under which Host (checklist §8, §11):
 *
 * - Origin: a request to /mcp/*, /sse/* or /messages/* that carries an
 *   Origin not allowed is refused with 403 (MCP 2025-11-25, transports,
 *   security warning). Requests without Origin (native clients, server-side
 *   connectors such as Claude's and ChatGPT's) pass.
 * - Host: a DNS-rebinding page reaches the gateway under the attacker's host
 *   name, so on the same routes the Host must be the public host, the listen
 *   host, `localhost`, an IP address (a rebinding attack always carries a
 *   DNS name) or one of --allowed-hosts.
 * - CORS: discovery documents, /register, /token and /revoke answer any
 *   origin with `*` (they use no cookies: PKCE and client authentication
 *   protect them); /mcp/* echoes allowed origins only. OPTIONS is answered
 *   with 204 before authentication. /authorize gets no CORS (it is a
 *   top-level navigation).
 */
import { isIP } from "node:net";
import type { PublicUrls } from "../auth/public-urls.ts";
import { jsonError } from "./json-error.ts";

/**
 * Browser origins allowed by default, beside the gateway's own:
 * - https://claude.ai: Claude's web app (connectors are brokered server-side
 *   today, but browser-side probes carry this Origin);
 * - https://chatgpt.com: ChatGPT connectors; the checklist (§10, ChatGPT)
 *   records CORS for this origin as needed;
 * - http://localhost:6274 and http://127.0.0.1:6274: the MCP Inspector's
 *   web UI, which calls the server from the browser in direct mode.
 */
export const DEFAULT_ALLOWED_ORIGINS = ["https://claude.ai", "https://chatgpt.com", "http://localhost:6274", "http://127.0.0.1:6274"];

export const CORS_ALLOW_HEADERS = "Authorization, Content-Type, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID, Mcp-Method, Mcp-Name";
export const CORS_EXPOSE_HEADERS = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version";
export const CORS_ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
const PREFLIGHT_MAX_AGE = "600";

/** Paths (exact or prefix) of the public OAuth endpoints that get `Access-Control-Allow-Origin: *`. */
const OPEN_CORS_EXACT = new Set(["/register", "/token", "/revoke"]);
const OPEN_CORS_PREFIXES = ["/.well-known/oauth-protected-resource", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"];

/** The path of an absolute request URL, without re-parsing it. */
export function pathOf(url: string): string {
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  if (pathStart === -1) return "/";
  const queryStart = url.indexOf("?", pathStart);
  return queryStart === -1 ? url.slice(pathStart) : url.slice(pathStart, queryStart);
}

/** Lower-case origin of a URL, or undefined. */
function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.origin === "null" ? undefined : parsed.origin;
  } catch {
    return undefined;
  }
}

/** The host name of a Host header value, without port or IPv6 brackets, lower-case. */
function hostnameOf(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(1, value.indexOf("]"));
  const colon = value.lastIndexOf(":");
  return colon === -1 ? value : value.slice(0, colon);
}

export interface OriginPolicyOptions {
  urls: PublicUrls;
  /** Extra allowed browser origins (--allowed-origins), beside DEFAULT_ALLOWED_ORIGINS and the gateway's own. */
  allowedOrigins?: readonly string[];
  /** Extra allowed Host names (--allowed-hosts), e.g. the name a reverse proxy uses. */
  allowedHosts?: readonly string[];
}

export class OriginPolicy {
  private readonly configuredOrigins: Set<string>;
  private readonly configuredHosts: Set<string>;
  private listenOrigin: string | undefined;
  /** Filled lazily: the public URL is only known once the server listens. */
  private allowedOrigins: Set<string> | undefined;
  private allowedHosts: Set<string> | undefined;
  /** Host header values already found allowed: the per-request check is then one set lookup. */
  private readonly knownGoodHosts = new Set<string>();

  constructor(private readonly options: OriginPolicyOptions) {
    this.configuredOrigins = new Set([...DEFAULT_ALLOWED_ORIGINS, ...(options.allowedOrigins ?? [])].map((o) => originOf(o) ?? o));
    this.configuredHosts = new Set((options.allowedHosts ?? []).map((h) => hostnameOf(h)));
  }

  /** The address the server listens on (known after start). */
  setListenUrl(url: string): void {
    this.listenOrigin = originOf(url);
    this.allowedOrigins = undefined;
    this.allowedHosts = undefined;
    this.knownGoodHosts.clear();
  }

  private origins(): Set<string> {
    if (!this.allowedOrigins) {
      const set = new Set(this.configuredOrigins);
      set.add(this.options.urls.issuer);
      if (this.listenOrigin) set.add(this.listenOrigin);
      this.allowedOrigins = set;
    }
    return this.allowedOrigins;
  }

  private hosts(): Set<string> {
    if (!this.allowedHosts) {
      const set = new Set(this.configuredHosts);
      set.add("localhost");
      set.add(new URL(this.options.urls.issuer).hostname.replace(/^\[|\]$/g, ""));
      if (this.listenOrigin) set.add(new URL(this.listenOrigin).hostname.replace(/^\[|\]$/g, ""));
      this.allowedHosts = set;
    }
    return this.allowedHosts;
  }

  isAllowedOrigin(origin: string): boolean {
    return this.origins().has(origin.toLowerCase());
  }

  isAllowedHost(host: string): boolean {
    if (this.knownGoodHosts.has(host)) return true;
    const name = hostnameOf(host);
    const allowed = isIP(name) !== 0 || this.hosts().has(name);
    if (allowed && this.knownGoodHosts.size < 256) this.knownGoodHosts.add(host);
    return allowed;
  }

  /**
   * The check for /mcp/*, /sse/* and /messages/*: a 403 when the Host or a
   * present Origin is not allowed, else undefined. Two header lookups when
   * there is no Origin.
   */
  checkMcpRequest(request: Request): Response | undefined {
    const host = request.headers.get("host");
    if (host !== null && !this.isAllowedHost(host)) {
      return jsonError(403, `The Host "${host}" is not this gateway's; use the public URL (--public-url), or add the name to --allowed-hosts if a proxy sends it.`);
    }
    const origin = request.headers.get("origin");
    if (origin !== null && !this.isAllowedOrigin(origin)) {
      return jsonError(403, `Requests from the web origin ${origin} are not allowed; an admin can add it with --allowed-origins.`);
    }
    return undefined;
  }

  /** Whether a path gets the open (`*`) CORS headers. */
  isOpenCorsPath(path: string): boolean {
    return OPEN_CORS_EXACT.has(path) || OPEN_CORS_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));
  }

  /** The answer to an OPTIONS preflight on a CORS path (open or MCP); undefined for other paths. */
  preflight(request: Request, path: string, isMcp: boolean): Response | undefined {
    if (!isMcp && !this.isOpenCorsPath(path)) return undefined;
    const origin = request.headers.get("origin");
    const headers: Record<string, string> = {
      "access-control-allow-methods": CORS_ALLOW_METHODS,
      "access-control-allow-headers": CORS_ALLOW_HEADERS,
      "access-control-max-age": PREFLIGHT_MAX_AGE,
      vary: "Origin",
    };
    if (isMcp) {
      const refused = this.checkMcpRequest(request);
      if (refused) return refused;
      if (origin !== null) headers["access-control-allow-origin"] = origin;
    } else {
      headers["access-control-allow-origin"] = "*";
    }
    return new Response(null, { status: 204, headers });
  }

  /** Adds CORS headers to a response from an open CORS path or (with an allowed Origin) an MCP route. */
  withCors(response: Response, allowOrigin: string): Response {
    // Set on its own headers, as every reply's are (src/http/response-headers.ts): Bun's are mutable on every Response.
    response.headers.set("access-control-allow-origin", allowOrigin);
    response.headers.set("access-control-expose-headers", CORS_EXPOSE_HEADERS);
    if (allowOrigin !== "*") response.headers.append("vary", "Origin");
    return response;
  }
}
