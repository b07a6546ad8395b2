/**
 * The small set of typed errors every module throws. They are mapped to an
 * HTTP status and a JSON-RPC code here, once, so routes and protocol handlers
 * never invent their own.
 */
export type ErrorKind =
  | "invalid"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "config"
  | "upstream_failed"
  | "timeout";

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
/** A problem with how mintgate is set up (flags, files, keys): the message names the fix. */
export const configError = (message: string, cause?: unknown) =>
  new MintgateError("config", message, { cause });

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
};

export function httpStatusOf(error: unknown): number {
  return error instanceof MintgateError ? HTTP_STATUS[error.kind] : 500;
}

export function jsonRpcCodeOf(error: unknown): number {
  return error instanceof MintgateError ? JSON_RPC_CODE[error.kind] : -32603;
}

/** The sentence shown to a person; unexpected errors never leak their internals. */
export function publicMessageOf(error: unknown): string {
  return error instanceof MintgateError ? error.message : "Internal error; see the gateway log for details.";
}
