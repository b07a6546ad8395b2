import { createWriteStream } from "node:fs";
import { AUDIT_KINDS, AUDIT_OUTCOMES, cliActor, CHECKPOINT_KEY_PURPOSE, exportAudit, parseChainAnchor, parseTime, pruneAuditTrailGradually, searchAudit, SEARCH_LIMIT_MAX, verifyChain, type ExportFormat } from "../../audit/index.ts";
import { loadSettings, parseRetentionDays } from "../../config/index.ts";
import { invalid } from "../../errors/index.ts";
import { virtualMcpFilterOf } from "../../gateway/index.ts";
import type { AuditFilter } from "../../store/index.ts";
import { counted } from "../../terminal/index.ts";
import { DATA_OPTION, FORCE_HELP, FORCE_OPTION, JSON_OPTION, outputFileOption, printJson, printTable, stringValue, type Command, commandGroup, type ParsedArgs, writeOutputFile } from "../command.ts";
import { DATA_HELP, withDataDir } from "../data-dir.ts";

const KINDS: readonly string[] = AUDIT_KINDS;
const OUTCOMES: readonly string[] = AUDIT_OUTCOMES;

function timeOption(parsed: ParsedArgs, name: string): number | undefined {
  const raw = stringValue(parsed, name);
  const ms = parseTime(raw);
  // An empty value (an unset shell variable) is refused as `stats` refuses it, not taken as no bound.
  if (raw === "" || (ms !== undefined && Number.isNaN(ms))) throw invalid(`--${name} must be a time such as 2025-06-01, 2025-06-01T12:00:00Z or an age such as 24h or 7d, not "${raw}".`);
  return ms;
}

/** What an empty filter option (`--user "$WHO"` with WHO unset) should have named: left empty, it would match every record. */
const FILTER_VALUES = { user: "the person's email", vmcp: "a virtual MCP's slug", tool: "the tool's exposed name" } as const;

function filterOf(parsed: ParsedArgs): AuditFilter {
  for (const [name, value] of Object.entries(FILTER_VALUES)) {
    if (stringValue(parsed, name) === "") throw invalid(`--${name} is empty; give ${value}, or leave --${name} out to include every record.`);
  }
  const kind = stringValue(parsed, "kind");
  if (kind !== undefined && !KINDS.includes(kind)) throw invalid(`--kind must be one of ${KINDS.join(", ")}, not "${kind}".`);
  const outcome = stringValue(parsed, "outcome");
  if (outcome !== undefined && !OUTCOMES.includes(outcome)) throw invalid(`--outcome must be one of ${OUTCOMES.join(", ")}, not "${outcome}".`);
  const since = timeOption(parsed, "since");
  const until = timeOption(parsed, "until");
  // Refused as `stats` refuses it: an empty answer would read as "nothing happened" (e.g. --since 1h --until 2h, swapped ages).
  if (since !== undefined && until !== undefined && !(since < until)) {
    throw invalid(`The window is empty: --since (${new Date(since).toISOString()}) must be before --until (${new Date(until).toISOString()}).`);
  }
  return {
    since,
    until,
    person: stringValue(parsed, "user"),
    virtualMcp: virtualMcpFilterOf(stringValue(parsed, "vmcp"), "--vmcp"),
    tool: stringValue(parsed, "tool"),
    outcome,
    kind,
  };
}

const FILTER_OPTIONS = {
  since: { type: "string" },
  until: { type: "string" },
  user: { type: "string" },
  vmcp: { type: "string" },
  tool: { type: "string" },
  outcome: { type: "string" },
  kind: { type: "string" },
} as const;

const FILTER_HELP = {
  "--since T": "from this time: ISO 8601, a date, Unix ms, or an age such as 24h or 7d",
  "--until T": "up to this time (same forms)",
  "--user EMAIL": "one person's records",
  "--vmcp SLUG": "one Virtual MCP's records",
  "--tool NAME": "one tool, prompt or resource (the exposed name)",
  "--outcome O": `one outcome: ${OUTCOMES.join(", ")}`,
  "--kind K": "mcp (requests), auth (sign-in and tokens) or admin (changes)",
};

