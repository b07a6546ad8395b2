import { Box, Text, useApp, useInput } from "ink";
import { useEffect, useState } from "react";
import type { AdminClient, GatewayStatus } from "../src/admin-client/index.ts";
import { Overview } from "./screens/Overview.tsx";

const REFRESH_MS = 2000;

export function App(props: { client: AdminClient }) {
  const { exit } = useApp();
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

  useInput((input, key) => {
    if (input === "q" || (key.ctrl && input === "c")) exit();
  });

  return (
    <Box flexDirection="column">
      <Box paddingX={1}>
        <Text inverse bold> mintgate </Text>
      </Box>
      <Overview url={props.client.url} status={status} error={error} />
      <Box paddingX={1} marginTop={1}>
        <Text dimColor>q quit</Text>
      </Box>
    </Box>
  );
}
