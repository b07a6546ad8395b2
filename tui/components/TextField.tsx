import { Text } from "ink";
import { useRef, useState } from "react";
import { columnsOf, fit, takeColumns, visibleInPlace } from "./text.ts";
import { useKeys } from "./useKeys.ts";

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Where the character (grapheme) before or after `at` starts: an emoji or an accented letter is one step, never half of it. */
function step(value: string, at: number, direction: -1 | 1): number {
  let previous = 0;
  for (const { index } of graphemes.segment(value)) {
    if (direction === 1 && index > at) return index;
    if (direction === -1 && index >= at) return previous;
    previous = index;
  }
  return direction === 1 ? value.length : previous;
}

/** Text as a one-line value takes it: control characters (Tab, newlines, escapes) never become part of it. */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, "");
}

/** Pasted text for a secret: its line breaks are kept (a PEM key is several lines), other control characters dropped. */
function keepingLines(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, "");
}

/**
 * A one-line text input. `mask` shows • for every character (secrets are never
 * echoed) and keeps the line breaks of pasted text. Typing inserts at the
 * cursor; ← → move it, Home/Ctrl-A and End/Ctrl-E jump, Backspace deletes
 * before it, Ctrl-W the word before it, Ctrl-U clears; Enter and Esc are
 * left to the form around it.
 */
export function TextField(props: {
  value: string;
  onChange: (value: string) => void;
  focus: boolean;
  mask?: boolean;
  placeholder?: string;
  width?: number;
  /** Pasted text that goes on past a Tab (a spreadsheet row): what follows the first Tab, for the form to type into the next fields. */
  onPastePastTab?: (rest: string) => void;
}) {
  // Keys that arrive before the next render (fast typing, a slow link) build on each other, not on a stale value.
  const latest = useRef(props.value);
  latest.current = props.value;
  // The cursor, as characters from the end: a value set from outside (a form's reset, a paste into the next field) keeps it at the end.
  const fromEnd = useRef(0);
  const [, redraw] = useState(0);
  const cursorOf = (value: string) => Math.max(0, value.length - Math.min(fromEnd.current, value.length));
  const change = (value: string, cursor = value.length) => {
    fromEnd.current = value.length - cursor;
    latest.current = value;
    props.onChange(value);
  };
  const move = (cursor: number) => {
    const value = latest.current;
    fromEnd.current = value.length - Math.max(0, Math.min(value.length, cursor));
    redraw((n) => n + 1);
  };
  /** Text typed or pasted at the cursor; a one-line value drops control characters, a secret keeps line breaks. */
  const insert = (text: string) => {
    const value = latest.current;
    const at = cursorOf(value);
    const clean = props.mask ? keepingLines(text) : oneLine(text);
    change(value.slice(0, at) + clean + value.slice(at), at + clean.length);
  };
  useKeys(
    (input, key) => {
      if (key.return || key.escape || key.tab || key.upArrow || key.downArrow) return;
      const value = latest.current;
      const at = cursorOf(value);
      if (key.leftArrow) return move(step(value, at, -1));
      if (key.rightArrow) return move(step(value, at, 1));
      if ((key.ctrl && input === "a") || input === "\u001b[H" || input === "\u001b[1~") return move(0);
      if ((key.ctrl && input === "e") || input === "\u001b[F" || input === "\u001b[4~") return move(value.length);
      if (key.backspace || key.delete) {
        const before = step(value, at, -1);
        return at > 0 ? change(value.slice(0, before) + value.slice(at), before) : undefined;
      }
      if (key.ctrl && input === "u") return change("");
      if (key.ctrl && input === "w") {
        const start = value.slice(0, at).replace(/\S+\s*$/, "").length;
        return change(value.slice(0, start) + value.slice(at), start);
      }
      if (key.ctrl || key.meta) return;
      if (input) insert(input);
    },
    {
      isActive: props.focus,
      modifiers: true,
      takesText: true,
      // Pasted text is only text: its line breaks never submit the form (a secret keeps them), its Tabs fill the next fields.
      onPaste: (text) => {
        const tab = text.indexOf("\t");
        if (tab === -1 || !props.onPastePastTab) return insert(text);
        insert(text.slice(0, tab));
        props.onPastePastTab(text.slice(tab + 1));
      },
    },
  );
  // Drawn character for character (the cursor is an index into the value): a line break loaded with it kept to the one line.
  const shown = props.mask ? "•".repeat(props.value.length) : visibleInPlace(props.value);
  const width = Math.max(4, props.width ?? 40);
  const cursor = cursorOf(props.value);
  // A window of the text that keeps the cursor in view, counted in terminal columns (CJK and emoji take two).
  const at = shown.slice(cursor, step(shown, cursor, 1));
  const room = width - 1 - Math.max(1, columnsOf(at));
  const head = shown.slice(0, cursor);
  const before = columnsOf(head) <= room ? head : "…" + takeColumns(head, room - 1, true);
  const after = takeColumns(shown.slice(cursor + at.length), Math.max(0, room - columnsOf(before)));
  if (!props.focus) {
    const visible = columnsOf(shown) > width - 1 ? "…" + takeColumns(shown, width - 2, true) : shown;
    return <Text>{visible === "" && props.placeholder ? <Text dimColor>{fit(props.placeholder, width - 1)}</Text> : visible}</Text>;
  }
  return (
    <Text>
      {shown === "" && props.placeholder ? <Text dimColor>{fit(props.placeholder, width - 2)}</Text> : before}
      <Text inverse>{at === "" ? " " : at}</Text>
      {after}
    </Text>
  );
}
