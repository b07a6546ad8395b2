import { EXPOSITION_CONTENT_TYPE, familyHeader, formatValue, HistogramSeries, labelText, Series, writeSeries } from "./exposition.ts";

export { EXPOSITION_CONTENT_TYPE };

/** The outcomes a request can have, in label order; anything else counts as "error". */
export const OUTCOMES = ["ok", "error", "denied", "timeout", "cancelled"] as const;
export type RequestOutcome = (typeof OUTCOMES)[number];
const OUTCOME_INDEX: Record<string, number> = { ok: 0, error: 1, denied: 2, timeout: 3, cancelled: 4 };

/**
 * The MCP methods that get their own label value; any other method a client
 * sends is counted as "other", so clients cannot create series at will.
 */
const KNOWN_METHODS = new Set([
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
  "logging/setLevel",
  "server/discover",
  "subscriptions/listen",
  // Requests an upstream made during a call, passed to the caller's client (each recorded as one).
  "elicitation/create",
  "sampling/createMessage",
]);

/** Tool-call latency buckets in seconds: 1 ms to 60 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** Label value for requests that name no Virtual MCP or tool the gateway knows. */
export const UNKNOWN = "(unknown)";

/** What one governed MCP request left behind (the fields of its audit record that metrics read). */
export interface ObservedRequest {
  virtualMcp: string;
  connector: string | null;
  method: string;
  exposedName: string;
  outcome: string;
  durationMs: number | null;
}

/** What the gauges read when scraped. */
export interface MetricsSources {
  connectors(): Iterable<{ name: string; state: { status: string }; restarts: number }>;
  /** Open client sessions per Virtual MCP (every configured one, zero included). */
  sessions(): Iterable<readonly [virtualMcp: string, count: number]>;
  /** Audit records handed to the audit log and not yet committed. */
  auditQueueDepth(): number;
  /** True for the slug of a configured Virtual MCP (HTTP requests to other slugs share one label value). */
  isVirtualMcp(slug: string): boolean;
}

export const CONNECTOR_STATES = ["starting", "ready", "failed", "stopped"] as const;

/** Per Virtual MCP: every series resolved once, keyed by what a request carries. */
interface VirtualMcpSeries {
  /** HTTP responses by status class: index 0 is 1xx … 4 is 5xx. */
  http: Series[];
  /** MCP requests by method, then outcome index. */
  methods: Map<string, Series[]>;
  /** Tool calls by connector ("" when none was reached), exposed name, then outcome index: a tool that moves to another connector gets series of its own. */
  tools: Map<string, Map<string, Series[]>>;
  latency: HistogramSeries;
}

const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

/**
 * mintgate's metrics. Counting (`observe`, `countHttpResponse`) is a couple
 * of map lookups and an increment; label text is built once per series.
 * Gauges are read from `sources` when scraped.
 */
export class GatewayMetrics {
  private readonly byVirtualMcp = new Map<string, VirtualMcpSeries>();
  /** Request-body bytes reserved on the MCP endpoints now; the HTTP server, which holds that budget, names it (`readRequestBodiesFrom`). */
  private requestBodyBytes: () => number = () => 0;

  constructor(
    private readonly sources: MetricsSources,
    private readonly info: { version: string; startTimeSeconds: number },
  ) {}

  /** Where the `mintgate_request_body_bytes_in_flight` gauge is read: the HTTP server's body budget (src/http/body-budget.ts). */
  readRequestBodiesFrom(bytesInFlight: () => number): void {
    this.requestBodyBytes = bytesInFlight;
  }

  /** Counts one MCP request from its record (every request kind; tool calls also by tool and latency). */
  observe(request: ObservedRequest): void {
    const series = this.byVirtualMcp.get(request.virtualMcp) ?? this.add(request.virtualMcp);
    const outcome = OUTCOME_INDEX[request.outcome] ?? 1;
    const byOutcome = series.methods.get(request.method) ?? this.addMethod(series, request.virtualMcp, request.method);
    byOutcome[outcome]!.value++;
    if (request.method !== "tools/call") return;
    const tool = request.connector === null ? UNKNOWN : request.exposedName;
    const ofConnector = series.tools.get(request.connector ?? "");
    (ofConnector?.get(tool) ?? this.addTool(series, request.virtualMcp, tool, request.connector))[outcome]!.value++;
    // Denied calls never reach a connector, nor do those refused for their form (no duration): their time would only flatter the latency.
    if (outcome !== 2 && request.durationMs !== null) series.latency.observe(request.durationMs / 1000);
  }

  /** Counts one HTTP response from /mcp/<slug>, /sse/<slug> or /messages/<slug>. */
  countHttpResponse(slug: string, status: number): void {
    const key = this.byVirtualMcp.has(slug) || this.sources.isVirtualMcp(slug) ? slug : UNKNOWN;
    const series = this.byVirtualMcp.get(key) ?? this.add(key);
    const index = Math.floor(status / 100) - 1;
    series.http[index < 0 || index > 4 ? 4 : index]!.value++;
  }