const verifyCommand: Command = {
  name: "audit verify",
  summary: "Check the audit trail's hash chain and retention checkpoints; names the first broken record.",
  usage: "mintgate audit verify [--anchor ID:HASH] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, anchor: { type: "string" } },
  optionHelp: { "--anchor ID:HASH": "also check that this record (the head of an earlier verify, kept elsewhere) is still there with this hash", ...DATA_HELP, "--json": "print the report as JSON" },
  details:
    "Exit status 0 when the chain is intact, 1 when a record was edited, deleted or reordered (the report names it). " +
    "The chain alone cannot show its newest records deleted, or an edit with every later record re-hashed: keep the head it prints somewhere else and pass it as --anchor later.",
  async run(parsed) {
    const anchorText = stringValue(parsed, "anchor");
    const anchor = anchorText === undefined ? undefined : parseChainAnchor(anchorText, "--anchor");
    const progress = !parsed.values.json && process.stderr.isTTY;
    const report = await withDataDir(parsed, (dir) =>
      verifyChain(dir.store, dir.secrets.derivedKey(CHECKPOINT_KEY_PURPOSE), { anchor, onProgress: progress ? (n) => process.stderr.write(`\rchecked ${counted(n, "record")}`) : undefined }),
    );
    if (progress) process.stderr.write("\n");
    if (parsed.values.json) printJson(report);
    else if (report.ok) {
      process.stdout.write(`The audit trail is intact: ${counted(report.records, "record")}${report.firstId !== null ? ` (${report.firstId}–${report.lastId})` : ""}, ${counted(report.checkpoints, "retention checkpoint")}.\n`);
      if (report.anchor) {
        process.stdout.write(`Anchor: record ${report.anchor.id} ${report.anchor.status === "present" ? "is there with its hash" : "was deleted by retention (a signed checkpoint covers it)"}.\n`);
      }
      if (report.head) process.stdout.write(`Head (keep it elsewhere, check it later with --anchor): ${report.head.id}:${report.head.hash}\n`);
    } else process.stdout.write(`The audit trail is broken at record ${report.broken!.id}: ${report.broken!.reason}.\n`);
    // Exit 1 gets its sentence on stderr, as every failure does (`sso test` too), with --json as well: a script that
    // logs stderr says why it stopped. The report stays on stdout, alone with --json.
    if (!report.ok) process.stderr.write(`mintgate: the audit trail does not verify from record ${report.broken!.id} on; the report on stdout says what changed (keep this copy of the database as evidence).\n`);
    return report.ok ? 0 : 1;
  },
};

const searchCommand: Command = {
  name: "audit search",
  summary: "Find audit records by time, person, Virtual MCP, tool, outcome or kind (newest first).",
  usage: "mintgate audit search [--since T] [--until T] [--user EMAIL] [--vmcp SLUG] [--tool NAME] [--outcome O] [--kind K] [--limit N] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, ...FILTER_OPTIONS, limit: { type: "string" } },
  optionHelp: { ...FILTER_HELP, "--limit N": `at most N records (default 100, at most ${SEARCH_LIMIT_MAX})`, ...DATA_HELP, "--json": "print the records as JSON" },
  async run(parsed) {
    const filter = filterOf(parsed);
    const limitText = stringValue(parsed, "limit");
    const limit = limitText === undefined ? 100 : Number(limitText);
    // Above the maximum is refused, as the admin API does, rather than quietly answering fewer than asked.
    if (!Number.isInteger(limit) || limit < 1 || limit > SEARCH_LIMIT_MAX) throw invalid(`--limit must be a whole number from 1 to ${SEARCH_LIMIT_MAX}, not "${limitText}".`);
    const records = await withDataDir(parsed, (dir) => searchAudit(dir.store, filter, limit));
    if (parsed.values.json) printJson(records);
    else if (records.length === 0) process.stdout.write("No audit records match.\n");
    else {
      printTable(
        ["ID", "TIME", "KIND", "PERSON", "VIRTUAL MCP", "METHOD", "NAME", "OUTCOME", "MS"],
        records.map((r) => [String(r.id), r.at, r.kind, r.person ?? "-", r.virtualMcp ?? "-", r.method, r.exposedName || "-", r.outcome, r.durationMs === null ? "-" : r.durationMs.toFixed(1)]),
      );
    }
    return 0;
  },
};

/**
 * Writes with backpressure: waits for 'drain' when the stream's buffer is full, or fails with the stream's error.
 * Both listeners go once either fires: left behind, one per full buffer, they piled up on the stream (and a long
 * export printed Node's "possible EventEmitter memory leak" warning).
 */
function writeTo(stream: NodeJS.WritableStream, chunk: string): Promise<void> | undefined {
  if (stream.write(chunk)) return undefined;
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      stream.off("drain", settle);
      stream.off("error", settle);
      if (error) reject(error);
      else resolve();
    };
    stream.on("drain", settle);
    stream.on("error", settle);
  });
}

/** The reader of standard output went away (`mintgate audit export … | head`): it has what it wanted, so the export just stops. */
const readerGone = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code === "EPIPE";

