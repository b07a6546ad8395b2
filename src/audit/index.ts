import { readFileSync, statfsSync, statSync } from "node:fs";
import { userInfo } from "node:os";
import { dirname } from "node:path";
import { isStorageFull } from "../errors/index.ts";
import { log } from "../log/index.ts";
import type { AuditOutcome, AuditRow, CallOutcome, CallRecord, NewAuditRow, Store } from "../store/index.ts";
import { appendToChain } from "./chain.ts";
import { DEFAULT_CAPTURE_LIMIT, Redactor } from "./redact.ts";

export type { CallOutcome, CallRecord, AuditRow };
export { DEFAULT_REDACT_KEYS, DEFAULT_CAPTURE_LIMIT, Redactor, REDACTED, shortSecretWarning } from "./redact.ts";
export { appendToChain, onAppend, verifyChain, verifyChainGradually, signCheckpoint, CHECKPOINT_KEY_PURPOSE, parseChainAnchor, type ChainAnchor, type CheckpointKey, type VerifyReport } from "./chain.ts";
export { pruneAuditTrail, pruneAuditTrailGradually, resignCheckpoints, DEFAULT_RETENTION_DAYS, type PruneReport } from "./retention.ts";
export { searchAudit, searchAuditInThread, SEARCH_LIMIT_MAX, exportAudit, exportStream, auditPagesInThread, type AuditPages, parseTime, viewOf, CSV_COLUMNS, type ExportFormat, type AuditRecordView } from "./query.ts";
export { AuditFeed, FEED_BUFFER } from "./feed.ts";
export { readInThread } from "./reader.ts";
export { AUDIT_KINDS, AUDIT_OUTCOMES } from "../store/index.ts";

/** Kept for callers of the earlier per-call recorder: arguments longer than this are stored cut. */
export const MAX_STORED_ARGUMENTS = DEFAULT_CAPTURE_LIMIT;

/**
 * One MCP request, as the gateway hands it over: the fields of a call record
 * (see the shared contract in the issue plan), with the arguments and result
 * as values (stored redacted and size-capped) and who sent it.
 */
export type McpRequestEntry = Omit<CallRecord, "arguments"> & {
  arguments: unknown;
  userId?: string | null | undefined;
  clientId?: string | null | undefined;
  ip?: string | null | undefined;
  result?: unknown;
  /** The length of the result's JSON text when the gateway already holds it (saves serialising a large result to measure it). */
  resultLength?: number | undefined;
};

/**
 * Who makes admin changes, as the services that record them are handed it: the actor's name (see
 * `AdminChange.actor`) and the client address the request came from through the admin API (as resolved
 * for --trusted-proxies); null for changes made in-process (CLI commands), which have none.
 */
export interface AdminActor {
  name: string;
  ip: string | null;
}

/** One change made by an administrator: who, what, and the state before and after (secrets by name only). */
export interface AdminChange {
  /** Who: "admin token <name>", "cli:<os user>", an admin's email. */
  actor: string;
  /** What, as `area.verb`: config.apply, secret.set, user.disable, tool.approve… */
  action: string;
  /** The thing changed: a connector, slug, secret name, person. */
  target?: string | null | undefined;
  before?: unknown;
  after?: unknown;
  outcome?: "ok" | "error" | "denied" | undefined;
  error?: string | null | undefined;
  ip?: string | null | undefined;
  /** Further facts (counts, reasons). */
  detail?: Record<string, unknown> | undefined;
}

export interface AuditSettings {
  /** Size limit of stored arguments and results, in JSON characters. */
  captureLimit?: number;
  /** Replaces secret values and secret-looking keys' values. */
  redactor?: Redactor;
  /**
   * False only for the benchmark's audit-off baseline
   * (MINTGATE_BENCH_UNSAFE_AUDIT_OFF=1): nothing is recorded.
   */
  enabled?: boolean;
}

/** Stored length of a call's error sentence (a tool's error text may be a whole page). */
export const MAX_STORED_ERROR = 500;
/**
 * Stored length of the names a request carries (tool and prompt names, resource URIs): they come from
 * the client, and a made-up name of a few MB was stored whole, where arguments are cut at 16 KiB.
 */
export const MAX_STORED_NAME = 2048;
const storedName = (name: string) => (name.length > MAX_STORED_NAME ? name.slice(0, MAX_STORED_NAME) : name);
/** Admin detail may be larger than a call payload: a whole connector before and after. */
const ADMIN_DETAIL_LIMIT = 64 * 1024;
const defaultRedactor = new Redactor();

