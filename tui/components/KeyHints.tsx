import { Text } from "ink";
import { columnsOf, fit } from "./text.ts";

/**
 * One key's hint at the foot of a screen: its wording, a shorter one for narrow terminals, and whether it may be
 * left out when even the short line does not fit (? help lists every key, and arrows or reload are guessed).
 */
export type KeyHint = string | { text: string; short?: string; optional?: boolean };

const SEPARATOR = " · ";

/**
 * A screen's key hints as one line within `width`: the full wording, else the short one, else without the optional
 * hints (the last listed goes first). Cut with … only past that: footers cut at 80 columns lost their last keys.
 */
export function keyHintLine(hints: KeyHint[], width: number): string {
  const text = (hint: KeyHint, short: boolean) => (typeof hint === "string" ? hint : short ? (hint.short ?? hint.text) : hint.text);
  const line = (shown: KeyHint[], short: boolean) => shown.map((h) => text(h, short)).join(SEPARATOR);
  if (columnsOf(line(hints, false)) <= width) return line(hints, false);
  const shown = [...hints];
  while (columnsOf(line(shown, true)) > width) {
    const last = shown.findLastIndex((h) => typeof h !== "string" && h.optional);
    if (last === -1) break;
    shown.splice(last, 1);
  }
  return fit(line(shown, true), width);
}

/** The dim key-hint line at the foot of a screen or a box (see keyHintLine). */
export function KeyHints(props: { hints: KeyHint[]; width: number }) {
  return <Text dimColor>{keyHintLine(props.hints, props.width)}</Text>;
}
