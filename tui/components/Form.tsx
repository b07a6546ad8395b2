import { Box, Text } from "ink";
import { useState } from "react";
import { Spinner } from "./Spinner.tsx";
import { oneLine, TextField } from "./TextField.tsx";
import { columnsOf, fit, wrapText } from "./text.ts";
import { useKeys } from "./useKeys.ts";
import { KeyHints } from "./KeyHints.tsx";

export interface FormField {
  name: string;
  label: string;
  mask?: boolean;
  placeholder?: string;
  /** A sentence saying what is wrong, or undefined when the value is fine. */
  validate?: (value: string, all: Record<string, string>) => string | undefined;
  /** A line shown under the field, recomputed as it is typed (e.g. a length budget). */
  hint?: (value: string, all: Record<string, string>) => string | undefined;
  /**
   * The few values it takes, changed with ←/→ (or Space) instead of typed: typing "approve" after a pre-filled
   * "auto" gave "autoapprove". Its value is always one of them: the first unless `initial` names another.
   */
  choices?: readonly string[];
}

/**
 * A choice field's row, the value shown in brackets: [auto]  approve  ←/→ change. Within `width`: the hint goes
 * first, then the row is cut (the audit search's seven outcomes and the hint wrapped at 80 columns).
 */
export function Choices(props: { choices: readonly string[]; value: string; focused: boolean; width?: number }) {
  const row = props.choices.map((c) => (c === props.value ? `[${c}]` : ` ${c} `)).join(" ");
  const width = props.width ?? Infinity;
  const hint = props.focused && columnsOf(row) + 12 <= width;
  return (
    <Text>
      {fit(row, width)}
      {hint ? <Text dimColor>  ←/→ change</Text> : null}
    </Text>
  );
}

/** The next of `choices` after `value` (the one before with `back`), round the end. */
export function nextChoice<T extends string>(choices: readonly T[], value: T, back: boolean): T {
  const at = Math.max(0, choices.indexOf(value));
  return choices[(at + (back ? choices.length - 1 : 1)) % choices.length]!;
}

/**
 * A form: Tab/↓ and Shift-Tab/↑ move between fields, Enter on the last field
 * (or Ctrl-S) validates and submits, Esc cancels. Validation runs before
 * anything is sent; the server's error text is shown when it refuses.
 * The box stays within `height`: when the fields do not fit, the ones around
 * the focused field are shown (a tool's rules form has a field per argument,
 * and 20 of them ran past an 80×24 terminal, top first). It is required so
 * that no screen forgets it: forms without it typed into fields off screen.
 */
