import { invalid } from "../errors/index.ts";
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

/**
 * The virtual MCP an audit search or export is narrowed to (`--vmcp`, `?vmcp=`). A value no slug can be
 * (`DEMO`: slugs are lower case) would match nothing and read as "no such records", so it is refused with
 * the slug to use, as `tokens create --vmcp` and `policy explain --vmcp` refuse one that names no virtual MCP.
 */
export function virtualMcpFilterOf(raw: string | undefined, option: "--vmcp" | "vmcp"): string | undefined {
  if (raw === undefined || raw === "" || VIRTUAL_MCP_SLUG.test(raw)) return raw || undefined;
  const lower = raw.toLowerCase();
  if (VIRTUAL_MCP_SLUG.test(lower)) throw invalid(`Virtual MCP slugs are lower case: use ${option === "vmcp" ? `vmcp=${lower}` : `--vmcp ${lower}`}, not "${raw}".`);
  throw invalid(`${option} "${raw}" is not a virtual MCP slug (lower-case letters, digits and "-"); \`mintgate export\` lists them.`);
}
export const EXPOSED_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
export const PREFIX_SEPARATOR = "__";
