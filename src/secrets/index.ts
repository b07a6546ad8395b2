import { createHmac } from "node:crypto";
import { invalid, notFound, configError } from "../errors/index.ts";
import { SECRET_REFERENCE } from "./references.ts";
import type { Store } from "../store/index.ts";
import { seal, unseal } from "./cipher.ts";
import { createKeyCheck, keyMatches, type MasterKey } from "./master-key.ts";

export { SECRET_REFERENCE, secretReferencesIn, malformedSecretReferencesIn } from "./references.ts";
export {
  parseMasterKey,
  generateMasterKey,
  readMasterKeyFile,
  writeMasterKeyFile,
  promoteMasterKeyFile,
  keyMatches,
  type MasterKey,
} from "./master-key.ts";

/** What may be shown about a secret: never its value. */
export interface SecretInfo {
  name: string;
  version: number;
  keyVersion: number;
  createdAt: string;
  updatedAt: string;
}

const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

export function assertSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) {
    throw invalid(
      `"${name}" is not a valid secret name: use 1–128 letters, digits, "_", "." or "-", starting with a letter.`,
    );
  }
}

/** The associated data that binds a ciphertext to its secret's name. */
const secretContext = (name: string) => `mintgate:secret:${name}`;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The encrypted secret store. Everything else in mintgate gets a secret's
 * value only through `resolveSecret`.
 */
export class SecretStore {
  private readonly resolvedListeners: ((name: string, value: string) => void)[] = [];

  constructor(
    private readonly store: Store,
    private key: MasterKey,
    private keyVersion: number,
    private readonly now: () => number = Date.now,
    /** Reads the master key again (file or environment), for a rotation done by another process. */
    private readonly reloadKey?: () => MasterKey | undefined,
  ) {}

  /** Opens the secret store with `key`, registering it if the database has none yet. */
  static register(store: Store, key: MasterKey, options: { now?: () => number; reloadKey?: () => MasterKey | undefined } = {}): SecretStore {
    const now = options.now ?? Date.now;
    const current = store.secrets.currentKeyVersion();
    if (current) {
      if (!keyMatches(key, current)) {
        throw configError(`The master key from ${key.source} does not match this database's key; restore the right key from your backup.`);
      }
      return new SecretStore(store, key, current.version, now, options.reloadKey);
    }
    store.secrets.addKeyVersion(1, createKeyCheck(key, 1), now());
    return new SecretStore(store, key, 1, now, options.reloadKey);
  }

  /**
   * The key to use now. When another process rotated the master key, the
   * database has a newer key version: read the key again, so a running
   * gateway neither fails to decrypt nor writes with the retired key.
   */
  private currentKey(): { key: MasterKey; version: number } {
    const latest = this.store.secrets.currentKeyVersion();
    if (latest && latest.version !== this.keyVersion) {
      const fresh = this.reloadKey?.();
      if (!fresh || !keyMatches(fresh, latest)) {
        throw configError(
          `The master key was rotated (key version ${latest.version}) but ${fresh?.source ?? "this process"} still has the old one; restart mintgate${fresh?.source === "MINTGATE_MASTER_KEY" ? " with the new MINTGATE_MASTER_KEY" : ""}.`,
        );
      }
      this.key = fresh;
      this.keyVersion = latest.version;
    }
    return { key: this.key, version: this.keyVersion };
  }

  set(name: string, value: string): SecretInfo {
    assertSecretName(name);
    const bytes = encoder.encode(value);
    if (bytes.length === 0) throw invalid(`The value for secret "${name}" is empty; give it a value.`);
    if (value.includes("\0")) {
      throw invalid(`The value for secret "${name}" contains a NUL character, which neither an environment variable nor an HTTP header can carry.`);
    }
    if (bytes.length > MAX_SECRET_BYTES) {
      throw invalid(`The value for secret "${name}" is ${bytes.length} bytes; the limit is ${MAX_SECRET_BYTES}.`);
    }
    const { key, version } = this.currentKey();
    const sealed = seal(key.bytes, bytes, secretContext(name));
    this.store.secrets.put(name, version, sealed, this.now());
    return this.info(name);
  }

