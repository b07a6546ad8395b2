/**
 * Reads a parsed YAML document node by node, keeping every node's line so that each
 * problem can be reported as `file:LINE: reason`. Readers report and carry on; they
 * never throw, so one pass finds every problem in the file.
 */
import { isAlias, isMap, isScalar, isSeq, visit, type Alias, type Document, type LineCounter, type Node, type Scalar, type YAMLMap, type YAMLSeq } from "yaml";
import { closestName } from "../errors/index.ts";

export interface Problem {
  line: number;
  reason: string;
}

/** A node after alias resolution; `null` for an absent or empty value. */
export type ValueNode = Scalar | YAMLMap | YAMLSeq | null;

export interface Field {
  key: string;
  keyLine: number;
  value: ValueNode;
  /** The value's line, or the key's when the value is empty. */
  valueLine: number;
}

export interface StringEntry {
  key: string;
  keyLine: number;
  value: string;
  valueLine: number;
}

export interface StringItem {
  value: string;
  line: number;
}

/**
 * A document's syntax errors as problems, in words for the person who wrote it (not the yaml library's API advice).
 * Its warnings too: the library reads a value under an unknown tag (`kind: !custom stdio`) as plain text and skips
 * an unknown directive, so the file would be applied as something other than what was written.
 */
export function syntaxProblems(document: Document.Parsed, lines: LineCounter): Problem[] {
  const problems = [...document.errors, ...document.warnings].map((error) => ({
    line: error.linePos?.[0].line ?? 1,
    reason:
      error.code === "MULTIPLE_DOCS"
        ? 'the file must hold one YAML document; remove the extra "---"'
        : error.code === "TAG_RESOLVE_FAILED"
          ? `unknown YAML tag ${tagIn(error.message)}; remove it (quote the value to make it text)`
          : error.code === "BAD_DIRECTIVE"
            ? `${firstSentenceOf(error.message)}; remove that line (a file may start with %YAML 1.2, %YAML 1.1 or %TAG)`
            : `YAML syntax: ${firstSentenceOf(error.message)}`,
  }));
  return [...problems, ...aliasesWithoutAnchor(document, lines)];
}

/**
 * Aliases with no anchor of their name before them (in the order the yaml library finds one): it neither errs nor
 * warns, and each would be read as an empty value, so a misspelt `env: *common` applied a connector without its env.
 */
function aliasesWithoutAnchor(document: Document.Parsed, lines: LineCounter): Problem[] {
  const anchors = new Set<string>();
  const problems: Problem[] = [];
  visit(document, {
    Node(_, node) {
      if (!isAlias(node)) {
        if (node.anchor) anchors.add(node.anchor);
      } else if (!anchors.has(node.source)) {
        const name = node.source;
        problems.push({ line: lines.linePos(node.range?.[0] ?? 0).line, reason: `the alias *${name} has no anchor &${name} before it; define the anchor first, or quote the value if it is text` });
      }
    },
  });
  return problems;
}

/** "Unresolved tag: !custom at line …" -> "!custom"; the core schema's own tags are written back as !!name. */
function tagIn(message: string): string {
  const tag = /^Unresolved tag: (\S+)/.exec(firstSentenceOf(message))?.[1] ?? "";
  return tag.replace(/^tag:yaml\.org,2002:/, "!!");
}

/** The yaml library's messages end with " at line L, column C:" and an excerpt of the source. */
function firstSentenceOf(message: string): string {
  const first = message.split("\n", 1)[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "");
}

/** How many values (each list, mapping and scalar) one pin or allowed value may hold once its aliases are followed. */
const PLAIN_VALUES_MAX = 10_000;
const MAP_TAG = "tag:yaml.org,2002:map";
const SEQ_TAG = "tag:yaml.org,2002:seq";
const NOT_JSON = "which JSON cannot hold; write a string, number, true, false, null, list or mapping";

/** Why a value cannot be read as plain JSON data: its sentence, after the value's name. */
class NotPlain extends Error {}

export class YamlReader {
  readonly problems: Problem[] = [];

