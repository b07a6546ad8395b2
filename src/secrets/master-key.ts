import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { configError } from "../errors/index.ts";
import type { KeyVersionRow } from "../store/index.ts";
import { seal, unseal } from "./cipher.ts";

export const MASTER_KEY_BYTES = 32;

export interface MasterKey {
  bytes: Uint8Array;
  /** Where it came from, for messages: a file path or "MINTGATE_MASTER_KEY". */
  source: string;
}

/** What to do about a key of the wrong size that already encrypts a database. */
const RESTORE_KEY = "restore the right key from your backup";

/** Accepts 32 raw bytes (a key file), 64 hex characters, or base64/base64url. */
export function parseMasterKey(raw: Uint8Array, source: string, remedy = RESTORE_KEY): MasterKey {
  if (raw.length === MASTER_KEY_BYTES) return { bytes: new Uint8Array(raw), source };
  const text = Buffer.from(raw).toString("utf8").trim();
  let bytes: Uint8Array | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) bytes = Buffer.from(text, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) bytes = Buffer.from(text, "base64");
  if (bytes?.length !== MASTER_KEY_BYTES) {
    throw configError(
      `The master key in ${source} is not 32 bytes (expected 64 hex characters, base64, or a 32-byte file); ${remedy}.`,
    );
  }
  return { bytes, source };
}

export function generateMasterKey(source: string): MasterKey {
  return { bytes: new Uint8Array(randomBytes(MASTER_KEY_BYTES)), source };
}

/** The key in a key file; undefined when there is none. Its mode is warned about by `init` and `serve` (src/runtime). */
export function readMasterKeyFile(path: string): MasterKey | undefined {
  if (!existsSync(path)) return undefined;
  return parseMasterKey(readFileSync(path), path);
}

/**
 * Writes a key file readable by its owner only; never overwrites an existing one unless told to. It is on disk (its
 * data and its name) when this returns: what is then encrypted under it (the first secret, or a rotation's every
 * secret) must not outlive it in a power cut, which would leave an empty file where the only key was.
 */
export function writeMasterKeyFile(path: string, key: MasterKey, options: { overwrite?: boolean } = {}): void {
  const fd = openSync(path, options.overwrite ? "w" : "wx", 0o600);
  try {
    writeSync(fd, key.bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  syncDirectoryOf(path);
}

/** After a rotation committed: the new key file takes the key file's name, which keeps the old key as `old`; on disk when this returns. */
export function promoteMasterKeyFile(paths: { next: string; current: string; old: string }): void {
  renameSync(paths.current, paths.old);
  renameSync(paths.next, paths.current);
  syncDirectoryOf(paths.current);
}

/** Makes the names in `path`'s directory durable (a new file, a rename): fsync of the file alone does not. */
function syncDirectoryOf(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), "r");
    fsyncSync(fd);
  } catch {
    // Not every platform opens or syncs a directory (Windows); the file itself is synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const KEY_CHECK_PLAINTEXT = new TextEncoder().encode("mintgate master key check");
const keyCheckContext = (version: number) => `mintgate:key-check:${version}`;

/** A small ciphertext stored beside the secrets that only the right key opens. */
export function createKeyCheck(key: MasterKey, version: number) {
  return seal(key.bytes, KEY_CHECK_PLAINTEXT, keyCheckContext(version));
}

export function keyMatches(key: MasterKey, row: KeyVersionRow): boolean {
  return unseal(key.bytes, row.check, keyCheckContext(row.version)) !== undefined;
}
