import { useEffect, useState } from "react";
import type { GatewayStatus } from "../../src/admin-client/index.ts";
import { Overview } from "./Overview.tsx";
import type { ScreenDefinition, ScreenProps } from "./types.ts";

const REFRESH_MS = 2000;

function OverviewScreen(props: ScreenProps) {
  const [status, setStatus] = useState<GatewayStatus>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let cancelled = false;
    const load = () =>
      props.client.status().then(
        (s) => !cancelled && (setStatus(s), setError(undefined)),
        (e: Error) => !cancelled && setError(e.message),
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, [props.client]);
  return <Overview url={props.client.url} status={status} error={error} />;
}

export const overviewScreen: ScreenDefinition = {
  key: "o",
  title: "Overview",
  short: "Overview",
  help: ["The gateway's health, version, uptime and counts; refreshed every 2 s."],
  Component: OverviewScreen,
};
