/**
 * The audit reader thread: runs the reads of src/audit/reads.ts, each on a read-only connection of its own,
 * and posts the answers back. Over a year of a busy gateway they read millions of records (a year's usage
 * statistics 9 s, the chain's verification 8 s), which on the request thread held every request for as long.
 * Started by `readInThread` and kept for the next read; message in: {id, path, read, args}; message out:
 * {id, answer} or {id, error}. A read that yields (the verification) lets the next ones run meanwhile.
 */
import { openReader } from "../store/index.ts";
import { READS, SNAPSHOT_READS, type ReadName } from "./reads.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<{ id: number; path: string; read: ReadName; args: unknown[] }>) => {
  const { id, path, read, args } = event.data;
  try {
    const reader = openReader(path, { snapshot: SNAPSHOT_READS.has(read) });
    try {
      const answer = await (READS[read] as (...all: unknown[]) => unknown)(reader, ...args);
      self.postMessage({ id, answer });
    } finally {
      reader.close();
    }
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message });
  }
};
