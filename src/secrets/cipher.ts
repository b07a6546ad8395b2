import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { SealedValue } from "../store/index.ts";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM with a fresh random nonce per call; `context` is bound as associated data. */
export function seal(key: Uint8Array, plaintext: Uint8Array, context: string): SealedValue {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(context, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, ciphertext: body };
}

/** Returns the plaintext, or undefined when the key, the context or the bytes are wrong. */
export function unseal(key: Uint8Array, sealed: SealedValue, context: string): Uint8Array | undefined {
  const body = Buffer.from(sealed.ciphertext);
  if (body.length < TAG_BYTES || sealed.nonce.length !== NONCE_BYTES) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
