import { Box, Text } from "ink";
import { useEffect, useMemo, useRef, useState } from "react";
import type { AuditRecordView } from "../../src/audit/query.ts";
import type { AdminClient } from "../../src/admin-client/index.ts";
import { outcomeColor, outcomeLabel } from "../components/outcome.ts";
import { RecordDetail } from "../components/RecordDetail.tsx";
import { recordSubject } from "../components/recordSubject.ts";
import { Table } from "../components/Table.tsx";
import { FilterLine, filterLines, useListFilter } from "../components/ListFilter.tsx";
import { MOVE_HINT, movedSelection } from "../components/listKeys.ts";
import { formatMs, formatTime, wrapText } from "../components/text.ts";
import type { ScreenDefinition, ScreenProps } from "./types.ts";
import { useKeys } from "../components/useKeys.ts";
import { KeyHints } from "../components/KeyHints.tsx";

/** Records kept in memory; older ones fall off. */
export const RING_SIZE = 1000;
/** Re-render at most this often, however fast records arrive. */
export const RENDER_MS = 100;
const BACKLOG = 50;
const RETRY_MS = 1000;
/** Records per request when fetching what the feed missed while it reconnected. */
const GAP_PAGE = 200;

/**
 * The records committed after `afterId` (every kind, newest first), at most
 * RING_SIZE: what a feed that was down (a restarted gateway, a dropped
 * connection) did not deliver. `lost`: how many more there were than that.
 */
export async function missedSince(client: AdminClient, afterId: number): Promise<{ records: AuditRecordView[]; lost: number }> {
  const records: AuditRecordView[] = [];
  for (let before: number | undefined; records.length < RING_SIZE; ) {
    const page = await client.get<AuditRecordView[]>(`/audit?limit=${GAP_PAGE}${before === undefined ? "" : `&before=${before}`}`);
    const missed = page.filter((r) => r.id > afterId);
    records.push(...missed);
    if (missed.length < page.length || page.length < GAP_PAGE) return { records, lost: 0 };
    before = page[page.length - 1]!.id;
  }
  return { records, lost: Math.max(0, records[records.length - 1]!.id - afterId - 1) };
}

/**
 * The last `size` records in id order. Appends are O(1) amortised; the
 * array is compacted when half of it has fallen off.
 */
export class Ring<T extends { id: number }> {
  private items: T[] = [];
  private start = 0;
  constructor(readonly size: number) {}
  get length(): number {
    return this.items.length - this.start;
  }
  push(item: T): void {
    this.items.push(item);
    if (this.length > this.size) this.start++;
    if (this.start > this.size) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
  }
  /** The newest record's id, if any. */
  newestId(): number | undefined {
    return this.length > 0 ? this.items[this.items.length - 1]!.id : undefined;
  }
  /**
   * Records fetched apart from the feed (the backlog before it opened, what
   * was committed while it reconnected) go in their place by id, without duplicates.
   */
  merge(records: T[]): void {
    const kept = this.items.slice(this.start);
    const known = new Set(kept.map((r) => r.id));
    const fresh = records.filter((r) => !known.has(r.id));
    if (fresh.length === 0) return;
    this.items = [...kept, ...fresh].sort((a, b) => a.id - b.id).slice(-this.size);
    this.start = 0;
  }
  /** Newest first. */
  newestFirst(): T[] {
    return this.items.slice(this.start).reverse();
  }
}

export interface LiveFilter {
  person?: string;
  vmcp?: string;
  tool?: string;
  outcome?: string;
  words: string[];
}

const FILTER_KEYS: Record<string, keyof Omit<LiveFilter, "words">> = { person: "person", p: "person", user: "person", vmcp: "vmcp", v: "vmcp", tool: "tool", t: "tool", outcome: "outcome", o: "outcome" };

/** `person:alice tool:echo outcome:error word` → the filter (substrings, any case; bare words match any column). */
export function parseFilter(text: string): LiveFilter {
  const filter: LiveFilter = { words: [] };
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const colon = token.indexOf(":");
    const key = colon > 0 ? FILTER_KEYS[token.slice(0, colon).toLowerCase()] : undefined;
    if (key) filter[key] = token.slice(colon + 1).toLowerCase();
    else filter.words.push(token.toLowerCase());
  }
  return filter;
}

const has = (value: string | null, part: string | undefined) => part === undefined || part === "" || (value ?? "").toLowerCase().includes(part);

