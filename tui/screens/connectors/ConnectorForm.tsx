import { Box, Text } from "ink";
import { useState } from "react";
import { Choices, fieldWindow, FieldsShown, nextChoice } from "../../components/Form.tsx";
import { Picker } from "../../components/Picker.tsx";
import { Spinner } from "../../components/Spinner.tsx";
import { fit, wrapText } from "../../components/text.ts";
import { oneLine, TextField } from "../../components/TextField.tsx";
import { EDITABLE_KINDS, envNameFor, problemsOf, specOf, type ConnectorDraft, type ProbeResult } from "./model.ts";
import { TestResult } from "./TestResult.tsx";
import { useKeys } from "../../components/useKeys.ts";
import { KeyHints } from "../../components/KeyHints.tsx";

interface FieldRow {
  id: string;
  label: string;
  placeholder?: string;
}

/** The rows of the form for a draft: env and header rows end with an empty one to add another. */
function rowsOf(draft: ConnectorDraft, adding: boolean): FieldRow[] {
  const rows: FieldRow[] = [];
  if (adding) rows.push({ id: "name", label: "name", placeholder: "github" });
  rows.push({ id: "kind", label: "kind" });
  if (draft.kind === "stdio") {
    rows.push({ id: "command", label: "command", placeholder: "npx" });
    rows.push({ id: "args", label: "args", placeholder: '-y @modelcontextprotocol/server-github ("quote" spaces)' });
    rows.push({ id: "cwd", label: "cwd", placeholder: "(the gateway's)" });
    draft.env.forEach((_, i) => rows.push({ id: `env.${i}`, label: i === 0 ? "env" : "", placeholder: i === draft.env.length - 1 ? "KEY=value (Ctrl-R inserts a secret)" : "" }));
  } else {
    rows.push({ id: "url", label: "url", placeholder: "https://example.com/mcp" });
    draft.headers.forEach((_, i) => rows.push({ id: `headers.${i}`, label: i === 0 ? "headers" : "", placeholder: i === draft.headers.length - 1 ? "Name: value (Ctrl-R inserts a secret)" : "" }));
  }
  rows.push({ id: "timeout", label: "timeout", placeholder: "60s" });
  return rows;
}

function valueOf(draft: ConnectorDraft, id: string): string {
  const [key, index] = id.split(".");
  if (key === "env" || key === "headers") return draft[key][Number(index)] ?? "";
  return String(draft[key as keyof ConnectorDraft] ?? "");
}

function withValue(draft: ConnectorDraft, id: string, value: string): ConnectorDraft {
  const [key, index] = id.split(".");
  if (key === "env" || key === "headers") {
    const list = draft[key].slice();
    list[Number(index)] = value;
    // Always one empty row at the end to add another; empty rows in between go when another is typed.
    const kept = list.filter((row, i) => row !== "" || i === Number(index));
    if (kept.at(-1) !== "") kept.push("");
    return { ...draft, [key]: kept };
  }
  return { ...draft, [key!]: value };
}

/**
 * Add or edit a connector (stdio, http, sse). Secret references are picked
 * from the secret list (Ctrl-R) rather than typed; everything is checked
 * before it is sent; Ctrl-T tests the spec as it stands without saving.
 */
