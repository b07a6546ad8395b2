/**
 * GatewayConfig -> mintgate.yaml, in the file's own key order, leaving out values that
 * equal their defaults, so that `mintgate export` output reads like a hand-written file
 * and parses back to the same config.
 */
import { Document, isMap, isScalar, visit } from "yaml";
import { DEFAULT_CALL_TIMEOUT_MS, type ConnectorDefinition } from "../connectors/types.ts";
import type { ConnectorAttachment, VirtualMcpDefinition } from "../gateway/types.ts";
import { printableLines } from "../terminal/index.ts";
import { formatTimeout } from "./duration.ts";
import type { GatewayConfig } from "./gateway-config.ts";

/** A list of names this short or shorter is written on one line: `args: [-y, server]`. */
const FLOW_LIST_MAX_CHARS = 72;

export function serializeConfigFile(config: GatewayConfig): string {
  const file = new Map<string, unknown>();
  // Both sections always, an empty one as `[]`: to `apply --prune` a section left out means "leave that part alone",
  // so an export without `virtualMcps` would keep, on another gateway, Virtual MCPs this one does not have.
  const empty = config.connectors.length === 0 && config.virtualMcps.length === 0;
  file.set("connectors", config.connectors.map(connectorEntry));
  file.set("virtualMcps", config.virtualMcps.map(virtualMcpEntry));

  const document = new Document(file);
  visit(document, {
    // Text holding a control character or a bidi override (stored by an older version) is written double-quoted, where
    // every such character can be an escape: the yaml library writes C0 ones as \e, \t…, but C1 ones and the bidi
    // overrides raw, so printableLines escapes those below. What is left outside double quotes is line feeds only.
    // So is text of blanks and line feeds alone ("   \n"): the library writes it as a block without an indentation
    // indicator, and its spaces would read back as the block's indentation, not its text.
    Scalar(_, scalar) {
      if (typeof scalar.value !== "string") return;
      if (printableLines(scalar.value) !== scalar.value || /^[ \t\n]*\n[ \t\n]*$/.test(scalar.value)) scalar.type = "QUOTE_DOUBLE";
    },
    // A plain `<<` key is a merge key to YAML 1.1 readers, and apply refuses it; quoted, it is the name "<<" (an env variable, a tool).
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "<<") pair.key.type = "QUOTE_DOUBLE";
    },
    Seq(_, list) {
      const scalars = list.items.every((item) => isScalar(item) && typeof item.value === "string" && !item.value.includes("\n"));
      const width = list.items.reduce<number>((sum, item) => sum + String(isScalar(item) ? item.value : "").length + 4, 0);
      if (scalars && width <= FLOW_LIST_MAX_CHARS) list.flow = true;
    },
  });
  // A blank line between the two sections (two empty ones are two lines).
  const root = document.contents;
  if (isMap(root) && !empty) {
    const second = root.items[1]?.key;
    if (isScalar(second)) second.spaceBefore = true;
  }
  return printableLines(document.toString({ lineWidth: 0, flowCollectionPadding: false }));
}

/**
 * The same file as JSON (which `apply` reads too), both sections always present, so
 * that a script can read `connectors` and `virtualMcps` without checking for them.
 */
export function serializeConfigFileJson(config: GatewayConfig): string {
  const file = { connectors: config.connectors.map(connectorEntry), virtualMcps: config.virtualMcps.map(virtualMcpEntry) };
  // Object.fromEntries defines every key as data, `__proto__` included. JSON.stringify escapes C0 characters but
  // leaves C1 ones and bidi overrides raw; outside strings there are only line feeds and spaces to keep.
  return printableLines(JSON.stringify(file, (_, value: unknown) => (value instanceof Map ? Object.fromEntries(value) : value), 2)) + "\n";
}

/** Maps keep insertion order and treat every key (even `__proto__`) as data. */
function connectorEntry(connector: ConnectorDefinition): Map<string, unknown> {
  const entry = new Map<string, unknown>([
    ["name", connector.name],
    ["kind", connector.spec.kind],
  ]);
  const spec = connector.spec;
  switch (spec.kind) {
    case "stdio":
      entry.set("command", spec.command);
      if (spec.args.length > 0) entry.set("args", [...spec.args]);
      if (spec.cwd !== undefined) entry.set("cwd", spec.cwd);
      if (Object.keys(spec.env).length > 0) entry.set("env", textMap(spec.env));
      break;
    case "http":
    case "sse":
      entry.set("url", spec.url);
      if (Object.keys(spec.headers).length > 0) entry.set("headers", textMap(spec.headers));
      break;
    case "builtin":
      entry.set("server", spec.server);
      break;
  }
  if (connector.timeoutMs !== DEFAULT_CALL_TIMEOUT_MS) entry.set("timeout", formatTimeout(connector.timeoutMs));
  return entry;
}

function virtualMcpEntry(virtualMcp: VirtualMcpDefinition): Map<string, unknown> {
  const entry = new Map<string, unknown>([
    ["slug", virtualMcp.slug],
    ["name", virtualMcp.name],
  ]);
  if (virtualMcp.description !== "") entry.set("description", virtualMcp.description);
  if (virtualMcp.newTools !== "auto") entry.set("newTools", virtualMcp.newTools);
  if (virtualMcp.connectors.length > 0) entry.set("connectors", virtualMcp.connectors.map(attachmentEntry));
  const policy = virtualMcp.policy;
  if (policy?.access) entry.set("access", plain(policy.access));
  for (const section of ["tools", "prompts", "resources"] as const) {
    if (policy?.[section] && Object.keys(policy[section]).length > 0) entry.set(section, plain(policy[section]));
  }
  return entry;
}

function attachmentEntry(attachment: ConnectorAttachment): Map<string, unknown> {
  const entry = new Map<string, unknown>([["connector", attachment.connector]]);
  if (attachment.prefix !== attachment.connector) entry.set("prefix", attachment.prefix);
  if (attachment.include !== undefined) entry.set("include", [...attachment.include]);
  if (attachment.exclude !== undefined) entry.set("exclude", [...attachment.exclude]);
  if (Object.keys(attachment.rename).length > 0) entry.set("rename", textMap(attachment.rename));
  if (Object.keys(attachment.describe).length > 0) entry.set("describe", textMap(attachment.describe));
  return entry;
}

/** A policy part as YAML maps (every key kept as data), leaving out undefined values. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function textMap(record: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(record));
}