  constructor(
    private readonly document: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  report(line: number, reason: string): void {
    this.problems.push({ line, reason });
  }

  /**
   * A value as plain JSON data, aliases inside it followed (from aliasTargets: the yaml library's toJS walks the
   * whole document again for each value, minutes for a file of a few thousand pins). An alias inside its own
   * anchor, or a value that aliases make hold more than PLAIN_VALUES_MAX values, is reported.
   */
  plain(node: ValueNode, line: number, what: string): unknown {
    if (node === null) return null;
    let values = 0;
    const enclosing = new Set<Node>();
    const convert = (raw: unknown): unknown => {
      if (++values > PLAIN_VALUES_MAX) throw new NotPlain(`holds more than ${PLAIN_VALUES_MAX} values once its aliases are followed; write it with fewer aliases`);
      const node = this.resolve(raw);
      if (node === null) return null;
      if (isScalar(node)) return node.value;
      if (enclosing.has(node)) throw new NotPlain("refers to itself through an alias");
      // A !!set, !!omap or !!pairs (YAML 1.1) is no JSON list or object.
      if (node.tag !== undefined && node.tag !== (isMap(node) ? MAP_TAG : SEQ_TAG)) throw new NotPlain(`holds a ${node.tag.replace(/^tag:yaml\.org,2002:/, "!!")} value, ${NOT_JSON}`);
      enclosing.add(node);
      let value: unknown;
      if (isSeq(node)) value = node.items.map(convert);
      else {
        const object: Record<string, unknown> = {};
        for (const pair of node.items) {
          const key = this.resolve(pair.key);
          if (this.refusedMergeKey(key, line, `in ${what}`)) continue;
          if (key !== null && !isScalar(key)) throw new NotPlain(`has a list or mapping as a key, ${NOT_JSON}`);
          // As the yaml library names keys: an empty one is "", any other scalar its text. Every key is data, __proto__ too.
          const name = key === null || key.value === null ? "" : String(key.value);
          Object.defineProperty(object, name, { value: convert(pair.value), enumerable: true, writable: true, configurable: true });
        }
        value = object;
      }
      enclosing.delete(node);
      return value;
    };
    try {
      const value = convert(node);
      // Stored as JSON: .inf and .nan would become null, a !!timestamp a string, !!binary an object.
      const notJson = notJsonIn(value);
      if (notJson !== undefined) {
        this.report(line, `${what} holds ${notJson}, ${NOT_JSON}`);
        return undefined;
      }
      return value;
    } catch (error) {
      if (!(error instanceof NotPlain)) throw error;
      this.report(line, `${what} ${error.message}`);
      return undefined;
    }
  }

  /** Follows an alias to its anchor; anything that is not a node becomes `null`. */
  resolve(node: unknown): ValueNode {
    if (isAlias(node)) return this.resolve(this.aliasTargets().get(node));
    if (isScalar(node) || isMap(node) || isSeq(node)) return node;
    return null;
  }

  /**
   * Each alias's node: the last one with its anchor before it in the document, as the yaml library finds it. Found in
   * one walk: the library's Alias.resolve walks the whole document for each alias, so a file (or an admin API body)
   * of many aliases kept the process busy for minutes.
   */
  private aliasTargets(): Map<Alias, Node> {
    if (this.targets) return this.targets;
    const targets = new Map<Alias, Node>();
    const latest = new Map<string, Node>();
    visit(this.document, {
      Node(_, node) {
        if (isAlias(node)) {
          const target = latest.get(node.source);
          if (target) targets.set(node, target);
        } else if (node.anchor) latest.set(node.anchor, node);
      },
    });
    this.targets = targets;
    return targets;
  }

  private targets: Map<Alias, Node> | undefined;

  lineOf(node: Node | null | undefined, fallback: number): number {
    const start = node?.range?.[0];
    return start === undefined ? fallback : this.lines.linePos(start).line;
  }

  /** An empty value (`key:` with nothing after it, or an explicit `null`/`~`). */
  isEmpty(node: ValueNode): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  /**
   * The fields of a mapping, by key. `where` places the mapping in a sentence
   * ("at the top level", "in connector \"docs\""). Reports keys that are not in `allowed` (with a
   * guess at the intended key), keys given twice, and keys that are not plain text.
   * Returns undefined (after reporting `notMapping`) when the node is not a mapping.
   */
  fields(node: ValueNode, line: number, where: string, allowed: readonly string[], notMapping: string): Map<string, Field> | undefined {
    if (!isMap(node)) {
      this.report(line, notMapping);
      return undefined;
    }
    const fields = new Map<string, Field>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const keyLine = this.lineOf(keyNode, line);
      const key = this.resolve(keyNode);
      if (this.refusedMergeKey(key, keyLine, where)) continue;
      if (!isScalar(key) || key.value === null || typeof key.value === "object") {
        this.report(keyLine, `a key ${where} is not a name; expected one of: ${allowed.join(", ")}`);
        continue;
      }
      const name = String(key.value);
      const value = this.resolve(pair.value);
      const first = fields.get(name);
      if (first) {
        this.report(keyLine, `key "${name}" appears twice ${where} (first on line ${first.keyLine})`);
        continue;
      }
      if (!allowed.includes(name)) {
        const guess = closestName(name, allowed);
        this.report(
          keyLine,
          guess
            ? `unknown key "${name}" ${where}; did you mean "${guess}"?`
            : `unknown key "${name}" ${where}; expected one of: ${allowed.join(", ")}`,
        );
        continue;
      }
      fields.set(name, { key: name, keyLine, value, valueLine: this.lineOf((pair.value as Node | null) ?? value, keyLine) });
    }
    return fields;
  }