  /** The whole exposition, as served at /metrics. */
  render(): string {
    const all = [...this.byVirtualMcp.values()];
    let out = "";

    out += familyHeader("mintgate_http_requests_total", "counter", "HTTP requests to the MCP endpoints (/mcp, /sse, /messages) by Virtual MCP and status class.");
    for (const s of all) out += writeSeries("mintgate_http_requests_total", s.http.filter((h) => h.value > 0));

    out += familyHeader("mintgate_mcp_requests_total", "counter", "MCP requests (JSON-RPC) by Virtual MCP, method and outcome.");
    for (const s of all) for (const byOutcome of s.methods.values()) out += writeSeries("mintgate_mcp_requests_total", byOutcome);

    out += familyHeader("mintgate_tool_calls_total", "counter", "tools/call requests by Virtual MCP, tool (exposed name), connector and outcome.");
    for (const s of all) for (const ofConnector of s.tools.values()) for (const byOutcome of ofConnector.values()) out += writeSeries("mintgate_tool_calls_total", byOutcome);

    out += familyHeader("mintgate_tool_call_duration_seconds", "histogram", "Time to answer tools/call requests that were not denied, by Virtual MCP.");
    for (const s of all) if (s.latency.count > 0) out += s.latency.write("mintgate_tool_call_duration_seconds");

    const connectors = [...this.sources.connectors()].sort((a, b) => a.name.localeCompare(b.name));
    out += familyHeader("mintgate_connector_state", "gauge", "Connector state: 1 for the state each connector is in, 0 for the others.");
    for (const c of connectors) {
      for (const state of CONNECTOR_STATES) out += `mintgate_connector_state${labelText(["connector", "state"], [c.name, state])} ${c.state.status === state ? 1 : 0}\n`;
    }
    out += familyHeader("mintgate_connector_restarts_total", "counter", "Times each connector was restarted: after a failure, by an admin, or for a new definition of its upstream (a new timeout alone does not restart it).");
    for (const c of connectors) out += `mintgate_connector_restarts_total${labelText(["connector"], [c.name])} ${formatValue(c.restarts)}\n`;

    out += familyHeader("mintgate_sessions", "gauge", "Open MCP client sessions by Virtual MCP.");
    for (const [slug, count] of [...this.sources.sessions()].sort((a, b) => a[0].localeCompare(b[0]))) {
      out += `mintgate_sessions${labelText(["virtual_mcp"], [slug])} ${formatValue(count)}\n`;
    }

    out += familyHeader("mintgate_audit_queue_depth", "gauge", "Audit records waiting to be committed.");
    out += `mintgate_audit_queue_depth ${formatValue(this.sources.auditQueueDepth())}\n`;

    out += familyHeader("mintgate_request_body_bytes_in_flight", "gauge", "Request-body bytes on the MCP endpoints being received or run, across everyone (503 past 256 MiB).");
    out += `mintgate_request_body_bytes_in_flight ${formatValue(this.requestBodyBytes())}\n`;

    out += familyHeader("mintgate_build_info", "gauge", "Always 1; the version label says which mintgate is running.");
    out += `mintgate_build_info${labelText(["version"], [this.info.version])} 1\n`;

    const cpu = process.cpuUsage();
    out += familyHeader("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    out += `process_cpu_seconds_total ${formatValue((cpu.user + cpu.system) / 1e6)}\n`;
    out += familyHeader("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out += `process_resident_memory_bytes ${formatValue(process.memoryUsage.rss())}\n`;
    out += familyHeader("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
    out += `process_start_time_seconds ${formatValue(this.info.startTimeSeconds)}\n`;
    return out;
  }

  private add(slug: string): VirtualMcpSeries {
    const series: VirtualMcpSeries = {
      http: STATUS_CLASSES.map((c) => new Series(labelText(["virtual_mcp", "status_class"], [slug, c]))),
      methods: new Map(),
      tools: new Map(),
      latency: new HistogramSeries([["virtual_mcp"], [slug]], LATENCY_BUCKETS),
    };
    this.byVirtualMcp.set(slug, series);
    return series;
  }

  private addMethod(series: VirtualMcpSeries, slug: string, method: string): Series[] {
    const label = KNOWN_METHODS.has(method) ? method : "other";
    let byOutcome = series.methods.get(label);
    if (!byOutcome) {
      byOutcome = OUTCOMES.map((o) => new Series(labelText(["virtual_mcp", "method", "outcome"], [slug, label, o])));
      series.methods.set(label, byOutcome);
    }
    // Unknown methods share the "other" series; remembering each name here would let clients grow the map.
    return byOutcome;
  }

  private addTool(series: VirtualMcpSeries, slug: string, tool: string, connector: string | null): Series[] {
    const byOutcome = OUTCOMES.map((o) => new Series(labelText(["virtual_mcp", "tool", "connector", "outcome"], [slug, tool, connector ?? "", o])));
    let ofConnector = series.tools.get(connector ?? "");
    if (!ofConnector) series.tools.set(connector ?? "", (ofConnector = new Map()));
    ofConnector.set(tool, byOutcome);
    return byOutcome;
  }
}
