import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
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

/** Writes a key file readable by its owner only; never overwrites an existing one. */
export function writeMasterKeyFile(path: string, key: MasterKey, options: { overwrite?: boolean } = {}): void {
  writeFileSync(path, key.bytes, { mode: 0o600, flag: options.overwrite ? "w" : "wx" });
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