  /**
   * A merge key (`<<: *base`, YAML 1.1; the yaml library reads it as Symbol(<<) under %YAML 1.1)
   * is reported, since its keys are not merged; true when `key` is one.
   */
  refusedMergeKey(key: ValueNode, line: number, where: string): boolean {
    if (!isScalar(key) || !(typeof key.value === "symbol" || (key.value === "<<" && key.type === "PLAIN"))) return false;
    this.report(line, `merge keys ("<<") are not supported ${where}; write the keys out (an alias such as *name can still stand for a whole value)`);
    return true;
  }

  /** The text under `key` in a mapping, if it is text: for naming the mapping in messages before it is read. */
  peekText(node: ValueNode, key: string): string | undefined {
    if (!isMap(node)) return undefined;
    for (const pair of node.items) {
      const keyNode = this.resolve(pair.key);
      if (!isScalar(keyNode) || keyNode.value !== key) continue;
      const value = this.resolve(pair.value);
      return isScalar(value) && typeof value.value === "string" && value.value !== "" ? value.value : undefined;
    }
    return undefined;
  }

  /** The items of a list, resolved, each with its line; an empty value is an empty list. */
  listItems(field: Field, notList: string): { node: ValueNode; line: number }[] | undefined {
    const value = field.value;
    if (this.isEmpty(value)) return [];
    if (!isSeq(value)) {
      this.report(field.valueLine, notList);
      return undefined;
    }
    return value.items.map((raw) => {
      const node = this.resolve(raw);
      return { node, line: this.lineOf((raw as Node | null) ?? node, field.valueLine) };
    });
  }

  /**
   * A true/false value, or undefined after reporting why it is not one. `yes`, `no`, `on` and `off` are
   * booleans in YAML 1.1 only; this file is YAML 1.2, where they are text, so the message says so.
   */
  flag(field: Field, what: string): boolean | undefined {
    const value = field.value;
    if (isScalar(value) && typeof value.value === "boolean") return value.value;
    // Only an unquoted yes/on is one a YAML 1.1 habit wrote; "yes" in quotes was meant as text.
    const text = isScalar(value) && typeof value.value === "string" && value.type === "PLAIN" ? value.value : undefined;
    const yaml11 = text !== undefined && /^(?:y|yes|n|no|on|off)$/i.test(text);
    this.report(field.valueLine, `${what} must be true or false${yaml11 ? `, not "${text}" (text in YAML 1.2)` : ""}`);
    return undefined;
  }

  /** A text value, or undefined after reporting why it is not one. */
  text(field: Field, what: string, options: { allowEmpty?: boolean } = {}): string | undefined {
    const value = field.value;
    if (this.isEmpty(value)) {
      if (options.allowEmpty) return "";
      this.report(field.valueLine, `${what} is empty`);
      return undefined;
    }
    if (!isScalar(value) || typeof value.value !== "string") {
      this.report(field.valueLine, `${what} must be a string${quoteHint(value)}`);
      return undefined;
    }
    if (value.value === "" && !options.allowEmpty) {
      this.report(field.valueLine, `${what} must not be empty`);
      return undefined;
    }
    return this.checkedText(value.value, field.valueLine, what);
  }

