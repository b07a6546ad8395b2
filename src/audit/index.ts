import type { CallOutcome, CallRecord, Store } from "../store/index.ts";

export type { CallOutcome, CallRecord };

/** Arguments larger than this are stored cut, with a marker, so one call cannot bloat the store. */
const MAX_STORED_ARGUMENTS = 64 * 1024;

/** Writes one record per governed call; the audit issue adds the hash chain and redaction here. */
export class CallRecorder {
  constructor(private readonly store: Store) {}

  record(entry: Omit<CallRecord, "arguments"> & { arguments: unknown }): void {
    let args: string | null = null;
    if (entry.arguments !== undefined) {
      const json = JSON.stringify(entry.arguments);
      args = json.length > MAX_STORED_ARGUMENTS ? `${json.slice(0, MAX_STORED_ARGUMENTS)}…[${json.length} characters, cut]` : json;
    }
    this.store.callRecords.add({ ...entry, arguments: args });
  }

  recent(limit = 100) {
    return this.store.callRecords.recent(limit);
  }
}
