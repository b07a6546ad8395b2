/**
 * The small set of typed errors every module throws. They are mapped to an
 * HTTP status and a JSON-RPC code here, once, so routes and protocol handlers
 * never invent their own.
 */
import { closestName } from "./closest-name.ts";

export { closestName };

export type ErrorKind =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "config"
  | "upstream_failed"
  | "timeout"
  /** The disk holding the data directory is full: nothing could be written. */
  | "storage_full";

export class MintgateError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "MintgateError";
  }
}

export const invalid = (message: string) => new MintgateError("invalid", message);
export const unauthorized = (message: string) => new MintgateError("unauthorized", message);
export const forbidden = (message: string) => new MintgateError("forbidden", message);
export const notFound = (message: string) => new MintgateError("not_found", message);
export const conflict = (message: string) => new MintgateError("conflict", message);

/**
 * A body field or query parameter that is not one of `allowed` (`noun`: "field" or "query parameter", `where`: what it
 * was sent with): refused, since dropping it could change what was asked (`dryrun=true` applying for real, a misspelt
 * `hash` approving whatever the tool is now). Names the closest allowed name, else all of them.
 */
export function unknownName(name: string, noun: "field" | "query parameter", where: string, allowed: readonly string[]): MintgateError {
  const guess = closestName(name, allowed);
  const hint = guess !== undefined ? `did you mean "${guess}"?` : allowed.length === 0 ? `it takes no ${noun}s.` : `the ${noun}s are ${allowed.join(", ")}.`;
  return invalid(`There is no ${noun} "${name}" in ${where}; ${hint}`);
}
/**
 * A file named on the command line (`--tls-cert`, `--metrics-token-file`…) that could not be used: a usage
 * error (exit 2) in one sentence naming the flag, the file and the fix. `what` is what the file should hold.
 */
export function unusableFile(flag: string, file: string, error: unknown, what: string): MintgateError {
  // Only a failed read (a system error, which names its syscall) has a code to go by; a parser's error (OpenSSL's
  // ERR_OSSL_…) means the file was read.
  const code = (error as NodeJS.ErrnoException | undefined)?.syscall === undefined ? undefined : (error as NodeJS.ErrnoException).code;
  // The path first and the option after it: "The --x-file file PATH" read as a stutter.
  const named = `${file} (${flag})`;
  if (code === "ENOENT" || code === "ENOTDIR") return invalid(`The file ${named} does not exist; check the path.`);
  if (code === "EACCES") return invalid(`The file ${named} cannot be read by this user; give the gateway's user read access (chmod 640 with its group, or chown).`);
  if (code === "EISDIR") return invalid(`${named} is a directory; give the path of the file holding ${what}.`);
  if (code !== undefined) return invalid(`The file ${named} cannot be read (${code}); check the file.`);
  return invalid(`The file ${named} does not hold ${what}; check the file.`);
}

/** A problem with how mintgate is set up (flags, files, keys): the message names the fix. */
export const configError = (message: string, cause?: unknown) =>
  new MintgateError("config", message, { cause });

/** Said when a write failed for lack of disk space and no caller said anything more precise. */
export const STORAGE_FULL_MESSAGE = "The disk holding mintgate's data is full, so nothing was saved; free space on it and try again.";
export const storageFull = (message: string = STORAGE_FULL_MESSAGE, cause?: unknown) => new MintgateError("storage_full", message, { cause });

/**
 * True when `error` is a write that failed for lack of disk space: SQLite's
 * SQLITE_FULL ("database or disk is full", which it also answers for ENOSPC),
 * SQLITE_IOERR_SHMSIZE ("disk I/O error" when the WAL index file beside the
 * database cannot grow: opening a WAL database on a full disk with no
 * gateway running), a file write's ENOSPC / EDQUOT, or a `storageFull` error
 * made from one.
 */
export function isStorageFull(error: unknown): boolean {
  if (error instanceof MintgateError) return error.kind === "storage_full";
  const code = (error as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL" || code === "SQLITE_IOERR_SHMSIZE" || code === "ENOSPC" || code === "EDQUOT";
}

/** SQLite's busy timeout ran out: another connection (another mintgate process) held the write lock all that time. */
export function isDatabaseBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}

