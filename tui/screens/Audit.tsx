import { Box, Text } from "ink";
import { existsSync, statSync } from "node:fs";
import { open as openFile, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, resolve } from "node:path";
import { useCallback, useEffect, useRef, useState } from "react";
import type { VerifyReport } from "../../src/audit/chain.ts";
import { parseTime, type AuditRecordView } from "../../src/audit/query.ts";
import { AUDIT_KINDS } from "../../src/audit/index.ts";
import type { AdminClient } from "../../src/admin-client/index.ts";
import { Form, type FormField } from "../components/Form.tsx";
import { OUTCOME_NAMES, outcomeColor, outcomeLabel } from "../components/outcome.ts";
import { recordSubject } from "../components/recordSubject.ts";
import { ProgressBar } from "../components/ProgressBar.tsx";
import { RecordDetail } from "../components/RecordDetail.tsx";
import { Spinner } from "../components/Spinner.tsx";
import { Table } from "../components/Table.tsx";
import { counted, formatMs, formatTime } from "../components/text.ts";
import { Problem, problemExtraLines } from "../components/Problem.tsx";
import type { ScreenDefinition, ScreenProps } from "./types.ts";
import { useKeys } from "../components/useKeys.ts";
import { KeyHints } from "../components/KeyHints.tsx";
import { MOVE_HINT, movedSelection } from "../components/listKeys.ts";

/** Records fetched per page; moving past the last one loads the next (older) page. */
const PAGE_SIZE = 500;
/** The most records held at once; past this, narrow the search or export it. */
const MAX_LOADED = 10_000;

export interface AuditSearch {
  since: string;
  until: string;
  person: string;
  vmcp: string;
  tool: string;
  outcome: string;
  kind: string;
}

export const DEFAULT_SEARCH: AuditSearch = { since: "24h", until: "", person: "", vmcp: "", tool: "", outcome: "", kind: "" };

/** The search as the admin API's query string (user=, vmcp=, tool=, outcome=, kind=, since=, until=). */
export function searchQuery(search: AuditSearch): string {
  const params = new URLSearchParams();
  const add = (name: string, value: string) => value.trim() !== "" && params.set(name, value.trim());
  add("since", search.since);
  add("until", search.until);
  add("user", search.person);
  add("vmcp", search.vmcp);
  add("tool", search.tool);
  add("outcome", search.outcome);
  add("kind", search.kind);
  return params.toString();
}

function describeSearch(search: AuditSearch): string {
  const parts = [
    search.since || search.until ? `${search.since ? `since ${search.since}` : ""}${search.since && search.until ? " " : ""}${search.until ? `until ${search.until}` : ""}` : "all time",
    search.person && `person ${search.person}`,
    search.vmcp && `vmcp ${search.vmcp}`,
    search.tool && `tool ${search.tool}`,
    search.outcome && `outcome ${search.outcome}`,
    search.kind && `kind ${search.kind}`,
  ];
  return parts.filter(Boolean).join(" · ");
}

const timeField = (value: string) => (value.trim() !== "" && Number.isNaN(parseTime(value.trim())) ? "use an age such as 15m, 24h or 7d, an ISO time, or Unix ms" : undefined);

/** The choice that puts no condition on outcome or kind. */
const ANY = "any";

export const SEARCH_FIELDS: FormField[] = [
  { name: "since", label: "Since", placeholder: "24h, 7d, 2026-05-01T09:00Z (empty: all)", validate: timeField },
  { name: "until", label: "Until", placeholder: "empty: now", validate: timeField },
  { name: "person", label: "Person", placeholder: "email (exact, any case)" },
  { name: "vmcp", label: "Virtual MCP", placeholder: "slug" },
  { name: "tool", label: "Tool", placeholder: "exposed tool name" },
  // Picked, not typed: the values the admin API takes (outcome=, kind=), and "any" for no condition.
  { name: "outcome", label: "Outcome", choices: [ANY, ...OUTCOME_NAMES] },
  { name: "kind", label: "Kind", choices: [ANY, ...AUDIT_KINDS] },
];

/** `~/x` and relative paths as an absolute path. */
export function expandPath(path: string): string {
  const trimmed = path.trim();
  return resolve(trimmed === "~" || trimmed.startsWith("~/") ? homedir() + trimmed.slice(1) : trimmed);
}

const EXPORT_FIELDS: FormField[] = [
  {
    name: "path",
    label: "File",
    placeholder: "~/mintgate-audit.jsonl",
    validate: (v) => {
      if (v.trim() === "") return "say where to write the export";
      const path = expandPath(v);
      if (existsSync(path)) return `${path} already exists; choose a new file`;
      const dir = dirname(path);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) return `the folder ${dir} does not exist`;
      return undefined;
    },
  },
  { name: "format", label: "Format", choices: ["jsonl", "csv"] },
];

