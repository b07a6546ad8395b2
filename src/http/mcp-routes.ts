import { MissingToken, ownerOf, wireDescription, type AccessTokenService, type Principal } from "../auth/index.ts";
import { MintgateError, publicMessageOf } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { Gateway } from "../gateway/index.ts";
import type { McpEndpoint } from "../gateway/endpoint.ts";
import { readAsked, recordRefusal, refusedRequest, transportRefusal, type VirtualMcpRuntime } from "../gateway/index.ts";
import type { McpEndpointKind, PublicUrls } from "../auth/public-urls.ts";
import { decide } from "../policy/index.ts";
import { jsonError } from "./json-error.ts";
import type { BodyBudget } from "./body-budget.ts";

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

/** Refusals of a body that would take its person, or everyone, past the bytes allowed in flight: sent before the body is read. */
const BUDGET_REFUSAL_HEADERS = { "retry-after": "1", connection: "close" };
const sizeOf = (bytes: number) => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`);

/** The session a request names: Streamable HTTP's header, or the legacy transport's query parameter. */
const sessionIdOf = (request: Request) => request.headers.get("mcp-session-id") ?? new URL(request.url).searchParams.get("sessionId");

/** Reserves a body's `bytes` against its person's budget and everyone's: a refusal when either would go past its limit. */
function reserveBody(budget: BodyBudget, principal: Principal, bytes: number): Response | undefined {
  const refusal = budget.reserve(ownerOf(principal), bytes, principal.subject);
  if (refusal === "person") {
    return jsonError(429, `Too much request data of yours is in flight (over ${sizeOf(budget.perPerson)} in the calls being received or run); wait for your calls to finish, then retry.`, BUDGET_REFUSAL_HEADERS);
  }
  if (refusal === "gateway") return jsonError(503, "The gateway is receiving too much request data from everyone at once; retry in a moment.", BUDGET_REFUSAL_HEADERS);
  return undefined;
}

/**
 * Authenticates a request to one Virtual MCP, then finds it. Without a valid
 * token the answer is 401 whatever the slug, so slugs are not revealed. Its
 * body's `bytes` are then reserved against the person's budget; a request
 * admitted with bytes must give them back (`budget.releaseWhenSettled`).
 */
function admit(deps: McpRouteDeps, budget: BodyBudget, urls: PublicUrls, slug: string, endpoint: McpEndpointKind, request: Request, ip: string | null, bytes: number): { runtime: VirtualMcpRuntime; principal: Principal } | Response | Promise<Response> {
  // Tokens in query strings leak into logs and histories (MCP authorization, token requirements).
  if (request.url.includes("access_token=") && QUERY_TOKEN.test(request.url)) {
    return jsonError(401, QUERY_TOKEN_MESSAGE, challenge(urls, slug, endpoint, { code: "invalid_request", message: QUERY_TOKEN_MESSAGE }));
  }
  let principal: Principal;
  try {
    principal = deps.tokens.verify(request.headers.get("authorization"), slug, ip);
  } catch (error) {
    if (error instanceof MissingToken) return jsonError(401, error.message, challenge(urls, slug, endpoint));
    const message = error instanceof MintgateError ? error.message : publicMessageOf(error);
    // Debug: anyone can send a bad token, as often as they like; the sentence names no part of it.
    log.debug("mcp request refused: token not accepted", { virtualMcp: slug, ip: ip ?? undefined, reason: message });
    return jsonError(401, message, challenge(urls, slug, endpoint, { code: "invalid_token", message }));
  }
  const runtime = deps.gateway.virtualMcp(slug);
  if (!runtime) return unknownVirtualMcp(deps, budget, slug, request, principal, bytes);
  if (ip !== null) principal = { ...principal, ip };
  // Access policy: a person who may not reach this Virtual MCP gets 403 on every request, initialize included.
  const subject = runtime.subjects.subjectOf(principal);
  const reach = decide(subject, { kind: "reach", virtualMcp: slug, policy: runtime.policy });
  if (bytes !== 0) {
    const refused = reserveBody(budget, principal, bytes);
    if (refused) return refused;
  }
  if (!reach.allow) {
    const refused = refuseReach(deps, runtime, principal, subject.userId, request, reach.reason);
    return bytes === 0 ? refused : budget.releaseWhenSettled(refused, ownerOf(principal), bytes);
  }
  return { runtime, principal };
}

/**
 * A request to a slug no Virtual MCP has: 404. One in a session the gateway closed as an admin deleted that Virtual MCP
 * is told so by the endpoint instead, as other closed sessions are; it reads the body, so within the person's budget.
 */
function unknownVirtualMcp(deps: McpRouteDeps, budget: BodyBudget, slug: string, request: Request, principal: Principal, bytes: number): Response | Promise<Response> {
  const answer = deps.endpoint.closedWithItsVirtualMcp(slug, sessionIdOf(request), principal);
  if (!answer) return jsonError(404, `There is no virtual MCP "${slug}".`);
  if (bytes === 0) return answer(request);
  return reserveBody(budget, principal, bytes) ?? budget.releaseWhenSettled(answer(request), ownerOf(principal), bytes);
}

/**
 * 403 with the HTTP layer's JSON error, recorded as a denied request. Before
 * any session exists, HTTP is where SDK clients report it best: their
 * connect fails with "HTTP 403" and our sentence. A 200 with a JSON-RPC
 * error would look connected and then fail; a 401 would start a sign-in loop.
 */
async function refuseReach(deps: McpRouteDeps, runtime: VirtualMcpRuntime, principal: Principal, userId: string | null, request: Request, reason: string): Promise<Response> {
  const { method, params } = await readAsked(request);
  const sessionId = sessionIdOf(request);
  log.debug("mcp request refused: no access", { virtualMcp: runtime.slug, subject: principal.subject, method, reason });
  await recordRefusal(deps.gateway.recorder, refusedRequest(principal, runtime, method, params, { error: reason, sessionId, userId }));
  return jsonError(403, reason);
}

/** `bytes`: the request body's size (declared, or read when it came chunked); 0 without a body. */
export function mcpRoutes(deps: McpRouteDeps, urls: PublicUrls, budget: BodyBudget) {
  return {
    streamable(slug: string, request: Request, ip: string | null, bytes: number): Promise<Response> | Response {
      const admitted = admit(deps, budget, urls, slug, "streamable", request, ip, bytes);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      const answer = deps.endpoint.handleStreamable(admitted.runtime, request, admitted.principal);
      return bytes === 0 ? answer : budget.releaseWhenSettled(answer, ownerOf(admitted.principal), bytes);
    },
    /** A HEAD: authenticated like the GET it stands for, then a 405 (`allow`), since it cannot open that GET's stream. */
    probe(slug: string, endpoint: McpEndpointKind, request: Request, ip: string | null, allow: string): Promise<Response> | Response {
      const admitted = admit(deps, budget, urls, slug, endpoint, request, ip, 0);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      return jsonError(405, `HEAD opens no stream here; use ${allow}.`, { allow });
    },
    openLegacy(slug: string, request: Request, ip: string | null): Promise<Response> | Response {
      const admitted = admit(deps, budget, urls, slug, "legacy", request, ip, 0);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      return deps.endpoint.openLegacy(admitted.runtime, admitted.principal);
    },
    /**
     * A request to an MCP endpoint refused before it was routed, whoever sent it (a body over the limit, never read):
     * `refused` goes out unchanged, recorded first when its token is good for the Virtual MCP. A bad or missing token
     * gets no 401 in its place, and leaves no record of an MCP request.
     */
    refusedUnread(slug: string, request: Request, ip: string | null, refused: Response, reason: string): Promise<Response> | Response {
      let principal: Principal;
      try {
        principal = deps.tokens.verify(request.headers.get("authorization"), slug, ip);
      } catch {
        return refused;
      }
      const runtime = deps.gateway.virtualMcp(slug);
      if (!runtime) return refused;
      if (ip !== null) principal = { ...principal, ip };
      const sessionId = sessionIdOf(request);
      const entry = transportRefusal(principal, runtime, `HTTP ${request.method}`, { status: refused.status, message: reason, sessionId });
      return recordRefusal(deps.gateway.recorder, entry).then(() => refused);
    },
    postLegacy(slug: string, request: Request, ip: string | null, bytes: number): Promise<Response> | Response {
      const admitted = admit(deps, budget, urls, slug, "legacy", request, ip, bytes);
      if (admitted instanceof Response || admitted instanceof Promise) return admitted;
      const answer = deps.endpoint.postLegacy(admitted.runtime, new URL(request.url).searchParams.get("sessionId"), request, admitted.principal);
      return bytes === 0 ? answer : budget.releaseWhenSettled(answer, ownerOf(admitted.principal), bytes);
    },
  };
}