export const DATABASE_BUSY_MESSAGE = "The database is busy: another mintgate process has held its write lock for more than 5 seconds; try again in a moment.";

/** SQLite read something that is not an intact database: the file was replaced, truncated or damaged (SQLITE_NOTADB, SQLITE_CORRUPT…). */
export function isDatabaseDamaged(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB");
}

export const DATABASE_DAMAGED_MESSAGE =
  "mintgate.db in the data directory is not an intact SQLite database (replaced, cut short or damaged); stop mintgate and put the latest backup in its place with `mintgate restore FILE`.";

/** OpenSSL's codes, as Bun's fetch gives them, for a certificate that no authority this machine trusts vouches for. */
const UNTRUSTED_CERTIFICATE = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);

export type CertificateFailure = "self-signed" | "untrusted" | "expired" | "not-yet-valid" | "wrong-name" | "handshake" | "other";

/**
 * What went wrong in the TLS handshake of an https fetch, from the OpenSSL code of Bun's error, so that each caller
 * can say what to do (its wording alone, "unable to verify the first certificate", names neither the certificate
 * nor NODE_EXTRA_CA_CERTS); undefined for an error that is not about TLS. Only meaningful for an https URL.
 */
export function certificateFailureOf(error: unknown): { kind: CertificateFailure; code: string } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const kind: CertificateFailure | undefined =
    code === "DEPTH_ZERO_SELF_SIGNED_CERT" ? "self-signed"
    : UNTRUSTED_CERTIFICATE.has(code) ? "untrusted"
    : code === "CERT_HAS_EXPIRED" ? "expired"
    : code === "CERT_NOT_YET_VALID" ? "not-yet-valid"
    : code === "ERR_TLS_CERT_ALTNAME_INVALID" ? "wrong-name"
    : code === "EPROTO" ? "handshake"
    : /CERT/.test(code) ? "other"
    : undefined;
  return kind && { kind, code };
}

/** `error` as a storage_full error that says `message`, when it is a raw write that failed for lack of space; otherwise `error` itself. */
export function sayingStorageFull(error: unknown, message: string): unknown {
  return isStorageFull(error) && !(error instanceof MintgateError) ? storageFull(message, error) : error;
}

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  config: 500,
  upstream_failed: 502,
  timeout: 504,
  storage_full: 507,
};

/** The standard JSON-RPC 2.0 error codes. */
export const JSON_RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
} as const;

/**
 * JSON-RPC codes: -32602 for bad params, -32001..-32099 are server-defined.
 * Avoided: -32002, which MCP gives "resource not found", and -32042 (URL elicitation required).
 */
const JSON_RPC_CODE: Record<ErrorKind, number> = {
  invalid: -32602,
  unauthorized: -32001,
  forbidden: -32003,
  not_found: -32004,
  conflict: -32009,
  payload_too_large: -32013,
  config: -32603,
  upstream_failed: -32010,
  timeout: -32008,
  storage_full: -32011,
};

export function httpStatusOf(error: unknown): number {
  if (error instanceof MintgateError) return HTTP_STATUS[error.kind];
  if (isDatabaseBusy(error)) return 503;
  return isStorageFull(error) ? HTTP_STATUS.storage_full : 500;
}

export function jsonRpcCodeOf(error: unknown): number {
  if (error instanceof MintgateError) return JSON_RPC_CODE[error.kind];
  return isStorageFull(error) ? JSON_RPC_CODE.storage_full : -32603;
}

/** The sentence shown to a person; unexpected errors never leak their internals. A full disk, a locked or a damaged database is no internal matter: it says so. */
export function publicMessageOf(error: unknown): string {
  if (error instanceof MintgateError) return error.message;
  if (isDatabaseBusy(error)) return DATABASE_BUSY_MESSAGE;
  if (isDatabaseDamaged(error)) return DATABASE_DAMAGED_MESSAGE;
  return isStorageFull(error) ? STORAGE_FULL_MESSAGE : "Internal error; see the gateway log for details.";
}
