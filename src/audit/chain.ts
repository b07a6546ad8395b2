import { createHmac, timingSafeEqual } from "node:crypto";
import { invalid } from "../errors/index.ts";
import { appendAuditRows, auditHash, GENESIS_HASH, legacyAuditHash, type AuditCheckpointRow, type AuditRecordRepository, type AuditRow, type NewAuditRow, type Store } from "../store/index.ts";

/** Called (soon after the commit) when records were appended to a store's chain in this process. */
const appendListeners = new WeakMap<Store, Set<() => void>>();
const notifyScheduled = new WeakSet<Store>();

export function onAppend(store: Store, listener: () => void): () => void {
  let set = appendListeners.get(store);
  if (!set) appendListeners.set(store, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

/**
 * Extends the store's hash chain with `rows` in one transaction. Every writer
 * (the gateway's group commit, auth events, admin changes, CLI commands)
 * goes through here, so the chain has one order whoever writes.
 */
export function appendToChain(store: Store, rows: readonly NewAuditRow[]): AuditRow[] {
  const sealed = appendAuditRows(store.audit, rows, store.transaction);
  const listeners = appendListeners.get(store);
  if (listeners && listeners.size > 0 && !notifyScheduled.has(store)) {
    notifyScheduled.add(store);
    // After the surrounding transaction (if any) has committed.
    setImmediate(() => {
      notifyScheduled.delete(store);
      for (const listener of listeners) listener();
    });
  }
  return sealed;
}

/** The key that signs retention checkpoints, derived from the master key of `keyVersion`. */
export interface CheckpointKey {
  bytes: Uint8Array;
  version: number;
}

export const CHECKPOINT_KEY_PURPOSE = "mintgate audit checkpoint signing key v1";

export function signCheckpoint(key: CheckpointKey, checkpoint: Pick<AuditCheckpointRow, "at" | "lastId" | "lastHash" | "lastAt" | "deleted">): string {
  const content = JSON.stringify([1, checkpoint.at, checkpoint.lastId, checkpoint.lastHash, checkpoint.lastAt, checkpoint.deleted]);
  return createHmac("sha256", key.bytes).update(content).digest("hex");
}

function signatureValid(key: CheckpointKey, checkpoint: AuditCheckpointRow): boolean {
  if (checkpoint.keyVersion !== key.version) return false;
  const expected = Buffer.from(signCheckpoint(key, checkpoint), "hex");
  const actual = Buffer.from(checkpoint.signature, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A record's id and hash kept off the machine: the chain cannot show its newest records removed, an anchor can. */
export interface ChainAnchor {
  id: number;
  hash: string;
}

/** `ID:HASH` as the verify report prints its head (`--anchor`, `?anchor=`); `name` is the option, for the error. */
export function parseChainAnchor(text: string, name: string): ChainAnchor {
  const match = /^([1-9]\d{0,15}):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!match || !Number.isSafeInteger(Number(match[1]))) {
    throw invalid(`${name} must be ID:HASH, a record's id and its 64-hex-digit hash as an earlier \`mintgate audit verify\` printed its head, not "${text}".`);
  }
  return { id: Number(match[1]), hash: match[2]!.toLowerCase() };
}

export interface VerifyReport {
  ok: boolean;
  /** Records checked. */
  records: number;
  firstId: number | null;
  lastId: number | null;
  checkpoints: number;
  /** The newest record, to keep elsewhere as a later verify's anchor; null when the chain is empty or broken. */
  head: ChainAnchor | null;
  /** The anchor asked for, when it holds: still there with its hash, or deleted by retention (a checkpoint covers it). */
  anchor?: ChainAnchor & { status: "present" | "pruned" };
  /** The first thing found wrong: the record (by id) or checkpoint it concerns. */
  broken?: { id: number; checkpoint?: number; reason: string };
}

const PAGE = 5000;

/**
 * Walks the chain in id order, a page at a time (constant memory): every
 * record's hash must match its content, its previous hash the record
 * before it, ids must run without gaps from the newest retention checkpoint
 * (whose signature must hold) to the highest id ever handed out.
 * All of it is read from one snapshot: beside a serving gateway, a record
 * committed after the last page was read but before the highest id was
 * counted was reported as "deleted from the end of the chain".
 */
export function verifyChain(store: Store, key: CheckpointKey | undefined, options: WalkOptions = {}): VerifyReport {
  return store.readSnapshot(() => {
    const steps = walkChain(store.audit, key, options);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  });
}

/**
 * The same walk for a serving gateway (GET /admin/api/audit/verify), yielding to the event loop after every page: run
 * by the audit reader thread (src/audit/reads.ts) in a read transaction on a connection of its own, so that the walk
 * reads one snapshot while the gateway goes on committing, and the thread answers other reads between pages.
 */
export async function verifyChainGradually(audit: AuditRecordRepository, key: CheckpointKey | undefined, anchor?: ChainAnchor): Promise<VerifyReport> {
  const steps = walkChain(audit, key, { anchor });
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

interface WalkOptions {
  /** Also check that this record is still there with this hash (or was deleted by retention). */
  anchor?: ChainAnchor;
  onProgress?: (checked: number) => void;
}

/** The walk, one page per step. */
function* walkChain(repo: AuditRecordRepository, key: CheckpointKey | undefined, { anchor, onProgress }: WalkOptions): Generator<void, VerifyReport> {
  const checkpoints = repo.checkpoints();
  const report: VerifyReport = { ok: true, records: 0, firstId: null, lastId: null, checkpoints: checkpoints.length, head: null };
  const fail = (broken: VerifyReport["broken"]): VerifyReport => ({ ...report, ok: false, broken });
  for (const checkpoint of checkpoints) {
    if (!key) return fail({ id: checkpoint.lastId, checkpoint: checkpoint.id, reason: `retention checkpoint ${checkpoint.id} cannot be checked without the master key` });
    if (!signatureValid(key, checkpoint)) {
      return fail({
        id: checkpoint.lastId,
        checkpoint: checkpoint.id,
        reason:
          checkpoint.keyVersion !== key.version
            ? `retention checkpoint ${checkpoint.id} is signed with master key version ${checkpoint.keyVersion}, not the current ${key.version}`
            : `retention checkpoint ${checkpoint.id} (records through ${checkpoint.lastId} deleted) has a signature that does not match its content`,
      });
    }
  }
  const startCheckpoint = checkpoints.length > 0 ? checkpoints[checkpoints.length - 1]! : undefined;
  let expectedId = (startCheckpoint?.lastId ?? 0) + 1;
  let prevHash = startCheckpoint?.lastHash ?? GENESIS_HASH;
  let afterId = 0;
  let anchorHashFound: string | undefined;
  for (;;) {
    const page = repo.page(afterId, PAGE);
    if (page.length === 0) break;
    for (const row of page) {
      if (report.firstId === null) {
        report.firstId = row.id;
        if (row.id < expectedId) {
          // Rows at or below the checkpoint are still there: the chain must start from an older checkpoint.
          const older = checkpoints.find((c) => c.lastId === row.id - 1);
          if (row.id === 1 || older) {
            expectedId = row.id;
            prevHash = older?.lastHash ?? GENESIS_HASH;
          }
        }
      }
      if (row.id !== expectedId) {
        return fail({ id: expectedId, reason: row.id > expectedId ? `record ${expectedId} is missing${row.id - expectedId > 1 ? ` (through ${row.id - 1})` : ""}: deleted without a retention checkpoint` : `record ${row.id} is out of place` });
      }
      if (auditHash(row) !== row.hash && legacyAuditHash(row) !== row.hash) return fail({ id: row.id, reason: `record ${row.id} does not match its hash: it was edited` });
      if (row.prevHash !== prevHash) {
        return fail({ id: row.id, reason: `record ${row.id} does not follow record ${row.id - 1} in the chain: records were reordered, replaced or re-hashed` });
      }
      if (row.id === anchor?.id) anchorHashFound = row.hash;
      prevHash = row.hash;
      expectedId = row.id + 1;
      report.lastId = row.id;
      report.records++;
    }
    afterId = page[page.length - 1]!.id;
    onProgress?.(report.records);
    yield;
  }
  const highest = repo.highestIdEver();
  if (highest >= expectedId) {
    return fail({ id: expectedId, reason: `record ${expectedId}${highest > expectedId ? ` through ${highest}` : ""} ${highest > expectedId ? "were" : "was"} deleted from the end of the chain` });
  }
  // Only a chain that verifies has a head worth keeping.
  const intact = (): VerifyReport => ({ ...report, head: report.lastId === null ? null : { id: report.lastId, hash: prevHash } });
  if (!anchor) return intact();
  // Deleting the newest records (and setting the id counter back), or re-hashing after an edit (the hashes carry no secret),
  // leaves a chain that holds: only a record kept elsewhere tells.
  const prunedBy = anchorHashFound === undefined ? checkpoints.find((c) => c.lastId >= anchor.id) : undefined;
  const hashThere = anchorHashFound ?? (prunedBy?.lastId === anchor.id ? prunedBy.lastHash : undefined);
  const offMachine = "copies kept off this machine (the live feed's reader, exports)";
  if (hashThere !== undefined && hashThere !== anchor.hash) {
    return fail({ id: anchor.id, reason: `record ${anchor.id} no longer has the anchor's hash: the chain was rewritten up to it (a record at or before it changed and the rest re-hashed, or records deleted from the end and their ids handed out again); look for the originals in ${offMachine}` });
  }
  if (anchorHashFound === undefined && !prunedBy) {
    const end = report.lastId === null ? "now holds no records" : `now ends at record ${report.lastId}`;
    return fail({ id: anchor.id, reason: `record ${anchor.id}, the anchor, is gone and no retention checkpoint covers it: records were deleted from the end of the chain, which ${end}; look for them in ${offMachine}` });
  }
  return { ...intact(), anchor: { ...anchor, status: anchorHashFound === undefined ? "pruned" : "present" } };
}