type ExportState = { path: string; rows: number; total: number; bytes: number; done: boolean; error?: string };

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

/**
 * Counts an export's records as its bytes stream by: one a line, except that a
 * line break inside a quoted CSV cell (a tool error of several lines) ends no record.
 */
export class ExportedRecords {
  private lines = 0;
  private quoted = false;
  constructor(private readonly format: "jsonl" | "csv") {}
  add(chunk: Uint8Array): void {
    const csv = this.format === "csv";
    for (let i = 0; i < chunk.length; i++) {
      // CSV doubles a quote inside a cell: it toggles twice, so the state stays right.
      if (chunk[i] === 34 && csv) this.quoted = !this.quoted;
      else if (chunk[i] === 10 && !this.quoted) this.lines++;
    }
  }
  /** Records so far (a CSV's header line is none). */
  get count(): number {
    return this.format === "csv" ? Math.max(0, this.lines - 1) : this.lines;
  }
}

/**
 * Streams the export of `search` into a new file at `path`, reporting
 * records written against the count the gateway gave before it began.
 */
export async function exportToFile(client: AdminClient, search: AuditSearch, format: "jsonl" | "csv", path: string, onProgress: (state: ExportState) => void): Promise<ExportState> {
  const query = searchQuery(search);
  const { count } = await client.get<{ count: number }>(`/audit/count${query ? `?${query}` : ""}`);
  // Owner-only, as `mintgate audit export -o` writes it: the trail holds who called what with which arguments.
  const file = await openFile(path, "wx", 0o600);
  const state: ExportState = { path, rows: 0, total: count, bytes: 0, done: false };
  const records = new ExportedRecords(format);
  try {
    await client.download(
      `/audit/export?format=${format}${query ? `&${query}` : ""}`,
      async (chunk) => {
        records.add(chunk);
        await file.write(chunk);
      },
      (bytes) => {
        state.bytes = bytes;
        state.rows = records.count;
        onProgress({ ...state });
      },
    );
  } catch (error) {
    // A partial export is not left behind looking like a whole one.
    await file.close();
    await rm(path, { force: true });
    throw error;
  }
  await file.close();
  state.rows = records.count;
  state.done = true;
  return state;
}

function useThrottled<T>(ms: number): [T | undefined, (value: T | undefined) => void] {
  const [value, setValue] = useState<T>();
  const [pending] = useState<{ value?: T; timer?: ReturnType<typeof setTimeout> }>({});
  const set = useCallback(
    (next: T | undefined) => {
      pending.value = next;
      if (pending.timer) return;
      setValue(next);
      pending.timer = setTimeout(() => {
        pending.timer = undefined;
        setValue(pending.value);
      }, ms);
    },
    [ms, pending],
  );
  useEffect(() => () => clearTimeout(pending.timer), [pending]);
  return [value, set];
}

