import { Text } from "ink";
import { useRef } from "react";
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
 * echoed) and keeps the line breaks of pasted text. Typing edits, Backspace deletes, Ctrl-U clears; Enter and Esc are
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
  const change = (value: string) => {
    latest.current = value;
    props.onChange(value);
  };
  useKeys(
    (input, key) => {
      if (key.return || key.escape || key.tab || key.upArrow || key.downArrow) return;
      if (key.backspace || key.delete) return change(latest.current.slice(0, -1));
      if (key.ctrl && input === "u") return change("");
      if (key.ctrl || key.meta) return;
      if (!input) return;
      const tab = input.indexOf("\t");
      if (tab !== -1 && props.onPastePastTab) {
        change(latest.current + oneLine(input.slice(0, tab)));
        return props.onPastePastTab(input.slice(tab + 1));
      }
      change(latest.current + (props.mask ? keepingLines(input) : oneLine(input)));
    },
    { isActive: props.focus },
  );
  const shown = props.mask ? "•".repeat(props.value.length) : props.value;
  const width = props.width ?? 40;
  const visible = shown.length > width - 1 ? "…" + shown.slice(shown.length - width + 2) : shown;
  return (
    <Text>
      {visible === "" && props.placeholder ? <Text dimColor>{props.placeholder}</Text> : visible}
      {props.focus ? <Text inverse> </Text> : null}
    </Text>
  );
}