export function matches(record: AuditRecordView, filter: LiveFilter): boolean {
  const tool = recordSubject(record);
  if (!has(record.person, filter.person) || !has(record.virtualMcp, filter.vmcp) || !has(tool, filter.tool)) return false;
  if (filter.outcome && !record.outcome.startsWith(filter.outcome)) return false;
  return filter.words.every((w) => [record.person, record.virtualMcp, tool, record.outcome].some((v) => has(v, w)));
}

const COLUMNS = (width: number) =>
  width >= 100
    ? [{ title: "UTC", width: 8 }, { title: "Person" }, { title: "Virtual MCP", width: 16 }, { title: "Tool" }, { title: "Outcome", width: 11 }, { title: "Duration", width: 9 }]
    : [{ title: "UTC", width: 8 }, { title: "Person" }, { title: "VMCP", width: 8 }, { title: "Tool" }, { title: "Outcome", width: 11 }, { title: "Dur", width: 7 }];

/** The feed, kept in a ring; `version` changes at most every RENDER_MS when something arrived. */
function useFeed(client: AdminClient) {
  const ring = useRef(new Ring<AuditRecordView>(RING_SIZE));
  const dirty = useRef(false);
  const arrivals = useRef<number[]>([]);
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<{ connected: boolean; error?: string; dropped: number }>({ connected: false, dropped: 0 });
  useEffect(() => {
    const controller = new AbortController();
    let stopped = false;
    const run = async () => {
      while (!stopped) {
        try {
          const stream = client.events("/events", controller.signal);
          let first = true;
          for await (const event of stream) {
            if (first) {
              first = false;
              setState((s) => ({ ...s, connected: true, error: undefined }));
              // What happened just before the feed opened, or while it was down; duplicates are dropped by id.
              const after = ring.current.newestId();
              const fetched = after === undefined ? client.get<AuditRecordView[]>(`/audit?kind=mcp&limit=${BACKLOG}`).then((records) => ({ records, lost: 0 })) : missedSince(client, after);
              fetched.then(
                ({ records, lost }) => {
                  ring.current.merge(records);
                  dirty.current = true;
                  if (lost > 0) setState((s) => ({ ...s, dropped: s.dropped + lost }));
                },
                () => {},
              );
            }
            if (event.event === "record") {
              ring.current.push(JSON.parse(event.data) as AuditRecordView);
              arrivals.current.push(Date.now());
              dirty.current = true;
            } else if (event.event === "dropped") {
              const dropped = (JSON.parse(event.data) as { dropped: number }).dropped;
              setState((s) => ({ ...s, dropped: s.dropped + dropped }));
            }
          }
          if (!stopped) setState((s) => ({ ...s, connected: false, error: "The feed ended; reconnecting…" }));
        } catch (error) {
          if (stopped) return;
          setState((s) => ({ ...s, connected: false, error: (error as Error).message }));
        }
        await Bun.sleep(RETRY_MS);
      }
    };
    void run();
    const timer = setInterval(() => {
      const cutoff = Date.now() - 5000;
      while (arrivals.current.length > 0 && arrivals.current[0]! < cutoff) {
        arrivals.current.shift();
        dirty.current = true;
      }
      if (dirty.current) {
        dirty.current = false;
        setVersion((v) => v + 1);
      }
    }, RENDER_MS);
    return () => {
      stopped = true;
      controller.abort();
      clearInterval(timer);
    };
  }, [client]);
  return { ring: ring.current, version, rate: arrivals.current.length / 5, ...state };
}

