/**
 * An audit outcome as a symbol, a word and a colour: the symbol and word
 * carry the meaning on their own (NO_COLOR terminals), the colour helps.
 */
const OUTCOMES: Record<string, { symbol: string; color: string }> = {
  ok: { symbol: "✓", color: "green" },
  error: { symbol: "✗", color: "red" },
  timeout: { symbol: "⌛", color: "red" },
  denied: { symbol: "⊘", color: "yellow" },
  refused: { symbol: "⊘", color: "yellow" },
  cancelled: { symbol: "–", color: "gray" },
};

export const OUTCOME_NAMES = Object.keys(OUTCOMES);

export function outcomeLabel(outcome: string): string {
  return `${OUTCOMES[outcome]?.symbol ?? "?"} ${outcome}`;
}

export function outcomeColor(outcome: string): string | undefined {
  return OUTCOMES[outcome]?.color;
}
