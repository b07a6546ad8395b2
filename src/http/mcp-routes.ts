import { MissingToken, wireDescription, type AccessTokenService, type Principal } from "../auth/index.ts";
import { isStorageFull, MintgateError, publicMessageOf } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { Gateway } from "../gateway/index.ts";
import type { McpEndpoint } from "../gateway/endpoint.ts";
import { requestWithoutCall, type VirtualMcpRuntime } from "../gateway/index.ts";
import type { McpEndpointKind, PublicUrls } from "../auth/public-urls.ts";
import { decide } from "../policy/index.ts";
import { jsonError } from "./json-error.ts";

export interface McpRouteDeps {
  gateway: Gateway;
  endpoint: McpEndpoint;
  tokens: AccessTokenService;
}

/** A quoted-string for a WWW-Authenticate parameter (control characters, e.g. from a slug, become "?"). */
const quoted = (text: string) => `"${text.replace(/[\u0000-\u001f\u007f]/g, "?").replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

/**
 * The RFC 6750 / RFC 9728 challenge: where the metadata of the endpoint the
 * client was given is (absolute URL) and the baseline scope, plus the error
 * when a token was sent or misplaced.
 */
function challenge(urls: PublicUrls, slug: string, endpoint: McpEndpointKind, error?: { code: string; message: string }): Record<string, string> {
  const base = `Bearer resource_metadata=${quoted(urls.resourceMetadata(slug, endpoint))}, scope="mcp"`;
  return { "www-authenticate": error ? `${base}, error="${error.code}", error_description="${wireDescription(error.message)}"` : base };
}

const QUERY_TOKEN = /[?&]access_token=/;
const QUERY_TOKEN_MESSAGE = "Access tokens in the URL are refused; send `Authorization: Bearer <token>` instead.";

/**
 * Authenticates a request to one Virtual MCP, then finds it. Without a valid
 * token the answer is 401 whatever the slug, so slugs are not revealed.
 */
function admit(deps: McpRouteDeps, urls: PublicUrls, slug: string, endpoint: McpEndpointKind, request: Request, ip: string | null): { runtime: VirtualMcpRuntime; principal: Principal } | Response | Promise<Response> {
  // Tokens in query strings leak into logs and histories (MCP authorization, token requirements).
  if (request.url.includes("access_token=") && QUERY_TOKEN.test(request.url)) {
    return jsonError(401, QUERY_TOKEN_MESSAGE, challenge(urls, slug, endpoint, { code: "invalid_request", message: QUERY_TOKEN_MESSAGE }));
  }
  let principal: Principal;
  try {
    principal = deps.tokens.verify(request.headers.get("authorization"), slug);
  } catch (error) {
    if (error instanceof MissingToken) return jsonError(401, error.message, challenge(urls, slug, endpoint));
    const message = error instanceof MintgateError ? error.message : publicMessageOf(error);
    return jsonError(401, message, challenge(urls, slug, endpoint, { code: "invalid_token", message }));
  }
  const runtime = deps.gateway.virtualMcp(slug);
  if (!runtime) return jsonError(404, `There is no virtual MCP "${slug}".`);
  if (ip !== null) principal = { ...principal, ip };
  // Access policy: a person who may not reach this Virtual MCP gets 403 on every request, initialize included.
  const subject = runtime.subjects.subjectOf(principal);
  const reach = decide(subject, { kind: "reach", virtualMcp: slug, policy: runtime.policy });
  if (!reach.allow) return refuseReach(deps, runtime, principal, subject.userId, request, reach.reason);
  return { runtime, principal };
}

/**
 * 403 with the HTTP layer's JSON error, recorded as a denied request. Before
 * any session exists, HTTP is where SDK clients report it best: their
 * connect fails with "HTTP 403" and our sentence. A 200 with a JSON-RPC
 * error would look connected and then fail; a 401 would start a sign-in loop.
 */
async function refuseReach(deps: McpRouteDeps, runtime: VirtualMcpRuntime, principal: Principal, userId: string | null, request: Request, reason: string): Promise<Response> {
  let method = `HTTP ${request.method}`;
  if (request.method === "POST") {
    try {
      const body = JSON.parse(await request.text()) as { method?: unknown } | { method?: unknown }[];
      const first = Array.isArray(body) ? body[0] : body;
      if (typeof first?.method === "string") method = first.method;
    } catch {
      // not JSON: recorded under the HTTP method
    }
  }
  const sessionId = request.headers.get("mcp-session-id") ?? new URL(request.url).searchParams.get("sessionId");
  const entry = requestWithoutCall(principal, runtime.slug, method, { outcome: "denied", error: reason, sessionId, userId });
  try {
    await deps.gateway.recorder.record(entry);
  } catch (error) {
    // Not recorded: the person is refused all the same. A full disk is said once in the log by the audit trail.
    if (!isStorageFull(error)) log.error("could not record a refused request", { virtualMcp: runtime.slug, error: String(error) });
  }
  return jsonError(403, reason);
}

export function mcpRoutes(deps: McpRouteDeps, urls: PublicUrls) {
  return {
    streamable(slug: string, request: Request, ip: string | null = null): Promise<Response> | Response {
      const admitted = admit(deps, urls, slug, "streamable", request, ip);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      return deps.endpoint.handleStreamable(admitted.runtime, request, admitted.principal);
    },
    openLegacy(slug: string, request: Request, ip: string | null = null): Promise<Response> | Response {
      const admitted = admit(deps, urls, slug, "legacy", request, ip);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      return deps.endpoint.openLegacy(admitted.runtime, admitted.principal);
    },
    postLegacy(slug: string, request: Request, ip: string | null = null): Promise<Response> | Response {
      const admitted = admit(deps, urls, slug, "legacy", request, ip);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      return deps.endpoint.postLegacy(admitted.runtime, new URL(request.url).searchParams.get("sessionId"), request, admitted.principal);
    },
  };
}
