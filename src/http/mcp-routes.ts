import { MissingToken, type AccessTokenService, type Principal } from "../auth/index.ts";
import { MintgateError, publicMessageOf } from "../errors/index.ts";
import type { Gateway } from "../gateway/index.ts";
import type { McpEndpoint } from "../gateway/endpoint.ts";
import type { VirtualMcpRuntime } from "../gateway/index.ts";
import { jsonError } from "./json-error.ts";

export interface McpRouteDeps {
  gateway: Gateway;
  endpoint: McpEndpoint;
  tokens: AccessTokenService;
}

/** A quoted-string for a WWW-Authenticate parameter (control characters, e.g. from a slug, become "?"). */
const quoted = (text: string) => `"${text.replace(/[\u0000-\u001f\u007f]/g, "?").replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

/**
 * Authenticates a request to one Virtual MCP, then finds it. Without a valid
 * token the answer is 401 whatever the slug, so slugs are not revealed.
 */
function admit(deps: McpRouteDeps, slug: string, request: Request): { runtime: VirtualMcpRuntime; principal: Principal } | Response {
  let principal: Principal;
  try {
    principal = deps.tokens.verify(request.headers.get("authorization"), slug);
  } catch (error) {
    if (error instanceof MissingToken) {
      return jsonError(401, error.message, { "www-authenticate": 'Bearer realm="mintgate"' });
    }
    const message = error instanceof MintgateError ? error.message : publicMessageOf(error);
    return jsonError(401, message, { "www-authenticate": `Bearer realm="mintgate", error="invalid_token", error_description=${quoted(message)}` });
  }
  const runtime = deps.gateway.virtualMcp(slug);
  if (!runtime) return jsonError(404, `There is no virtual MCP "${slug}".`);
  return { runtime, principal };
}

export function mcpRoutes(deps: McpRouteDeps) {
  return {
    streamable(slug: string, request: Request): Promise<Response> | Response {
      const admitted = admit(deps, slug, request);
      if (admitted instanceof Response) return admitted;
      return deps.endpoint.handleStreamable(admitted.runtime, request, admitted.principal);
    },
    openLegacy(slug: string, request: Request): Promise<Response> | Response {
      const admitted = admit(deps, slug, request);
      if (admitted instanceof Response) return admitted;
      return deps.endpoint.openLegacy(admitted.runtime, admitted.principal);
    },
    postLegacy(slug: string, request: Request): Promise<Response> | Response {
      const admitted = admit(deps, slug, request);
      if (admitted instanceof Response) return admitted;
      return deps.endpoint.postLegacy(admitted.runtime, new URL(request.url).searchParams.get("sessionId"), request, admitted.principal);
    },
  };
}
