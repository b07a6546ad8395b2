import { asc, count, eq, max } from "drizzle-orm";
import type { StoreDb } from "../connection.ts";
import { keyVersions, secrets } from "../schema.ts";

export interface SealedValue {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

export interface SecretRow extends SealedValue {
  name: string;
  version: number;
  keyVersion: number;
  createdAt: number;
  updatedAt: number;
}

export interface KeyVersionRow {
  version: number;
  check: SealedValue;
  createdAt: number;
}

/** Encrypted rows only; encryption itself lives in src/secrets. */
export class SecretRepository {
  constructor(private readonly db: StoreDb) {}

  currentKeyVersion(): KeyVersionRow | undefined {
    const latest = this.db.select({ version: max(keyVersions.version) }).from(keyVersions).get();
    if (latest?.version == null) return undefined;
    const row = this.db.select().from(keyVersions).where(eq(keyVersions.version, latest.version)).get();
    return row && {
      version: row.version,
      check: { nonce: row.checkNonce, ciphertext: row.checkCiphertext },
      createdAt: row.createdAt,
    };
  }

  addKeyVersion(version: number, check: SealedValue, now: number): void {
    this.db
      .insert(keyVersions)
      .values({ version, checkNonce: Buffer.from(check.nonce), checkCiphertext: Buffer.from(check.ciphertext), createdAt: now })
      .run();
  }

  get(name: string): SecretRow | undefined {
    return this.db.select().from(secrets).where(eq(secrets.name, name)).get();
  }

  all(): SecretRow[] {
    return this.db.select().from(secrets).orderBy(asc(secrets.name)).all();
  }

  count(): number {
    return this.db.select({ n: count() }).from(secrets).get()?.n ?? 0;
  }

  /** Inserts or replaces a value, bumping its version; returns the new version. */
  put(name: string, keyVersion: number, sealed: SealedValue, now: number): number {
    const existing = this.get(name);
    const values = {
      keyVersion,
      nonce: Buffer.from(sealed.nonce),
      ciphertext: Buffer.from(sealed.ciphertext),
      updatedAt: now,
    };
    if (existing) {
      const version = existing.version + 1;
      this.db.update(secrets).set({ ...values, version }).where(eq(secrets.name, name)).run();
      return version;
    }
    this.db.insert(secrets).values({ name, version: 1, createdAt: now, ...values }).run();
    return 1;
  }

  /** Swaps in a re-encryption without touching the value's version or dates. */
  reseal(name: string, keyVersion: number, sealed: SealedValue): void {
    this.db
      .update(secrets)
      .set({ keyVersion, nonce: Buffer.from(sealed.nonce), ciphertext: Buffer.from(sealed.ciphertext) })
      .where(eq(secrets.name, name))
      .run();
  }

  delete(name: string): boolean {
    return this.db.delete(secrets).where(eq(secrets.name, name)).returning({ name: secrets.name }).all().length > 0;
  }
}
