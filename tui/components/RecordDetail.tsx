import { Text } from "ink";
import type { AuditRecordView } from "../../src/audit/query.ts";
import { outcomeColor, outcomeLabel } from "./outcome.ts";
import { recordSubject } from "./recordSubject.ts";
import { breakLines, counted, fit, formatMs } from "./text.ts";
import { Pager } from "./Pager.tsx";

/** A stored JSON column, pretty when it parses (it may be cut at the capture limit), as lines. */
function jsonLines(text: string | null): string[] {
  if (text === null || text === "") return ["(none)"];
  try {
    return JSON.stringify(JSON.parse(text), null, 2).split("\n");
  } catch {
    return [text];
  }
}


/** Every line of one audit record as shown: facts first, then arguments, result and detail. */
export function recordLines(record: AuditRecordView, width: number): string[] {
  const facts = [
    `Record ${record.id} · ${record.at} · ${record.kind} · ${record.method}`,
    `Person ${record.person ?? "-"}${record.clientId ? ` · client ${record.clientId}` : ""}${record.tokenId ? ` · token ${record.tokenId}` : ""}${record.ip ? ` · ip ${record.ip}` : ""}`,
    `Virtual MCP ${record.virtualMcp ?? "-"} · connector ${record.connector ?? "-"} · ${record.kind === "admin" ? "target" : "tool"} ${record.exposedName || "-"}${record.upstreamName && record.upstreamName !== record.exposedName ? ` (upstream ${record.upstreamName})` : ""}`,
    `Duration ${formatMs(record.durationMs)}${record.resultSize !== null ? ` · result ${counted(record.resultSize, "byte")}` : ""}${record.sessionId ? ` · session ${record.sessionId}` : ""}`,
  ];
  if (record.error) facts.push(`Error ${record.error}`);
  const body = ["", "Arguments (as stored, redacted):", ...jsonLines(record.arguments), "", "Result (as stored, redacted):", ...jsonLines(record.result)];
  if (record.detail) body.push("", "Detail:", ...jsonLines(record.detail));
  return breakLines([...facts.map((f) => fit(f, width)), ...body], width);
}

/**
 * One record in full: its arguments and result as the audit trail stored
 * them (redacted, capped). ↑↓ PgUp PgDn scroll; Esc, Enter or Backspace closes.
 */
export function RecordDetail(props: { record: AuditRecordView; width: number; height: number; onClose: () => void }) {
  const { record, width } = props;
  const title = (
    <Text>
      <Text color={outcomeColor(record.outcome)} bold>
        {outcomeLabel(record.outcome)}
      </Text>{" "}
      {fit(`${recordSubject(record)} by ${record.person ?? "-"}`, width - 16)}
    </Text>
  );
  return <Pager title={title} lines={recordLines(record, width - 4)} width={width} height={props.height} onClose={props.onClose} />;
}
