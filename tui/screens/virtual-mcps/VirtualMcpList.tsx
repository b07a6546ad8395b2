import { Box, Text } from "ink";
import { useEffect, useRef, useState } from "react";
import { usePoll } from "../../components/usePoll.ts";
import type { AdminClient } from "../../../src/admin-client/index.ts";
import { Confirm } from "../../components/Confirm.tsx";
import { FilterLine, filterLines, filtered, useListFilter } from "../../components/ListFilter.tsx";
import { MOVE_HINT, movedSelection } from "../../components/listKeys.ts";
import { Form, type FormField } from "../../components/Form.tsx";
import { Spinner } from "../../components/Spinner.tsx";
import { Table } from "../../components/Table.tsx";
import { counted, fit, wrapText } from "../../components/text.ts";
import { accessSummary, slugProblem, type VirtualMcpFileEntry, type VirtualMcpSummary } from "./model.ts";
import { useKeys } from "../../components/useKeys.ts";
import { Problem } from "../../components/Problem.tsx";
import { isStaleRefusal, refusalText } from "../../components/refusal.ts";
import { KeyHints } from "../../components/KeyHints.tsx";

const REFRESH_MS = 3000;

/** Name, description and new-tool policy: the fields the create and edit forms share. */
export const BASIC_FIELDS: FormField[] = [
  { name: "name", label: "Name", validate: (v) => (v.trim() === "" ? "give it a name" : undefined) },
  { name: "description", label: "Description", placeholder: "(optional)" },
  { name: "newTools", label: "New tools", choices: ["auto", "approve"], hint: (v) => (v === "approve" ? "approve: new or changed tools wait for an admin" : "auto: new tools appear at once; approve: they wait") },
];

type Overlay = { kind: "create" } | { kind: "edit"; item: VirtualMcpSummary } | { kind: "delete"; item: VirtualMcpSummary } | undefined;

