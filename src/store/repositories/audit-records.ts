import type { Database, Statement } from "bun:sqlite";
import { canonicalEmail } from "../../email/index.ts";
import type { StoreDb } from "../connection.ts";

/** The kinds of record and their outcomes: one list for the schema, the admin API's and CLI's filters and the TUI's choices. */
export const AUDIT_KINDS = ["mcp", "auth", "admin"] as const;
export const AUDIT_OUTCOMES = ["ok", "error", "denied", "timeout", "cancelled", "refused"] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One row of the audit trail, as stored (JSON columns are text). */
export interface AuditRow {
  id: number;
  at: number;
  kind: AuditKind;
  person: string | null;
  userId: string | null;
  clientId: string | null;
  tokenId: string | null;
  ip: string | null;
  sessionId: string | null;
  virtualMcp: string | null;
  connector: string | null;
  method: string;
  exposedName: string | null;
  upstreamName: string | null;
  arguments: string | null;
  result: string | null;
  resultSize: number | null;
  outcome: AuditOutcome;
  error: string | null;
  durationMs: number | null;
  detail: string | null;
  prevHash: string;
  hash: string;
}

/** A row before the chain gives it an id and hashes. */
export type NewAuditRow = Omit<AuditRow, "id" | "prevHash" | "hash">;

export interface AuditCheckpointRow {
  id: number;
  at: number;
  lastId: number;
  lastHash: string;
  lastAt: number;
  deleted: number;
  keyVersion: number;
  signature: string;
}

/** Columns written per row by the INSERT statements. */
const INSERT_COLUMNS = 23;
/** Rows per multi-row INSERT (23 values each, far below SQLite's limit of 32766 bound values). */
const INSERT_ROWS_PER_STATEMENT = 16;

/** Matches of a Virtual MCP filter few enough to find through its index and sort, rather than walk the table for. */
const FEW_RECORDS = 20_000;
const NOT_INDEXED = "NOT INDEXED";

/** The previous hash of the very first record. */
export const GENESIS_HASH = "0".repeat(64);

const COLUMNS =
  "id, at, kind, person, user_id AS userId, client_id AS clientId, token_id AS tokenId, ip, session_id AS sessionId, virtual_mcp AS virtualMcp, connector, method, " +
  "exposed_name AS exposedName, upstream_name AS upstreamName, arguments, result, result_size AS resultSize, outcome, error, duration_ms AS durationMs, detail, prev_hash AS prevHash, hash";

const CHECKPOINT_COLUMNS = "id, at, last_id AS lastId, last_hash AS lastHash, last_at AS lastAt, deleted, key_version AS keyVersion, signature";

/**
 * A record's hash (format 2): every column but the hash, in a fixed order.
 * The short columns are hashed as JSON, then the payload columns (arguments,
 * result, detail: JSON text of up to 16 KiB each) as their own text, each
 * preceded in the JSON by its length, so no boundary can move. Hashing the
 * payloads as they are, rather than as escaped strings inside the JSON, saves
 * the JSON escaping of 32 KiB on a large call. Changing this breaks every
 * existing chain: add a format instead (verification accepts `legacyAuditHash`).
 */
export function auditHash(row: Omit<AuditRow, "hash">): string {
  const hasher = new Bun.CryptoHasher("sha256");
  hasher.update(
    JSON.stringify([
      2, row.id, row.at, row.kind, row.person, row.userId, row.clientId, row.tokenId, row.ip, row.sessionId, row.virtualMcp, row.connector, row.method,
      row.exposedName, row.upstreamName, row.resultSize, row.outcome, row.error, row.durationMs, row.prevHash,
      row.arguments?.length ?? -1, row.result?.length ?? -1, row.detail?.length ?? -1,
    ]),
  );
  // JSON.stringify escapes lone surrogates, so these texts encode to UTF-8 without loss and the lengths fix the split.
  if (row.arguments !== null) hasher.update(row.arguments);
  if (row.result !== null) hasher.update(row.result);
  if (row.detail !== null) hasher.update(row.detail);
  return hasher.digest("hex");
}

