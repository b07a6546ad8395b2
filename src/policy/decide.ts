import { counted } from "../terminal/index.ts";
import type { AccessRule, Action, ArgumentRule, Decision, ItemRule, PeopleMatch, Subject, VirtualMcpPolicy } from "./types.ts";

/**
 * The one access decision, used at every enforcement point (HTTP admission,
 * lists, calls, `mintgate policy explain`). Pure: the policy comes with the
 * action, the person's groups and role with the subject. `rule` names the
 * part of the policy that decided, as `SLUG: path`.
 *
 * Order: reaching the Virtual MCP (access rule, or admins only without one);
 * then for an item its `deny` (wins), then its `allow` (only those named);
 * no rule for an item allows it to everyone who reaches the Virtual MCP;
 * then, for a tool call, its argument rules in the order written (for each:
 * its pin, then `required`, then the checks of the value that will be sent).
 */
export function decide(subject: Subject, action: Action): Decision {
  switch (action.kind) {
    case "reach":
      return decideReach(subject, action.virtualMcp, action.policy.access);
    case "tool":
      return decideItem(subject, action.virtualMcp, "tools", action.name, ruleFor(action.policy.tools, action.name));
    case "prompt":
      return decideItem(subject, action.virtualMcp, "prompts", action.name, ruleFor(action.policy.prompts, action.name));
    case "resource": {
      const found = resourceRule(action.policy, action.name);
      return decideItem(subject, action.virtualMcp, "resources", action.name, found?.rule, found?.key);
    }
    case "arguments":
      return decideArguments(action.virtualMcp, action.policy, action.tool, action.arguments, action.isSecret);
  }
}

/**
 * The rule a policy section holds for a name: its own keys only, so that a
 * tool or prompt named like an Object method ("constructor", "toString") has
 * no rule unless one is written for it.
 */
export function ruleFor<T>(rules: Record<string, T> | undefined, name: string): T | undefined {
  return rules !== undefined && Object.hasOwn(rules, name) ? rules[name] : undefined;
}

function decideReach(subject: Subject, slug: string, access: AccessRule | undefined): Decision {
  if (!access) {
    if (subject.role === "admin") return { allow: true, rule: `${slug}: no access rule, so admins only (${subject.email} is an admin)` };
    return { allow: false, rule: `${slug}: no access rule, so admins only`, reason: `Virtual MCP "${slug}" has no access rule, so only admins may use it; ask an admin to add ${subject.email} or one of your groups to its access rule.` };
  }
  if (access.everyone) return { allow: true, rule: `${slug}: access.everyone` };
  const matched = matchOf(subject, access);
  if (matched) return { allow: true, rule: `${slug}: access.${matched}` };
  return { allow: false, rule: `${slug}: access (${subject.email} is not listed)`, reason: `${subject.email} may not use virtual MCP "${slug}": its access rule names neither you nor any of your groups.` };
}

const SINGULAR = { tools: "tool", prompts: "prompt", resources: "resource" } as const;

/**
 * `name`: what was asked for, as the reason names it; `key`: the policy key whose rule decides, as
 * the rule names it (for a resource, a template or `prefix*` key that covers the URI: the reason
 * does not show the caller the policy's keys).
 */
function decideItem(subject: Subject, slug: string, section: "tools" | "prompts" | "resources", name: string, rule: ItemRule | undefined, key = name): Decision {
  const what = `${SINGULAR[section]} "${name}"`;
  const path = `${slug}: ${section}[${JSON.stringify(key)}]`;
  if (!rule || (!rule.allow && !rule.deny)) return { allow: true, rule: `${slug}: no access rule for ${what}, so everyone who reaches the virtual MCP` };
  if (rule.deny) {
    const matched = matchOf(subject, rule.deny);
    if (matched) return { allow: false, rule: `${path}.deny.${matched}`, reason: `${subject.email} may not use the ${what} in virtual MCP "${slug}" (denied by its policy).` };
  }
  if (rule.allow) {
    const matched = matchOf(subject, rule.allow);
    if (matched) return { allow: true, rule: `${path}.allow.${matched}` };
    return { allow: false, rule: `${path}.allow (${subject.email} is not listed)`, reason: `${subject.email} may not use the ${what} in virtual MCP "${slug}": its policy allows only the people and groups it names.` };
  }
  return { allow: true, rule: `${path}.deny (${subject.email} is not listed)` };
}

