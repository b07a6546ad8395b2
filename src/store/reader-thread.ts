/**
 * The store's reader thread: runs the reads of src/store/reads.ts, each on a read-only connection of its own,
 * and posts the answers back. Over a year of a busy gateway they read millions of records (a year's usage
 * statistics 9 s, the chain's verification 8 s), which on the request thread held every request for as long.
 * Started by `readInThread` and kept for the next read; message in: {id, path, read, args}; message out:
 * {id, answer} or {id, error}. A read that yields (the verification) lets the next ones run meanwhile.
 */
import { openSqlite, wrapWithDrizzle } from "./connection.ts";
import { READS, type ReadName } from "./reads.ts";

declare const self: Worker;

self.onmessage = async (event: MessageEvent<{ id: number; path: string; read: ReadName; args: unknown[] }>) => {
  const { id, path, read, args } = event.data;
  try {
    const connection = openSqlite(path, { readonly: true });
    try {
      const answer = await (READS[read] as (...all: unknown[]) => unknown)(wrapWithDrizzle(connection), ...args);
      self.postMessage({ id, answer });
    } finally {
      connection.close();
    }
  } catch (error) {
    self.postMessage({ id, error: (error as Error).message });
  }
};
