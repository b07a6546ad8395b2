import type { Store } from "../store/index.ts";
import { appendToChain, signCheckpoint, type CheckpointKey } from "./chain.ts";

export const DEFAULT_RETENTION_DAYS = 365;
const DAY_MS = 86_400_000;
/** Records deleted per transaction: writers (and, with the gradual prune, the gateway's requests) wait for one chunk at most. */
const CHUNK = 5_000;

export interface PruneReport {
  retentionDays: number;
  cutoff: string;
  deleted: number;
  /** The last deleted record, which the checkpoint stands in for. */
  throughId: number | null;
  checkpoint: number | null;
}

interface PruneOptions {
  retentionDays: number;
  /**
   * The signing key of the current master key, asked for inside each chunk's
   * transaction: a key rotated by another process between chunks re-signs
   * the checkpoint so far, and a key taken before the prune would then sign
   * the next chunk's checkpoint with the retired key version.
   */
  key: () => CheckpointKey;
  actor: string;
  now?: number;
  /** Called after each chunk with the records deleted so far. */
  onProgress?: (deleted: number) => void;
}

/**
 * Deletes the oldest records, a whole range from the start of the chain in
 * which every record is older than the retention period, and leaves a
 * signed checkpoint holding the last deleted record's id and hash, so the
 * remaining chain still verifies. The prune itself is recorded. All at once:
 * for a CLI command; the gateway uses `pruneAuditTrailGradually`.
 */
export function pruneAuditTrail(store: Store, options: PruneOptions): PruneReport {
  const steps = pruneSteps(store, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same prune for the gateway's own event loop: it yields after every
 * chunk, so requests wait for one chunk's transaction, not the whole prune
 * (a day of a busy gateway is millions of records). Stops between chunks
 * when `stopped()` says so (shutdown); what was deleted so far has its
 * checkpoint.
 */
export async function pruneAuditTrailGradually(
  store: Store,
  options: PruneOptions & {
    stopped?: () => boolean;
    /**
     * Another process writes to the store meanwhile (`audit prune` beside a serving gateway): after each chunk, wait
     * as long as its transaction held the write lock. Started back to back, the chunks kept the lock from the
     * gateway, whose busy handler retries only every few ms: its commits, and so its answers, waited for the whole prune.
     */
    otherWriters?: boolean;
  },
): Promise<PruneReport> {
  const steps = pruneSteps(store, options);
  for (;;) {
    const started = performance.now();
    const step = steps.next(options.stopped?.() ?? false);
    if (step.done) return step.value;
    const pause = options.otherWriters ? performance.now() - started : 0;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** The prune, one chunk's transaction per step; `next(true)` stops it before the next chunk. */
function* pruneSteps(store: Store, options: PruneOptions): Generator<void, PruneReport, boolean | undefined> {
  const now = options.now ?? Date.now();
  const cutoff = now - options.retentionDays * DAY_MS;
  const repo = store.audit;
  const report: PruneReport = { retentionDays: options.retentionDays, cutoff: new Date(cutoff).toISOString(), deleted: 0, throughId: null, checkpoint: null };
  const target = repo.lastIdOlderThan(cutoff);
  let checkpointId: number | undefined;
  for (;;) {
    // Where the chain starts is read inside the chunk's transaction: another prune (`audit prune` beside the gateway's) may have deleted past it meanwhile.
    const more = store.transaction(() => {
      const first = repo.firstId();
      if (first === null || first > target) return false;
      const chunkEnd = Math.min(first + CHUNK - 1, target);
      const last = repo.get(chunkEnd);
      if (!last) throw new Error(`audit record ${chunkEnd} is missing from the chain, so the prune stopped; run \`mintgate audit verify\` to see what was deleted.`);
      report.deleted += repo.deleteThrough(chunkEnd);
      const checkpoint = { at: now, lastId: last.id, lastHash: last.hash, lastAt: last.at, deleted: report.deleted };
      const key = options.key();
      checkpointId = repo.putCheckpoint({ ...checkpoint, id: checkpointId, keyVersion: key.version, signature: signCheckpoint(key, checkpoint) });
      report.throughId = chunkEnd;
      return chunkEnd < target;
    });
    options.onProgress?.(report.deleted);
    if (!more || (yield)) break;
  }
  report.checkpoint = checkpointId ?? null;
  if (report.deleted > 0) {
    appendToChain(store, [
      {
        at: now, kind: "admin", person: options.actor, userId: null, clientId: null, tokenId: null, ip: null, sessionId: null, virtualMcp: null, connector: null,
        method: "audit.prune", exposedName: null, upstreamName: null, arguments: null, result: null, resultSize: null, outcome: "ok", error: null, durationMs: null,
        detail: JSON.stringify({ retentionDays: options.retentionDays, cutoff: report.cutoff, deleted: report.deleted, throughId: report.throughId, checkpoint: report.checkpoint }),
      },
    ]);
  }
  return report;
}

/** Re-signs every checkpoint with a new key (inside the master key rotation's transaction). */
export function resignCheckpoints(store: Store, key: CheckpointKey): number {
  const checkpoints = store.audit.checkpoints();
  for (const c of checkpoints) store.audit.resignCheckpoint(c.id, key.version, signCheckpoint(key, c));
  return checkpoints.length;
}
