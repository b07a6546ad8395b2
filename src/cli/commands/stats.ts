import { UsageAnalytics, type UsageGrouping, type UsageQueryNames, type UsageRow } from "../../analytics/index.ts";
import { DATA_OPTION, JSON_OPTION, printJson, printTable, stringValue, type Command } from "../command.ts";
import { DATA_HELP, withDataDir } from "../data-dir.ts";

/** The columns that name a group, per grouping. */
const GROUP_COLUMNS: Record<UsageGrouping, [header: string, cell: (row: UsageRow) => string][]> = {
  vmcp: [["VIRTUAL MCP", (r) => r.virtualMcp ?? ""]],
  tool: [
    ["VIRTUAL MCP", (r) => r.virtualMcp ?? ""],
    ["TOOL", (r) => r.tool ?? ""],
    ["CONNECTOR", (r) => r.connector || "-"],
  ],
  connector: [["CONNECTOR", (r) => r.connector || "(no such tool)"]],
  person: [["PERSON", (r) => r.person ?? ""]],
};

/** Errors name the flags typed here, not the admin API's query parameters. */
const FLAGS: UsageQueryNames = { by: "--by", last: "--last", since: "--since", until: "--until" };

/** A latency for people: `0.8ms`, `12ms`, `3.4s`; "-" when there was no call to time. */
function formatMs(ms: number | null): string {
  if (ms === null) return "-";
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)}s`;
  return `${ms >= 10 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(2)}ms`;
}

export const statsCommand: Command = {
  name: "stats",
  summary: "Usage per Virtual MCP, tool, connector or person: calls, errors, denials and latency percentiles.",
  usage: "mintgate stats [--by vmcp|tool|connector|person] [--last 24h | --since T [--until T]] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, by: { type: "string" }, last: { type: "string" }, since: { type: "string" }, until: { type: "string" } },
  optionHelp: {
    "--by GROUP": "vmcp, tool, connector or person (default tool)",
    "--last D": "the window up to now, e.g. 1h, 24h, 7d (default 24h)",
    "--since T": "window start: an ISO time such as 2026-05-01T09:00:00Z, Unix ms, or a duration ago such as 2h (default 24h before --until)",
    "--until T": "window end, as --since (default now)",
    ...DATA_HELP,
    "--json": 'print {"by", "since", "until", "rows": […]} as JSON',
  },
  details:
    "Reads the audit trail in the data directory (it works beside a running gateway).\n" +
    "Counts are tools/call requests: errors include timeouts; denied calls are refused by\n" +
    "policy. Latency percentiles (nearest rank) cover the calls that were not denied.",
  async run(parsed) {
    const report = await withDataDir(parsed, (dir) =>
      new UsageAnalytics(dir.store).report({
        by: stringValue(parsed, "by"),
        last: stringValue(parsed, "last"),
        since: stringValue(parsed, "since"),
        until: stringValue(parsed, "until"),
      }, FLAGS),
    );
    if (parsed.values.json) {
      printJson(report);
      return 0;
    }
    process.stdout.write(`Tool calls from ${report.since} to ${report.until}, by ${report.by}\n`);
    if (report.rows.length === 0) {
      process.stdout.write("No tool calls in this window.\n");
      return 0;
    }
    const groups = GROUP_COLUMNS[report.by];
    printTable(
      [...groups.map(([header]) => header), "CALLS", "ERRORS", "DENIED", "P50", "P95", "P99"],
      report.rows.map((row) => [
        ...groups.map(([, cell]) => cell(row)),
        String(row.calls),
        String(row.errors),
        String(row.denied),
        formatMs(row.p50Ms),
        formatMs(row.p95Ms),
        formatMs(row.p99Ms),
      ]),
    );
    return 0;
  },
};
