import type { AuditFilter, AuditRow, Store } from "../store/index.ts";
import { readInThread } from "./reader.ts";

/** A record as the API, search and export show it: times as ISO text; the JSON columns (arguments, result, detail) stay the text that was stored and hashed. */
export interface AuditRecordView extends Omit<AuditRow, "at"> {
  at: string;
}

export function viewOf(row: AuditRow): AuditRecordView {
  return { ...row, at: new Date(row.at).toISOString() };
}

export const SEARCH_LIMIT_MAX = 10_000;

const searchLimit = (limit: number) => Math.min(Math.max(1, limit || 100), SEARCH_LIMIT_MAX);

/** Newest first; with `beforeId`, the page of records older than that id (the last id of the page before). */
export function searchAudit(store: Store, filter: AuditFilter, limit = 100, beforeId?: number): AuditRecordView[] {
  return store.audit.search(filter, searchLimit(limit), beforeId).map(viewOf);
}

/** The same search for the serving gateway (GET /admin/api/audit), on the audit reader thread: a filter few records match walks the whole trail. */
export async function searchAuditInThread(store: Store, filter: AuditFilter, limit = 100, beforeId?: number): Promise<AuditRecordView[]> {
  return (await readInThread(store, "auditSearch", filter, searchLimit(limit), beforeId)).map(viewOf);
}

export type ExportFormat = "jsonl" | "csv";

export const CSV_COLUMNS = [
  "id", "at", "kind", "person", "userId", "clientId", "tokenId", "ip", "sessionId", "virtualMcp", "connector", "method", "exposedName", "upstreamName",
  "arguments", "result", "resultSize", "outcome", "error", "durationMs", "detail", "prevHash", "hash",
] as const satisfies readonly (keyof AuditRow)[];

function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  // A cell starting like a formula gets a leading apostrophe: spreadsheets run quoted formulas too (OWASP CSV injection).
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const PAGE = 2000;

/** Where an export reads its records: the store's connection (`store.audit`, the CLI), or the reader thread (`auditPagesInThread`). */
export interface AuditPages {
  idRangeOf(filter: AuditFilter): { first: number; last: number } | null | undefined | Promise<{ first: number; last: number } | null | undefined>;
  page(afterId: number, limit: number, filter: AuditFilter, throughId?: number): AuditRow[] | Promise<AuditRow[]>;
}

/**
 * The serving gateway's export reads each page on the audit reader thread: with a filter few records match, one
 * page walks the whole trail (0.8 s for 2 million records), which on the request thread held every request.
 */
export function auditPagesInThread(store: Store): AuditPages {
  return {
    idRangeOf: (filter) => readInThread(store, "auditIdRange", filter),
    page: (afterId, limit, filter, throughId) => readInThread(store, "auditPage", afterId, limit, filter, throughId),
  };
}

/**
 * The records matching `filter`, oldest first, as text chunks of a few
 * thousand rows each. Keyset paging: memory stays constant and no read
 * transaction stays open between chunks, so writers and checkpoints go on.
 * With a time window, the records are those committed when the export began.
 */
export async function* exportAudit(pages: AuditPages, format: ExportFormat, filter: AuditFilter = {}, onProgress?: (rows: number) => void): AsyncGenerator<string> {
  if (format === "csv") yield CSV_COLUMNS.join(",") + "\n";
  // A time window's records lie between two ids: paging starts at the first and stops at the last, not scanning the whole table for them.
  const ids = await pages.idRangeOf(filter);
  if (ids === null) return;
  // The reader thread reads the next page while this one is written out. Its failure is seen when it is awaited
  // (handled meanwhile: an export cancelled before then must not leave an unhandled rejection).
  const readAfter = (afterId: number) => {
    const page = Promise.resolve(pages.page(afterId, PAGE, filter, ids?.last));
    page.catch(() => {});
    return page;
  };
  let rows = 0;
  let next = readAfter(ids ? ids.first - 1 : 0);
  for (;;) {
    const page = await next;
    if (page.length === 0) break;
    next = readAfter(page[page.length - 1]!.id);
    let chunk = "";
    for (const row of page) {
      if (format === "jsonl") chunk += JSON.stringify(viewOf(row)) + "\n";
      else chunk += CSV_COLUMNS.map((c) => csvField(c === "at" ? new Date(row.at).toISOString() : row[c])).join(",") + "\n";
    }
    rows += page.length;
    onProgress?.(rows);
    yield chunk;
  }
}

/** The export as a streaming HTTP body: the next chunk is made only when the client has taken the last one (its page read ahead). */
export function exportStream(pages: AuditPages, format: ExportFormat, filter: AuditFilter): ReadableStream<Uint8Array> {
  const chunks = exportAudit(pages, format, filter);
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // A turn of the event loop first: a client reading as fast as it is written (curl on the same machine) had
        // pull follow pull in microtasks, and the gateway's group commit (a setImmediate) waited for the whole export.
        await new Promise((resolve) => setImmediate(resolve));
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * An ISO 8601 date or time as Unix ms. One written without a zone is UTC, as
 * every time mintgate shows is: read in the machine's zone, a time copied from
 * the TUI or a listing named another moment (Date.parse reads dates as UTC but
 * date-times as local).
 */
function parseIsoTime(text: string): number {
  // ISO 8601 only: Date.parse's other forms read "-5" as May 2001 and "Nov 28 2026" in the machine's zone.
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?)?)?)?$/i.exec(text);
  if (!match) return Number.NaN;
  const [, year, month = "01", day = "01", time, zone] = match;
  // A day its month does not have (2025-02-30) is no date, not one of the next month.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  if (date.getUTCMonth() !== Number(month) - 1 || date.getUTCDate() !== Number(day)) return Number.NaN;
  if (time === undefined) return date.getTime();
  const offset = zone === undefined || zone.toUpperCase() === "Z" ? "Z" : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return Date.parse(`${year}-${month}-${day}T${time}${offset}`);
}

/** Parses a time given on the command line or in a query: ISO 8601, a date, Unix ms, or an age such as 15m, 24h, 7d, 2w (the audit commands and usage stats alike). */
export function parseTime(raw: string | undefined, now = Date.now()): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const age = /^(\d+)(s|m|h|d|w)$/.exec(raw.trim());
  const ms = age
    ? now - Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[age[2] as "s" | "m" | "h" | "d" | "w"]
    : // Digits are Unix ms (`0` too), except four: an ISO year such as 2025. Nine or ten are no time: to whoever wrote
      // them they are Unix seconds (`date +%s`, 1973 to 2286), and as ms a day of 1970 that no record has.
      /^\d+$/.test(raw.trim()) && raw.trim().length !== 4
      ? raw.trim().length === 9 || raw.trim().length === 10 ? Number.NaN : Number(raw)
      : parseIsoTime(raw.trim());
  // Outside what a Date can hold (8.64e15 ms either way) is no time either.
  return Math.abs(ms) <= 8.64e15 ? ms : Number.NaN;
}