function AuditScreen(props: ScreenProps) {
  const { client, width, height, setCapturing } = props;
  const [search, setSearch] = useState<AuditSearch>(DEFAULT_SEARCH);
  const [records, setRecords] = useState<AuditRecordView[]>();
  const [loading, setLoading] = useState(false);
  /** Whether older records may follow the loaded ones, and whether they are being fetched. */
  const [older, setOlder] = useState<{ more: boolean; loading: boolean }>({ more: false, loading: false });
  /** Bumped by each new search, so that a page asked for by an earlier one is dropped. */
  const generation = useRef(0);
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState(0);
  // Rows the table shows, from the last render: a page for PgUp PgDn.
  const page = useRef(1);
  const [mode, setMode] = useState<"list" | "search" | "export">("list");
  const [open, setOpen] = useState<AuditRecordView>();
  const [verify, setVerify] = useState<{ running: boolean; report?: VerifyReport; error?: string }>();
  const [exporting, setExporting] = useThrottled<ExportState>(100);
  const [reload, setReload] = useState(0);

  useEffect(() => () => setCapturing(false), [setCapturing]);
  useEffect(() => {
    let cancelled = false;
    const current = ++generation.current;
    setLoading(true);
    setOlder({ more: false, loading: false });
    const query = searchQuery(search);
    client.get<AuditRecordView[]>(`/audit?limit=${PAGE_SIZE}${query ? `&${query}` : ""}`).then(
      (found) => {
        if (cancelled || current !== generation.current) return;
        setRecords(found);
        setOlder({ more: found.length === PAGE_SIZE, loading: false });
        setError(undefined);
        setLoading(false);
        setSelected((s) => Math.min(s, Math.max(0, found.length - 1)));
      },
      (e: Error) => {
        if (cancelled) return;
        setError(e.message);
        setLoading(false);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [client, search, reload]);

  /** The next page of older records, appended; at most one request at a time. */
  const loadOlder = () => {
    const last = records?.at(-1);
    if (!older.more || older.loading || !last) return;
    const current = generation.current;
    setOlder({ more: true, loading: true });
    const query = searchQuery(search);
    client.get<AuditRecordView[]>(`/audit?limit=${PAGE_SIZE}&before=${last.id}${query ? `&${query}` : ""}`).then(
      (page) => {
        if (current !== generation.current) return;
        const all = [...(records ?? []), ...page];
        setRecords(all);
        setOlder({ more: page.length === PAGE_SIZE && all.length < MAX_LOADED, loading: false });
      },
      (e: Error) => {
        if (current !== generation.current) return;
        setError(e.message);
        setOlder({ more: true, loading: false });
      },
    );
  };

  const openForm = (next: "search" | "export") => {
    setMode(next);
    setCapturing(true);
  };
  const closeForm = () => {
    setMode("list");
    setCapturing(false);
  };
  const startExport = (values: Record<string, string>) => {
    const path = expandPath(values.path!);
    closeForm();
    setExporting({ path, rows: 0, total: 0, bytes: 0, done: false });
    exportToFile(client, search, values.format as "jsonl" | "csv", path, setExporting).then(setExporting, (e: Error) => setExporting({ path, rows: 0, total: 0, bytes: 0, done: true, error: e.message }));
    return Promise.resolve();
  };
  const runVerify = () => {
    setVerify({ running: true });
    client.get<VerifyReport>("/audit/verify").then(
      (report) => setVerify({ running: false, report }),
      (e: Error) => setVerify({ running: false, error: e.message }),
    );
  };

  const rows = records ?? [];
  useKeys(
    (input, key) => {
      if (input === "/" || input === "f") openForm("search");
      else if (input === "e") openForm("export");
      else if (input === "V") runVerify();
      // R reloads on every screen; r, the key here before, still does.
      else if (input === "R" || input === "r") setReload((n) => n + 1);
      else if (input === "x") setSearch(DEFAULT_SEARCH);
      else if (key.return && rows[selected]) setOpen(rows[selected]);
      else {
        const to = movedSelection(input, key, selected, rows.length, page.current);
        if (to === undefined) return;
        // Reaching the last record loaded (↓ PgDn End) loads the next older page.
        if (to >= rows.length - 1 && !key.upArrow && input !== "k" && !key.pageUp && !key.home) loadOlder();
        setSelected(to);
      }
    },
    { isActive: mode === "list" && open === undefined },
  );

  if (open) return <RecordDetail record={open} width={width} height={height} onClose={() => setOpen(undefined)} />;
  if (mode === "search") {
    return (
      <Form
        title="Search the audit trail"
        fields={SEARCH_FIELDS}
        initial={search as unknown as Record<string, string>}
        submitLabel="search"
        width={width}
        height={height}
        onCancel={closeForm}
        onSubmit={async (values) => {
          closeForm();
          setSelected(0);
          setSearch(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === ANY ? "" : v.trim()])) as unknown as AuditSearch);
        }}
      />
    );
  }
  if (mode === "export") {
    return (
      <Box flexDirection="column">
        <Text wrap="truncate-end">Exports the records of the current search ({describeSearch(search)}), oldest first.</Text>
        <Form title="Export the audit trail to a file" fields={EXPORT_FIELDS} initial={{ path: "", format: "jsonl" }} submitLabel="export" width={width} height={height - 1} onCancel={closeForm} onSubmit={startExport} />
      </Box>
    );
  }

  // HH:MM:SS for today's records, a date and time for older ones.
  const timeWidth = Math.max(8, ...rows.map((r) => formatTime(r.at).length));
  const columns =
    width >= 96
      ? [{ title: "UTC", width: timeWidth }, { title: "Kind", width: 5 }, { title: "Person" }, { title: "Virtual MCP", width: 14 }, { title: "Tool / action" }, { title: "Outcome", width: 11 }, { title: "Duration", width: 9 }]
      : [{ title: "UTC", width: timeWidth }, { title: "Kind", width: 5 }, { title: "Person" }, { title: "Tool / action" }, { title: "Outcome", width: 11 }, { title: "Dur", width: 7 }];
  const cells = (r: AuditRecordView) => {
    const tool = recordSubject(r);
    const base = [formatTime(r.at), r.kind, r.person ?? "-"];
    return width >= 96 ? [...base, r.virtualMcp ?? "-", tool, outcomeLabel(r.outcome), formatMs(r.durationMs)] : [...base, tool, outcomeLabel(r.outcome), formatMs(r.durationMs)];
  };

  // Why a search, a check or an export failed is wrapped onto up to three lines, not cut: what to do is at the end of the
  // sentence (cut at 80 columns, "is `mintgate serve` running?" was not). The table gives up the lines.
  const searchProblem = error ? `✗ ${error}` : undefined;
  const verifyProblem = verify?.error ? `✗ Verify failed: ${verify.error}` : undefined;
  const exportProblem = exporting?.error ? `✗ Export failed: ${exporting.error} (${exporting.path})` : undefined;
  const verifyLine = !verify ? (
    <Text dimColor>Chain not checked yet · V verifies it</Text>
  ) : verify.running ? (
    <Spinner label="Verifying the hash chain…" />
  ) : verifyProblem ? (
    <Problem text={verifyProblem} width={width} />
  ) : verify.report!.ok ? (
    <Text color="green" wrap="truncate-end">
      ✓ Chain intact: {counted(verify.report!.records, "record")}{verify.report!.firstId !== null ? ` (ids ${verify.report!.firstId}–${verify.report!.lastId})` : ""}, {counted(verify.report!.checkpoints, "retention checkpoint")}
    </Text>
  ) : (
    <Text color="red" wrap="truncate-end">
      ✗ Chain BROKEN at record {verify.report!.broken?.id}: {verify.report!.broken?.reason} ({counted(verify.report!.records, "record")} checked)
    </Text>
  );

  const exportLine = !exporting ? null : exportProblem ? (
    <Problem text={exportProblem} width={width} />
  ) : exporting.done ? (
    <Text color="green" wrap="truncate-end">
      ✓ Exported {counted(exporting.rows, "record")} ({formatBytes(exporting.bytes)}) to {exporting.path}
    </Text>
  ) : (
    <Box>
      <Text>Exporting </Text>
      <ProgressBar done={exporting.rows} total={exporting.total} width={Math.min(40, Math.max(14, width - 44))} />
      <Text wrap="truncate-end">
        {" "}
        {exporting.rows}/{counted(exporting.total, "record")} · {formatBytes(exporting.bytes)}
      </Text>
    </Box>
  );

  const tableHeight = Math.max(1, height - 6 - (exportLine ? 1 : 0) - problemExtraLines(searchProblem ?? verifyProblem, width) - problemExtraLines(exportProblem, width));
  page.current = tableHeight;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text bold>Search</Text> {describeSearch(search)} · {loading ? "searching…" : error ? "" : `${older.more ? `${rows.length}+ records` : counted(rows.length, "record")}${older.loading ? " · loading older…" : older.more ? "" : rows.length >= MAX_LOADED ? ` (the first ${MAX_LOADED}: narrow the search, or export it)` : ""}`}
      </Text>
      {searchProblem ? (
        <Problem text={searchProblem} width={width} />
      ) : (
        verifyLine
      )}
      {exportLine}
      <Table width={width} height={tableHeight} columns={columns} rows={rows.map(cells)} selected={rows.length > 0 ? selected : -1} colorOf={(i) => outcomeColor(rows[i]!.outcome)} empty={records === undefined ? (error ? "Nothing loaded." : "Loading…") : "No records match this search."} />
      <Box flexGrow={1} />
      <KeyHints width={width} hints={["f search", { text: "V verify chain", short: "V verify" }, "e export", "Enter open", MOVE_HINT, { text: "R reload", optional: true }, "x reset"]} />
    </Box>
  );
}

export const auditScreen: ScreenDefinition = {
  key: "a",
  title: "Audit",
  short: "Audit",
  help: [
    `The audit trail: MCP requests, sign-ins and admin changes, newest first, ${PAGE_SIZE} at a time.`,
    "f or /   search by time range (since, until), person, Virtual MCP, tool, outcome, kind",
    "V        verify the hash chain (shift-v) and show the result",
    "e        export the current search to a new file (jsonl or csv) with a progress bar",
    "↑ ↓      select (past the last record, the next older page loads); PgUp PgDn a screen at a time,",
    "         Home End the newest and the last loaded (End loads the next older page)",
    "Enter    open a record with its arguments and result (as stored)",
    "R        reload: search again (r too) · x reset the search to the last 24 hours",
  ],
  Component: AuditScreen,
};
