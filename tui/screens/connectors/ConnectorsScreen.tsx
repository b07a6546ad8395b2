import { Box, Text } from "ink";
import { useEffect, useRef, useState } from "react";
import type { AdminClient } from "../../../src/admin-client/index.ts";
import { Confirm } from "../../components/Confirm.tsx";
import { FilterLine, filterLines, filtered, useListFilter } from "../../components/ListFilter.tsx";
import { MOVE_HINT, movedSelection } from "../../components/listKeys.ts";
import { Spinner } from "../../components/Spinner.tsx";
import { Table } from "../../components/Table.tsx";
import { usePolledList } from "../../components/usePolledList.ts";
import { counted, fit, wrapText } from "../../components/text.ts";
import type { ScreenDefinition, ScreenProps } from "../types.ts";
import { ConnectorForm } from "./ConnectorForm.tsx";
import { bodyOf, draftOf, emptyDraft, stateLabel, type ConnectorStatus, type ProbeResult, type SecretListing } from "./model.ts";
import { TestResult } from "./TestResult.tsx";
import { useKeys } from "../../components/useKeys.ts";
import { Problem } from "../../components/Problem.tsx";
import { isStaleRefusal, refusalText } from "../../components/refusal.ts";
import { KeyHints } from "../../components/KeyHints.tsx";

const REFRESH_MS = 2000;
/** Under the admin client's 10 s request limit. */
const TEST_TIMEOUT_MS = 8000;

type Mode =
  | { kind: "list" }
  | { kind: "form"; connector: ConnectorStatus | undefined }
  | { kind: "test"; name: string; result?: ProbeResult; error?: string }
  | { kind: "details"; name: string }
  | { kind: "delete"; name: string; revision: string };

export function testConnector(client: AdminClient, name: string, spec: Record<string, unknown>): Promise<ProbeResult> {
  return client.send<ProbeResult>("POST", `/connectors/test?timeoutMs=${TEST_TIMEOUT_MS}`, { ...spec, name });
}