/** Every Virtual MCP, with create, edit, delete (confirmed) and Enter to curate one. */
export function VirtualMcpList(props: { client: AdminClient; width: number; height: number; setCapturing: (c: boolean) => void; onOpen: (slug: string) => void; /** Selected once the list is in (the one just curated). */ initialSlug?: string | undefined }) {
  const { client, width, height } = props;
  const [selected, setSelected] = useState(0);
  const [overlay, setOverlay] = useState<Overlay>();
  const [busy, setBusy] = useState<string>();
  const [message, setMessage] = useState<string>();
  const { value: items, error, reload: load, alive } = usePoll(() => client.get<VirtualMcpSummary[]>("/virtual-mcps"), REFRESH_MS, [client]);
  const filter = useListFilter(() => setSelected(0));
  // Rows the table shows, from the last render: a page for PgUp PgDn.
  const page = useRef(1);
  useEffect(() => {
    props.setCapturing(overlay !== undefined || filter.editing);
    return () => props.setCapturing(false);
  }, [overlay !== undefined || filter.editing]);

  const all = items ?? [];
  const list = filtered(all, filter.text, (v) => [v.slug, v.name, ...v.definition.connectors.map((a) => a.connector), accessSummary(v.definition.access)]);
  // Back from curating one, the selection is on it again: a key pressed next (d deletes) must act on what the admin expects.
  const [placed, setPlaced] = useState(props.initialSlug === undefined);
  useEffect(() => {
    if (placed || items === undefined) return;
    setPlaced(true);
    const index = items.findIndex((item) => item.slug === props.initialSlug);
    if (index >= 0) setSelected(index);
  }, [items, placed]);
  const current = list[Math.min(selected, list.length - 1)];
  useKeys(
    (input, key) => {
      if (filter.takes(input, key)) return;
      // From the row shown (movedSelection), as in the curate view: after a delete the index kept could point past the end.
      const to = movedSelection(input, key, selected, list.length, page.current);
      if (to !== undefined) setSelected(to);
      else if (key.return && current) props.onOpen(current.slug);
      else if (input === "n") setOverlay({ kind: "create" });
      else if (input === "e" && current) setOverlay({ kind: "edit", item: current });
      else if (input === "d" && current) setOverlay({ kind: "delete", item: current });
      // R reloads on every screen; r, the key here before, still does (in the curate view r renames).
      else if (input === "R" || input === "r") void load();
    },
    { isActive: overlay === undefined && !filter.editing },
  );

  /** `expect`: the revision the edit started from, or null for a new one (refused if someone created it meanwhile). */
  const put = async (definition: VirtualMcpFileEntry, expect: string | null) => {
    const result = await client.send<{ changes: string[] }>("PUT", `/virtual-mcps/${encodeURIComponent(definition.slug)}`, definition, { expect });
    setMessage(`✓ ${result.changes.join("; ") || "no change"}`);
    await load();
  };

  if (overlay?.kind === "create") {
    return (
      <Form
        title="New virtual MCP"
        width={width}
        height={height}
        fields={[{ name: "slug", label: "Slug", placeholder: "e.g. sales", validate: (v) => slugProblem(v, all.map((i) => i.slug)), hint: (v) => (v ? `endpoint /mcp/${v}` : "lowercase letters, digits and -") }, ...BASIC_FIELDS]}
        initial={{ newTools: "auto" }}
        submitLabel="create"
        onCancel={() => setOverlay(undefined)}
        onSubmit={async (v) => {
          await put({ slug: v.slug!, name: v.name!.trim(), description: v.description ?? "", newTools: v.newTools!, connectors: [] }, null);
          setOverlay(undefined);
          props.onOpen(v.slug!);
        }}
      />
    );
  }
  if (overlay?.kind === "edit") {
    const item = overlay.item;
    return (
      <Form
        title={`Edit virtual MCP "${item.slug}"`}
        width={width}
        height={height}
        fields={BASIC_FIELDS}
        initial={{ name: item.definition.name, description: item.definition.description, newTools: item.definition.newTools }}
        onCancel={() => setOverlay(undefined)}
        onSubmit={async (v) => {
          await put({ ...item.definition, name: v.name!.trim(), description: v.description ?? "", newTools: v.newTools! }, item.revision);
          setOverlay(undefined);
        }}
      />
    );
  }

  const rows = list.map((v) => [
    v.slug,
    v.name,
    v.definition.connectors.map((a) => a.connector).join(", ") || "-",
    `${v.toolCount}${v.pending.length ? ` +${v.pending.length}?` : ""}`,
    accessSummary(v.definition.access),
    String(v.sessions),
  ]);
  const wide = width >= 100;
  const columns = [
    // Cut in the middle, and wider when there is room: cut at the end, sales-emea-… and sales-emea-… were two rows alike.
    { title: "Slug", width: Math.min(width >= 140 ? 40 : 20, Math.max(8, ...list.map((v) => v.slug.length))), middle: true },
    { title: "Name" },
    ...(wide ? [{ title: "Connectors" }] : []),
    { title: "Tools", width: 7 },
    { title: "Access", width: wide ? 24 : 14 },
    { title: "Sess", width: 4 },
  ];
  const shown = wide ? rows : rows.map((r) => [r[0]!, r[1]!, r[3]!, r[4]!, r[5]!]);
  // A failed refresh over a list still shown: its sentence (up to three lines) above the table, which gives up the room.
  const errorLines = error && items ? wrapText(`✗ ${error}`, width, 3).length - 1 : 0;
  // A refusal is wrapped too (what to do, and that the list was reloaded, are at its end), on lines the table gives up.
  const refusal = !busy && message?.startsWith("✗") ? message : undefined;
  const refusalLines = refusal ? wrapText(refusal, width, 3).length - 1 : 0;
  const tableHeight = Math.max(1, props.height - 5 - (overlay?.kind === "delete" ? 3 : 0) - errorLines - refusalLines - filterLines(filter));
  page.current = tableHeight;
  return (
    <Box flexDirection="column">
      {error ? <Problem text={`✗ ${error}`} width={width} /> : null}
      {items === undefined && !error ? <Spinner label="Loading virtual MCPs…" /> : null}
      {/* The delete question's box takes three lines: the table gives them up, or a full list would push the screen past its height. */}
      <FilterLine filter={filter} width={width} shown={list.length} total={all.length} placeholder="slug, name, connector or access words" />
      {items ? <Table columns={columns} rows={shown} width={width} height={tableHeight} selected={Math.min(selected, list.length - 1)} empty={filter.text ? "No virtual MCP matches the filter." : "No virtual MCPs yet: press n to create one."} /> : null}
      {overlay?.kind === "delete" ? (
        <Confirm
          message={fit(`Delete virtual MCP "${overlay.item.slug}"? Its ${counted(overlay.item.sessions, "connected session")} lose it.`, width - 12)}
          onNo={() => setOverlay(undefined)}
          onYes={() => {
            const { slug, revision } = overlay.item;
            setOverlay(undefined);
            setBusy(`Deleting ${slug}…`);
            // Based on the revision shown: one changed meanwhile elsewhere is refused, and the list reloaded to show it.
            client.send<{ changes: string[] }>("DELETE", `/virtual-mcps/${encodeURIComponent(slug)}`, undefined, { expect: revision }).then(
              (r) => (setBusy(undefined), setMessage(`✓ ${r.changes.join("; ")}`), void load()),
              (e: Error) => (setBusy(undefined), setMessage(`✗ ${refusalText(e)}`), isStaleRefusal(e) && void load()),
            );
          }}
        />
      ) : null}
      {busy ? <Spinner label={busy} /> : refusal ? <Problem text={refusal} width={width} /> : message ? <Text color="green">{fit(message, width)}</Text> : null}
      <KeyHints width={width} hints={[MOVE_HINT, "/ filter", "Enter curate", "n new", "e edit", "d delete", { text: "R reload", optional: true }, { text: "? help", optional: true }]} />
    </Box>
  );
}
