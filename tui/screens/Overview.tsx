import { Box, Text } from "ink";
import type { ConnectorStatus, GatewayStatus } from "../../src/admin/index.ts";
import type { UsageRow, UsageTimeline } from "../../src/analytics/index.ts";
import { Table } from "../components/Table.tsx";
import { Problem } from "../components/Problem.tsx";
import { columnsOf, counted, fit, formatMs } from "../components/text.ts";

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : `${m}m ${s}s`;
}

const BARS = "▂▃▄▅▆▇█";

/** One character per bucket: ▁ for none, then seven heights relative to the window's peak. */
export function sparkline(values: number[]): string {
  const peak = Math.max(0, ...values);
  return values.map((v) => (v <= 0 || peak === 0 ? "▁" : BARS[Math.min(BARS.length - 1, Math.floor(((v / peak) * (BARS.length - 1)) + 0.5))])).join("");
}

function rate(perStep: number, stepMs: number): string {
  const perSecond = perStep / (stepMs / 1000);
  return `${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond)}/s`;
}

/** A share as the Overview shows it: 0% and 100% only when exact, so 199 errors in 200 calls is not "100%" nor 1 in 3,000 "0.0%". */
export function percent(part: number, whole: number): string {
  if (whole === 0 || part === 0) return "0%";
  if (part === whole) return "100%";
  const p = (part / whole) * 100;
  if (p < 0.1) return "<0.1%";
  if (p > 99.9) return ">99.9%";
  return `${p < 10 || p > 90 ? p.toFixed(1) : Math.round(p)}%`;
}

const STATE_SYMBOL: Record<string, string> = { ready: "●", failed: "✗", stopped: "○" };
const STATE_COLOR: Record<string, string> = { ready: "green", failed: "red" };

/** One connector on the States line, as drawn there. */
function stateText(c: ConnectorStatus): string {
  return `${STATE_SYMBOL[c.state] ?? "◌"} ${c.name} ${c.state}${c.restarts > 0 ? ` (${counted(c.restarts, "restart")})` : ""}`;
}

/**
 * The connectors the States line reaches within `width` columns (the one the edge cuts included), which is all
 * the line shows: drawing every one of 150 connectors, redrawn with the status every 2 s, kept the Overview at 4% CPU idle.
 */
export function statesOnLine(connectors: ConnectorStatus[], width: number): ConnectorStatus[] {
  let used = 0;
  let count = 0;
  while (count < connectors.length && used <= width) used += (count > 0 ? 2 : 0) + columnsOf(stateText(connectors[count++]!));
  return connectors.slice(0, count);
}

/** How many sparkline points fit beside its label and rates at this width. */
export function sparklinePoints(width: number): number {
  return Math.max(10, Math.min(120, width - 46));
}

/**
 * The stats come per Virtual MCP and tool; the Overview shows each tool once,
 * its counts summed over the Virtual MCPs that expose it, busiest first.
 */
export function byTool(rows: UsageRow[]): { tool: string; calls: number; errors: number; denied: number }[] {
  const merged = new Map<string, { tool: string; calls: number; errors: number; denied: number }>();
  for (const row of rows) {
    const tool = row.tool || "?";
    const entry = merged.get(tool) ?? { tool, calls: 0, errors: 0, denied: 0 };
    entry.calls += row.calls;
    entry.errors += row.errors;
    entry.denied += row.denied;
    merged.set(tool, entry);
  }
  return [...merged.values()].sort((a, b) => b.calls - a.calls || a.tool.localeCompare(b.tool));
}

export interface OverviewData {
  /** Tool calls per step over the last minutes (the sparkline). */
  timeline?: UsageTimeline | undefined;
  /** The last hour's totals. */
  hour?: UsageTimeline["total"] | undefined;
  tools?: UsageRow[] | undefined;
  people?: UsageRow[] | undefined;
  connectors?: ConnectorStatus[] | undefined;
}

