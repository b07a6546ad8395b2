import { Box, Text } from "ink";
import { useCallback, useEffect, useRef, useState } from "react";
import type { AdminClient } from "../../../src/admin-client/index.ts";
import type { ConnectorStatus } from "../../../src/admin/index.ts";
import type { ToolRule, VirtualMcpPolicy } from "../../../src/policy/types.ts";
import { Confirm } from "../../components/Confirm.tsx";
import { FilterLine, filterLines, filtered, useListFilter } from "../../components/ListFilter.tsx";
import { movedSelection } from "../../components/listKeys.ts";
import { keyHintLine, type KeyHint } from "../../components/KeyHints.tsx";
import { Pager } from "../../components/Pager.tsx";
import { Form, type FormField } from "../../components/Form.tsx";
import { Spinner } from "../../components/Spinner.tsx";
import { Table, type Column } from "../../components/Table.tsx";
import { breakLines, counted, fit } from "../../components/text.ts";
import {
  accessFrom,
  accessSummary,
  approvalDiff,
  argumentNames,
  argumentRuleText,
  attach,
  descriptionText,
  describeTool,
  detach,
  emailsProblem,
  listProblem,
  listText,
  nameBudget,
  parseArgumentRule,
  policyOf,
  prefixBudget,
  prefixProblem,
  renameTool,
  ruleSummary,
  STATE_LABEL,
  toggleTool,
  toolRows,
  toolRuleFrom,
  type ToolRow,
  type VirtualMcpFileEntry,
  type VirtualMcpStatus,
} from "./model.ts";
import { BASIC_FIELDS } from "./VirtualMcpList.tsx";
import { connectLines } from "./connect.ts";
import { useKeys } from "../../components/useKeys.ts";
import { Problem, problemExtraLines } from "../../components/Problem.tsx";
import { isStaleRefusal, refusalText } from "../../components/refusal.ts";

const REFRESH_MS = 3000;

type Overlay =
  | { kind: "rename"; row: ToolRow }
  | { kind: "describe"; row: ToolRow }
  | { kind: "rules"; row: ToolRow }
  | { kind: "approve"; row: ToolRow }
  | { kind: "attach"; connectors: ConnectorStatus[] }
  | { kind: "detach"; connector: string }
  | { kind: "access" }
  | { kind: "edit" }
  | { kind: "connect"; publicUrl: string | null }
  | undefined;

/** The curate view's keys on two lines, shortened to fit (a line each is cut only past that); one line when there is room. */
const DETAIL_KEY_LINES: KeyHint[][] = [
  [{ text: "↑↓ PgUp PgDn Home End select", short: "↑↓ PgUp/Dn" }, "/ filter", "space on/off", "r rename", "t describe", { text: "Enter rules (approve when waiting)", short: "Enter rules" }],
  ["n attach", "x detach", "w access", "e edit", "C connect", "R reload", "Esc back", { text: "? help", optional: true }],
];
export const DETAIL_KEYS = keyHintLine(DETAIL_KEY_LINES.flat().slice(0, -1), Infinity);

