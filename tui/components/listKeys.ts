import type { Key } from "ink";
import type { KeyHint } from "./KeyHints.tsx";

/**
 * Where a list's selection goes for a key, from row `at` of `count` with `page` rows on screen: ↑↓ (or k j) one
 * row, PgUp PgDn a page, Home End the first and the last; undefined for any other key. Every list takes the same
 * keys: with 1,000 tools ↓ alone was a thousand presses to the last one.
 */
export function movedSelection(input: string, key: Key, at: number, count: number, page: number): number | undefined {
  const last = Math.max(0, count - 1);
  // From the row shown: after the list shrank under the selection (a refresh, a filter), the index kept could point past the end.
  const from = Math.max(0, Math.min(at, last));
  const step = Math.max(1, page);
  if (key.upArrow || input === "k") return Math.max(0, from - 1);
  if (key.downArrow || input === "j") return Math.min(last, from + 1);
  if (key.pageUp) return Math.max(0, from - step);
  if (key.pageDown) return Math.min(last, from + step);
  if (key.home) return 0;
  if (key.end) return last;
  return undefined;
}

/** The footer hint of a list's moves (see movedSelection); optional, as ? help lists them too. */
export const MOVE_HINT: KeyHint = { text: "↑↓ PgUp PgDn Home End", short: "↑↓ PgUp/Dn", optional: true };