export function Overview(props: { url: string; status: GatewayStatus | undefined; error: string | undefined; width?: number; height?: number } & OverviewData) {
  const { status, error, timeline, hour, connectors } = props;
  const width = props.width ?? 78;
  const height = props.height ?? 20;
  const inner = width - 2;
  const sideBySide = inner >= 70;
  const half = sideBySide ? Math.floor((inner - 3) / 2) : inner;
  // Lines above the tables: status (3), calls (2), connectors (1 + failed ones), a gap.
  const failed = (connectors ?? []).filter((c) => c.state === "failed").slice(0, 3);
  const used = 7 + failed.length;
  const tableRows = Math.max(1, sideBySide ? height - used - 2 : Math.floor((height - used - 4) / 2));
  const values = timeline?.buckets.map((b) => b.calls) ?? [];
  const lastFull = values.length >= 2 ? values[values.length - 2]! : 0;
  const minutes = timeline ? Math.round((timeline.buckets.length * timeline.stepMs) / 60_000) : 0;
  const toolTable = (
    <Box flexDirection="column" width={half}>
      <Text bold>Top tools · last hour</Text>
      <Table
        width={half}
        height={tableRows}
        columns={[{ title: "Tool" }, { title: "Calls", width: 6 }, { title: "Err", width: 5 }, { title: "Denied", width: 6 }]}
        rows={byTool(props.tools ?? []).map((r) => [r.tool, String(r.calls), percent(r.errors, r.calls), String(r.denied)])}
        empty="No tool calls in the last hour."
      />
    </Box>
  );
  const peopleTable = (
    <Box flexDirection="column" width={half}>
      <Text bold>Top people · last hour</Text>
      <Table
        width={half}
        height={tableRows}
        columns={[{ title: "Person" }, { title: "Calls", width: 6 }, { title: "Err", width: 5 }, { title: "Denied", width: 6 }]}
        rows={(props.people ?? []).map((r) => [r.person || "?", String(r.calls), percent(r.errors, r.calls), String(r.denied)])}
        empty="No one called a tool in the last hour."
      />
    </Box>
  );
  return (
    <Box flexDirection="column" paddingX={1} width={width}>
      {error ? (
        // Wrapped, not cut: "is `mintgate serve` running?" is at the end of the sentence.
        <Problem text={`✗ ${error}`} width={inner} />
      ) : status ? (
        <Box flexDirection="column">
          <Text wrap="truncate-end">
            <Text color="green">● healthy</Text> · mintgate {status.version} · up {formatUptime(status.uptimeSeconds)} · schema {status.schemaVersion}
          </Text>
          <Text wrap="truncate-middle">Data dir {status.dataDir}</Text>
          <Text wrap="truncate-end">
            Connectors {status.connectors.ready}/{status.connectors.total} ready · Virtual MCPs {status.virtualMcps} · Sessions {status.sessions} · Secrets {status.secrets.count}
          </Text>
        </Box>
      ) : (
        <Text dimColor>Loading…</Text>
      )}
      <Text wrap="truncate-end">
        <Text bold>{"Calls/s".padEnd(9)}</Text>
        <Text color="cyan">{timeline ? sparkline(values) : "…"}</Text>
        {timeline ? ` now ${rate(lastFull, timeline.stepMs)} · peak ${rate(Math.max(0, ...values), timeline.stepMs)} · ${minutes} min` : ""}
      </Text>
      <Text wrap="truncate-end">
        <Text bold>{"Last hour".padEnd(9)}</Text>{" "}
        {hour
          ? `${counted(hour.calls, "call")} · errors ${percent(hour.errors, hour.calls)} · denied ${percent(hour.denied, hour.calls)} · p50 ${formatMs(hour.p50Ms)} · p95 ${formatMs(hour.p95Ms)}`
          : "…"}
      </Text>
      <Text wrap="truncate-end">
        <Text bold>{"States".padEnd(9)}</Text>{" "}
        {connectors === undefined
          ? "…"
          : connectors.length === 0
            ? "no connectors"
            : statesOnLine(connectors, inner).map((c, i) => (
                <Text key={c.name}>
                  {i > 0 ? "  " : ""}
                  <Text color={STATE_COLOR[c.state]}>{STATE_SYMBOL[c.state] ?? "◌"}</Text> {c.name} {c.state}
                  {c.restarts > 0 ? ` (${counted(c.restarts, "restart")})` : ""}
                </Text>
              ))}
      </Text>
      {failed.map((c) => (
        <Text key={c.name} color="red">
          {fit(`  ✗ ${c.name}: ${c.reason ?? c.lastError ?? "failed"}`, inner)}
        </Text>
      ))}
      <Text> </Text>
      {sideBySide ? (
        <Box flexDirection="row" gap={3}>
          {toolTable}
          {peopleTable}
        </Box>
      ) : (
        <Box flexDirection="column">
          {toolTable}
          {peopleTable}
        </Box>
      )}
    </Box>
  );
}
