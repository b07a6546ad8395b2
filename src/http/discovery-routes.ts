/**
 * Discovery documents and client registration (checklist §2–4, rules 1–13):
 *
 * - RFC 8414 authorization server metadata at /.well-known/oauth-authorization-server
 *   and /.well-known/openid-configuration (the same JSON; also under any path
 *   suffix, for clients that insert the MCP path);
 * - RFC 9728 protected resource metadata per Virtual MCP at
 *   /.well-known/oauth-protected-resource/mcp/<slug> (and, for clients given
 *   its legacy HTTP+SSE URL, /.well-known/oauth-protected-resource/sse/<slug>,
 *   whose `resource` is that URL), and at the root
 *   /.well-known/oauth-protected-resource when it is unambiguous (exactly one
 *   Virtual MCP); with several, the root answers a JSON 404 naming the
 *   per-slug URLs, because its `resource` would have to be byte-equal to one
 *   URL the user typed and the gateway cannot know which;
 * - POST /register (RFC 7591), open and rate-limited.
 *
 * Every answer is JSON, errors included.
 */
import { Elysia } from "elysia";
import type { ClientRegistry } from "../auth/clients/index.ts";
import type { McpEndpointKind, PublicUrls } from "../auth/public-urls.ts";
import { jsonError } from "./json-error.ts";
import { clientAddressOf } from "./client-address.ts";

export interface DiscoveryDeps {
  urls: PublicUrls;
  clients: ClientRegistry;
  /** The Virtual MCPs served now: slug and display name. */
  virtualMcps: () => { slug: string; name: string }[];
}

export const SCOPES_SUPPORTED = ["mcp", "offline_access"];
export const TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic", "private_key_jwt"];
/** Signing algorithms accepted in private_key_jwt client assertions. */
export const ASSERTION_SIGNING_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

const PRM_PREFIX = "/.well-known/oauth-protected-resource";
const METADATA_HEADERS = { "cache-control": "public, max-age=300" };

/** RFC 8414 authorization server metadata; `issuer` is the bare public origin. */
export function authorizationServerMetadata(urls: PublicUrls): Record<string, unknown> {
  const issuer = urls.issuer;
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    revocation_endpoint: `${issuer}/revoke`,
    response_types_supported: ["code"],
    response_modes_supported: ["query"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_SIGNING_ALGS,
    revocation_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_SIGNING_ALGS,
    client_id_metadata_document_supported: true,
    scopes_supported: SCOPES_SUPPORTED,
    authorization_response_iss_parameter_supported: true,
  };
}

/** RFC 9728 protected resource metadata of one Virtual MCP endpoint; `resource` is byte-equal to its public URL. */
export function protectedResourceMetadata(urls: PublicUrls, slug: string, name: string, endpoint: McpEndpointKind = "streamable"): Record<string, unknown> {
  return {
    resource: endpoint === "legacy" ? urls.legacyResource(slug) : urls.resource(slug),
    authorization_servers: [urls.issuer],
    scopes_supported: ["mcp"],
    bearer_methods_supported: ["header"],
    resource_name: name,
  };
}

/** The Virtual MCP endpoint a path-suffixed PRM URL names (`/.well-known/oauth-protected-resource/{mcp,sse}/<slug>`, after any base path). */
function endpointOfPrmPath(urls: PublicUrls, path: string, known: { slug: string; name: string }[]): { slug: string; name: string; endpoint: McpEndpointKind } | undefined {
  // A client given `/mcp/<slug>/` (the endpoint takes a trailing slash too) may derive the metadata URL with it.
  if (path.endsWith("/")) path = path.slice(0, -1);
  const match = /\/(mcp|sse)\/([^/]+)$/.exec(path);
  if (!match) return undefined;
  let slug: string;
  try {
    slug = decodeURIComponent(match[2]!);
  } catch {
    return undefined;
  }
  const vmcp = known.find((v) => v.slug === slug);
  if (!vmcp) return undefined;
  const endpoint: McpEndpointKind = match[1] === "sse" ? "legacy" : "streamable";
  // With a base path in --public-url, the path must carry it too.
  return new URL(urls.resourceMetadata(slug, endpoint)).pathname === path ? { ...vmcp, endpoint } : undefined;
}

export function discoveryRoutes(deps: DiscoveryDeps) {
  const { urls } = deps;
  const asMetadata = () => Response.json(authorizationServerMetadata(urls), { headers: METADATA_HEADERS });
  const prm = (path: string) => {
    const known = deps.virtualMcps();
    if (path === PRM_PREFIX || path === `${PRM_PREFIX}/`) {
      if (known.length === 1) return Response.json(protectedResourceMetadata(urls, known[0]!.slug, known[0]!.name), { headers: METADATA_HEADERS });
      return jsonError(
        404,
        known.length === 0
          ? "This gateway serves no virtual MCP yet, so it has no protected resource."
          : `This gateway serves several virtual MCPs; each has its metadata at ${urls.at(PRM_PREFIX)}/mcp/<slug> (the 401 from /mcp/<slug> names it).`,
      );
    }
    const vmcp = endpointOfPrmPath(urls, path, known);
    if (!vmcp) return jsonError(404, `There is no virtual MCP at ${path.slice(PRM_PREFIX.length) || "/"}; its metadata would be at ${urls.at(PRM_PREFIX)}/mcp/<slug>.`);
    return Response.json(protectedResourceMetadata(urls, vmcp.slug, vmcp.name, vmcp.endpoint), { headers: METADATA_HEADERS });
  };
  return new Elysia({ name: "discovery" })
    .get("/.well-known/oauth-authorization-server", asMetadata)
    .get("/.well-known/oauth-authorization-server/*", asMetadata)
    .get("/.well-known/openid-configuration", asMetadata)
    .get("/.well-known/openid-configuration/*", asMetadata)
    .get(PRM_PREFIX, ({ request }) => prm(new URL(request.url).pathname))
    .get(`${PRM_PREFIX}/*`, ({ request }) => prm(new URL(request.url).pathname))
    .post(
      "/register",
      async ({ request }) => {
        let body: unknown;
        try {
          body = JSON.parse(await request.text());
        } catch {
          return Response.json(
            { error: "invalid_client_metadata", error_description: "The registration request must be a JSON object (Content-Type: application/json)." },
            { status: 400, headers: { "cache-control": "no-store" } },
          );
        }
        const answer = await deps.clients.register(body, clientAddressOf(request) ?? "unknown");
        return Response.json(answer.body, { status: answer.status, headers: answer.headers ?? {} });
      },
      { parse: "none" },
    );
}
