/**
 * The Virtual MCPs screen's pure parts: the tool rows of one Virtual MCP,
 * the edits the screen makes to its definition (a mintgate.yaml entry, the
 * shape PUT /admin/api/virtual-mcps/:slug takes), the 64-character name
 * budget, policy forms' text and the approval diff.
 */
import { parse as parseYaml } from "yaml";
import type { VirtualMcpFileEntry, VirtualMcpStatus, VirtualMcpSummary } from "../../../src/admin/index.ts";
import { canonicalJson, exposedName } from "../../../src/gateway/curation.ts";
import { EXPOSED_NAME, PREFIX_SEPARATOR, VIRTUAL_MCP_SLUG } from "../../../src/gateway/types.ts";
import { pinRefusal } from "../../../src/policy/decide.ts";
import type { AccessRule, ArgumentRule, PeopleMatch, ToolRule, VirtualMcpPolicy } from "../../../src/policy/types.ts";
import { counted } from "../../components/text.ts";

export type { VirtualMcpFileEntry, VirtualMcpStatus, VirtualMcpSummary };
export type Attachment = VirtualMcpFileEntry["connectors"][number];

/** Exposed names must fit this (client limit): `^[a-zA-Z0-9_-]{1,64}$`. */
export const NAME_BUDGET = 64;
export const PREFIX_MAX = 32;
export { EXPOSED_NAME, VIRTUAL_MCP_SLUG };

export type ToolState = "on" | "off" | "pending" | "problem";

export interface ToolRow {
  connector: string;
  upstream: string;
  exposed: string;
  description: string;
  state: ToolState;
  renamed: boolean;
  described: boolean;
  pending?: VirtualMcpStatus["pending"][number] | undefined;
  inputSchema: unknown;
}

/** Words and symbols, never colour alone. */
export const STATE_LABEL: Record<ToolState, string> = { on: "✓ on", off: "✗ off", pending: "? wait", problem: "! bad" };

export function isIncluded(attachment: Attachment, tool: string): boolean {
  if (attachment.include) return attachment.include.includes(tool);
  if (attachment.exclude) return !attachment.exclude.includes(tool);
  return true;
}

/** One row per upstream tool of every attached connector, in attachment order. */
export function toolRows(status: VirtualMcpStatus): ToolRow[] {
  const exposed = new Set(status.tools.map((t) => t.name));
  return status.definition.connectors.flatMap((attachment) =>
    (status.catalogues[attachment.connector]?.tools ?? []).map((tool): ToolRow => {
      const name = exposedName(attachment.prefix, attachment.rename[tool.name] ?? tool.name);
      const pending = status.pending.find((p) => p.connector === attachment.connector && p.upstreamName === tool.name);
      const included = isIncluded(attachment, tool.name);
      const state: ToolState = !included ? "off" : pending ? "pending" : exposed.has(name) ? "on" : "problem";
      const override = attachment.describe[tool.name];
      return {
        connector: attachment.connector,
        upstream: tool.name,
        exposed: name,
        description: override ?? tool.description ?? "",
        state,
        renamed: attachment.rename[tool.name] !== undefined,
        described: override !== undefined,
        pending,
        inputSchema: tool.inputSchema,
      };
    }),
  );
}

const clone = <T>(value: T): T => structuredClone(value);

function withAttachment(definition: VirtualMcpFileEntry, connector: string, change: (a: Attachment) => void): VirtualMcpFileEntry {
  const next = clone(definition);
  const attachment = next.connectors.find((a) => a.connector === connector);
  if (!attachment) throw new Error(`${connector} is not attached`);
  change(attachment);
  return next;
}

/**
 * Includes or excludes one tool. An excluded tool loses its rename and
 * description override (the file refuses entries that can never apply).
 */
export function toggleTool(definition: VirtualMcpFileEntry, connector: string, tool: string, allTools: string[]): VirtualMcpFileEntry {
  return withAttachment(definition, connector, (a) => {
    if (isIncluded(a, tool)) {
      if (a.include) {
        a.include = a.include.filter((t) => t !== tool);
        if (a.include.length === 0) {
          // An empty include list is not a list the file takes: exclude them all instead.
          delete a.include;
          a.exclude = [...allTools];
        }
      } else a.exclude = [...(a.exclude ?? []), tool];
      delete a.rename[tool];
      delete a.describe[tool];
    } else if (a.include) a.include = [...a.include, tool];
    else {
      a.exclude = (a.exclude ?? []).filter((t) => t !== tool);
      if (a.exclude.length === 0) delete a.exclude;
    }
  });
}