export function Form(props: { title: string; fields: FormField[]; initial?: Record<string, string>; submitLabel?: string; onSubmit: (values: Record<string, string>) => Promise<unknown>; onCancel: () => void; width?: number; height: number }) {
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(props.fields.map((f) => [f.name, f.choices && !f.choices.includes(props.initial?.[f.name] ?? "") ? f.choices[0]! : (props.initial?.[f.name] ?? "")])),
  );
  const [focus, setFocus] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = () => {
    for (const field of props.fields) {
      const problem = field.validate?.(values[field.name] ?? "", values);
      if (problem) {
        setError(`${field.label}: ${problem}`);
        setFocus(props.fields.indexOf(field));
        return;
      }
    }
    setError(undefined);
    setBusy(true);
    props.onSubmit(values).then(
      () => setBusy(false),
      (e: Error) => {
        setBusy(false);
        setError(e.message);
      },
    );
  };
  /** A paste that spans fields (text with Tabs, as from a spreadsheet row): each piece goes into the next field, and the focus follows; a choice field takes none. */
  const pasteFrom = (index: number, text: string) => {
    const pieces = text.split("\t").slice(0, Math.max(0, props.fields.length - index));
    if (pieces.length === 0) return;
    setValues((v) => {
      const next = { ...v };
      pieces.forEach((piece, k) => {
        const field = props.fields[index + k]!;
        if (!field.choices) next[field.name] = (next[field.name] ?? "") + oneLine(piece);
      });
      return next;
    });
    setFocus(index + pieces.length - 1);
  };
  useKeys(
    (input, key) => {
      if (key.escape) return props.onCancel();
      if (key.tab && key.shift) return setFocus((f) => (f + props.fields.length - 1) % props.fields.length);
      if (key.upArrow) return setFocus((f) => Math.max(0, f - 1));
      if (key.tab || key.downArrow) return setFocus((f) => (f + 1) % props.fields.length);
      if ((key.ctrl && input === "s") || (key.return && focus === props.fields.length - 1)) return submit();
      if (key.return) return setFocus((f) => Math.min(props.fields.length - 1, f + 1));
      const { choices, name } = props.fields[focus]!;
      if (choices && (key.leftArrow || key.rightArrow || input === " ")) setValues((v) => ({ ...v, [name]: nextChoice(choices, v[name] ?? "", key.leftArrow) }));
    },
    { isActive: !busy, modifiers: true },
  );
  const inner = Math.max(10, (props.width ?? 70) - 4);
  // Labels may be an upstream's (the rules form's argument names): drawn through fit, escaped, and their column kept
  // to a third of the form. Drawn raw, a name holding an ESC sequence reached the terminal and a long one pushed
  // every row past the edge.
  const labelWidth = Math.min(Math.max(...props.fields.map((f) => columnsOf(f.label))) + 1, Math.max(12, Math.floor(inner / 3)));
  // Title and error are wrapped here, not by the terminal, so the lines they take are known.
  const titleLines = wrapText(props.title, inner, 2);
  const errorLines = error ? wrapText(`✗ ${error}`, inner, 6) : [];
  const hints = props.fields.map((field) => field.hint?.(values[field.name] ?? "", values));
  const cost = (i: number) => (hints[i] ? 2 : 1);
  // Border (2), title, error and the key line; what is left holds fields, less a line saying which are shown when not all.
  const fixed = 2 + titleLines.length + errorLines.length + 1;
  const { start, end, windowed } = fieldWindow(props.fields.map((_, i) => cost(i)), focus, props.height - fixed);
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      {titleLines.map((line, i) => (
        <Text key={i} bold>
          {line}
        </Text>
      ))}
      {props.fields.slice(start, end).map((field, k) => {
        const i = start + k;
        const hint = hints[i];
        return (
          <Box key={field.name} flexDirection="column">
            <Box>
              {/* Never shrunk by a long value beside it: its padding went, and label and value ran together. */}
              <Box flexShrink={0}>
                <Text color={i === focus ? "cyan" : undefined}>{(i === focus ? "› " : "  ") + fit(field.label, labelWidth - 1, { pad: true }) + " "}</Text>
              </Box>
              {field.choices ? (
                <Choices choices={field.choices} value={values[field.name] ?? ""} focused={i === focus && !busy} width={Math.max(10, (props.width ?? 70) - labelWidth - 6)} />
              ) : (
                <TextField value={values[field.name] ?? ""} onChange={(value) => setValues((v) => ({ ...v, [field.name]: value }))} focus={i === focus && !busy} onPastePastTab={(rest) => pasteFrom(i + 1, rest)} mask={field.mask} placeholder={field.placeholder} width={Math.max(10, (props.width ?? 70) - labelWidth - 6)} />
              )}
            </Box>
            {hint ? <Text dimColor>{fit(" ".repeat(labelWidth + 2) + hint, Math.max(10, (props.width ?? 70) - 4))}</Text> : null}
          </Box>
        );
      })}
      {windowed ? <FieldsShown start={start} end={end} total={props.fields.length} width={inner} /> : null}
      {errorLines.map((line, i) => (
        <Text key={i} color="red">
          {line}
        </Text>
      ))}
      {busy ? <Spinner label="Sending…" /> : <KeyHints width={inner} hints={["Tab next", { text: `Enter on the last field or Ctrl-S ${props.submitLabel ?? "save"}`, short: `Ctrl-S ${props.submitLabel ?? "save"}` }, "Esc cancel"]} />}
    </Box>
  );
}

/**
 * Which fields a form shows when their lines (`costs`, one entry a field) do not all fit in `room`: those
 * around the focused one, up to half the room above it, then below, then above again, leaving a line for
 * <FieldsShown>. Every multi-field form uses it (Form, the connector form), so they scroll alike.
 */
export function fieldWindow(costs: number[], focus: number, room: number): { start: number; end: number; windowed: boolean } {
  const total = costs.reduce((sum, c) => sum + c, 0);
  if (total <= room) return { start: 0, end: costs.length, windowed: false };
  const cost = (i: number) => costs[i]!;
  const fieldRoom = Math.max(cost(focus), room - 1);
  let start = focus;
  let end = focus + 1;
  let used = cost(focus);
  for (;;) {
    if (start > 0 && used + cost(start - 1) <= fieldRoom && (used < fieldRoom / 2 || end >= costs.length)) used += cost(--start);
    else if (end < costs.length && used + cost(end) <= fieldRoom) used += cost(end++);
    else if (start > 0 && used + cost(start - 1) <= fieldRoom) used += cost(--start);
    else break;
  }
  return { start, end, windowed: start > 0 || end < costs.length };
}

/** The line under a windowed form saying which fields are shown and how to reach the others. */
export function FieldsShown(props: { start: number; end: number; total: number; width: number }) {
  return <Text dimColor>{fit(`fields ${props.start + 1}–${props.end} of ${props.total} (Tab, ↑↓)`, props.width)}</Text>;
}