  /**
   * No text may hold a NUL character (a process cannot be given one in its arguments or
   * environment), nor half of a UTF-16 surrogate pair (a "\\uD800" escape on its own): that is
   * not Unicode text, and the store would keep it as U+FFFD, so apply would never match it.
   */
  private checkedText(value: string, line: number, what: string): string | undefined {
    if (value.includes("\0")) {
      this.report(line, `${what} contains a NUL character (\\0), which no command line or environment can carry`);
      return undefined;
    }
    if (!value.isWellFormed()) {
      const half = /[\uD800-\uDFFF]/.exec(value.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))?.[0] ?? "";
      const escape = `\\u${half.charCodeAt(0).toString(16).toUpperCase()}`;
      this.report(line, `${what} contains "${escape}" on its own, half of a character; write the whole character (both halves of the pair) or remove it`);
      return undefined;
    }
    return value;
  }

  /**
   * A list of text items; an empty value counts as an empty list only when `emptyIsList`.
   * Items that are not text are reported and left out; undefined when it is not a list.
   */
  textList(field: Field, what: string, itemWhat: (index: number) => string, options: { emptyIsList: boolean }): StringItem[] | undefined {
    const value = field.value;
    if (this.isEmpty(value) && options.emptyIsList) return [];
    if (!isSeq(value)) {
      this.report(field.valueLine, `${what} must be a list of strings`);
      return undefined;
    }
    const items: StringItem[] = [];
    value.items.forEach((raw, index) => {
      const item = this.resolve(raw);
      const line = this.lineOf((raw as Node | null) ?? item, field.valueLine);
      if (!isScalar(item) || typeof item.value !== "string") {
        this.report(line, `${itemWhat(index)} must be a string${quoteHint(item)}`);
        return;
      }
      const text = this.checkedText(item.value, line, itemWhat(index));
      if (text !== undefined) items.push({ value: text, line });
    });
    return items;
  }

  /**
   * A mapping of text to text (env, headers, rename, describe); an empty value is an empty
   * mapping. Entries that are not text, or repeat a name, are reported and left out, so the
   * rest can still be checked; undefined when it is not a mapping.
   */
  textMap(field: Field, what: string, entryWhat: (key: string) => string): StringEntry[] | undefined {
    const value = field.value;
    if (this.isEmpty(value)) return [];
    if (!isMap(value)) {
      this.report(field.valueLine, `${what} must be a mapping of names to strings`);
      return undefined;
    }
    const entries: StringEntry[] = [];
    const firstLine = new Map<string, number>();
    for (const pair of value.items) {
      const keyNode = this.resolve(pair.key);
      const keyLine = this.lineOf((pair.key as Node | null) ?? keyNode, field.valueLine);
      if (this.refusedMergeKey(keyNode, keyLine, `in ${what}`)) continue;
      if (!isScalar(keyNode) || typeof keyNode.value !== "string") {
        this.report(keyLine, `every name in ${what} must be a string${quoteHint(keyNode)}`);
        continue;
      }
      const key = keyNode.value;
      const entryValue = this.resolve(pair.value);
      const valueLine = this.lineOf((pair.value as Node | null) ?? entryValue, keyLine);
      const first = firstLine.get(key);
      if (first !== undefined) {
        this.report(keyLine, `"${key}" appears twice in ${what} (first on line ${first})`);
        continue;
      }
      firstLine.set(key, keyLine);
      if (!isScalar(entryValue) || typeof entryValue.value !== "string") {
        this.report(valueLine, `${entryWhat(key)} must be a string${quoteHint(entryValue)}`);
        continue;
      }
      const text = this.checkedText(entryValue.value, valueLine, entryWhat(key));
      if (text !== undefined && this.checkedText(key, keyLine, `the name "${key}" in ${what}`) !== undefined) entries.push({ key, keyLine, value: text, valueLine });
    }
    return entries;
  }
}

/** The first part of a YAML value that has no JSON equivalent, described; undefined when it all has one. */
function notJsonIn(value: unknown): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `the number ${value}`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = notJsonIn(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    for (const item of Object.values(value)) {
      const found = notJsonIn(item);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return `a ${typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value} value`;
}

/** For a number or boolean where text was expected: how to write it as text. */
export function quoteHint(node: ValueNode): string {
  if (!isScalar(node) || node.value === null || typeof node.value === "string") return "";
  if (typeof node.value !== "number" && typeof node.value !== "boolean" && typeof node.value !== "bigint") return "";
  const source = typeof node.source === "string" ? node.source : String(node.value);
  return `; quote it: "${source}"`;
}