const exportCommand: Command = {
  name: "audit export",
  summary: "Stream audit records (oldest first) as JSON Lines or CSV, in constant memory.",
  usage: "mintgate audit export --format jsonl|csv [--since T] [--until T] [filters] [-o FILE [--force]] [--data DIR]",
  options: { ...DATA_OPTION, ...FILTER_OPTIONS, ...FORCE_OPTION, format: { type: "string" }, output: { type: "string", short: "o" } },
  optionHelp: {
    "--format F": "jsonl (one JSON object a line) or csv",
    ...FILTER_HELP,
    "-o, --output FILE": "write to FILE, readable by its owner only (default standard output)",
    ...FORCE_HELP,
    ...DATA_HELP,
  },
  // One JSON document of every record would be held in memory whole; JSON Lines streams the same records.
  refusedOptionHints: { json: "it writes JSON Lines (one record a line, in constant memory) with --format jsonl." },
  details:
    "FILE is written whole or not at all: the records go to a temporary file beside it, renamed to FILE once complete,\n" +
    "so a failed or interrupted export leaves no partial FILE (and an earlier one as it was). A progress line goes to\n" +
    "standard error when it is a terminal.",
  async run(parsed) {
    const format = stringValue(parsed, "format");
    // Missing, it is a required option like any other (`needs …`); the sentence says what to type.
    if (format === undefined) throw invalid("`mintgate audit export` needs --format jsonl or --format csv.");
    if (format !== "jsonl" && format !== "csv") throw invalid(`--format must be jsonl or csv, not "${format}".`);
    const filter = filterOf(parsed);
    const file = outputFileOption(parsed);
    const progress = process.stderr.isTTY;
    let rows = 0;
    let readerClosed = false;
    await withDataDir(parsed, async (dir) => {
      let lastShown = 0;
      const records = exportAudit(dir.store.audit, format as ExportFormat, filter, (n) => {
        rows = n;
        if (progress && Date.now() - lastShown > 200) {
          lastShown = Date.now();
          process.stderr.write(`\rexported ${counted(n, "record")}`);
        }
      });
      const copy = async (out: NodeJS.WritableStream) => {
        for await (const chunk of records) {
          const waiting = writeTo(out, chunk);
          if (waiting) await waiting;
        }
      };
      if (file === undefined) {
        try {
          await copy(process.stdout);
        } catch (error) {
          if (!readerGone(error)) throw error;
          readerClosed = true;
        }
        return;
      }
      await writeOutputFile(file, parsed, 0o600, async (fd) => {
        const out = createWriteStream("", { fd, autoClose: false });
        await copy(out);
        await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
      });
    });
    if (progress) process.stderr.write(readerClosed ? "\n" : `\rexported ${counted(rows, "record")}${file ? ` to ${file}` : ""}\n`);
    // Said in scripts too: an empty file (a CSV header alone) is otherwise indistinguishable from a filter that worked.
    else if (rows === 0) process.stderr.write(`mintgate: no audit records match, so ${file ?? "the output"} holds none; \`mintgate audit search\` with the same filters shows what there is.\n`);
    return 0;
  },
};

const pruneCommand: Command = {
  name: "audit prune",
  summary: "Delete audit records older than the retention period now, leaving a signed checkpoint.",
  usage: "mintgate audit prune [--retention-days N] [--data DIR] [--json]",
  options: { ...DATA_OPTION, ...JSON_OPTION, "retention-days": { type: "string" } },
  optionHelp: { "--retention-days N": "keep N days (env MINTGATE_AUDIT_RETENTION_DAYS, default 365)", ...DATA_HELP, "--json": "print the report as JSON" },
  details: "The running gateway does the same once a day. The chain still verifies after a prune. Deletes in chunks, pausing between them so a gateway serving meanwhile goes on answering; a progress line goes to standard error when it is a terminal.",
  async run(parsed) {
    const flag = stringValue(parsed, "retention-days");
    const retentionDays = flag === undefined ? loadSettings({ data: stringValue(parsed, "data") }).auditRetentionDays : parseRetentionDays({ value: flag, source: "--retention-days" });
    // A year of a busy team is millions of records to delete: say how far it got, as export and verify do.
    const progress = !parsed.values.json && process.stderr.isTTY;
    const report = await withDataDir(parsed, (dir) =>
      pruneAuditTrailGradually(dir.store, {
        retentionDays,
        key: () => dir.secrets.derivedKey(CHECKPOINT_KEY_PURPOSE),
        actor: cliActor(),
        otherWriters: true,
        onProgress: progress ? (n) => process.stderr.write(`\rdeleted ${counted(n, "record")}`) : undefined,
      }),
    );
    if (progress && report.deleted > 0) process.stderr.write("\n");
    if (parsed.values.json) printJson(report);
    else if (report.deleted === 0) process.stdout.write(`Nothing to delete: no records older than ${report.cutoff} (${counted(report.retentionDays, "day")}).\n`);
    else process.stdout.write(`Deleted ${counted(report.deleted, "record")} through ${report.throughId}, older than ${report.cutoff}; checkpoint ${report.checkpoint} keeps the chain verifiable.\n`);
    return 0;
  },
};

export const auditSubcommands = [verifyCommand, searchCommand, exportCommand, pruneCommand];

export const auditCommand = commandGroup("audit", "Check, search, export and prune the audit trail.", auditSubcommands);
