import type { ConnectorStatus, GatewayStatus } from "../../src/admin/index.ts";
import type { UsageReport, UsageTimeline } from "../../src/analytics/index.ts";
import { usePoll } from "../components/usePoll.ts";
import { useKeys } from "../components/useKeys.ts";
import { Overview, sparklinePoints } from "./Overview.tsx";
import type { ScreenDefinition, ScreenProps } from "./types.ts";

const FAST_MS = 2000;
const SLOW_MS = 5000;
const STEP_S = 5;

function OverviewScreen(props: ScreenProps) {
  const { client } = props;
  const points = sparklinePoints(props.width - 2);
  const status = usePoll(() => client.status() as Promise<GatewayStatus>, FAST_MS, [client]);
  const timeline = usePoll(() => client.get<UsageTimeline>(`/stats/timeline?last=${points * STEP_S}s&step=${STEP_S}s`), FAST_MS, [client, points]);
  const hour = usePoll(() => client.get<UsageTimeline>("/stats/timeline?last=1h&step=1m"), SLOW_MS, [client]);
  const tools = usePoll(() => client.get<UsageReport>("/stats?by=tool&last=1h"), SLOW_MS, [client]);
  const people = usePoll(() => client.get<UsageReport>("/stats?by=person&last=1h"), SLOW_MS, [client]);
  const connectors = usePoll(() => client.get<ConnectorStatus[]>("/connectors"), SLOW_MS, [client]);
  // R reloads on every screen: here, everything shown.
  useKeys((input) => {
    if (input === "R") for (const poll of [status, timeline, hour, tools, people, connectors]) void poll.reload();
  });
  return (
    <Overview
      url={client.url}
      status={status.value}
      error={status.error}
      width={props.width}
      height={props.height}
      timeline={timeline.value}
      hour={hour.value?.total}
      tools={tools.value?.rows}
      people={people.value?.rows}
      connectors={connectors.value}
    />
  );
}

export const overviewScreen: ScreenDefinition = {
  key: "o",
  title: "Overview",
  short: "Overview",
  help: [
    "Health, version and uptime; counts of connectors, Virtual MCPs, sessions, secrets.",
    "Calls/s: tool calls per second as a sparkline over the last minutes (5 s a point).",
    "Last hour: calls, error and denial rates, p50/p95 latency; the busiest tools (summed",
    "over Virtual MCPs) and people. Per-tool latency: mintgate stats --by tool.",
    "States: each connector's state; failed ones with their reason.",
    "Refreshed every 2 s (status, sparkline) and 5 s (the rest); R reloads it all now.",
  ],
  Component: OverviewScreen,
};