/** Sets (or with "" or the upstream name, removes) the name a tool is exposed under, before the prefix. */
export function renameTool(definition: VirtualMcpFileEntry, connector: string, tool: string, name: string): VirtualMcpFileEntry {
  return withAttachment(definition, connector, (a) => {
    if (name === "" || name === tool) delete a.rename[tool];
    else a.rename[tool] = name;
  });
}

const isQuoted = (text: string) => text.length >= 2 && text.startsWith('"') && text.endsWith('"');

/**
 * A description override as the describe form shows it. An empty field means "no override", so an
 * override the file allows that is empty or only spaces (a tool shown with no description) is shown
 * in double quotes, as is one that is itself quoted; describeTool takes the quotes off again.
 */
export function descriptionText(override: string | undefined): string {
  if (override === undefined) return "";
  return override.trim() === "" || isQuoted(override) ? `"${override}"` : override;
}

/** Sets a tool's description override from the describe form's text: empty removes it, "" (in quotes) sets an empty one. */
export function describeTool(definition: VirtualMcpFileEntry, connector: string, tool: string, text: string): VirtualMcpFileEntry {
  return withAttachment(definition, connector, (a) => {
    if (isQuoted(text)) a.describe[tool] = text.slice(1, -1);
    else if (text.trim() === "") delete a.describe[tool];
    else a.describe[tool] = text;
  });
}

export function attach(definition: VirtualMcpFileEntry, connector: string, prefix: string): VirtualMcpFileEntry {
  const next = clone(definition);
  next.connectors.push({ connector, prefix, rename: {}, describe: {} });
  return next;
}

export function detach(definition: VirtualMcpFileEntry, connector: string): VirtualMcpFileEntry {
  const next = clone(definition);
  next.connectors = next.connectors.filter((a) => a.connector !== connector);
  return next;
}

/** The budget line shown while a name is edited: `demo__echo · 10/64`, and what is wrong with it. */
export function nameBudget(prefix: string, name: string): { exposed: string; length: number; text: string; problem?: string | undefined } {
  const exposed = exposedName(prefix, name);
  const length = exposed.length;
  const left = NAME_BUDGET - length;
  const problem =
    name === ""
      ? undefined
      : length > NAME_BUDGET
        ? `"${exposed}" is ${length} characters; exposed names may have at most ${NAME_BUDGET} (prefix "${prefix}" takes ${prefix === "" ? 0 : prefix.length + PREFIX_SEPARATOR.length})`
        : !EXPOSED_NAME.test(exposed)
          ? "use only letters, digits, _ and -"
          : undefined;
  return { exposed, length, problem, text: `${length}/${NAME_BUDGET}${left < 0 ? ` · ${-left} too many` : ` · ${left} left`} · exposed ${exposed}` };
}

/** For a prefix being typed: how much of the 64 characters it leaves the tool names. */
export function prefixBudget(prefix: string, toolNames: string[] = []): string {
  const taken = prefix === "" ? 0 : prefix.length + PREFIX_SEPARATOR.length;
  const longest = toolNames.reduce((max, t) => (t.length > max.length ? t : max), "");
  const base = `prefix ${prefix.length}/${PREFIX_MAX} · tool names keep ${NAME_BUDGET - taken} of ${NAME_BUDGET}`;
  return longest ? `${base} · longest ${exposedName(prefix, longest)} ${exposedName(prefix, longest).length}/${NAME_BUDGET}` : base;
}

export function prefixProblem(prefix: string): string | undefined {
  if (prefix.length > PREFIX_MAX) return `at most ${PREFIX_MAX} characters`;
  if (!/^[a-zA-Z0-9_-]*$/.test(prefix)) return "use only letters, digits, _ and -";
  if (prefix.includes(PREFIX_SEPARATOR)) return `must not contain "${PREFIX_SEPARATOR}"`;
  return undefined;
}

// ── policy ──────────────────────────────────────────────────────────────────

export function policyOf(definition: VirtualMcpFileEntry): VirtualMcpPolicy {
  const policy: VirtualMcpPolicy = {};
  if (definition.access) policy.access = definition.access as AccessRule;
  if (definition.tools) policy.tools = definition.tools as Record<string, ToolRule>;
  if (definition.prompts) policy.prompts = definition.prompts as VirtualMcpPolicy["prompts"];
  if (definition.resources) policy.resources = definition.resources as VirtualMcpPolicy["resources"];
  return policy;
}

export function accessSummary(access: unknown): string {
  const rule = access as AccessRule | undefined;
  if (!rule) return "admins only";
  if (rule.everyone) return "everyone";
  const parts = [...(rule.users ?? []), ...(rule.groups ?? []).map((g) => `@${g}`)];
  return parts.length ? parts.join(", ") : "admins only";
}

