import type { AuditRecordView } from "../../src/audit/query.ts";

/** Methods whose record is a question an upstream asked during a call: its exposed name is the tool of that call. */
const QUESTIONS = new Set(["elicitation/create", "sampling/createMessage"]);

/**
 * What a record is about, in one column of a list: the tool, prompt or resource; an admin change's action and target;
 * an upstream's question and the tool it asked during (without the method it read as a second call of that tool).
 */
export function recordSubject(record: Pick<AuditRecordView, "kind" | "method" | "exposedName">): string {
  if (record.kind === "admin") return `${record.method} ${record.exposedName ?? ""}`.trim();
  if (QUESTIONS.has(record.method) && record.exposedName) return `${record.method} for ${record.exposedName}`;
  return record.exposedName || record.method;
}