/** The list of connectors with their state; add, edit, test, restart, details with stderr, delete. */
export function ConnectorsScreen(props: ScreenProps) {
  const { client, width, height, setCapturing } = props;
  const { list: connectors, error: loadError, selected, setSelected, reload: load, reloadAndSelect, alive } = usePolledList(
    () => client.get<ConnectorStatus[]>("/connectors"),
    (connector) => connector.name,
    REFRESH_MS,
  );
  const [mode, setMode] = useState<Mode>({ kind: "list" });
  const [secrets, setSecrets] = useState<string[]>([]);
  const [notice, setNotice] = useState<{ text: string; ok: boolean }>();
  const [working, setWorking] = useState<string>();
  const filter = useListFilter(() => setSelected(0));
  // Rows the table shows, from the last render: a page for PgUp PgDn.
  const page = useRef(1);
  useEffect(() => {
    setCapturing(mode.kind !== "list" || filter.editing);
    return () => setCapturing(false);
  }, [mode.kind, filter.editing, setCapturing]);

  const shown = filtered(connectors ?? [], filter.text, (c) => [c.name, c.kind, stateLabel(c.state).text, c.lastError ?? c.reason ?? ""]);
  const current = shown[Math.min(selected, shown.length - 1)];
  const openForm = (connector: ConnectorStatus | undefined) => {
    if (connector && connector.spec.kind === "builtin") return setNotice({ text: `${connector.name} is a builtin connector: there is nothing to edit.`, ok: false });
    // The secret names for Ctrl-R; the form opens at once and gets them when they arrive.
    void client.get<SecretListing[]>("/secrets").then((list) => alive.current && setSecrets(list.map((s) => s.name)), () => {});
    setNotice(undefined);
    setMode({ kind: "form", connector });
  };
  const runTest = (connector: ConnectorStatus) => {
    setMode({ kind: "test", name: connector.name });
    const { name, ...spec } = bodyOf(connector);
    testConnector(client, String(name), spec).then(
      (result) => alive.current && setMode((m) => (m.kind === "test" && m.name === connector.name ? { ...m, result } : m)),
      (e: Error) => alive.current && setMode((m) => (m.kind === "test" && m.name === connector.name ? { ...m, error: e.message } : m)),
    );
  };
  const act = (label: string, request: () => Promise<unknown>, done: string) => {
    setWorking(label);
    setNotice(undefined);
    request().then(
      () => alive.current && (setWorking(undefined), setNotice({ text: done, ok: true }), void load()),
      // Refused as stale (someone changed it since it was shown): the list is reloaded, and the sentence says so.
      (e: Error) => alive.current && (setWorking(undefined), setNotice({ text: refusalText(e), ok: false }), isStaleRefusal(e) && void load()),
    );
  };

  useKeys(
    (input, key) => {
      if (filter.takes(input, key)) return;
      const to = movedSelection(input, key, selected, shown.length, page.current);
      if (to !== undefined) return setSelected(to);
      if (input === "n") return openForm(undefined);
      if (input === "R") return void load();
      if (!current) return;
      if (input === "e") return openForm(current);
      if (key.return) return setMode({ kind: "details", name: current.name });
      if (input === "t") return runTest(current);
      if (input === "r") return act(`Restarting ${current.name}…`, () => client.send("POST", `/connectors/${encodeURIComponent(current.name)}/restart`), `✓ restarted ${current.name}`);
      if (input === "d") return (setNotice(undefined), setMode({ kind: "delete", name: current.name, revision: current.revision }));
    },
    { isActive: mode.kind === "list" && !working && !filter.editing },
  );
  useKeys(
    (input, key) => {
      if (key.escape || key.return || input === "b") setMode({ kind: "list" });
    },
    { isActive: mode.kind === "test" },
  );

  if (mode.kind === "form") {
    const adding = mode.connector === undefined;
    return (
      <ConnectorForm
        initial={mode.connector ? draftOf(mode.connector) : emptyDraft()}
        adding={adding}
        secrets={secrets}
        width={width}
        height={height}
        // Reloaded at once: after a save refused because someone changed it meanwhile, editing again starts from their change.
        onCancel={() => (setMode({ kind: "list" }), void load())}
        onTest={(name, spec) => testConnector(client, name, spec)}
        onSave={async (name, spec) => {
          // Based on what was loaded: a connector of that name added, or this one changed, meanwhile is refused, not overwritten.
          const saved = await client.send<{ changes: string[]; created: boolean }>("PUT", `/connectors/${encodeURIComponent(name)}`, spec, { expect: mode.connector?.revision ?? null });
          setNotice({ text: `✓ ${saved.created ? "added" : "saved"} ${name}${saved.changes.length === 0 ? " (no change)" : ""}`, ok: true });
          setMode({ kind: "list" });
          // The one saved is selected and shown, though a filter would hide it.
          filter.setText("");
          await reloadAndSelect(name);
        }}
      />
    );
  }
  if (mode.kind === "details") {
    return <ConnectorDetails client={client} name={mode.name} connector={connectors?.find((c) => c.name === mode.name)} width={width} height={height} onBack={() => setMode({ kind: "list" })} />;
  }

  // A refusal is wrapped onto up to three lines (what to do is at its end): the table gives up the room.
  const refusalLines = notice && !notice.ok && !working ? wrapText(`✗ ${notice.text}`, width, 3).length - 1 : 0;
  const tableHeight = Math.max(1, height - 6 - refusalLines - filterLines(filter));
  page.current = tableHeight;
  const wide = width >= 96;
  const columns = [
    // Names are at most 32 characters: all of them when there is room; else cut in the middle, where two long names still differ.
    { title: "NAME", width: Math.min(32, Math.max(10, Math.floor(width / 5))), middle: true },
    { title: "KIND", width: 7 },
    { title: "STATE", width: 11 },
    { title: "RESTARTS", width: 8 },
    ...(wide ? [{ title: "TOOLS", width: 5 }] : []),
    { title: "LAST ERROR" },
  ];
  const rows = shown.map((c) => [c.name, c.kind, stateLabel(c.state).text, String(c.restarts), ...(wide ? [String(c.tools)] : []), c.lastError ?? c.reason ?? ""]);
  return (
    <Box flexDirection="column">
      <Text bold>{fit(`Connectors${connectors ? ` (${connectors.length})` : ""}`, width)}</Text>
      {loadError ? <Problem text={`✗ ${loadError}`} width={width} /> : null}
      {!connectors && !loadError ? <Spinner label="Loading connectors…" /> : null}
      <FilterLine filter={filter} width={width} shown={shown.length} total={connectors?.length ?? 0} placeholder="name, kind, state or error words" />
      {connectors ? (
        <Table columns={columns} rows={rows} width={width} height={mode.kind === "test" ? Math.min(tableHeight, 4) : tableHeight} selected={Math.min(selected, shown.length - 1)} colorOf={(i) => stateLabel(shown[i]!.state).color} empty={filter.text ? "No connector matches the filter." : "No connectors yet; n adds one."} />
      ) : null}
      {mode.kind === "delete" ? (
        <Confirm message={fit(`Delete connector ${mode.name}? Virtual MCPs must not use it.`, width - 12)} onYes={() => (setMode({ kind: "list" }), act(`Deleting ${mode.name}…`, () => client.send("DELETE", `/connectors/${encodeURIComponent(mode.name)}`, undefined, { expect: mode.revision }), `✓ deleted ${mode.name}`))} onNo={() => setMode({ kind: "list" })} />
      ) : null}
      {mode.kind === "test" ? (
        <Box flexDirection="column" borderStyle="round" paddingX={1}>
          <TestResult name={mode.name} result={mode.result} error={mode.error} width={width - 4} height={Math.max(3, height - 10)} />
          <Text dimColor>{fit("Esc or Enter back", width - 4)}</Text>
        </Box>
      ) : null}
      {working ? <Spinner label={fit(working, width - 2)} /> : null}
      {notice && !working ? notice.ok ? <Text color="green">{fit(notice.text, width)}</Text> : <Problem text={`✗ ${notice.text}`} width={width} /> : null}
      {mode.kind === "list" ? <KeyHints width={width} hints={[MOVE_HINT, "/ filter", "n new", "e edit", "t test", "r restart", { text: "Enter details & stderr", short: "Enter details" }, "d delete", { text: "R reload", optional: true }]} /> : null}
    </Box>
  );
}