/** Format 1, which sealed records written before format 2: the whole row as one JSON array. */
export function legacyAuditHash(row: Omit<AuditRow, "hash">): string {
  const canonical = JSON.stringify([
    1, row.id, row.at, row.kind, row.person, row.userId, row.clientId, row.tokenId, row.ip, row.sessionId, row.virtualMcp, row.connector, row.method,
    row.exposedName, row.upstreamName, row.arguments, row.result, row.resultSize, row.outcome, row.error, row.durationMs, row.detail, row.prevHash,
  ]);
  return new Bun.CryptoHasher("sha256").update(canonical).digest("hex");
}

/** Filters shared by search and export; times are Unix ms, the window [since, until). */
export interface AuditFilter {
  since?: number | undefined;
  until?: number | undefined;
  person?: string | undefined;
  userId?: string | undefined;
  clientId?: string | undefined;
  virtualMcp?: string | undefined;
  tool?: string | undefined;
  outcome?: string | undefined;
  kind?: string | undefined;
  method?: string | undefined;
}

function where(filter: AuditFilter): { sql: string; params: Record<string, string | number> } {
  const parts: string[] = [];
  const params: Record<string, string | number> = {};
  const add = (sql: string, name: string, value: string | number | undefined) => {
    if (value === undefined || value === "") return;
    parts.push(sql);
    params[name] = value;
  };
  add("at >= $since", "since", filter.since);
  // [since, until), as usage stats count: a January export up to 2025-02-01 and a February one from it share no record.
  add("at < $until", "until", filter.until);
  // NOCASE folds ASCII only: people are recorded in canonical form (canonicalEmail: `Ünal@…` as `ünal@…`, NFC), so the filter
  // is tried in that form too, and decomposed (`u` + U+0308), as versions before it recorded an email a provider sent so.
  // The records are hash-chained and stay as written.
  if (filter.person !== undefined && filter.person !== "") {
    const canonical = canonicalEmail(filter.person);
    const decomposed = canonical.normalize("NFD");
    parts.push("(person = $person COLLATE NOCASE OR person = $personCanonical OR person = $personDecomposed)");
    Object.assign(params, { person: filter.person, personCanonical: canonical, personDecomposed: decomposed });
  }
  add("user_id = $userId", "userId", filter.userId);
  add("client_id = $clientId", "clientId", filter.clientId);
  add("virtual_mcp = $virtualMcp", "virtualMcp", filter.virtualMcp);
  add("exposed_name = $tool", "tool", filter.tool);
  add("outcome = $outcome", "outcome", filter.outcome);
  add("kind = $kind", "kind", filter.kind);
  add("method = $method", "method", filter.method);
  return { sql: parts.join(" AND "), params };
}

/**
 * The audit trail table. Writes are plain prepared statements (they run on
 * every MCP request); the chain itself (ids, hashes) is computed by
 * `appendAuditRows` inside the write transaction, so several writers
 * (the gateway, a CLI command beside it) extend one chain.
 */
export class AuditRecordRepository {
  readonly sqlite: Database;
  private readonly insertStatement: Statement;
  /** Multi-row INSERT statements by row count (index n - 1), prepared on first use. */
  private readonly insertManyStatements: (Statement | undefined)[] = [];
  private readonly lastRow: Statement;
  private readonly lastCheckpoint: Statement;
  private readonly sequence: Statement;