/** Which entry of `match` names the subject: `users["a@b"]` or `groups["eng"]`; undefined when none does. */
function matchOf(subject: Subject, match: PeopleMatch): string | undefined {
  if (match.users) {
    // Both sides are canonical (canonicalEmail) from where they entered: the per-call check is a plain comparison.
    const user = match.users.find((u) => u === subject.email);
    if (user !== undefined) return `users[${JSON.stringify(user)}]`;
  }
  if (match.groups && subject.groups.length > 0) {
    const group = match.groups.find((g) => subject.groups.includes(g));
    if (group !== undefined) return `groups[${JSON.stringify(group)}]`;
  }
  return undefined;
}

/**
 * The rule for a resource URI: an exact key first, else the most specific
 * key that covers it: a URI template key the URI could be expanded from (a
 * template's rule covers the resources read through it, not only its line in
 * the templates list) or a `prefix*` key, whichever fixes more of the URI's
 * start (a template its text before the first `{`; a tie goes to the
 * template, the longest of them). So `file:///secrets/*` decides for the
 * files under it even beside a `file:///{path}` that covers every file.
 */
function resourceRule(policy: VirtualMcpPolicy, uri: string): { key: string; rule: ItemRule } | undefined {
  const rules = policy.resources;
  if (!rules) return undefined;
  const exact = Object.hasOwn(rules, uri) ? rules[uri] : undefined;
  if (exact) return { key: uri, rule: exact };
  let template: { key: string; rule: ItemRule } | undefined;
  let prefix: { key: string; rule: ItemRule } | undefined;
  for (const [key, rule] of Object.entries(rules)) {
    if (key.includes("{") && expandsTo(key, uri) && (!template || key.length > template.key.length)) template = { key, rule };
    else if (key.endsWith("*") && uri.startsWith(key.slice(0, -1)) && (!prefix || key.length > prefix.key.length)) prefix = { key, rule };
  }
  if (template && prefix && prefix.key.length - 1 > template.key.indexOf("{")) return prefix;
  return template ?? prefix;
}

/**
 * True when `uri` could be an expansion of the URI template `template`: its
 * literal text in order, each `{expression}` standing for any text. Broader
 * than RFC 6570 matching on purpose (a rule that covers too much restricts,
 * never opens), and linear: no regular expression built from upstream text.
 */
export function expandsTo(template: string, uri: string): boolean {
  const literals = template.split(/\{[^}]*\}/);
  const first = literals[0]!;
  const last = literals[literals.length - 1]!;
  if (literals.length === 1) return template === uri;
  if (!uri.startsWith(first) || !uri.endsWith(last) || uri.length < first.length + last.length) return false;
  let at = first.length;
  const end = uri.length - last.length;
  for (const literal of literals.slice(1, -1)) {
    const found = uri.indexOf(literal, at);
    if (found === -1 || found + literal.length > end) return false;
    at = found + literal.length;
  }
  return true;
}

const patterns = new Map<string, RegExp>();

/** A compiled pattern (the config is validated, so every pattern compiles). */
function compiled(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) {
    if (patterns.size > 1000) patterns.clear();
    regex = new RegExp(pattern, "u");
    patterns.set(pattern, regex);
  }
  return regex;
}

/** What a refusal says in place of a secret-looking argument's value. */
const NOT_SHOWN = "[redacted]";