/** One connector: its state and last error in full, and a stdio connector's last stderr lines (refreshed). */
function ConnectorDetails(props: { client: AdminClient; name: string; connector: ConnectorStatus | undefined; width: number; height: number; onBack: () => void }) {
  const { client, name, width, height, connector } = props;
  const [lines, setLines] = useState<string[]>();
  const [error, setError] = useState<string>();
  const [scroll, setScroll] = useState(0);
  useEffect(() => {
    let alive = true;
    const load = () =>
      client.get<{ lines: string[] }>(`/connectors/${encodeURIComponent(name)}/logs`).then(
        (logs) => alive && (setLines(logs.lines), setError(undefined)),
        (e: Error) => alive && setError(e.message),
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [client, name]);
  // The last error is read whole (wrapped, not cut): what to do about it is usually at its end.
  const lastError = connector?.lastError ? wrapText(`last error: ${connector.lastError}`, width, 3) : [];
  const room = Math.max(1, height - 6 - lastError.length);
  const total = lines?.length ?? 0;
  const maxScroll = Math.max(0, total - room);
  useKeys((input, key) => {
    if (key.escape || input === "b" || key.return) return props.onBack();
    if (key.upArrow) return setScroll((s) => Math.min(maxScroll, s + 1));
    if (key.downArrow) return setScroll((s) => Math.max(0, s - 1));
    if (key.pageUp) return setScroll((s) => Math.min(maxScroll, s + room));
    if (key.pageDown) return setScroll((s) => Math.max(0, s - room));
  });
  const from = Math.max(0, total - room - Math.min(scroll, maxScroll));
  const state = connector ? stateLabel(connector.state) : undefined;
  const describe = connector?.spec.kind === "stdio" ? `${connector.spec.command} ${connector.spec.args.join(" ")}` : connector && "url" in connector.spec ? connector.spec.url : (connector?.kind ?? "");
  return (
    <Box flexDirection="column">
      <Text bold>{fit(`Connector ${name}${connector ? ` · ${connector.kind} · ${describe}` : ""}`, width)}</Text>
      {connector ? (
        <Text color={state?.color}>{fit(`${state?.text} · restarts ${connector.restarts} · ${counted(connector.tools, "tool")}${connector.lastError ? "" : " · last error: none"}`, width)}</Text>
      ) : (
        <Text color="red">{fit("✗ this connector is gone", width)}</Text>
      )}
      {lastError.map((line, i) => (
        <Text key={i} color="red">
          {line}
        </Text>
      ))}
      {error ? <Problem text={`✗ ${error}`} width={width} /> : null}
      <Text dimColor>{fit(connector && connector.kind !== "stdio" ? "Only stdio connectors have stderr." : `Last stderr lines (${total}, oldest first; secret values shown as [secret:NAME]):`, width)}</Text>
      {!lines && !error ? <Spinner label="Loading…" /> : null}
      {lines?.slice(from, from + room).map((line, i) => (
        <Text key={from + i}>{fit(line, width)}</Text>
      ))}
      {lines && total === 0 && connector?.kind === "stdio" ? <Text dimColor>(nothing on stderr yet)</Text> : null}
      <Text dimColor>{fit(`↑↓ PgUp PgDn scroll${total > room ? ` (${from + 1}–${Math.min(total, from + room)} of ${total})` : ""} · Esc back`, width)}</Text>
    </Box>
  );
}

export const connectorsScreen: ScreenDefinition = {
  key: "c",
  title: "Connectors",
  short: "Conn",
  help: [
    "↑/↓ select a connector, PgUp/PgDn a page, Home/End the first and last; the list refreshes every 2 s",
    "  (state, restarts, last error); R reloads it now. / filters it by name, kind, state or error as you type",
    "  (Enter keeps the filter, Esc clears it).",
    "n adds a connector, e edits the selected one (stdio: command, args, cwd, env; http/sse: url, headers).",
    "In the form: Tab/↓ next field, ←/→ on kind changes it, Ctrl-R inserts ${secret:NAME} from the secret list",
    "  into an env or header row, Ctrl-T tests the spec, Ctrl-S (or Enter on the last field) saves, Esc cancels.",
    "t tests the selected connector: a temporary copy connects and lists its tools, then is stopped.",
    "r restarts it now · Enter shows its details and last stderr lines · d deletes it (asks first).",
  ],
  Component: ConnectorsScreen,
};