function LiveCallsScreen(props: ScreenProps) {
  const { width, height } = props;
  const feed = useFeed(props.client);
  const [paused, setPaused] = useState<AuditRecordView[] | undefined>();
  const [pausedAt, setPausedAt] = useState(0);
  const [allKinds, setAllKinds] = useState(false);
  const [selectedId, setSelectedId] = useState<number>();
  const [open, setOpen] = useState<AuditRecordView>();
  const listFilter = useListFilter(undefined, { f: true });
  const filterText = listFilter.text;
  const filter = useMemo(() => parseFilter(filterText), [filterText]);
  const source = paused ?? feed.ring.newestFirst();
  const rows = source.filter((r) => (allKinds || r.kind === "mcp") && matches(r, filter));
  const selectedIndex = selectedId === undefined ? -1 : rows.findIndex((r) => r.id === selectedId);
  const newSincePause = paused ? feed.ring.newestFirst().filter((r) => r.id > pausedAt).length : 0;

  const setCapturing = props.setCapturing;
  useEffect(() => {
    setCapturing(listFilter.editing);
    return () => setCapturing(false);
  }, [listFilter.editing, setCapturing]);
  // Rows the table shows; kept from the last render for PgUp PgDn.
  const page = useRef(1);

  useKeys(
    (input, key) => {
      // Esc clears the selection first, then the filter.
      if (key.escape && selectedId !== undefined) return setSelectedId(undefined);
      if (listFilter.takes(input, key)) return;
      if (input === " ") {
        if (paused) setPaused(undefined);
        else {
          const snapshot = feed.ring.newestFirst();
          setPaused(snapshot);
          setPausedAt(snapshot[0]?.id ?? 0);
        }
      } else if (input === "k") setAllKinds((k) => !k);
      else if (key.return) {
        const record = rows[Math.max(0, selectedIndex)];
        if (record) setOpen(record);
      }
      // ↑ on the newest call leaves the selection: the list follows new calls again; ↓ from there selects the newest.
      else if (key.upArrow && selectedIndex <= 0) setSelectedId(undefined);
      else if (selectedIndex < 0 && (key.downArrow || input === "j")) setSelectedId(rows[0]?.id);
      else {
        const to = movedSelection(input, key, selectedIndex, rows.length, page.current);
        if (to !== undefined && rows[to]) setSelectedId(rows[to].id);
      }
    },
    { isActive: open === undefined && !listFilter.editing },
  );

  if (open) return <RecordDetail record={open} width={width} height={height} onClose={() => setOpen(undefined)} />;

  const status = paused
    ? `‖ paused · ${newSincePause >= RING_SIZE ? `${RING_SIZE}+` : newSincePause} new · space resumes`
    : feed.connected
      ? `● live · ${feed.rate.toFixed(1)}/s`
      : `◌ ${feed.error ? "disconnected" : "connecting…"}`;
  const counts = `${rows.length} shown · ${feed.ring.length}/${RING_SIZE} kept${allKinds ? " · all kinds" : ""}${feed.dropped > 0 ? ` · ⚠ ${feed.dropped} dropped (feed fell behind)` : ""}`;
  // Why the feed is down, wrapped rather than cut: what to do is at the end of the sentence.
  const problem = !paused && !feed.connected && feed.error ? wrapText(feed.error, width, 3) : [];
  const tableHeight = Math.max(1, height - 5 - problem.length);
  page.current = tableHeight;
  return (
    <Box flexDirection="column" height={height}>
      <Text wrap="truncate-end">
        <Text color={paused ? "yellow" : feed.connected ? "green" : "red"} bold>
          {status}
        </Text>{" "}
        · {counts}
      </Text>
      {problem.map((line, i) => (
        <Text key={i} color="red">
          {line}
        </Text>
      ))}
      <FilterLine filter={listFilter} width={width} shown={rows.length} total={source.length} placeholder="person:alice vmcp:ops tool:echo outcome:error" idle="No filter (/ to filter by person:, vmcp:, tool:, outcome:)" />
      <Table
        width={width}
        height={tableHeight}
        columns={COLUMNS(width)}
        rows={rows.map((r) => [formatTime(r.at), r.person ?? "-", r.virtualMcp ?? "-", recordSubject(r), outcomeLabel(r.outcome), formatMs(r.durationMs)])}
        selected={selectedIndex}
        colorOf={(i) => outcomeColor(rows[i]!.outcome)}
        empty={filterText ? "No call matches the filter." : "Waiting for calls…"}
      />
      <Box flexGrow={1} />
      <KeyHints width={width} hints={["/ filter", { text: "space pause/resume", short: "space pause" }, "Enter open", { text: "k all kinds", short: "k kinds" }, MOVE_HINT, "Esc clear"]} />
    </Box>
  );
}

export const liveCallsScreen: ScreenDefinition = {
  key: "l",
  title: "Live calls",
  short: "Live",
  help: [
    "Every MCP request as it is recorded, newest first (the audit trail's live feed).",
    "/ or f   filter, typed in place: person:alice vmcp:ops tool:echo outcome:error,",
    "         bare words match any column; Enter keeps the filter, Esc clears it",
    "space    pause / resume (records keep arriving while paused)",
    "↑ ↓ (j)  select a call; PgUp PgDn a screen at a time, Home End the newest and the oldest;",
    "         Enter opens it with its arguments and result (as stored)",
    "k        include sign-in and admin records too",
    "Esc      clear the selection, then the filter",
    `The last ${RING_SIZE} records are kept; the list redraws at most ${1000 / RENDER_MS} times a second.`,
  ],
  Component: LiveCallsScreen,
};
