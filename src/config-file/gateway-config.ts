import type { ConnectorDefinition } from "../connectors/types.ts";
import type { VirtualMcpDefinition } from "../gateway/types.ts";

/** Everything mintgate.yaml declares: the connectors and the Virtual MCPs built from them. */
export interface GatewayConfig {
  connectors: ConnectorDefinition[];
  virtualMcps: VirtualMcpDefinition[];
}

export interface ParseConfigFileOptions {
  /** Names of the secrets in the secret store; every `${secret:NAME}` must name one. */
  knownSecrets: ReadonlySet<string>;
  /** Shown before each problem's line number; defaults to `mintgate.yaml`. */
  fileName?: string;
  /**
   * The file will be applied with pruning: one that lists neither section would delete
   * everything (an empty body, a failed `cat … |`), so it is refused.
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
