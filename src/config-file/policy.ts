/**
 * The access-policy keys of a Virtual MCP in mintgate.yaml: `access`, `tools`,
 * `prompts` and `resources`. Problems are reported with their lines like the
 * rest of the file. Users and groups need not exist yet (people sign in
 * later; groups come from SSO); tool names are checked against the
 * catalogues when the file is applied.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { invalid } from "../errors/index.ts";
import { canonicalEmail } from "../email/index.ts";
import { EXPOSED_NAME } from "../gateway/types.ts";
import { isEmailAddress, isGroupName, pinRefusal, type AccessRule, type ArgumentRule, type ItemRule, type PeopleMatch, type ToolRule, type VirtualMcpPolicy } from "../policy/index.ts";
import { REFERENCE_OPENING } from "../secrets/references.ts";
import { printable, unwritableCharacterIn } from "../terminal/index.ts";
import { quoteHint, syntaxProblems, YamlReader, type Field, type ValueNode } from "./yaml-reader.ts";

export const POLICY_KEYS = ["access", "tools", "prompts", "resources"] as const;
const ACCESS_KEYS = ["everyone", "users", "groups"] as const;
const PEOPLE_KEYS = ["users", "groups"] as const;
const ITEM_KEYS = ["allow", "deny"] as const;
const TOOL_KEYS = ["allow", "deny", "arguments"] as const;
const ARGUMENT_KEYS = ["pin", "onMismatch", "required", "allowed", "pattern", "max", "maxLength"] as const;
/**
 * A repeated group that starts with a repeated atom, such as (a+)+, (\d+)* or
 * (x*y?)*: the common shape of catastrophic backtracking (a heuristic; it
 * lets (-[a-z]+)* through, whose literal start keeps it linear). Arguments
 * come from the people the policy restricts, and a running regular
 * expression cannot be stopped.
 */