export function ConnectorForm(props: {
  initial: ConnectorDraft;
  adding: boolean;
  secrets: string[];
  width: number;
  height: number;
  onSave: (name: string, spec: Record<string, unknown>) => Promise<unknown>;
  onTest: (name: string, spec: Record<string, unknown>) => Promise<ProbeResult>;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState(props.initial);
  const [focus, setFocus] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<"saving" | undefined>();
  const [picking, setPicking] = useState(false);
  const [test, setTest] = useState<{ result?: ProbeResult; error?: string }>();
  const rows = rowsOf(draft, props.adding);
  const current = rows[Math.min(focus, rows.length - 1)]!;
  const name = draft.name.trim();

  const check = (): boolean => {
    const problems = problemsOf(draft, props.secrets, { needName: props.adding });
    if (problems.length === 0) return true;
    const first = problems[0]!;
    setError(`${first.field.split(".")[0]}: ${first.message}`);
    const at = rows.findIndex((r) => r.id === first.field || (first.field.includes(".") && r.id.startsWith(first.field.split(".")[0]!)));
    if (at >= 0) setFocus(at);
    return false;
  };
  const save = () => {
    if (!check()) return;
    setError(undefined);
    setBusy("saving");
    props.onSave(name, specOf(draft)).then(
      () => setBusy(undefined),
      (e: Error) => {
        setBusy(undefined);
        setError(e.message);
      },
    );
  };
  const runTest = () => {
    if (!check()) return;
    setError(undefined);
    setTest({});
    props.onTest(name || "test", specOf(draft)).then(
      (result) => setTest({ result }),
      (e: Error) => setTest({ error: e.message }),
    );
  };
  /**
   * Pasted text with Tabs in it (a spreadsheet row; typed Tabs are Tab keys): each piece goes into the
   * next row, as typing the same keys would; the kind row takes none (typing there never changed it).
   */
  const pasteFrom = (index: number, text: string) => {
    const pieces = text.split("\t").slice(0, Math.max(0, rows.length - index));
    if (pieces.length === 0) return;
    setDraft((d) =>
      pieces.reduce((next, piece, k) => {
        const id = rows[index + k]!.id;
        return id === "kind" || piece === "" ? next : withValue(next, id, valueOf(next, id) + oneLine(piece));
      }, d),
    );
    setFocus(index + pieces.length - 1);
  };
  const insertSecret = (secret: string) => {
    setPicking(false);
    const reference = `\${secret:${secret}}`;
    const value = valueOf(draft, current.id);
    let next: string;
    if (current.id.startsWith("env.")) next = value === "" ? `${envNameFor(secret)}=${reference}` : value + reference;
    else next = value === "" ? `Authorization: Bearer ${reference}` : value + reference;
    setDraft((d) => withValue(d, current.id, next));
  };

  useKeys(
    (input, key) => {
      if (key.escape) return props.onCancel();
      if (key.ctrl && input === "s") return save();
      if (key.ctrl && input === "t") return runTest();
      if (key.ctrl && input === "r") {
        if (current.id.startsWith("env.") || current.id.startsWith("headers.")) return setPicking(true);
        return setError(`Secret references go in ${draft.kind === "stdio" ? "env values" : "header values"}: move to an ${draft.kind === "stdio" ? "env" : "headers"} row first.`);
      }
      if (key.tab && key.shift) return setFocus((f) => (f + rows.length - 1) % rows.length);
      if (key.upArrow) return setFocus((f) => Math.max(0, f - 1));
      if (key.tab || key.downArrow) return setFocus((f) => (f + 1) % rows.length);
      if (key.return) return focus >= rows.length - 1 ? save() : setFocus((f) => f + 1);
      if (current.id === "kind" && (key.leftArrow || key.rightArrow || input === " ")) setDraft((d) => ({ ...d, kind: nextChoice(EDITABLE_KINDS, d.kind, key.leftArrow) }));
    },
    { isActive: !busy && !picking, modifiers: true },
  );

  const labelWidth = 9;
  const inner = Math.max(20, props.width - 4);
  const fieldWidth = Math.max(10, inner - labelWidth - 2);
  if (picking) {
    return <Picker title="Insert a reference to which secret?" items={props.secrets} width={props.width} height={Math.min(props.height, 12)} onPick={insertSecret} onCancel={() => setPicking(false)} empty="No secrets yet: add one on the Secrets screen (s)." />;
  }
  // At 80×24 the form and a test result share the height: rows scroll around the focused one, as in every form.
  // Each of the first three problems wrapped, not cut: what to do is at the end of the server's sentence.
  const errorLines = error ? error.split("\n").slice(0, 3).flatMap((line, i) => wrapText(`${i === 0 ? "✗ " : "  "}${line}`, inner, 3)) : [];
  const testHeight = Math.min(8, Math.floor(props.height / 3));
  // Border (2), title, error, test result and the key line.
  const fixed = 2 + 1 + errorLines.length + (test ? testHeight : 0) + 1;
  const { start, end, windowed } = fieldWindow(rows.map(() => 1), Math.min(focus, rows.length - 1), props.height - fixed);
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>{fit(props.adding ? "Add a connector" : `Edit connector ${name}`, inner)}</Text>
      {rows.slice(start, end).map((row, k) => {
        const i = start + k;
        const focused = i === focus && !busy;
        return (
          <Box key={row.id}>
            <Text color={focused ? "cyan" : undefined}>{(focused ? "› " : "  ") + row.label.padEnd(labelWidth)}</Text>
            {row.id === "kind" ? (
              <Choices choices={EDITABLE_KINDS} value={draft.kind} focused={focused} />
            ) : (
              <TextField value={valueOf(draft, row.id)} onChange={(value) => setDraft((d) => withValue(d, row.id, value))} onPastePastTab={(rest) => pasteFrom(i + 1, rest)} focus={focused} placeholder={row.placeholder} width={fieldWidth} />
            )}
          </Box>
        );
      })}
      {windowed ? <FieldsShown start={start} end={end} total={rows.length} width={inner} /> : null}
      {errorLines.map((line, i) => (
        <Text key={i} color="red">
          {line}
        </Text>
      ))}
      {test ? <TestResult name={name || "test"} result={test.result} error={test.error} width={inner} height={testHeight} /> : null}
      {busy ? <Spinner label="Saving…" /> : <KeyHints width={inner} hints={["Tab next", { text: "Ctrl-R insert secret", short: "Ctrl-R secret" }, "Ctrl-T test", { text: "Ctrl-S or Enter on the last field save", short: "Ctrl-S save" }, "Esc cancel"]} />}
    </Box>
  );
}
