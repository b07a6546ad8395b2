import { AUDIT_OUTCOMES, type AuditOutcome } from "../../src/audit/index.ts";

/**
 * An audit outcome as a symbol, a word and a colour: the symbol and word
 * carry the meaning on their own (NO_COLOR terminals), the colour helps.
 */
const OUTCOMES: Record<AuditOutcome, { symbol: string; color: string }> = {
  ok: { symbol: "✓", color: "green" },
  error: { symbol: "✗", color: "red" },
  timeout: { symbol: "⌛", color: "red" },
  denied: { symbol: "⊘", color: "yellow" },
  refused: { symbol: "⊘", color: "yellow" },
  cancelled: { symbol: "–", color: "gray" },
};

export const OUTCOME_NAMES: readonly string[] = AUDIT_OUTCOMES;

export function outcomeLabel(outcome: string): string {
  return `${OUTCOMES[outcome as AuditOutcome]?.symbol ?? "?"} ${outcome}`;
}

export function outcomeColor(outcome: string): string | undefined {
  return OUTCOMES[outcome as AuditOutcome]?.color;
}
