import { Database } from "bun:sqlite";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { dataPaths } from "../config/index.ts";
import { conflict } from "../errors/index.ts";

/** Held while a gateway serves from a data directory (or a restore swaps its database). */
export interface DataDirLock {
  release(): void;
}

/**
 * Takes the data directory's lock, or throws a conflict whose sentence
 * `refusal` writes from the holder ("DIR", or "DIR at URL" when server.url
 * says where the holder listens).
 *
 * The lock is an exclusive SQLite transaction on DATA_DIR/serve.lock, left
 * open until `release`: a POSIX advisory lock, which the kernel drops when
 * the process ends however it ends (kill -9 included), so it is never left
 * stale. server.url cannot serve as the lock: a second gateway overwrites it
 * and removes it on exit while the first one still serves.
 */
export function lockDataDir(dataDir: string, refusal: (holder: string) => string): DataDirLock {
  const paths = dataPaths(dataDir);
  const created = !existsSync(paths.serveLock);
  const db = new Database(paths.serveLock, { create: true, readwrite: true });
  if (created) chmodSync(paths.serveLock, 0o600);
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code !== "SQLITE_BUSY") throw error;
    const url = recordedServerUrl(paths.serverUrl);
    throw conflict(refusal(url ? `${dataDir} at ${url}` : dataDir));
  }
  return { release: () => db.close() };
}

function recordedServerUrl(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").split("\n")[0] || undefined;
  } catch {
    return undefined;
  }
}
