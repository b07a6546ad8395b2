import type { CallOutcome, CallRecord, Store } from "../store/index.ts";

export type { CallOutcome, CallRecord };

/** What callers hand to `record`: a call record with its arguments not yet serialised. */
export type RecordedEntry = Omit<CallRecord, "arguments"> & { arguments: unknown };

/**
 * Arguments longer than this are stored cut, with their full length, so
 * large payloads neither bloat the store nor slow every call down.
 */
export const MAX_STORED_ARGUMENTS = 4 * 1024;

/**
 * Writes one record per governed call, before the call is answered. Records
 * that arrive in the same turn of the event loop are committed in one
 * transaction (group commit), so concurrent calls share the cost of a commit.
 * The audit issue adds the hash chain and redaction here.
 */
export class CallRecorder {
  private queue: CallRecord[] = [];
  private committed: Promise<void> | undefined;
  /** Hooks called with every entry as it is handed over (metrics count requests here); cheap, must not throw. */
  private readonly recordListeners: ((entry: RecordedEntry) => void)[] = [];

  constructor(private readonly store: Store) {}

  /** Resolves once the record is committed; the caller answers the client after that. */
  record(entry: RecordedEntry): Promise<void> {
    for (const listener of this.recordListeners) listener(entry);
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

  /** Calls `listener` with every entry handed to `record` (used by src/metrics). */
  onRecord(listener: (entry: RecordedEntry) => void): void {
    this.recordListeners.push(listener);
  }

  /** Records handed over and not yet committed (the audit queue depth metric). */
  get pendingCount(): number {
    return this.queue.length;
  }

  /** Resolves once every record handed over so far is committed (shutdown waits for this). */
  async flush(): Promise<void> {
    while (this.committed) await this.committed.catch(() => {});
  }

  recent(limit = 100) {
    return this.store.callRecords.recent(limit);
  }
}

/** The arguments as JSON, cut at the limit without first serialising all of a large payload. */
function storedArguments(args: unknown): string | null {
  if (args === undefined) return null;
  const budget = { left: MAX_STORED_ARGUMENTS, cut: false };
  const json = jsonWithin(args, budget);
  return budget.cut ? `${json}…[cut at ${MAX_STORED_ARGUMENTS} characters]` : json;
}

/** JSON text of `value`, stopping once `budget.left` characters are spent (strings are cut inside). */
function jsonWithin(value: unknown, budget: { left: number; cut: boolean }): string {
  if (budget.left <= 0) {
    budget.cut = true;
    return "";
  }
  if (typeof value === "string") {
    const text = JSON.stringify(value.length > budget.left ? value.slice(0, budget.left) : value);
    if (value.length > budget.left) budget.cut = true;
    budget.left -= text.length;
    return budget.cut ? text.slice(0, -1) : text;
  }
  if (Array.isArray(value) || (value !== null && typeof value === "object")) {
    const isArray = Array.isArray(value);
    let out = isArray ? "[" : "{";
    budget.left -= 1;
    let first = true;
    for (const [key, item] of isArray ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>)) {
      if (item === undefined || typeof item === "function") continue;
      const head = `${first ? "" : ","}${isArray ? "" : `${JSON.stringify(key)}:`}`;
      first = false;
      budget.left -= head.length;
      out += head + jsonWithin(item, budget);
      if (budget.cut) return out;
    }
    budget.left -= 1;
    return out + (isArray ? "]" : "}");
  }
  const text = JSON.stringify(value) ?? "null";
  budget.left -= text.length;
  return text;
}
