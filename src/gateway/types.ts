import type { VirtualMcpPolicy } from "../policy/index.ts";

/** How one connector is exposed inside one Virtual MCP. */
export interface ConnectorAttachment {
  connector: string;
  /** Exposed names are `<prefix>__<name>`; "" exposes upstream names unchanged. Defaults to the connector's name. */
  prefix: string;
  /** Only these upstream tools (by upstream name); exclusive with `exclude`. */
  include?: string[] | undefined;
  exclude?: string[] | undefined;
  /** upstream tool name -> exposed name without prefix. */
  rename: Record<string, string>;
  /** upstream tool name -> description shown to clients. */
  describe: Record<string, string>;
}

export type NewToolPolicy = "auto" | "approve";

export interface VirtualMcpDefinition {
  /** ^[a-z0-9][a-z0-9-]{0,62}$: the endpoint is /mcp/<slug>. */
  slug: string;
  name: string;
  description: string;
  newTools: NewToolPolicy;
  connectors: ConnectorAttachment[];
  /** Who may reach it and use what in it; absent or without `access`: admins only. */
  policy?: VirtualMcpPolicy | undefined;
}

export const VIRTUAL_MCP_SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const EXPOSED_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const PREFIX_SEPARATOR = "__";