  info(name: string): SecretInfo {
    const row = this.store.secrets.get(name);
    if (!row) throw notFound(`There is no secret named "${name}"; \`mintgate secrets list\` shows the names.`);
    return toInfo(row);
  }

  list(): SecretInfo[] {
    return this.store.secrets.all().map(toInfo);
  }

  count(): number {
    return this.store.secrets.count();
  }

  delete(name: string): void {
    assertSecretName(name);
    if (!this.store.secrets.delete(name)) {
      throw notFound(`There is no secret named "${name}"; \`mintgate secrets list\` shows the names.`);
    }
  }

  /** Called with every value `resolveSecret` hands out (the audit trail redacts them). */
  onResolved(listener: (name: string, value: string) => void): void {
    this.resolvedListeners.push(listener);
  }

  /**
   * A key for `purpose` derived from the current master key (HMAC-SHA256),
   * with the key version it belongs to; the audit trail signs its
   * retention checkpoints with one.
   */
  derivedKey(purpose: string): { bytes: Uint8Array; version: number } {
    const { key, version } = this.currentKey();
    return { bytes: derive(key.bytes, purpose), version };
  }

  /** The one way to read a secret's value. */
  resolveSecret(name: string): string {
    const row = this.store.secrets.get(name);
    if (!row) throw notFound(`The secret "${name}" is referenced but not set; set it with \`mintgate secrets set ${name}\`.`);
    const { key, version } = this.currentKey();
    if (row.keyVersion !== version) {
      throw configError(`The secret "${name}" is sealed with key version ${row.keyVersion}, not the current ${version}; set it again.`);
    }
    const plaintext = unseal(key.bytes, row, secretContext(name));
    if (!plaintext) {
      throw configError(`The secret "${name}" cannot be decrypted: its stored bytes were altered or moved from another name; set it again.`);
    }
    const value = decoder.decode(plaintext);
    for (const listener of this.resolvedListeners) listener(name, value);
    return value;
  }

  /**
   * Re-encrypts every secret under `newKey` in one transaction and records the
   * new key version. Either all secrets move to the new key or none do.
   */
  rotateKey(
    newKey: MasterKey,
    /** Runs inside the rotation's transaction with keys derived from the new master key (audit checkpoints are re-signed). */
    alsoUnderNewKey?: (derivedKey: (purpose: string) => { bytes: Uint8Array; version: number }) => void,
  ): { keyVersion: number; reencrypted: number } {
    const nextVersion = this.keyVersion + 1;
    let reencrypted = 0;
    this.store.transaction(() => {
      this.store.secrets.addKeyVersion(nextVersion, createKeyCheck(newKey, nextVersion), this.now());
      for (const row of this.store.secrets.all()) {
        const plaintext = unseal(this.key.bytes, row, secretContext(row.name));
        if (!plaintext) {
          throw configError(`The secret "${row.name}" cannot be decrypted with the current key, so the key was not rotated; set that secret again or delete it first.`);
        }
        this.store.secrets.reseal(row.name, nextVersion, seal(newKey.bytes, plaintext, secretContext(row.name)));
        reencrypted++;
      }
      alsoUnderNewKey?.((purpose) => ({ bytes: derive(newKey.bytes, purpose), version: nextVersion }));
    });
    this.key = newKey;
    this.keyVersion = nextVersion;
    return { keyVersion: nextVersion, reencrypted };
  }
}

function derive(master: Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", master).update(`mintgate:derived:${purpose}`).digest());
}

function toInfo(row: { name: string; version: number; keyVersion: number; createdAt: number; updatedAt: number }): SecretInfo {
  return {
    name: row.name,
    version: row.version,
    keyVersion: row.keyVersion,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

/** Replaces every `${secret:NAME}` in `value` with the secret's value. */
export function expandSecretReferences(value: string, resolve: (name: string) => string): string {
  return value.replace(SECRET_REFERENCE, (_, name: string) => resolve(name));
}

/** Bearer tokens are high-entropy, so a plain SHA-256 is the right stored form (no slow hash needed). */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}
