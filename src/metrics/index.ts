import type { Gateway } from "../gateway/index.ts";
import { VERSION } from "../version.ts";
import { GatewayMetrics, type ObservedRequest } from "./gateway-metrics.ts";

export { isLoopbackAddress, MetricsAccess, MIN_METRICS_TOKEN_LENGTH, type MetricsMode } from "./access.ts";
export { CONNECTOR_STATES, EXPOSITION_CONTENT_TYPE, GatewayMetrics, LATENCY_BUCKETS, OUTCOMES, UNKNOWN, type MetricsSources, type ObservedRequest } from "./gateway-metrics.ts";

/** The audit log as metrics see it: a stream of request records and a queue of uncommitted ones. */
export interface RecordStream {
  onRecord(listener: (entry: ObservedRequest) => void): void;
  readonly pendingCount: number;
}

/**
 * The running gateway's metrics: requests are counted from the audit log's
 * record stream (every MCP request passes through it with its method,
 * outcome and duration), gauges are read from the gateway when scraped.
 */
export function createGatewayMetrics(gateway: Gateway, records: RecordStream, startedAt: number): GatewayMetrics {
  const metrics = new GatewayMetrics(
    {
      connectors: () => gateway.pool.list(),
      sessions: () => gateway.virtualMcps().map((runtime) => [runtime.slug, runtime.sessions.size] as const),
      auditQueueDepth: () => records.pendingCount,
      isVirtualMcp: (slug) => gateway.virtualMcp(slug) !== undefined,
    },
    { version: VERSION, startTimeSeconds: startedAt / 1000 },
  );
  records.onRecord((entry) => metrics.observe(entry));
  return metrics;
}
