import { EXPOSITION_CONTENT_TYPE, type GatewayMetrics, type MetricsAccess } from "../metrics/index.ts";
import { jsonError } from "./json-error.ts";

/** GET /metrics: the exposition for clients `access` admits, else a JSON 401/403 (404 when metrics are off). */
export function serveMetrics(metrics: GatewayMetrics, access: MetricsAccess, request: Request, peer: string | undefined): Response {
  const decision = access.decide(request, peer);
  if (!decision.allowed) {
    return jsonError(decision.status, decision.message, decision.status === 401 ? { "www-authenticate": 'Bearer realm="mintgate-metrics"' } : {});
  }
  if (request.method !== "GET" && request.method !== "HEAD") return jsonError(405, "/metrics answers GET only.", { allow: "GET, HEAD" });
  return new Response(request.method === "HEAD" ? null : metrics.render(), { headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" } });
}
