import { Text } from "ink";
import { useRef, useState } from "react";
import { useKeys } from "./useKeys.ts";

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
  /** Pasted text that goes on past a Tab: what follows the first Tab, for the form to type into the next fields. */
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
  useKeys(
    (input, key) => {
      if (key.return || key.escape || key.tab || key.upArrow || key.downArrow) return;
      const value = latest.current;
      const at = cursorOf(value);
      if (key.leftArrow) return move(at - 1);
      if (key.rightArrow) return move(at + 1);
      if ((key.ctrl && input === "a") || input === "\u001b[H" || input === "\u001b[1~") return move(0);
      if ((key.ctrl && input === "e") || input === "\u001b[F" || input === "\u001b[4~") return move(value.length);
      if (key.backspace || key.delete) return at > 0 ? change(value.slice(0, at - 1) + value.slice(at), at - 1) : undefined;
      if (key.ctrl && input === "u") return change("");
      if (key.ctrl && input === "w") {
        const start = value.slice(0, at).replace(/\S+\s*$/, "").length;
        return change(value.slice(0, start) + value.slice(at), start);
      }
      if (key.ctrl || key.meta) return;
      if (!input) return;
      const insert = (text: string) => change(value.slice(0, at) + text + value.slice(at), at + text.length);
      const tab = input.indexOf("\t");
      if (tab !== -1 && props.onPastePastTab) {
        insert(oneLine(input.slice(0, tab)));
        return props.onPastePastTab(input.slice(tab + 1));
      }
      insert(props.mask ? keepingLines(input) : oneLine(input));
    },
    { isActive: props.focus },
  );
  const shown = props.mask ? "•".repeat(props.value.length) : props.value;
  const width = Math.max(4, props.width ?? 40);
  const cursor = cursorOf(props.value);
  // A window of the text that keeps the cursor in view.
  const start = Math.max(0, Math.min(cursor - (width - 2), shown.length - (width - 1)));
  const before = (start > 0 ? "…" : "") + shown.slice(start > 0 ? start + 1 : 0, cursor);
  const at = shown.slice(cursor, cursor + 1);
  const after = shown.slice(cursor + 1, start + width - 1);
  if (!props.focus) {
    const visible = shown.length > width - 1 ? "…" + shown.slice(shown.length - width + 2) : shown;
    return <Text>{visible === "" && props.placeholder ? <Text dimColor>{props.placeholder}</Text> : visible}</Text>;
  }
  return (
    <Text>
      {shown === "" && props.placeholder ? <Text dimColor>{props.placeholder}</Text> : before}
      <Text inverse>{at === "" ? " " : at}</Text>
      {after}
    </Text>
  );
}
