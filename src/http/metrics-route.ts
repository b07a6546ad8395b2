import { EXPOSITION_CONTENT_TYPE, type GatewayMetrics, type MetricsAccess } from "../metrics/index.ts";
import { jsonError } from "./json-error.ts";
import type { OriginPolicy } from "./origin-policy.ts";

/**
 * GET /metrics: the exposition for clients `access` admits, else a JSON 401/403 (404 when metrics are off).
 * The Host is checked like the MCP endpoints': a loopback peer alone does not prove a local scraper.
 */
export function serveMetrics(metrics: GatewayMetrics, access: MetricsAccess, origins: OriginPolicy, request: Request, peer: string | undefined): Response {
  const host = request.headers.get("host");
  const decision = access.decide(request, peer, host === null || origins.isAllowedHost(host));
  if (!decision.allowed) {
    return jsonError(decision.status, decision.message, decision.status === 401 ? { "www-authenticate": 'Bearer realm="mintgate-metrics"' } : {});
  }
  if (request.method !== "GET" && request.method !== "HEAD") return jsonError(405, "/metrics answers GET only.", { allow: "GET, HEAD" });
  return new Response(request.method === "HEAD" ? null : metrics.render(), { headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" } });
}
