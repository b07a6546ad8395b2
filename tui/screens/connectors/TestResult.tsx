import { Box, Text } from "ink";
import { Spinner } from "../../components/Spinner.tsx";
import { counted, fit, formatMs } from "../../components/text.ts";
import type { ProbeResult } from "./model.ts";
import { Problem } from "../../components/Problem.tsx";

/** A connector test: a spinner while it runs, then the tools it listed or why it failed (with its last stderr lines). */
export function TestResult(props: { name: string; result: ProbeResult | undefined; error: string | undefined; width: number; height: number }) {
  const { result, error, width } = props;
  const room = Math.max(1, props.height - 3);
  if (error) return <Problem text={`✗ test failed: ${error}`} width={width} />;
  if (!result) return <Spinner label={fit(`Testing ${props.name}: connecting and listing its tools…`, width - 2)} />;
  if (result.ok) {
    const extra = [result.prompts ? counted(result.prompts, "prompt") : "", result.resources ? counted(result.resources, "resource") : ""].filter(Boolean).join(", ");
    return (
      <Box flexDirection="column">
        <Text color="green">{fit(`✓ test passed: ${props.name} connected and listed ${counted(result.tools.length, "tool")}${extra ? ` (${extra})` : ""} in ${formatMs(result.durationMs)}`, width)}</Text>
        {result.tools.slice(0, room).map((t) => (
          <Text key={t.name}>{fit(`  ${t.name}${t.description ? ` — ${t.description}` : ""}`, width)}</Text>
        ))}
        {result.tools.length > room ? <Text dimColor>{fit(`  … and ${result.tools.length - room} more`, width)}</Text> : null}
      </Box>
    );
  }
  const lines = result.stderr.slice(-Math.max(0, room - 1));
  return (
    <Box flexDirection="column">
      <Problem text={`✗ test failed: ${result.error ?? "it did not connect"}`} width={width} />
      {lines.length > 0 ? <Text dimColor>{fit("  its last stderr lines:", width)}</Text> : null}
      {lines.map((line, i) => (
        <Text key={i}>{fit(`  ${line}`, width)}</Text>
      ))}
    </Box>
  );
}