  constructor(db: StoreDb) {
    this.sqlite = db.$client;
    this.insertStatement = this.insertStatementFor(1);
    this.lastRow = this.sqlite.prepare("SELECT id, hash FROM audit_records ORDER BY id DESC LIMIT 1");
    this.lastCheckpoint = this.sqlite.prepare(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY last_id DESC LIMIT 1`);
    this.sequence = this.sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_records'");
  }

  /** The end of the chain: the last record, else the newest checkpoint, else the genesis. Call inside the write transaction. */
  head(): { id: number; hash: string } {
    const row = this.lastRow.get() as { id: number; hash: string } | null;
    if (row) return row;
    const checkpoint = this.lastCheckpoint.get() as AuditCheckpointRow | null;
    if (checkpoint) return { id: checkpoint.lastId, hash: checkpoint.lastHash };
    return { id: 0, hash: GENESIS_HASH };
  }

  /** The highest id ever handed out (AUTOINCREMENT keeps it even after deletes). */
  highestIdEver(): number {
    return (this.sequence.get() as { seq: number } | null)?.seq ?? 0;
  }

  private insertStatementFor(rows: number): Statement {
    const values = "(" + new Array(INSERT_COLUMNS).fill("?").join(", ") + ")";
    return this.sqlite.prepare(
      "INSERT INTO audit_records (id, at, kind, person, user_id, client_id, token_id, ip, session_id, virtual_mcp, connector, method, exposed_name, upstream_name, arguments, result, result_size, outcome, error, duration_ms, detail, prev_hash, hash) " +
        `VALUES ${new Array(rows).fill(values).join(", ")}`,
    );
  }

  /** Inserts a sealed row; use `appendAuditRows`, which seals them. */
  insert(row: AuditRow): void {
    // Positional values: binding 23 named parameters from an object costs measurably more per row.
    this.insertStatement.run(
      row.id, row.at, row.kind, row.person, row.userId, row.clientId, row.tokenId, row.ip, row.sessionId, row.virtualMcp, row.connector, row.method,
      row.exposedName, row.upstreamName, row.arguments, row.result, row.resultSize, row.outcome, row.error, row.durationMs, row.detail, row.prevHash, row.hash,
    );
  }

  /**
   * Inserts sealed rows, up to INSERT_ROWS_PER_STATEMENT per statement: one
   * statement per group commit rather than one per row saves each row's
   * statement start and the AUTOINCREMENT bookkeeping (sqlite_sequence is
   * read and written once per statement).
   */
  insertMany(rows: readonly AuditRow[]): void {
    for (let start = 0; start < rows.length; start += INSERT_ROWS_PER_STATEMENT) {
      const count = Math.min(INSERT_ROWS_PER_STATEMENT, rows.length - start);
      if (count === 1) {
        this.insert(rows[start]!);
        continue;
      }
      const statement = (this.insertManyStatements[count - 1] ??= this.insertStatementFor(count));
      const values: (string | number | null)[] = new Array(count * INSERT_COLUMNS);
      let v = 0;
      for (let i = start; i < start + count; i++) {
        const row = rows[i]!;
        values[v++] = row.id;
        values[v++] = row.at;
        values[v++] = row.kind;
        values[v++] = row.person;
        values[v++] = row.userId;
        values[v++] = row.clientId;
        values[v++] = row.tokenId;
        values[v++] = row.ip;
        values[v++] = row.sessionId;
        values[v++] = row.virtualMcp;
        values[v++] = row.connector;
        values[v++] = row.method;
        values[v++] = row.exposedName;
        values[v++] = row.upstreamName;
        values[v++] = row.arguments;
        values[v++] = row.result;
        values[v++] = row.resultSize;
        values[v++] = row.outcome;
        values[v++] = row.error;
        values[v++] = row.durationMs;
        values[v++] = row.detail;
        values[v++] = row.prevHash;
        values[v++] = row.hash;
      }
      statement.run(...values);
    }
  }

  /**
   * Rows with id > afterId in id order, at most `limit` (keyset paging: no read transaction stays open),
   * up to `throughId` when given (the end of the filter's time window, from `idRangeOf`). Walks the primary
   * key (NOT INDEXED): with the index on (virtual_mcp, at) or on at, SQLite found and sorted every remaining
   * match for each page, so an export of one Virtual MCP's year (670,000 of 2 million records) slowed page after page.
   * A Virtual MCP with few records is found through its index, as `search` does: walking the key for one took
   * 0.4 s a page at 2 million records.
   */
  page(afterId: number, limit: number, filter: AuditFilter = {}, throughId?: number): AuditRow[] {
    const w = where(filter);
    const conditions = ["id > $afterId", throughId !== undefined ? "id <= $throughId" : "", w.sql].filter(Boolean).join(" AND ");
    const params: Record<string, string | number> = { ...w.params, afterId, limit };
    if (throughId !== undefined) params.throughId = throughId;
    return this.sqlite.query(`SELECT ${COLUMNS} FROM audit_records ${this.accessPathFor(filter)} WHERE ${conditions} ORDER BY id LIMIT $limit`).all(params) as AuditRow[];
  }

  /**
   * Newest first. Walks the primary key backwards within the ids of the time window, as `page` does: the
   * index on at or (virtual_mcp, at) made SQLite sort every match to answer the newest 100 (2.8 s for a
   * nine-month window of 2 million records). Only a Virtual MCP with few records is still found through its index,
   * which also serves the time window (the window's ids, 0.1 s to find for a year, are not needed then).
   */
  search(filter: AuditFilter, limit: number, beforeId?: number): AuditRow[] {
    const w = where(filter);
    const accessPath = this.accessPathFor(filter);
    const ids = accessPath === NOT_INDEXED ? this.idRangeOf(filter) : undefined;
    if (ids === null) return [];
    const conditions = [w.sql, beforeId !== undefined ? "id < $beforeId" : "", ids ? "id BETWEEN $firstId AND $lastId" : ""].filter(Boolean).join(" AND ");
    const params: Record<string, string | number> = { ...w.params, limit };
    if (beforeId !== undefined) params.beforeId = beforeId;
    if (ids) Object.assign(params, { firstId: ids.first, lastId: ids.last });
    return this.sqlite.query(`SELECT ${COLUMNS} FROM audit_records ${accessPath}${conditions ? ` WHERE ${conditions}` : ""} ORDER BY id DESC LIMIT $limit`).all(params) as AuditRow[];
  }

  /**
   * The first and last id of the records in the filter's time window, read from the index on at (a whole
   * year's window: about 0.1 s per 2 million records); null when it holds none, undefined without a window.
   */
  idRangeOf(filter: AuditFilter): { first: number; last: number } | null | undefined {
    if (filter.since === undefined && filter.until === undefined) return undefined;
    const row = this.sqlite
      .query("SELECT min(id) AS first, max(id) AS last FROM audit_records INDEXED BY audit_records_by_time WHERE at >= $since AND at < $until")
      .get({ since: filter.since ?? Number.MIN_SAFE_INTEGER, until: filter.until ?? Number.MAX_SAFE_INTEGER }) as { first: number | null; last: number | null };
    return row.first === null || row.last === null ? null : { first: row.first, last: row.last };
  }

  /**
   * How `search` and `page` reach the rows: the index on (virtual_mcp, at) for a Virtual MCP with few records, else
   * the primary key. Counts at most FEW_RECORDS + 1 index entries: counting them all took 26 ms for one with 790,000.
   */
  private accessPathFor(filter: AuditFilter): string {
    if (filter.virtualMcp === undefined || filter.virtualMcp === "") return NOT_INDEXED;
    const { n } = this.sqlite
      .query("SELECT count(*) AS n FROM (SELECT 1 FROM audit_records INDEXED BY audit_records_by_vmcp WHERE virtual_mcp = $slug LIMIT $most)")
      .get({ slug: filter.virtualMcp, most: FEW_RECORDS + 1 }) as { n: number };
    return n <= FEW_RECORDS ? "INDEXED BY audit_records_by_vmcp" : NOT_INDEXED;
  }

  count(filter: AuditFilter = {}): number {
    const w = where(filter);
    return (this.sqlite.query(`SELECT count(*) AS n FROM audit_records${w.sql ? ` WHERE ${w.sql}` : ""}`).get(w.params) as { n: number }).n;
  }

  /** How many records have an id above `afterId` and below `beforeId`. */
  countInIdRange(afterId: number, beforeId: number): number {
    return (this.sqlite.query("SELECT count(*) AS n FROM audit_records WHERE id > $afterId AND id < $beforeId").get({ afterId, beforeId }) as { n: number }).n;
  }

  lastId(): number {
    return (this.lastRow.get() as { id: number } | null)?.id ?? 0;
  }

  /** The id of the last record of the oldest run of records all older than `cutoff` (0 when none). */
  lastIdOlderThan(cutoff: number): number {
    const first = this.sqlite.query("SELECT min(id) AS id FROM audit_records WHERE at >= $cutoff").get({ cutoff }) as { id: number | null };
    if (first.id !== null) return first.id - 1;
    return this.lastId();
  }

  firstId(): number | null {
    return (this.sqlite.query("SELECT min(id) AS id FROM audit_records").get() as { id: number | null }).id;
  }

  get(id: number): AuditRow | null {
    return this.sqlite.query(`SELECT ${COLUMNS} FROM audit_records WHERE id = $id`).get({ id }) as AuditRow | null;
  }

  /** Deletes records with id <= lastId; returns how many. */
  deleteThrough(lastId: number): number {
    return this.sqlite.query("DELETE FROM audit_records WHERE id <= $lastId").run({ lastId }).changes;
  }

  checkpoints(): AuditCheckpointRow[] {
    return this.sqlite.query(`SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY last_id`).all() as AuditCheckpointRow[];
  }

  newestCheckpoint(): AuditCheckpointRow | null {
    return this.lastCheckpoint.get() as AuditCheckpointRow | null;
  }

  putCheckpoint(row: Omit<AuditCheckpointRow, "id"> & { id?: number }): number {
    if (row.id !== undefined) {
      this.sqlite
        .query("UPDATE audit_checkpoints SET at = $at, last_id = $lastId, last_hash = $lastHash, last_at = $lastAt, deleted = $deleted, key_version = $keyVersion, signature = $signature WHERE id = $id")
        .run(row as unknown as Record<string, string | number>);
      return row.id;
    }
    const { id: _omit, ...values } = row;
    return Number(
      this.sqlite
        .query("INSERT INTO audit_checkpoints (at, last_id, last_hash, last_at, deleted, key_version, signature) VALUES ($at, $lastId, $lastHash, $lastAt, $deleted, $keyVersion, $signature)")
        .run(values as unknown as Record<string, string | number>).lastInsertRowid,
    );
  }

  resignCheckpoint(id: number, keyVersion: number, signature: string): void {
    this.sqlite.query("UPDATE audit_checkpoints SET key_version = $keyVersion, signature = $signature WHERE id = $id").run({ id, keyVersion, signature });
  }
}

/**
 * Extends the chain with `rows` in one immediate transaction (a savepoint
 * when already inside one): reads the head, numbers each row after the
 * highest id ever handed out, hashes it onto the head, inserts. Returns the
 * sealed rows.
 */
export function appendAuditRows(repo: AuditRecordRepository, rows: readonly NewAuditRow[], transaction: <T>(fn: () => T) => T): AuditRow[] {
  return transaction(() => {
    let { id, hash } = repo.head();
    // Ids never go back: records deleted from the end leave a gap that verify names, not ids the next records reuse (which would hide the deletion).
    id = Math.max(id, repo.highestIdEver());
    const sealed: AuditRow[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      id++;
      const row = rows[i]! as AuditRow;
      row.id = id;
      row.prevHash = hash;
      row.hash = hash = auditHash(row);
      sealed[i] = row;
    }
    repo.insertMany(sealed);
    return sealed;
  });
}
