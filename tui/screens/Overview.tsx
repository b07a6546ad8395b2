import { Box, Text } from "ink";
import type { GatewayStatus } from "../../src/admin-client/index.ts";

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return d > 0 ? `${d}d ${h}h ${m}m` : h > 0 ? `${h}h ${m}m` : `${m}m ${s}s`;
}

export function Overview(props: { url: string; status: GatewayStatus | undefined; error: string | undefined }) {
  const { status, error } = props;
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold>Overview</Text>
      <Text>
        Gateway <Text color="cyan">{props.url}</Text>
      </Text>
      {error ? (
        <Text color="red" wrap="truncate-end">
          ✗ {error}
        </Text>
      ) : status ? (
        <Box flexDirection="column">
          <Text>
            <Text color="green">● healthy</Text> · mintgate {status.version} · up {formatUptime(status.uptimeSeconds)}
          </Text>
          <Text wrap="truncate-middle">Data dir {status.dataDir} (schema {status.schemaVersion})</Text>
          <Text>
            Connectors {status.connectors.ready}/{status.connectors.total} ready · Virtual MCPs {status.virtualMcps} · Sessions {status.sessions} · Secrets {status.secrets.count}
          </Text>
        </Box>
      ) : (
        <Text dimColor>Loading…</Text>
      )}
    </Box>
  );
}
