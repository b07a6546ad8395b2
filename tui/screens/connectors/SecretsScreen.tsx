import { Box, Text } from "ink";
import { useEffect, useRef, useState } from "react";
import { Confirm } from "../../components/Confirm.tsx";
import { Form } from "../../components/Form.tsx";
import { Spinner } from "../../components/Spinner.tsx";
import { Table } from "../../components/Table.tsx";
import { usePolledList } from "../../components/usePolledList.ts";
import { fit, formatTime, wrapText } from "../../components/text.ts";
import type { ScreenDefinition, ScreenProps } from "../types.ts";
import type { SecretListing } from "./model.ts";
import { useKeys } from "../../components/useKeys.ts";
import { Problem } from "../../components/Problem.tsx";
import { KeyHints } from "../../components/KeyHints.tsx";
import { MOVE_HINT, movedSelection } from "../../components/listKeys.ts";

const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

type Mode = { kind: "list" } | { kind: "set"; name: string | undefined } | { kind: "delete"; name: string };

/** Secrets by name: versions and dates; set (masked) and delete. A value is never shown or echoed. */
export function SecretsScreen(props: ScreenProps) {
  const { client, width, height, setCapturing } = props;
  // Loaded once and after each change (R reloads): secrets change only through people.
  const { list: secrets, error: loadError, selected, setSelected, reload: load, reloadAndSelect, alive } = usePolledList(
    () => client.get<SecretListing[]>("/secrets"),
    (secret) => secret.name,
    0,
  );
  const [mode, setMode] = useState<Mode>({ kind: "list" });
  const [notice, setNotice] = useState<{ text: string; ok: boolean }>();
  const [working, setWorking] = useState<string>();
  // Rows the table shows, from the last render: a page for PgUp PgDn.
  const page = useRef(1);
  useEffect(() => {
    setCapturing(mode.kind !== "list");
    return () => setCapturing(false);
  }, [mode.kind, setCapturing]);

  const current = secrets?.[selected];
  useKeys(
    (input, key) => {
      // The moves every list takes: ↓ over no secrets set the selection to -1, and the first secret to come was then not selected.
      const to = movedSelection(input, key, selected, secrets?.length ?? 0, page.current);
      if (to !== undefined) return setSelected(to);
      if (input === "n") return (setNotice(undefined), setMode({ kind: "set", name: undefined }));
      // R reloads on every screen; g, the key here before, still does.
      if (input === "R" || input === "g") return void load();
      if (!current) return;
      if (input === "e" || key.return) return (setNotice(undefined), setMode({ kind: "set", name: current.name }));
      if (input === "d") return (setNotice(undefined), setMode({ kind: "delete", name: current.name }));
    },
    { isActive: mode.kind === "list" && !working },
  );

  if (mode.kind === "set") {
    const existing = mode.name;
    return (
      <Form
        title={existing ? `New value for secret ${existing} (connectors using it reconnect)` : "Add a secret"}
        width={width}
        height={height}
        submitLabel="store"
        fields={[
          ...(existing ? [] : [{ name: "name", label: "Name", placeholder: "github-token", validate: (v: string) => (!SECRET_NAME.test(v) ? "use 1–128 letters, digits, _ . or -, starting with a letter." : (secrets ?? []).some((s) => s.name === v) ? `${v} exists already; select it and press e to replace its value.` : undefined) }]),
          { name: "value", label: "Value", mask: true, placeholder: "(typed masked; never shown)", validate: (v: string) => (v === "" ? "type the value (it is stored encrypted and never shown)." : new TextEncoder().encode(v).length > 64 * 1024 ? "the limit is 64 KiB." : undefined) },
        ]}
        onCancel={() => setMode({ kind: "list" })}
        onSubmit={async (values) => {
          const name = existing ?? values.name!;
          const stored = await client.send<SecretListing>("PUT", `/secrets/${encodeURIComponent(name)}`, { value: values.value });
          setNotice({ text: `✓ stored ${stored.name} (version ${stored.version})`, ok: true });
          setMode({ kind: "list" });
          await reloadAndSelect(name);
        }}
      />
    );
  }

  // A refusal is wrapped onto up to three lines (what to do is at its end): the table gives up the room.
  const refusalLines = notice && !notice.ok && !working ? wrapText(`✗ ${notice.text}`, width, 3).length - 1 : 0;
  const tableHeight = Math.max(1, height - 6 - refusalLines);
  page.current = tableHeight;
  const wide = width >= 96;
  const columns = [
    { title: "NAME", width: Math.min(32, Math.max(12, Math.floor(width / 3))) },
    { title: "VER", width: 4 },
    { title: "UPDATED", width: 16 },
    ...(wide ? [{ title: "CREATED", width: 16 }] : []),
    { title: "USED BY" },
  ];
  const rows = (secrets ?? []).map((s) => [s.name, String(s.version), formatTime(s.updatedAt), ...(wide ? [formatTime(s.createdAt)] : []), s.usedBy.length ? s.usedBy.join(", ") : "-"]);
  return (
    <Box flexDirection="column">
      <Text bold>{fit(`Secrets${secrets ? ` (${secrets.length})` : ""} · values are never shown`, width)}</Text>
      {loadError ? <Problem text={`✗ ${loadError}`} width={width} /> : null}
      {!secrets && !loadError ? <Spinner label="Loading secrets…" /> : null}
      {secrets ? <Table columns={columns} rows={rows} width={width} height={tableHeight} selected={selected} empty="No secrets yet; n adds one." /> : null}
      {mode.kind === "delete" ? (
        <Confirm
          message={fit(`Delete secret ${mode.name}? Its value cannot be recovered.`, width - 12)}
          onNo={() => setMode({ kind: "list" })}
          onYes={() => {
            const name = mode.name;
            setMode({ kind: "list" });
            setWorking(`Deleting ${name}…`);
            client.send("DELETE", `/secrets/${encodeURIComponent(name)}`).then(
              () => alive.current && (setWorking(undefined), setNotice({ text: `✓ deleted ${name}`, ok: true }), void load()),
              (e: Error) => alive.current && (setWorking(undefined), setNotice({ text: e.message, ok: false })),
            );
          }}
        />
      ) : null}
      {working ? <Spinner label={fit(working, width - 2)} /> : null}
      {notice && !working ? notice.ok ? <Text color="green">{fit(notice.text, width)}</Text> : <Problem text={`✗ ${notice.text}`} width={width} /> : null}
      {mode.kind === "list" ? <KeyHints width={width} hints={[MOVE_HINT, "n new", { text: "e or Enter set a new value", short: "e/Enter set value" }, "d delete", { text: "R reload", optional: true }]} /> : null}
    </Box>
  );
}

export const secretsScreen: ScreenDefinition = {
  key: "s",
  title: "Secrets",
  short: "Secr",
  help: [
    "Secret names, versions and dates; values are never shown or echoed.",
    "↑/↓ select a secret, PgUp/PgDn a page, Home/End the first and last.",
    "n adds a secret (name, then the value typed masked), e or Enter sets a new value for the selected one:",
    "  connectors that reference it reconnect with the new value.",
    "d deletes the selected secret (asks first; refused while a connector references it). R reloads (g too).",
    "Reference a secret in a connector's env or headers as ${secret:NAME} (Ctrl-R in the connector form).",
  ],
  Component: SecretsScreen,
};
