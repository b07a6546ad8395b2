import { printable } from "../../src/terminal/index.ts";

// Shared with the CLI, which may not import from tui/; re-exported so screens keep importing text helpers from here.
export { counted, visibleInPlace } from "../../src/terminal/index.ts";

/**
 * Terminal columns, not UTF-16 units: CJK characters and most emoji take two
 * columns, combining marks none. Counting `.length` let such text run past
 * the edge, and the terminal's wrap pushed the whole screen out of place.
 */
export function columnsOf(text: string): number {
  if (PLAIN.test(text)) return text.length;
  if (!SKIN_TONE.test(text)) return Bun.stringWidth(text);
  let total = 0;
  for (const { segment } of graphemes.segment(text)) total += graphemeColumns(segment);
  return total;
}

const PLAIN = /^[\x20-\x7e]*$/;
const SKIN_TONE = /[\u{1F3FB}-\u{1F3FF}]/u;
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * One character's columns. An emoji with a skin tone (👋🏽) is one character of width 2 to Bun, but tmux and
 * the Linux console, where admins run this over SSH, draw the emoji and its tone side by side in 4: a header
 * holding one wrapped onto a second line. Counting the wider drawing leaves a blank column on terminals
 * that join them, rather than pushing the screen out of place on those that do not.
 */
function graphemeColumns(grapheme: string): number {
  const width = Bun.stringWidth(grapheme);
  if (!SKIN_TONE.test(grapheme)) return width;
  const tones = [...grapheme].slice(1).filter((c) => SKIN_TONE.test(c)).length;
  return width + 2 * tones;
}

/**
 * `printable` text as the TUI draws it: skin tones that follow another character are left out (👋🏽 is drawn 👋).
 * Ink pads a row by string-width, which counts 👋🏽 as 2 columns like any emoji, where tmux and the Linux console
 * draw the emoji and its tone side by side in 4: a bordered row holding one (an audit record's arguments, an
 * approval diff) pushed its border past the edge, the terminal wrapped it and the frame ran a line taller,
 * leaving its first line behind on every later screen. Without the tone every measure agrees.
 */
function onScreen(text: string): string {
  const shown = printable(text);
  return SKIN_TONE.test(shown) ? shown.replace(ATTACHED_SKIN_TONES, "") : shown;
}

const ATTACHED_SKIN_TONES = /(?<=[^])[\u{1F3FB}-\u{1F3FF}]/gu;

/** The longest start of `text` that fits in `width` columns (never half a character); from the end with `fromEnd`. */
export function takeColumns(text: string, width: number, fromEnd = false): string {
  if (PLAIN.test(text)) return fromEnd ? text.slice(text.length - width) : text.slice(0, width);
  if (!fromEnd) {
    // Read only as far as the width: a tool description of several KB was segmented whole for every row drawn.
    let used = 0;
    let end = 0;
    for (const { segment, index } of graphemes.segment(text)) {
      const w = graphemeColumns(segment);
      if (used + w > width) return text.slice(0, index);
      used += w;
      end = index + segment.length;
    }
    return text.slice(0, end);
  }
  const parts = [...graphemes.segment(text)].map((g) => g.segment);
  parts.reverse();
  let used = 0;
  const kept: string[] = [];
  for (const part of parts) {
    const w = graphemeColumns(part);
    if (used + w > width) break;
    used += w;
    kept.push(part);
  }
  return kept.reverse().join("");
}

/** Fits text into `width` columns: cut with … at the end (or in the middle, for paths and URLs), padded when asked; line breaks become spaces, other unprintable characters escapes (skin tones are left out, see `onScreen`). */
export function fit(text: string, width: number, options: { pad?: boolean; middle?: boolean } = {}): string {
  const clean = onScreen(text.replace(/[\r\n\t]+/g, " "));
  if (width <= 0) return "";
  let out = clean;
  // Whether it fits is read from the start only (takeColumns stops at the width), not by measuring all of it.
  const fits = options.middle ? columnsOf(clean) <= width : takeColumns(clean, width).length === clean.length;
  if (!fits) {
    if (width === 1) out = "…";
    else if (options.middle) {
      const head = Math.ceil((width - 1) / 2);
      out = takeColumns(clean, head) + "…" + takeColumns(clean, width - 1 - head, true);
    } else out = takeColumns(clean, width - 1) + "…";
  }
  return options.pad ? out + " ".repeat(Math.max(0, width - columnsOf(out))) : out;
}

/** A duration in ms as people read it: 0.8 ms, 12 ms, 1.3 s. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** An ISO time as HH:MM:SS (within the last 24 hours) or YYYY-MM-DD HH:MM (older, or in the future: an expiry date must show its day). */
export function formatTime(iso: string | number): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const text = date.toISOString();
  const age = Date.now() - date.getTime();
  return age >= 0 && age < 86_400_000 ? text.slice(11, 19) : `${text.slice(0, 10)} ${text.slice(11, 16)}`;
}

/** Long lines broken at `width` (continuations marked ↪): for text that must be read whole, not cut with …. */
export function breakLines(lines: string[], width: number): string[] {
  const out: string[] = [];
  for (const raw of lines) {
    const line = onScreen(raw);
    if (columnsOf(line) <= width) {
      out.push(line);
      continue;
    }
    for (let rest = line, first = true; rest !== ""; first = false) {
      const piece = takeColumns(rest, Math.max(1, width - 1)) || [...rest][0]!;
      out.push((first ? "" : "↪") + piece);
      rest = rest.slice(piece.length);
    }
  }
  return out;
}

/** Words wrapped into at most `max` lines of `width` terminal columns (the last cut with …): for sentences that must be read whole. */
export function wrapText(text: string, width: number, max = 3): string[] {
  if (columnsOf(text) <= width || max <= 1) return [fit(text, width)];
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && columnsOf(line + " " + word) > width) {
      lines.push(line);
      line = "  " + word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  if (lines.length <= max) return lines.map((l) => fit(l, width));
  // The lines past the last are joined onto it without their continuation indent (which would leave runs of spaces in it).
  return [...lines.slice(0, max - 1).map((l) => fit(l, width)), fit(lines.slice(max - 1).map((l, i) => (i === 0 ? l : l.trimStart())).join(" "), width)];
}