/** Who runs a CLI command, for admin change records. */
export function cliActor(): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  // Bun answers "unknown" when $USER is unset (cron, systemd, sudo -i): ask the passwd file for our uid instead.
  if (!name || name === "unknown") name = passwdNameOf(process.getuid?.()) ?? (process.getuid ? `uid ${process.getuid()}` : "unknown");
  return `cli:${name}`;
}

function passwdNameOf(uid: number | undefined): string | undefined {
  if (uid === undefined) return undefined;
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields.length > 2 && fields[2] === String(uid)) return fields[0];
    }
  } catch {
    // no passwd file
  }
  return undefined;
}

/** An admin change as an audit row (redacted: secret values and secret-looking keys never stored). */
export function adminChangeRow(change: AdminChange, redactor: Redactor = defaultRedactor, at = Date.now()): NewAuditRow {
  const payload: Record<string, unknown> = { ...change.detail };
  if (change.before !== undefined) payload.before = change.before;
  if (change.after !== undefined) payload.after = change.after;
  return {
    at, kind: "admin", person: change.actor, userId: null, clientId: null, tokenId: null, ip: change.ip ?? null, sessionId: null, virtualMcp: null, connector: null,
    method: change.action, exposedName: change.target ?? null, upstreamName: null, arguments: null, result: null, resultSize: null,
    outcome: change.outcome ?? "ok", error: change.error == null ? null : redactor.text(change.error), durationMs: null,
    detail: Object.keys(payload).length > 0 ? redactor.captureJson(payload, ADMIN_DETAIL_LIMIT) : null,
  };
}

/** Records an admin change at once (committed when this returns). For CLI commands and services without an AuditLog. */
export function recordAdminChange(store: Store, change: AdminChange, redactor?: Redactor): void {
  appendToChain(store, [adminChangeRow(change, redactor)]);
}

/**
 * Free space the data directory's file system must have again, after a commit
 * failed for lack of it, before calls that reach an upstream run again: room
 * for a few dozen records of the largest size, so the first calls let through
 * are not run and then left unrecorded. On top of it, the size of the
 * write-ahead log: on a full disk it could not be copied into the database
 * (which must grow by as much), and its checkpoint takes that space first.
 */
export const ROOM_TO_RESUME_BYTES = 1024 * 1024;
/** How often, while the disk is full, its free space is looked at. */
const ROOM_CHECK_INTERVAL_MS = 1000;

/** Bytes this process may still write on the file system holding `dir` (root may use the blocks kept for it), or undefined when unknown. */
export function freeBytesAt(dir: string): number | undefined {
  try {
    const fs = statfsSync(dir);
    return (process.getuid?.() === 0 ? fs.bfree : fs.bavail) * fs.bsize;
  } catch {
    return undefined;
  }
}

/** The size of the store's write-ahead log file (0 when there is none). */
function walBytes(databasePath: string): number {
  try {
    return statSync(`${databasePath}-wal`).size;
  } catch {
    return 0;
  }
}

const mib = (bytes: number | undefined) => (bytes === undefined ? undefined : `${(bytes / 1024 / 1024).toFixed(1)} MiB`);

/**
 * The audit trail's writer for the gateway: one record per MCP request,
 * committed before the response leaves. Records arriving while a commit is
 * being prepared ride along in it (group commit): the first record of a
 * quiet period is committed on the next turn of the event loop, never held
 * back to fill a batch. Each commit extends the hash chain.
 */
export class AuditLog {
  private queue: NewAuditRow[] = [];
  private committed: Promise<void> | undefined;
  readonly redactor: Redactor;
  private readonly limit: number;
  readonly enabled: boolean;
  private readonly listeners: ((entry: McpRequestEntry) => void)[] = [];
  /**
   * Set from a commit that failed for lack of disk space until one commits
   * again; `trying` once the disk has room again and calls are let through,
   * until a commit says whether the room is real.
   */
  private full: { lastCheck: number; trying: boolean } | undefined;
  /** Records waiting for the next commit (for /metrics: the audit queue depth). */
  get pendingCount(): number {
    return this.queue.length;
  }

  /** Called with every MCP request handed to record() (metrics count them). */
  onRecord(listener: (entry: McpRequestEntry) => void): void {
    this.listeners.push(listener);
  }

  constructor(
    readonly store: Store,
    settings: AuditSettings = {},
  ) {
    this.redactor = settings.redactor ?? new Redactor();
    this.limit = settings.captureLimit ?? DEFAULT_CAPTURE_LIMIT;
    this.enabled = settings.enabled ?? true;
  }

