import type { ConnectorDefinition } from "../connectors/types.ts";
import type { VirtualMcpDefinition } from "../gateway/types.ts";

/** Everything mintgate.yaml declares: the connectors and the Virtual MCPs built from them. */
export interface GatewayConfig {
  connectors: ConnectorDefinition[];
  virtualMcps: VirtualMcpDefinition[];
}

/**
 * What one mintgate.yaml lists: a top-level section the file leaves out is undefined, and applying the
 * file (with --prune too) leaves that part of the gateway as it is; a section present, even empty, is the
 * whole of it, so --prune deletes what it does not list. A configuration split over several files stays whole.
 */
export type GatewayConfigFile = Partial<GatewayConfig>;

export interface ParseConfigFileOptions {
  /** Names of the secrets in the secret store; every `${secret:NAME}` must name one. */
  knownSecrets: ReadonlySet<string>;
  /** Shown before each problem's line number; defaults to `mintgate.yaml`. */
  fileName?: string;
  /**
   * The file will be applied with pruning: one that lists neither section (an empty body, a failed
   * `cat … |`) is refused, and so is a section key with no value (`virtualMcps:` and nothing after it,
   * as a file cut short ends), which would delete every item of that section.
   */
  prune?: boolean;
  /**
   * The configuration as stored. Text it holds already is taken back as it is where a later check refuses it
   * (a control character in a description saved by an older version), so that `export` then `apply` changes
   * nothing; new or changed text is checked.
   */
  stored?: GatewayConfig;
}

/** The file's key names, in the order they are written. */
export const TOP_LEVEL_KEYS = ["connectors", "virtualMcps"] as const;
export const CONNECTOR_KEYS = ["name", "kind", "command", "args", "cwd", "env", "url", "headers", "server", "timeout"] as const;
export const VIRTUAL_MCP_KEYS = ["slug", "name", "description", "newTools", "connectors", "access", "tools", "prompts", "resources"] as const;
export const ATTACHMENT_KEYS = ["connector", "prefix", "include", "exclude", "rename", "describe"] as const;

/** Which connector keys each kind takes, besides `name`, `kind` and `timeout`. */
export const KIND_KEYS = {
  stdio: ["command", "args", "cwd", "env"],
  http: ["url", "headers"],
  sse: ["url", "headers"],
  builtin: ["server"],
} as const;

export const PREFIX = /^[a-zA-Z0-9_-]{0,32}$/;
