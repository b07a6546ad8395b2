import { isCredentialName, literalCredentialIn } from "../secrets/literal-credentials.ts";
import { secretReferencesIn } from "../secrets/references.ts";

/** How mintgate reaches one upstream MCP server. Secret references look like `${secret:NAME}`. */
export type ConnectorKind = "stdio" | "http" | "sse" | "builtin";

export interface StdioConnectorSpec {
  kind: "stdio";
  command: string;
  args: string[];
  cwd?: string | undefined;
  /** Values may contain `${secret:NAME}` references, resolved at spawn. */
  env: Record<string, string>;
}

export interface HttpConnectorSpec {
  kind: "http" | "sse";
  url: string;
  /** Values may contain `${secret:NAME}` references, resolved when connecting. */
  headers: Record<string, string>;
}

export interface BuiltinConnectorSpec {
  kind: "builtin";
  /** Which in-process server: only "demo" exists. */
  server: "demo";
}

export type ConnectorSpec = StdioConnectorSpec | HttpConnectorSpec | BuiltinConnectorSpec;

/**
 * A connector's settings fall in two kinds. `spec` says how the upstream is
 * started or reached: a change to it (or to a secret it references) needs a
 * new upstream, so the connector restarts. Every field beside it is read at
 * call time and is changed on the running connector, without a restart: a
 * stdio server keeps its state and calls in flight keep going.
 */
export interface ConnectorDefinition {
  /** ^[a-zA-Z0-9_-]{1,32}$; also the default tool prefix. */
  name: string;
  spec: ConnectorSpec;
  /** Per-call timeout, reset by progress notifications. */
  timeoutMs: number;
}

export type ConnectorState =
  | { status: "starting" }
  | { status: "ready" }
  | { status: "failed"; reason: string; retryAt: number | undefined }
  | { status: "stopped" };

export const CONNECTOR_NAME = /^[a-zA-Z0-9_-]{1,32}$/;
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/** The secret names a connector's env (stdio) or headers (http, sse) reference, each once. */
export function secretsReferencedBy(spec: ConnectorSpec): string[] {
  const values = spec.kind === "stdio" ? Object.values(spec.env) : spec.kind === "builtin" ? [] : Object.values(spec.headers);
  return [...new Set(values.flatMap(secretReferencesIn))];
}

/**
 * The env variables (stdio) or headers (http, sse) of a stored connector that hold a literal credential, as
 * `header "Authorization"`: configuration refuses them now, but one saved by an earlier version keeps running.
 */
export function literalCredentialsOf(spec: ConnectorSpec): string[] {
  if (spec.kind === "builtin") return [];
  const [what, entries] = spec.kind === "stdio" ? ["env", spec.env] : ["header", spec.headers];
  return Object.entries(entries)
    .filter(([name, value]) => isCredentialName(name) && literalCredentialIn(value) !== undefined)
    .map(([name]) => `${what} "${name}"`);
}