/**
 * Names as one comma-separated line. A name the file allows but a plain list would cut or trim
 * (a group "Sales, EMEA" or "CN=x,OU=y", edge spaces, a quote) is written in double quotes, a quote
 * inside doubled as in CSV ("say ""hi"""), so listOf gives back exactly the names listText showed.
 */
export const listText = (items: string[] | undefined): string =>
  (items ?? []).map((item) => (item === "" || item !== item.trim() || /[,"]/.test(item) ? `"${item.replaceAll('"', '""')}"` : item)).join(", ");

/** The names of a line listText wrote or a person typed, and what is wrong with its quoting. */
function splitList(text: string): { items: string[]; problem?: string } {
  const items: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (text[i] === " " || text[i] === "\t") i++;
    let item = "";
    if (text[i] === '"') {
      for (i++; ; i++) {
        if (i >= text.length) return { items, problem: 'a quoted name has no closing "; close it, and double a " inside it ("")' };
        if (text[i] === '"' && text[i + 1] === '"') {
          item += '"';
          i++;
        } else if (text[i] === '"') break;
        else item += text[i];
      }
      const comma = text.indexOf(",", i);
      if (text.slice(i + 1, comma === -1 ? text.length : comma).trim() !== "") return { items, problem: `put a comma after the quoted name "${item}"` };
      items.push(item);
      i = comma === -1 ? text.length : comma + 1;
    } else {
      const comma = text.indexOf(",", i);
      item = text.slice(i, comma === -1 ? text.length : comma).trim();
      if (item !== "") items.push(item);
      i = comma === -1 ? text.length : comma + 1;
    }
  }
  return { items };
}

export const listOf = (text: string): string[] => splitList(text).items;

/** What is wrong with a list line's quoting, or undefined. */
export const listProblem = (text: string): string | undefined => splitList(text).problem;

const EMAIL = /^[^\s@]+@[^\s@]+$/;
export function emailsProblem(text: string): string | undefined {
  const open = listProblem(text);
  if (open) return open;
  const bad = listOf(text).find((e) => !EMAIL.test(e));
  return bad ? `"${bad}" is not an email address` : undefined;
}

export function isYes(text: string): boolean {
  return /^(y|yes|true)$/i.test(text.trim());
}

/** The access rule from the form; undefined when it names nobody (admins only). */
export function accessFrom(values: { everyone: string; users: string; groups: string }): AccessRule | undefined {
  if (isYes(values.everyone)) return { everyone: true };
  const users = listOf(values.users);
  const groups = listOf(values.groups);
  if (users.length === 0 && groups.length === 0) return undefined;
  return { ...(users.length ? { users } : {}), ...(groups.length ? { groups } : {}) };
}

const ARGUMENT_KEYS = ["pin", "onMismatch", "required", "allowed", "pattern", "max", "maxLength"];

/** An argument rule as one line a person edits: `max: 10, pattern: "^a"` (YAML flow without the braces). */
export function argumentRuleText(rule: ArgumentRule | undefined): string {
  if (!rule) return "";
  return Object.entries(rule)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(", ");
}

/** The line back as a rule, or the sentence saying what is wrong with it. */
export function parseArgumentRule(text: string): { rule?: ArgumentRule | undefined; problem?: string | undefined } {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = parseYaml(`{${text}}`);
  } catch (error) {
    return { problem: `write rules like max: 10, pattern: "^a" (${(error as Error).message.split("\n")[0]})` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { problem: 'write rules like max: 10, pattern: "^a"' };
  const rule = value as Record<string, unknown>;
  const unknown = Object.keys(rule).find((k) => !ARGUMENT_KEYS.includes(k));
  if (unknown) return { problem: `"${unknown}" is not a check; use ${ARGUMENT_KEYS.join(", ")}` };
  if ("max" in rule && typeof rule.max !== "number") return { problem: "max must be a number" };
  if ("maxLength" in rule && (typeof rule.maxLength !== "number" || !Number.isInteger(rule.maxLength) || rule.maxLength < 0)) return { problem: "maxLength must be a whole number" };
  if ("allowed" in rule && (!Array.isArray(rule.allowed) || rule.allowed.length === 0)) return { problem: "allowed must be a non-empty list, like allowed: [a, b]" };
  if ("onMismatch" in rule && rule.onMismatch !== "replace" && rule.onMismatch !== "refuse") return { problem: "onMismatch is replace or refuse" };
  if ("onMismatch" in rule && !("pin" in rule)) return { problem: "onMismatch applies only with pin" };
  if ("required" in rule && typeof rule.required !== "boolean") return { problem: "required is true or false" };
  if (rule.required === true && "pin" in rule) return { problem: "required has no effect with pin (the pin is sent when the argument is left out)" };
  // false is the default: kept, the gateway would store an empty rule.
  if (rule.required === false) delete rule.required;
  if ("pattern" in rule) {
    try {
      new RegExp(String(rule.pattern), "u");
    } catch (error) {
      return { problem: `pattern: ${(error as Error).message}` };
    }
  }
  const refusal = pinRefusal(rule as ArgumentRule);
  if (refusal) return { problem: `pin would refuse every call: by ${refusal.check}, it ${refusal.text}` };
  return Object.keys(rule).length > 0 ? { rule: rule as ArgumentRule } : {};
}

/** The argument names a tool's rules form offers: its input schema's properties, then any already ruled. */
export function argumentNames(inputSchema: unknown, rule: ToolRule | undefined): string[] {
  const properties = (inputSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  return [...new Set([...Object.keys(properties), ...Object.keys(rule?.arguments ?? {})])];
}

/** A tool's rule from its form (undefined when the form says nothing). */
export function toolRuleFrom(values: Record<string, string>, argumentNamesOf: string[]): ToolRule | undefined {
  const people = (users: string, groups: string): PeopleMatch | undefined => {
    const u = listOf(users);
    const g = listOf(groups);
    return u.length || g.length ? { ...(u.length ? { users: u } : {}), ...(g.length ? { groups: g } : {}) } : undefined;
  };
  const rule: ToolRule = {};
  const allow = people(values.allowUsers ?? "", values.allowGroups ?? "");
  const deny = people(values.denyUsers ?? "", values.denyGroups ?? "");
  if (allow) rule.allow = allow;
  if (deny) rule.deny = deny;
  const args: Record<string, ArgumentRule> = {};
  for (const name of argumentNamesOf) {
    const parsed = parseArgumentRule(values[`arg:${name}`] ?? "");
    if (parsed.rule) args[name] = parsed.rule;
  }
  if (Object.keys(args).length) rule.arguments = args;
  return Object.keys(rule).length ? rule : undefined;
}

export function ruleSummary(rule: ToolRule | undefined): string {
  if (!rule) return "";
  const parts: string[] = [];
  if (rule.allow) parts.push("allow list");
  if (rule.deny) parts.push("deny list");
  if (rule.arguments) parts.push(counted(Object.keys(rule.arguments).length, "arg rule"));
  return parts.join(", ");
}

// ── approval diff ───────────────────────────────────────────────────────────

/** A value as indented JSON with sorted keys, one line per element, so diffs line up. */
export function prettyLines(value: unknown): string[] {
  if (value === undefined) return [];
  return JSON.stringify(JSON.parse(canonicalJson(value)), null, 2).split("\n");
}

export interface DiffLine {
  sign: "+" | "-" | " ";
  text: string;
}

/** A line diff (longest common subsequence): what an approval would change. */
export function diffLines(before: string[], after: string[]): DiffLine[] {
  const n = before.length;
  const m = after.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = before[i] === after[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (before[i] === after[j]) {
      out.push({ sign: " ", text: before[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ sign: "-", text: before[i++]! });
    else out.push({ sign: "+", text: after[j++]! });
  }
  while (i < n) out.push({ sign: "-", text: before[i++]! });
  while (j < m) out.push({ sign: "+", text: after[j++]! });
  return out;
}

/** What an approval of `pending` covers, against what was approved before (when known). */
export function approvalDiff(pending: VirtualMcpStatus["pending"][number]): { lines: DiffLine[]; note: string } {
  const current = { name: pending.upstreamName, description: pending.description, inputSchema: pending.inputSchema, annotations: pending.annotations, ui: pending.ui };
  if (pending.reason === "new") return { lines: diffLines([], prettyLines(current)), note: "New tool: everything below would be exposed." };
  if (pending.approved === undefined) {
    return { lines: diffLines([], prettyLines(current)), note: "Changed since approved; the earlier definition is not on record (only its hash), so all of it is shown." };
  }
  return { lines: diffLines(prettyLines(pending.approved), prettyLines(current)), note: "Changed since approved: - was approved, + is new." };
}

/** Slug checks before sending (the server checks again). */
export function slugProblem(slug: string, taken: string[]): string | undefined {
  if (!VIRTUAL_MCP_SLUG.test(slug)) return "1 to 63 lowercase letters, digits or -, starting with a letter or digit";
  if (taken.includes(slug)) return `"${slug}" already exists`;
  return undefined;
}