  /** Resolves once the record is committed; the caller answers the client after that. */
  record(entry: McpRequestEntry): Promise<void> {
    for (let i = 0; i < this.listeners.length; i++) this.listeners[i]!(entry);
    if (!this.enabled) return Promise.resolve();
    // Only the result's size is kept: measuring cut arguments would serialise all of them.
    const args = this.redactor.captureJson(entry.arguments, this.limit);
    const result = entry.result === undefined ? undefined : this.redactor.capture(entry.result, this.limit, entry.resultLength);
    return this.enqueue({
      at: entry.at,
      kind: "mcp",
      person: entry.subject,
      userId: entry.userId ?? null,
      clientId: entry.clientId ?? null,
      tokenId: entry.tokenId,
      ip: entry.ip ?? null,
      sessionId: entry.sessionId,
      virtualMcp: entry.virtualMcp,
      connector: entry.connector,
      method: entry.method,
      // A resource's URI is the upstream's text and may carry its key (`…?key=…`); tool names are not searched (kept off the call path).
      exposedName: storedName(entry.method === "tools/call" ? entry.exposedName : this.redactor.text(entry.exposedName)),
      upstreamName: entry.upstreamName === null ? null : storedName(entry.method === "tools/call" ? entry.upstreamName : this.redactor.text(entry.upstreamName)),
      arguments: args,
      result: result?.json ?? null,
      resultSize: result?.size ?? null,
      outcome: entry.outcome,
      error: entry.error === null ? null : this.redactor.errorText(entry.error, MAX_STORED_ERROR),
      durationMs: entry.durationMs,
      detail: null,
    });
  }

  /** Any prepared row (auth events, admin changes) through the group commit. */
  enqueue(row: NewAuditRow): Promise<void> {
    this.queue.push(row);
    this.committed ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const batch = this.queue;
        this.queue = [];
        this.committed = undefined;
        try {
          this.append(batch);
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    return this.committed;
  }

  /** An admin change, committed before this returns. */
  recordAdminChange(change: AdminChange): void {
    this.append([adminChangeRow(change, this.redactor)]);
  }

  /**
   * True while the disk holding the store is full: a commit failed for lack
   * of space, and the file system has had less free than `roomNeeded()`
   * since (looked at once a second). The gateway then refuses calls that
   * would reach an upstream, rather than run them and leave them unrecorded.
   */
  storageFull(): boolean {
    const full = this.full;
    if (!full || full.trying) return false;
    const now = Date.now();
    if (now - full.lastCheck < ROOM_CHECK_INTERVAL_MS) return true;
    full.lastCheck = now;
    const free = freeBytesAt(dirname(this.store.path));
    if (free !== undefined && free < this.roomNeeded()) return true;
    // Room again (or no way to tell): calls go through, and the next commit says whether the room is real.
    full.trying = true;
    return false;
  }

  /**
   * Commits rows to the chain, keeping track of a full disk: one log line
   * when commits start failing for lack of space, one when they succeed
   * again, however many requests fail in between.
   */
  private append(rows: readonly NewAuditRow[]): void {
    try {
      appendToChain(this.store, rows);
    } catch (error) {
      if (isStorageFull(error)) this.commitFailedForSpace();
      throw error;
    }
    // A commit that fitted into space the write-ahead log already had proves little: only one after the disk had room again counts.
    if (this.full?.trying) {
      this.full = undefined;
      log.info("the disk holding the data directory has room again: requests are recorded and answered again", { dir: dirname(this.store.path), free: mib(freeBytesAt(dirname(this.store.path))) });
    }
  }

  /** Free space after which calls run again: ROOM_TO_RESUME_BYTES and the write-ahead log, whose checkpoint takes its size first. */
  private roomNeeded(): number {
    return ROOM_TO_RESUME_BYTES + walBytes(this.store.path);
  }

  private commitFailedForSpace(): void {
    if (this.full) {
      // The room seen was not enough (the WAL's checkpoint may have taken it): back to refusing, said once already.
      this.full.trying = false;
      this.full.lastCheck = Date.now();
      return;
    }
    this.full = { lastCheck: Date.now(), trying: false };
    const dir = dirname(this.store.path);
    log.error(
      `the disk holding the data directory is full: audit records cannot be written, so requests fail and tool calls are refused without running; free at least ${mib(this.roomNeeded())} on that disk (room for records and for copying the write-ahead log into the database), and mintgate carries on by itself`,
      { dir, free: mib(freeBytesAt(dir)), wal: mib(walBytes(this.store.path)) },
    );
  }

  /** Resolves once every record handed over so far is committed (shutdown waits for this). */
  async flush(): Promise<void> {
    while (this.committed) await this.committed.catch(() => {});
  }

  recent(limit = 100) {
    return this.store.callRecords.recent(limit);
  }
}

/** The earlier name; the gateway's callers use it until they move to AuditLog. */
export { AuditLog as CallRecorder };
export type CallRecorderEntry = McpRequestEntry;
export type { AuditOutcome };
