import type { Key } from "ink";
import { Box, Text } from "ink";
import { useState } from "react";
import { fit } from "./text.ts";
import { TextField } from "./TextField.tsx";
import { useKeys } from "./useKeys.ts";

/** A list's filter as typed, and whether it is being typed now (the screen's own keys wait meanwhile). */
export interface ListFilter {
  text: string;
  editing: boolean;
  setText: (text: string) => void;
  /** Takes `/` (or `f`, with `f: true`), which opens the filter, and Esc over a filtered list, which clears it; true when it took the key. */
  takes: (input: string, key: Key) => boolean;
}

/**
 * The filter of a list, typed in place after `/`: Enter keeps it, Esc clears it (Esc over a filtered list too).
 * `onChange` hears every new text (a screen puts its selection back on the first row). The screen's own keys must be
 * off while `editing`, and the screen captures the keyboard then (its letters go to the filter, not to the shell).
 */
export function useListFilter(onChange?: (text: string) => void, options: { f?: boolean } = {}): ListFilter {
  const [text, setTextRaw] = useState("");
  const [editing, setEditing] = useState(false);
  const setText = (next: string) => {
    setTextRaw(next);
    onChange?.(next);
  };
  useKeys(
    (_input, key) => {
      if (key.return) setEditing(false);
      else if (key.escape) {
        setText("");
        setEditing(false);
      }
    },
    { isActive: editing },
  );
  return {
    text,
    editing,
    setText,
    takes: (input, key) => {
      if (input === "/" || (options.f && input === "f")) {
        setEditing(true);
        return true;
      }
      if (key.escape && text !== "") {
        setText("");
        return true;
      }
      return false;
    },
  };
}

/** The items whose cells hold every word of the filter (any case, anywhere in any cell). */
export function filtered<T>(items: T[], text: string, cellsOf: (item: T) => string[]): T[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return items;
  return items.filter((item) => {
    const cells = cellsOf(item).map((cell) => cell.toLowerCase());
    return words.every((word) => cells.some((cell) => cell.includes(word)));
  });
}

/** Lines the filter line takes: one while it is typed or set, else none (or one with an `idle` line). */
export function filterLines(filter: ListFilter, idle?: string): number {
  return filter.editing || filter.text !== "" || idle !== undefined ? 1 : 0;
}

/**
 * The filter's line over a list: the field while it is typed, else what it is and how many rows it leaves
 * (`shown` of `total`), else `idle` (or nothing).
 */
export function FilterLine(props: { filter: ListFilter; width: number; shown: number; total: number; placeholder?: string; idle?: string }) {
  const { filter, width } = props;
  if (filter.editing) {
    return (
      <Box>
        <Text color="cyan">Filter › </Text>
        <TextField value={filter.text} onChange={filter.setText} focus width={Math.max(10, width - 32)} placeholder={props.placeholder ?? "words to look for"} />
        <Text dimColor> Enter keep · Esc clear</Text>
      </Box>
    );
  }
  if (filter.text !== "") return <Text>{fit(`Filter ${filter.text} · ${props.shown} of ${props.total} · / change · Esc clear`, width)}</Text>;
  return props.idle === undefined ? null : <Text dimColor>{fit(props.idle, width)}</Text>;
}