function decideArguments(slug: string, policy: VirtualMcpPolicy, tool: string, args: Record<string, unknown> | undefined, isSecret?: (argument: string) => boolean): Decision {
  const rules = ruleFor(policy.tools, tool)?.arguments;
  if (!rules) return { allow: true, rule: `${slug}: no argument rules for tool "${tool}"`, arguments: args };
  let sent = args;
  for (const [name, rule] of Object.entries(rules)) {
    const path = `${slug}: tools[${JSON.stringify(tool)}].arguments[${JSON.stringify(name)}]`;
    const given = sent === undefined || !Object.hasOwn(sent, name) ? undefined : sent[name];
    const secret = isSecret?.(name) ?? false;
    if (rule.pin !== undefined && !sameValue(given, rule.pin)) {
      if (given !== undefined && rule.onMismatch === "refuse") {
        const pinned = secret ? "the value fixed by policy" : `${quote(rule.pin, isSecret)} (fixed by policy)`;
        return { allow: false, rule: `${path}.pin`, reason: `The argument "${name}" of tool "${tool}" must be ${pinned}; leave it out or send that value.` };
      }
      sent = { ...sent, [name]: rule.pin };
    }
    const value = sent === undefined || !Object.hasOwn(sent, name) ? undefined : sent[name];
    if (value === undefined || value === null) {
      if (rule.required) return { allow: false, rule: `${path}.required`, reason: `The argument "${name}" of tool "${tool}" is required by policy; send it with a value.` };
      // Left out and not required: the upstream's default applies. A null is a value the checks below decide.
      if (value === undefined) continue;
    }
    const refusal = checkValue(rule, value, secret, isSecret);
    if (refusal) return { allow: false, rule: `${path}.${refusal.check}`, reason: `The argument "${name}" of tool "${tool}" ${refusal.text}.` };
  }
  return { allow: true, rule: `${slug}: tools[${JSON.stringify(tool)}].arguments`, arguments: sent };
}

/**
 * Why the rule's own checks refuse its `pin` (so that it would refuse every call), or undefined when they
 * accept it or there is no pin: `mintgate.yaml` and the admin API refuse such a rule.
 */
export function pinRefusal(rule: ArgumentRule): { check: string; text: string } | undefined {
  return rule.pin === undefined ? undefined : checkValue(rule, rule.pin, false, undefined);
}

/**
 * Checks one value; `secret`: the refusal names neither the value nor the values allowed. Values it
 * does quote are quoted with what sits under secret-looking keys inside them left out (see `quote`).
 */
function checkValue(rule: ArgumentRule, value: unknown, secret: boolean, isSecret: ((key: string) => boolean) | undefined): { check: string; text: string } | undefined {
  const sent = secret ? NOT_SHOWN : short(quote(value, isSecret));
  if (rule.allowed && !rule.allowed.some((allowed) => sameValue(value, allowed))) {
    return { check: "allowed", text: secret ? "must be one of the values its policy allows" : `must be one of ${rule.allowed.map((v) => quote(v, isSecret)).join(", ")}, not ${sent}` };
  }
  if (rule.max !== undefined) {
    // Infinity and -Infinity (1e999 in the request's JSON) would go upstream as null, which no cap holds.
    if (typeof value !== "number" || !Number.isFinite(value)) return { check: "max", text: `must be a number no larger than ${rule.max}, not ${sent}` };
    if (value > rule.max) return { check: "max", text: `must be at most ${rule.max}, not ${secret ? NOT_SHOWN : value}` };
  }
  if (rule.maxLength !== undefined) {
    if (typeof value !== "string") return { check: "maxLength", text: `must be a string of at most ${counted(rule.maxLength, "character")}, not ${sent}` };
    // Characters as people (and JSON Schema's maxLength) count them: an emoji is one, not its two UTF-16 units.
    const length = value.length > rule.maxLength ? [...value].length : value.length;
    if (length > rule.maxLength) return { check: "maxLength", text: `must be at most ${counted(rule.maxLength, "character")} long, not ${length}` };
  }
  // Last, after the length cap: a regular expression cannot be stopped once running, and the cap bounds what it is run on.
  if (rule.pattern !== undefined) {
    if (typeof value !== "string") return { check: "pattern", text: `must be a string matching /${rule.pattern}/, not ${sent}` };
    if (!compiled(rule.pattern).test(value)) return { check: "pattern", text: `must match /${rule.pattern}/; ${sent} does not` };
  }
  return undefined;
}

/**
 * A value as a refusal quotes it: JSON, with the values under secret-looking keys at any depth
 * replaced (an object argument can carry an `api_key` of its own; the refusal is the call's
 * recorded error, which the audit trail does not redact by key as it does the arguments).
 */
function quote(value: unknown, isSecret: ((key: string) => boolean) | undefined): string {
  // JSON has no Infinity: the request spelled it 1e999, and JSON.stringify would say null.
  if (typeof value === "number") return String(value);
  const text = isSecret === undefined || typeof value !== "object" || value === null ? JSON.stringify(value) : JSON.stringify(value, (key, item: unknown) => (key !== "" && item !== null && isSecret(key) ? NOT_SHOWN : item));
  return text ?? String(value);
}

function short(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Deep equality of JSON values (key order does not matter). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((item, i) => sameValue(item, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
