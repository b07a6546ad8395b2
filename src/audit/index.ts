import type { CallOutcome, CallRecord, Store } from "../store/index.ts";

export type { CallOutcome, CallRecord };

/**
 * Arguments longer than this are stored cut, with their full length, so
 * large payloads neither bloat the store nor slow every call down.
 */
export const MAX_STORED_ARGUMENTS = 8 * 1024;

/**
 * Writes one record per governed call, before the call is answered. Records
 * that arrive in the same turn of the event loop are committed in one
 * transaction (group commit), so concurrent calls share the cost of a commit.
 * The audit issue adds the hash chain and redaction here.
 */
export class CallRecorder {
  private queue: CallRecord[] = [];
  private committed: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  /** Resolves once the record is committed; the caller answers the client after that. */
  record(entry: Omit<CallRecord, "arguments"> & { arguments: unknown }): Promise<void> {
    this.queue.push({ ...entry, arguments: storedArguments(entry.arguments) });
    this.committed ??= new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        const batch = this.queue;
        this.queue = [];
        this.committed = undefined;
        try {
          this.store.transaction(() => {
            for (const record of batch) this.store.callRecords.add(record);
          });
          resolve();
        } catch (error) {
          reject(error);
        }
      });
    });
    return this.committed;
  }

  recent(limit = 100) {
    return this.store.callRecords.recent(limit);
  }
}

function storedArguments(args: unknown): string | null {
  if (args === undefined) return null;
  const json = JSON.stringify(args);
  return json.length > MAX_STORED_ARGUMENTS ? `${json.slice(0, MAX_STORED_ARGUMENTS)}…[${json.length} characters, cut]` : json;
}