const NESTED_QUANTIFIER = /\((?:\?:)?(?:\[(?:[^\]\\]|\\.)*\]|\\.|[^()\\[|])[+*{][^()]*\)(?:[+*]|\{\d+,\d*\})/;

/**
 * The other common shape: a group repeated without bound that holds
 * alternatives which can start alike ((a|a?)+, (\d|\w)*), or a group that is
 * itself quantified ((([a-z])+.)+, or (([-.]|_)?[a-z0-9]+)* in a well-known
 * email check), so the text can be split between the repeats in many ways.
 * Alternatives that each start with a different plain character, such as
 * (get|put)+, are kept. Returns an example of the offending group, or undefined.
 */
function ambiguousRepeat(pattern: string): string | undefined {
  type Group = { start: number; branches: number[]; inner: boolean };
  const stack: Group[] = [{ start: -1, branches: [0], inner: false }];
  const quantifierAt = (i: number) => /^(?:[?*+]|\{\d+(?:,\d*)?\})/.exec(pattern.slice(i))?.[0];
  /** The first character of the branch at i when it is a plain, required character (or an escaped punctuation mark). */
  const plainStart = (i: number) => {
    const c = /^(?:\\[^\p{L}\p{N}]|[^\\[(.^$|)])/u.exec(pattern.slice(i, i + 2))?.[0];
    if (c === undefined) return undefined;
    const q = quantifierAt(i + c.length);
    return q === undefined || q === "+" || /^\{[1-9]/.test(q) ? c : undefined;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (c === "[") {
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
    } else if (c === "(") {
      const prefix = /^\(\?(?:[:=!]|<[=!]|<[^>]*>)/.exec(pattern.slice(i))?.[0] ?? "(";
      stack.push({ start: i, branches: [i + prefix.length], inner: false });
      i += prefix.length - 1;
    } else if (c === "|") stack[stack.length - 1]!.branches.push(i + 1);
    else if (c === ")" && stack.length > 1) {
      const group = stack.pop()!;
      const q = quantifierAt(i + 1);
      const starts = group.branches.map(plainStart);
      const alike = group.branches.length > 1 && (starts.includes(undefined) || new Set(starts).size < starts.length);
      if (q !== undefined && (q === "*" || q === "+" || /,\}$/.test(q)) && (alike || group.inner)) return pattern.slice(group.start, i + 1 + q.length);
      // What makes this group ambiguous makes any group around it ambiguous when that one repeats.
      if (q !== undefined || alike || group.inner) stack[stack.length - 1]!.inner = true;
    }
  }
  return undefined;
}

/** Reads the policy keys among a Virtual MCP's fields; undefined when it has none. */
export function readPolicy(reader: YamlReader, fields: Map<string, Field>, label: string): VirtualMcpPolicy | undefined {
  const policy: VirtualMcpPolicy = {};
  const access = fields.get("access");
  if (access) {
    const rule = readAccess(reader, access, label);
    if (rule) policy.access = rule;
  }
  const tools = fields.get("tools");
  if (tools) {
    const rules = readNamed(reader, tools, `"tools" of ${label}`, (name, node, line) => {
      if (!EXPOSED_NAME.test(name)) reader.report(line, `"${name}" in "tools" of ${label} is not a tool name: use the exposed name (prefix__tool)`);
      return readToolRule(reader, node, line, `tool "${name}" in ${label}`);
    });
    // An empty section says nothing; kept, it would be stored but not exported, and the next apply would see a change.
    if (rules && Object.keys(rules).length > 0) policy.tools = rules;
  }
  for (const section of ["prompts", "resources"] as const) {
    const field = fields.get(section);
    if (!field) continue;
    const rules = readNamed(reader, field, `"${section}" of ${label}`, (name, node, line) => readItemRule(reader, node, line, `${section === "prompts" ? "prompt" : "resource"} "${name}" in ${label}`));
    if (rules && Object.keys(rules).length > 0) policy[section] = rules;
  }
  return Object.keys(policy).length > 0 ? policy : undefined;
}

function readAccess(reader: YamlReader, field: Field, label: string): AccessRule | undefined {
  const where = `"access" of ${label}`;
  const fields = reader.fields(field.value, field.valueLine, `in ${where}`, ACCESS_KEYS, `${where} must be a mapping with "everyone: true", "users" or "groups"`);
  if (!fields) return undefined;
  const rule: AccessRule = {};
  const problemsBefore = reader.problems.length;
  const everyone = fields.get("everyone");
  if (everyone && reader.flag(everyone, `"everyone" in ${where}`)) rule.everyone = true;
  Object.assign(rule, readPeople(reader, fields, where));
  if (reader.problems.length === problemsBefore && !rule.everyone && !rule.users?.length && !rule.groups?.length) {
    reader.report(field.keyLine, `${where} names nobody; write "everyone: true", list "users" or "groups", or remove it (then only admins may use the virtual MCP)`);
  }
  return rule;
}

function readPeople(reader: YamlReader, fields: Map<string, Field>, where: string): PeopleMatch {
  const match: PeopleMatch = {};
  const users = fields.get("users");
  if (users) {
    const items = reader.textList(users, `"users" in ${where}`, (i) => `user #${i + 1} in ${where}`, { emptyIsList: true });
    for (const item of items ?? []) if (!isEmailAddress(item.value)) reader.report(item.line, `"${item.value}" in "users" of ${where} is not an email address`);
    // Kept in canonical form, as people's emails are: the gateway compares them as they are on every call.
    if (items?.length) match.users = [...new Set(items.map((i) => canonicalEmail(i.value)))];
  }
  const groups = fields.get("groups");
  if (groups) {
    const items = reader.textList(groups, `"groups" in ${where}`, (i) => `group #${i + 1} in ${where}`, { emptyIsList: true });
    for (const item of items ?? []) {
      const group = item.value;
      const character = unwritableCharacterIn(group, { lines: false });
      const named = `"${printable(group.length > 256 ? `${group.slice(0, 20)}…` : group)}" in "groups" of ${where}`;
      // People's groups are trimmed and escaped as they are stored (isGroupName): a policy naming another would match no one.
      if (group === "") reader.report(item.line, `${where} lists an empty group name`);
      else if (group !== group.trim()) reader.report(item.line, `${named} starts or ends with a space, which no group name does; remove it`);
      else if (character !== undefined) reader.report(item.line, `${named} holds ${character}, which people's groups hold escaped; write it as the gateway keeps it: '${printable(group).replaceAll("'", "''")}'`);
      else if (!isGroupName(group)) reader.report(item.line, `${named} is longer than 256 characters, which no group name is`);
    }
    if (items?.length) match.groups = items.map((i) => i.value);
  }
  return match;
}

/** A mapping of names (tools, prompts, resource URIs, arguments) to rules. */
function readNamed<T>(reader: YamlReader, field: Field, what: string, readOne: (name: string, node: ValueNode, line: number) => T | undefined): Record<string, T> | undefined {
  const value = field.value;
  if (reader.isEmpty(value)) return undefined;
  if (!isMap(value)) {
    reader.report(field.valueLine, `${what} must be a mapping of names to rules`);
    return undefined;
  }
  const rules: Record<string, T> = {};
  const firstLine = new Map<string, number>();
  for (const pair of value.items) {
    const keyNode = reader.resolve(pair.key);
    const line = reader.lineOf((pair.key as Node | null) ?? keyNode, field.valueLine);
    if (reader.refusedMergeKey(keyNode, line, `in ${what}`)) continue;
    if (!isScalar(keyNode) || typeof keyNode.value !== "string" || keyNode.value === "") {
      reader.report(line, `every name in ${what} must be a non-empty string${quoteHint(keyNode)}`);
      continue;
    }
    const name = keyNode.value;
    const first = firstLine.get(name);
    if (first !== undefined) {
      reader.report(line, `"${name}" appears twice in ${what} (first on line ${first})`);
      continue;
    }
    firstLine.set(name, line);
    const rule = readOne(name, reader.resolve(pair.value), line);
    if (rule !== undefined) Object.defineProperty(rules, name, { value: rule, enumerable: true, writable: true, configurable: true });
  }
  return rules;
}

function readItemRule(reader: YamlReader, node: ValueNode, line: number, label: string): ItemRule | undefined {
  const fields = reader.fields(node, line, `in ${label}`, ITEM_KEYS, `${label} must be a mapping with "allow" or "deny"`);
  if (!fields) return undefined;
  const rule = readAllowDeny(reader, fields, label);
  if (!rule.allow && !rule.deny) reader.report(line, `${label} has neither "allow" nor "deny"`);
  return rule;
}

function readAllowDeny(reader: YamlReader, fields: Map<string, Field>, label: string): ItemRule {
  const rule: ItemRule = {};
  for (const key of ["allow", "deny"] as const) {
    const field = fields.get(key);
    if (!field) continue;
    const where = `"${key}" of ${label}`;
    const people = reader.fields(field.value, field.valueLine, `in ${where}`, PEOPLE_KEYS, `${where} must be a mapping with "users" and/or "groups"`);
    if (!people) continue;
    const match = readPeople(reader, people, where);
    if (!match.users && !match.groups) reader.report(field.keyLine, `${where} names nobody; list "users" or "groups"`);
    rule[key] = match;
  }
  return rule;
}

function readToolRule(reader: YamlReader, node: ValueNode, line: number, label: string): ToolRule | undefined {
  const fields = reader.fields(node, line, `in ${label}`, TOOL_KEYS, `${label} must be a mapping with "allow", "deny" or "arguments"`);
  if (!fields) return undefined;
  const rule: ToolRule = readAllowDeny(reader, fields, label);
  const args = fields.get("arguments");
  if (args) {
    const rules = readNamed(reader, args, `"arguments" of ${label}`, (name, argNode, argLine) => readArgumentRule(reader, argNode, argLine, `argument "${name}" of ${label}`));
    if (rules) rule.arguments = rules;
  }
  if (!rule.allow && !rule.deny && !rule.arguments) reader.report(line, `${label} has no "allow", "deny" or "arguments"`);
  return rule;
}

function readArgumentRule(reader: YamlReader, node: ValueNode, line: number, label: string): ArgumentRule | undefined {
  const fields = reader.fields(node, line, `in ${label}`, ARGUMENT_KEYS, `${label} must be a mapping with any of: ${ARGUMENT_KEYS.join(", ")}`);
  if (!fields) return undefined;
  const rule: ArgumentRule = {};
  const problemsBefore = reader.problems.length;
  const pin = fields.get("pin");
  if (pin) {
    const value = reader.plain(pin.value, pin.valueLine, `"pin" of ${label}`);
    if (value === null) reader.report(pin.valueLine, `"pin" of ${label} needs a value`);
    else if (value !== undefined && !refusedSecretReference(reader, value, pin.valueLine, `"pin" of ${label}`)) rule.pin = value;
  }
  const onMismatch = fields.get("onMismatch");
  if (onMismatch) {
    const text = reader.text(onMismatch, `"onMismatch" of ${label}`);
    if (text !== undefined && text !== "replace" && text !== "refuse") reader.report(onMismatch.valueLine, `"onMismatch" of ${label} is "${text}"; expected replace or refuse`);
    else if (text !== undefined) {
      if (!pin) reader.report(onMismatch.keyLine, `"onMismatch" of ${label} applies only with "pin"`);
      rule.onMismatch = text;
    }
  }
  const required = fields.get("required");
  if (required && reader.flag(required, `"required" of ${label}`)) {
    // Like "onMismatch" without "pin", a key that could never act is refused rather than kept: the pin is sent when a call leaves the argument out.
    if (pin) reader.report(required.keyLine, `"required" of ${label} has no effect beside "pin", whose value is sent when a call leaves the argument out; remove "required"`);
    else rule.required = true;
  }
  const allowed = fields.get("allowed");
  if (allowed) {
    if (!isSeq(allowed.value) || allowed.value.items.length === 0) reader.report(allowed.valueLine, `"allowed" of ${label} must be a non-empty list of values`);
    else {
      rule.allowed = allowed.value.items.map((item) => reader.plain(reader.resolve(item), allowed.valueLine, `"allowed" of ${label}`));
      refusedSecretReference(reader, rule.allowed, allowed.valueLine, `"allowed" of ${label}`);
    }
  }
  const pattern = fields.get("pattern");
  if (pattern) {
    const text = reader.text(pattern, `"pattern" of ${label}`);
    if (text !== undefined) {
      try {
        new RegExp(text, "u");
        const ambiguous = NESTED_QUANTIFIER.test(text) ? undefined : ambiguousRepeat(text);
        if (NESTED_QUANTIFIER.test(text)) {
          reader.report(pattern.valueLine, `"pattern" of ${label} repeats a group that itself repeats (such as (a+)+): one crafted argument could keep the gateway busy for minutes; write it without the nesting`);
        } else if (ambiguous !== undefined) {
          reader.report(pattern.valueLine, `"pattern" of ${label} repeats ${ambiguous}, whose alternatives or inner groups can match the same text in many ways (such as (a|a?)+): one crafted argument could keep the gateway busy for minutes; write it so that each repeat can start only one way`);
        } else {
          rule.pattern = text;
        }
      } catch (error) {
        reader.report(pattern.valueLine, `"pattern" of ${label} is not a valid regular expression: ${(error as Error).message}`);
      }
    }
  }
  for (const key of ["max", "maxLength"] as const) {
    const field = fields.get(key);
    if (!field) continue;
    const value = field.value;
    const number = isScalar(value) && typeof value.value === "number" ? value.value : undefined;
    if (number === undefined || !Number.isFinite(number) || (key === "maxLength" && (!Number.isInteger(number) || number < 0))) {
      reader.report(field.valueLine, key === "max" ? `"max" of ${label} must be a number` : `"maxLength" of ${label} must be a whole number of characters`);
    } else rule[key] = number;
  }
  if (reader.problems.length === problemsBefore) {
    // A pin its own checks refuse would refuse every call: a contradiction, not a policy.
    const refusal = pinRefusal(rule);
    if (refusal && pin) reader.report(pin.valueLine, `"pin" of ${label} would refuse every call, as its own "${refusal.check}" says the pinned value ${refusal.text}; change the pin or remove "${refusal.check}"`);
    // Only when nothing above said what is wrong: no key at all, or only "required: false" (the default).
    if (Object.keys(rule).length === 0) reader.report(line, `${label} has no checks; give it any of: ${ARGUMENT_KEYS.join(", ")}`);
  }
  return rule;
}

/**
 * A `${secret:NAME}` inside a pinned or allowed value is compared and sent as written, never resolved (secrets are
 * resolved in connectors' env and headers only): reported, and true, when `value` holds one at any depth.
 */
function refusedSecretReference(reader: YamlReader, value: unknown, line: number, what: string): boolean {
  const holds = (v: unknown): boolean =>
    typeof v === "string" ? v.includes(REFERENCE_OPENING) : v !== null && typeof v === "object" && Object.entries(v).some(([k, item]) => holds(k) || holds(item));
  if (!holds(value)) return false;
  reader.report(line, `${what} contains a secret reference, but secrets are resolved only in connectors' "env" and "headers" values; a policy value is sent and compared as written`);
  return true;
}

/**
 * One Virtual MCP's policy on its own (the admin API's PUT body): a mapping
 * with `access`, `tools`, `prompts` and `resources`, as YAML or JSON. Every
 * problem is reported as `FILE:LINE: reason` in one `invalid` error.
 */
export function parsePolicyText(text: string, options: { fileName?: string; label?: string } = {}): VirtualMcpPolicy {
  const fileName = options.fileName ?? "policy";
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  const syntax = syntaxProblems(document, lines);
  if (syntax.length > 0) throw invalid(syntax.map((p) => `${fileName}:${p.line}: ${p.reason}`).join("\n"));
  const reader = new YamlReader(document, lines);
  const root = reader.resolve(document.contents);
  // A missing body is not "no policy": read so, a PUT without one would take everyone's access away. {} says that on purpose.
  if (reader.isEmpty(root)) throw invalid(`${fileName}:1: the policy is empty; send it as JSON or YAML, or {} to leave the virtual MCP to admins only`);
  let policy: VirtualMcpPolicy = {};
  const fields = reader.fields(root, reader.lineOf(root, 1), "in the policy", POLICY_KEYS, 'the policy must be a mapping with "access", "tools", "prompts" and/or "resources"');
  if (fields) policy = readPolicy(reader, fields, options.label ?? "the policy") ?? {};
  if (reader.problems.length > 0) {
    throw invalid([...reader.problems].sort((a, b) => a.line - b.line).map((p) => `${fileName}:${p.line}: ${p.reason}`).join("\n"));
  }
  return policy;
}