/** One Virtual MCP: its connectors, every upstream tool with a toggle, names, descriptions, approvals and the access policy. */
export function VirtualMcpDetail(props: { client: AdminClient; slug: string; width: number; height: number; setCapturing: (c: boolean) => void; onBack: () => void }) {
  const { client, slug, width } = props;
  const path = `/virtual-mcps/${encodeURIComponent(slug)}`;
  const [status, setStatus] = useState<VirtualMcpStatus>();
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState(0);
  const [overlay, setOverlay] = useState<Overlay>();
  const [busy, setBusy] = useState<string>();
  const [message, setMessage] = useState<string>();
  const [scroll, setScroll] = useState(0);
  const filter = useListFilter(() => setSelected(0));
  // Rows the table shows, from the last render: a page for PgUp PgDn.
  const page = useRef(1);
  const alive = useRef(true);
  // A refresh is not shown while a change is being sent or a form or question is open: a form's change is saved on
  // the revision it was opened on, so one made meanwhile elsewhere is refused (409), not overwritten by what the form
  // showed. Taken in by the refresh, its revision was sent and the other admin's change was lost without a word.
  const holdRef = useRef(false);
  holdRef.current = busy !== undefined || overlay !== undefined;

  const load = useCallback(
    () =>
      client.get<VirtualMcpStatus>(path).then(
        // Unchanged (most refreshes): the status shown stays, and the 1,000 rows of a big catalogue are not rebuilt.
        (s) => alive.current && !holdRef.current && (setStatus((shown) => (Bun.deepEquals(shown, s) ? shown : s)), setError(undefined)),
        (e: Error) => alive.current && setError(e.message),
      ),
    [client, path],
  );
  useEffect(() => {
    alive.current = true;
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      alive.current = false;
      clearInterval(timer);
    };
  }, [load]);
  useEffect(() => {
    props.setCapturing(overlay !== undefined || filter.editing);
    return () => props.setCapturing(false);
  }, [overlay !== undefined || filter.editing]);

  const allRows = status ? toolRows(status) : [];
  const rows = filtered(allRows, filter.text, (r) => [r.exposed, r.upstream, r.connector, STATE_LABEL[r.state], r.description]);
  const row = rows[Math.min(selected, rows.length - 1)];
  const definition = status?.definition;
  const policy: VirtualMcpPolicy = definition ? policyOf(definition) : {};

  /**
   * A refusal's sentence goes on the message line and is thrown (forms show it). When someone else changed
   * the Virtual MCP since it was shown (a conflict), what it is now is loaded, so the change can be redone on it.
   */
  const refused = async (e: unknown): Promise<never> => {
    if (isStaleRefusal(e)) {
      const fresh = await client.get<VirtualMcpStatus>(path).catch(() => undefined);
      if (fresh) setStatus(fresh);
    }
    setMessage(`✗ ${refusalText(e)}`);
    throw e;
  };
  /** Sends the whole definition, based on the revision shown: a change made meanwhile elsewhere is refused, not overwritten. */
  const save = async (next: VirtualMcpFileEntry, label: string) => {
    setBusy(label);
    try {
      const result = await client.send<{ changes: string[]; virtualMcp: VirtualMcpStatus }>("PUT", path, next, { expect: status?.revision });
      setStatus(result.virtualMcp);
      setMessage(`✓ ${result.changes.join("; ") || "no change"}`);
    } catch (e) {
      await refused(e);
    } finally {
      setBusy(undefined);
    }
  };
  const savePolicy = async (next: VirtualMcpPolicy, label: string) => {
    setBusy(label);
    try {
      const result = await client.send<{ changes: string[] }>("PUT", `${path}/policy`, next, { expect: status?.revision });
      setMessage(`✓ ${result.changes.join("; ") || "no change"}`);
      setStatus(await client.get<VirtualMcpStatus>(path));
    } catch (e) {
      await refused(e);
    } finally {
      setBusy(undefined);
    }
  };
  /** Outside a form: the refusal stays on the message line. */
  const quietly = (p: Promise<unknown>) => void p.catch(() => undefined);

  useKeys(
    (input, key) => {
      // Over a filtered list Esc clears the filter; the next one goes back.
      if (filter.takes(input, key)) return;
      if (key.escape || key.backspace || key.leftArrow) return props.onBack();
      // From the row shown (movedSelection): after the tools shrank under the selection (a connector detached, a refresh),
      // the index kept pointed past the end, and ↑ took as many presses to show a move (space toggled another tool).
      const to = movedSelection(input, key, selected, rows.length, page.current);
      if (to !== undefined) {
        if (!busy) setMessage(undefined);
        return setSelected(to);
      }
      if (!definition || busy) return;
      if (input === "n") {
        setBusy("Loading connectors…");
        client.get<ConnectorStatus[]>("/connectors").then(
          (connectors) => (setBusy(undefined), setOverlay({ kind: "attach", connectors })),
          (e: Error) => (setBusy(undefined), setMessage(`✗ ${e.message}`)),
        );
        return;
      }
      if (input === "R") return void load();
      if (input === "C") {
        // The URL people use is the gateway's public one, which only the gateway knows (`mintgate connect` asks the same).
        setBusy("Asking the gateway for its public URL…");
        client.status().then(
          (gateway) => (setBusy(undefined), setOverlay({ kind: "connect", publicUrl: gateway.publicUrl ?? null })),
          (e: Error) => (setBusy(undefined), setMessage(`✗ ${e.message}`)),
        );
        return;
      }
      if (input === "w") return setOverlay({ kind: "access" });
      if (input === "e") return setOverlay({ kind: "edit" });
      if (input === "x") {
        const connector = row?.connector ?? definition.connectors[0]?.connector;
        if (connector) setOverlay({ kind: "detach", connector });
        return;
      }
      if (!row) return;
      if (input === " ") {
        const all = status!.catalogues[row.connector]?.tools.map((t) => t.name) ?? [];
        return quietly(save(toggleTool(definition, row.connector, row.upstream, all), `${row.state === "off" ? "Including" : "Excluding"} ${row.upstream}…`));
      }
      if (input === "r" || input === "t") {
        if (row.state === "off") return setMessage(`✗ ${row.upstream} is excluded; include it (space) first.`);
        return setOverlay({ kind: input === "r" ? "rename" : "describe", row });
      }
      if (key.return) {
        if (row.state === "pending") {
          setScroll(0);
          return setOverlay({ kind: "approve", row });
        }
        if (row.state === "off") return setMessage(`✗ ${row.upstream} is excluded: it has no rules until it is included.`);
        return setOverlay({ kind: "rules", row });
      }
    },
    { isActive: overlay === undefined && !filter.editing },
  );

  // The approval view: a diff, scrolled with ↑↓; y approves, n or Esc cancels.
  const approving = overlay?.kind === "approve" ? overlay.row : undefined;
  const diff = approving?.pending ? approvalDiff(approving.pending) : undefined;
  // Every character of the definition is shown, wrapped: a hidden instruction at the end of a long description must be seen before approving.
  const diffRows = diff ? diff.lines.flatMap((line) => breakLines([`${line.sign} ${line.text}`], Math.max(10, width - 4)).map((text) => ({ sign: line.sign, text }))) : [];
  const diffHeight = Math.max(3, props.height - 8);
  useKeys(
    (input, key) => {
      if (!approving?.pending || busy) return;
      if (key.escape || input === "n") return setOverlay(undefined);
      if (key.upArrow || input === "k") return setScroll((s) => Math.max(0, s - 1));
      if (key.downArrow || input === "j") return setScroll((s) => Math.min(Math.max(0, diffRows.length - diffHeight), s + 1));
      if (input === "y") {
        const pending = approving.pending;
        setBusy(`Approving ${pending.name}…`);
        client.send<{ hash: string }>("POST", `${path}/approvals`, { tool: pending.name, hash: pending.hash }).then(
          async () => {
            setMessage(`✓ approved ${pending.name} (definition ${pending.hash.slice(0, 12)}…)`);
            setOverlay(undefined);
            setStatus(await client.get<VirtualMcpStatus>(path).catch(() => status));
            setBusy(undefined);
          },
          (e: Error) => (setBusy(undefined), setMessage(`✗ ${e.message}`)),
        );
      }
    },
    { isActive: approving !== undefined },
  );

  const header = status ? `${status.slug} · ${status.name} · new tools: ${status.newTools} · access: ${accessSummary(definition?.access)} · sessions ${status.sessions}` : `${slug}`;
  const connectorsLine = definition
    ? definition.connectors.length === 0
      ? "No connectors attached: press n to attach one."
      : "Connectors: " + definition.connectors.map((a) => `${a.connector} (prefix ${a.prefix === "" ? "none" : a.prefix}, ${status!.catalogues[a.connector]?.state ?? "?"})`).join(" · ")
    : "";
  // A refresh that failed (the gateway stopped, the token changed) is said over what was shown before: the list stayed, silently stale.
  // A refusal is wrapped too, not cut: at 80 columns the cut took the server's reason (and what to do) away.
  const problem = busy ? undefined : error && status ? `✗ Not refreshed: ${error}` : message?.startsWith("✗") ? message.split("\n").join(" · ") : undefined;
  const statusLine = busy ? (
    <Spinner label={fit(busy, width - 2)} />
  ) : problem ? (
    <Problem text={problem} width={width} />
  ) : message ? <Text color="green">{fit(message.split("\n").join(" · "), width)}</Text> : null;
  const top = (
    <>
      <Text bold>{fit(header, width)}</Text>
      <Text>{fit(connectorsLine, width)}</Text>
    </>
  );

  if (error && !status) {
    return (
      <Box flexDirection="column">
        <Problem text={`✗ ${error}`} width={width} />
        <Text dimColor>Esc back</Text>
      </Box>
    );
  }
  if (!status || !definition) return <Spinner label={`Loading ${slug}…`} />;

  const tools = (policy.tools ?? {}) as Record<string, ToolRule>;
  // A form stands under the two header lines.
  const formHeight = Math.max(6, props.height - 2);
  const otherNames = (self: ToolRow) => new Set(allRows.filter((r) => r !== self && r.state !== "off").map((r) => r.exposed));
  const prefixOf = (connector: string) => definition.connectors.find((a) => a.connector === connector)?.prefix ?? "";

  if (overlay?.kind === "rename") {
    const r = overlay.row;
    const prefix = prefixOf(r.connector);
    const field: FormField = {
      name: "name",
      label: "Name",
      placeholder: r.upstream,
      hint: (v) => nameBudget(prefix, v || r.upstream).text,
      validate: (v) => {
        const budget = nameBudget(prefix, v || r.upstream);
        if (budget.problem) return budget.problem;
        if (otherNames(r).has(budget.exposed)) return `"${budget.exposed}" is already exposed by another tool`;
        return undefined;
      },
    };
    return (
      <Box flexDirection="column">
        {top}
        <Form title={`Rename ${r.connector} tool "${r.upstream}" (empty: its own name)`} width={width} height={formHeight} fields={[field]} initial={{ name: r.renamed ? r.exposed.slice(prefix === "" ? 0 : prefix.length + 2) : "" }} onCancel={() => setOverlay(undefined)} onSubmit={async (v) => {
          await save(renameTool(definition, r.connector, r.upstream, v.name ?? ""), `Renaming ${r.upstream}…`);
          setOverlay(undefined);
        }} />
      </Box>
    );
  }
  if (overlay?.kind === "describe") {
    const r = overlay.row;
    const upstream = status.catalogues[r.connector]?.tools.find((t) => t.name === r.upstream)?.description ?? "";
    return (
      <Box flexDirection="column">
        {top}
        <Form title={`Description of ${r.exposed} shown to clients`} width={width} height={formHeight} fields={[{ name: "description", label: "Description", placeholder: upstream || "(none)", hint: (v) => (v.trim() === "" ? 'empty: the connector\'s own description · "" for none' : counted(v.length, "character")) }]} initial={{ description: descriptionText(r.described ? r.description : undefined) }} onCancel={() => setOverlay(undefined)} onSubmit={async (v) => {
          await save(describeTool(definition, r.connector, r.upstream, v.description ?? ""), `Saving the description of ${r.exposed}…`);
          setOverlay(undefined);
        }} />
      </Box>
    );
  }
  if (overlay?.kind === "attach") {
    const attached = new Set(definition.connectors.map((a) => a.connector));
    const available = overlay.connectors.filter((c) => !attached.has(c.name));
    const prefixValue = (v: Record<string, string>) => (v.prefix === '""' ? "" : v.prefix || v.connector || "");
    const fields: FormField[] = [
      {
        name: "connector",
        label: "Connector",
        placeholder: available[0]?.name ?? "(none left to attach)",
        hint: () => (available.length ? `available: ${available.map((c) => `${c.name} (${c.state}, ${counted(c.tools, "tool")})`).join(", ")}` : "every connector is attached already"),
        validate: (v) => (attached.has(v) ? `"${v}" is attached already` : available.some((c) => c.name === v) ? undefined : `no connector "${v}"${available.length ? `; choose ${available.map((c) => c.name).join(", ")}` : ""}`),
      },
      {
        name: "prefix",
        label: "Prefix",
        placeholder: "(the connector's name)",
        hint: (_, all) => `${prefixBudget(prefixValue(all))} · "" for none`,
        validate: (_, all) => prefixProblem(prefixValue(all)),
      },
    ];
    return (
      <Box flexDirection="column">
        {top}
        <Form title={`Attach a connector to ${slug}`} width={width} height={formHeight} fields={fields} initial={{ connector: available.length === 1 ? available[0]!.name : "" }} submitLabel="attach" onCancel={() => setOverlay(undefined)} onSubmit={async (v) => {
          await save(attach(definition, v.connector!, prefixValue(v)), `Attaching ${v.connector}…`);
          setOverlay(undefined);
        }} />
      </Box>
    );
  }
  if (overlay?.kind === "access") {
    const access = (policy.access ?? {}) as { everyone?: boolean; users?: string[]; groups?: string[] };
    const fields: FormField[] = [
      {
        name: "everyone",
        label: "Everyone",
        // Everyone already covers the names below, which would be dropped without a word: say so instead.
        choices: ["no", "yes"],
        validate: (value, all) => (value === "yes" && (all.users?.trim() || all.groups?.trim()) ? "yes admits everyone, so the users and groups would be dropped; clear them, or answer no." : undefined),
        hint: () => "yes: every signed-in person and token holder",
      },
      { name: "users", label: "Users", placeholder: "ada@example.com, …", validate: emailsProblem },
      { name: "groups", label: "Groups", placeholder: 'engineering, "Sales, EMEA", …', validate: listProblem, hint: (_, all) => (accessFrom({ everyone: all.everyone ?? "", users: all.users ?? "", groups: all.groups ?? "" }) ? undefined : "nobody named: admins only") },
    ];
    return (
      <Box flexDirection="column">
        {top}
        <Form title={`Who may use ${slug}`} width={width} height={formHeight} fields={fields} initial={{ everyone: access.everyone ? "yes" : "no", users: listText(access.users), groups: listText(access.groups) }} onCancel={() => setOverlay(undefined)} onSubmit={async (v) => {
          const rule = accessFrom({ everyone: v.everyone ?? "", users: v.users ?? "", groups: v.groups ?? "" });
          const { access: _, ...rest } = policy;
          await savePolicy({ ...rest, ...(rule ? { access: rule } : {}) }, "Saving access…");
          setOverlay(undefined);
        }} />
      </Box>
    );
  }
  if (overlay?.kind === "rules") {
    const r = overlay.row;
    const current = tools[r.exposed];
    const args = argumentNames(r.inputSchema, current);
    const fields: FormField[] = [
      { name: "allowUsers", label: "Allow users", placeholder: "(everyone who reaches it)", validate: emailsProblem },
      { name: "allowGroups", label: "Allow groups", validate: listProblem },
      { name: "denyUsers", label: "Deny users", validate: emailsProblem },
      { name: "denyGroups", label: "Deny groups", validate: listProblem },
      ...args.map((name): FormField => ({ name: `arg:${name}`, label: `Arg ${name}`, placeholder: "pin, required, allowed, pattern, max, maxLength", validate: (v) => parseArgumentRule(v).problem })),
    ];
    const initial: Record<string, string> = {
      allowUsers: listText(current?.allow?.users),
      allowGroups: listText(current?.allow?.groups),
      denyUsers: listText(current?.deny?.users),
      denyGroups: listText(current?.deny?.groups),
      ...Object.fromEntries(args.map((name) => [`arg:${name}`, argumentRuleText(current?.arguments?.[name])])),
    };
    return (
      <Box flexDirection="column">
        {top}
        <Form title={`Rules for ${r.exposed} (deny wins; args like max: 10, pin: "x")`} width={width} height={formHeight} fields={fields} initial={initial} onCancel={() => setOverlay(undefined)} onSubmit={async (v) => {
          const rule = toolRuleFrom(v, args);
          const nextTools = { ...tools };
          if (rule) nextTools[r.exposed] = rule;
          else delete nextTools[r.exposed];
          const { tools: _, ...rest } = policy;
          await savePolicy({ ...rest, ...(Object.keys(nextTools).length ? { tools: nextTools } : {}) }, `Saving the rules of ${r.exposed}…`);
          setOverlay(undefined);
        }} />
      </Box>
    );
  }
  if (overlay?.kind === "edit") {
    return (
      <Box flexDirection="column">
        {top}
        <Form title={`Edit ${slug}`} width={width} height={formHeight} fields={BASIC_FIELDS} initial={{ name: definition.name, description: definition.description, newTools: definition.newTools }} onCancel={() => setOverlay(undefined)} onSubmit={async (v) => {
          await save({ ...definition, name: v.name!.trim(), description: v.description ?? "", newTools: v.newTools! }, "Saving…");
          setOverlay(undefined);
        }} />
      </Box>
    );
  }
  if (overlay?.kind === "connect") {
    const title = <Text bold>{fit(`Connect an AI client to ${slug} (${status.name})`, width - 4)}</Text>;
    return <Pager title={title} lines={connectLines(slug, overlay.publicUrl, client.url, width - 4)} width={width} height={props.height} onClose={() => setOverlay(undefined)} />;
  }
  if (approving && diff) {
    const visible = diffRows.slice(scroll, scroll + diffHeight);
    return (
      <Box flexDirection="column">
        {top}
        <Box flexDirection="column" borderStyle="round" paddingX={1}>
          <Text bold>{fit(`Approve ${approving.exposed} (${approving.pending!.reason}) from ${approving.connector}?`, width - 4)}</Text>
          <Text dimColor>{fit(diff.note, width - 4)}</Text>
          {visible.map((line, i) => (
            <Text key={scroll + i} color={line.sign === "+" ? "green" : line.sign === "-" ? "red" : undefined}>
              {line.text}
            </Text>
          ))}
          {diffRows.length > diffHeight ? <Text dimColor>{fit(`lines ${scroll + 1}–${scroll + visible.length} of ${diffRows.length} (↑↓)`, width - 4)}</Text> : null}
          {busy ? <Spinner label={busy} /> : <Text>{fit(`hash ${approving.pending!.hash.slice(0, 12)}… · y approve · n/Esc cancel`, width - 4)}</Text>}
        </Box>
        {!busy && message?.startsWith("✗") ? <Text color="red">{fit(message, width)}</Text> : null}
      </Box>
    );
  }

  const wide = width >= 120;
  const columns: Column[] = [
    { title: "State", width: 6 },
    { title: "Exposed name", width: Math.min(Math.max(12, ...rows.map((r) => r.exposed.length)), Math.floor(width * 0.4)) },
    { title: "Len", width: 5 },
    { title: "Set", width: 3 },
    ...(wide ? [{ title: "Connector", width: 12 }, { title: "Tool", width: 20 }] : []),
    { title: "Description" },
  ];
  const tableRows = rows.map((r) => {
    const flags = (r.renamed ? "r" : "") + (r.described ? "t" : "") + (tools[r.exposed] ? "w" : "");
    return [STATE_LABEL[r.state], r.exposed, `${r.exposed.length}`, flags || "-", ...(wide ? [r.connector, r.upstream] : []), r.state === "pending" ? `waiting for approval (${r.pending!.reason}) · Enter to review` : r.description];
  });
  const selectedRule = row ? ruleSummary(tools[row.exposed]) : "";
  // The app's footer says "? help" too: it goes first when the second line is too wide (80 columns).
  const keyLines = width >= DETAIL_KEYS.length ? [DETAIL_KEYS] : DETAIL_KEY_LINES.map((hints) => keyHintLine(hints, width));
  // The detach question's box (three lines) stands where the one status line is.
  const extra = (status.problems.length ? 1 : 0) + keyLines.length + 2 + 1 + problemExtraLines(problem, width) + (overlay?.kind === "detach" ? 2 : 0) + filterLines(filter);
  const tableHeight = Math.max(1, props.height - 3 - extra);
  page.current = tableHeight;
  return (
    <Box flexDirection="column">
      {top}
      <FilterLine filter={filter} width={width} shown={rows.length} total={allRows.length} placeholder="name, connector, state or description words" />
      <Table columns={columns} rows={tableRows} width={width} height={tableHeight} selected={Math.min(selected, rows.length - 1)} empty={filter.text ? "No tool matches the filter." : definition.connectors.length ? "The attached connectors have no tools (yet)." : "No tools: attach a connector (n)."} colorOf={(i) => (rows[i]?.state === "off" ? "gray" : rows[i]?.state === "problem" ? "red" : rows[i]?.state === "pending" ? "yellow" : undefined)} />
      {status.problems.length ? <Text color="red">{fit(`! ${status.problems.join(" · ")}`, width)}</Text> : null}
      {overlay?.kind === "detach" ? (
        <Confirm
          message={fit(`Detach "${overlay.connector}" from ${slug}? Its tools disappear for connected clients.`, width - 12)}
          onNo={() => setOverlay(undefined)}
          onYes={() => {
            const connector = overlay.connector;
            setOverlay(undefined);
            quietly(save(detach(definition, connector), `Detaching ${connector}…`));
          }}
        />
      ) : (
        statusLine ?? <Text dimColor>{fit(row && selectedRule ? `${row.exposed}: ${selectedRule}` : " ", width)}</Text>
      )}
      {keyLines.map((line, i) => (
        <Text key={i} dimColor>
          {fit(line, width)}
        </Text>
      ))}
    </Box>
  );
}
