import { DEFAULTS } from "../config/index.ts";
import { wordsOf } from "../secrets/literal-credentials.ts";

/**
 * What the audit trail keeps of a payload: JSON, with secret values and the
 * values of secret-looking keys replaced, cut at a size limit without first
 * serialising all of a large payload.
 */

/** Keys whose values are replaced by default (matched against the key's words). */
export const DEFAULT_REDACT_KEYS: readonly string[] = DEFAULTS.auditRedactKeys;

/** Payloads longer than this (in JSON characters) are stored cut. */
export const DEFAULT_CAPTURE_LIMIT = 16 * 1024;

export const REDACTED = "[redacted]";
const SECRET_REFERENCE_ONLY = /^(\$\{secret:[A-Za-z][A-Za-z0-9_.-]*\}\s*)+$/;
/** Whether text may hold a JSON member at all: a key's closing quote, then its colon (Jackson's pretty printer writes `"key" : value`). */
const JSON_MEMBER_COLON = /"\s*:/;
/**
 * In JSON text: an object holding no other object (a header list's `{"name": …, "value": …}`), or one the cut ends
 * inside; its name (or key), and its value as `jsonTextMember` takes one.
 */
const FLAT_JSON_OBJECT = /\{(?:[^{}"]|"(?:[^"\\]|\\.)*(?:"|\\?$))*(?:\}|$)/g;
const NAME_MEMBER = /"name"\s*:\s*"([^"\\]{1,128})"/;
const KEY_MEMBER = /"key"\s*:\s*"([^"\\]{1,128})"/;
const VALUE_MEMBER = /("value"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\\?$)|-?\d[\d.eE+-]*)/;
/** A string of JSON text (a key or a value), or one the cut ends inside. */
const JSON_STRING_TOKEN = /"(?:[^"\\]|\\.)*(?:"|\\?$)/g;
/** How deep JSON text held in strings of JSON text is looked into (an HTTP tool's result: a response, its body as a string). */
const MAX_JSON_TEXT_DEPTH = 3;
/** Values shorter than this are not searched for: they would match ordinary text. */
const MIN_SECRET_LENGTH = 4;
/** Values shorter than this are likely to occur in ordinary text, which is then replaced too. */
const COMMON_TEXT_LENGTH = 8;

/** What a person storing this value should know about how it is hidden; undefined for a value of a credential's length. */
export function shortSecretWarning(name: string, value: string): string | undefined {
  if (value.length < MIN_SECRET_LENGTH) return `secret ${name} is shorter than ${MIN_SECRET_LENGTH} characters, so it is not hidden where it shows (logs, errors, audit records); store a real credential.`;
  if (value.length < COMMON_TEXT_LENGTH) return `secret ${name} is shorter than ${COMMON_TEXT_LENGTH} characters: wherever ordinary text holds it (tool results, audit records) that text is shown as [secret:${name}] too.`;
  return undefined;
}

export class Redactor {
  /** Secret value → its name, longest values first when replacing. */
  private readonly secrets = new Map<string, string>();
  private ordered: [string, string][] = [];
  private readonly patterns: string[][];
  private readonly decisions = new Map<string, boolean>();
  /**
   * A member of JSON text whose key holds a word of some pattern (every pattern's words are in a key it matches, so one
   * word each finds them all): `"key": "value"` or `"key": 123`, a string value running to the end of the text when cut
   * there. Matching only such keys keeps the pass over a large JSON result cheap; `isSecretKey` decides.
   */
  private readonly jsonTextMember: RegExp | undefined;
  /** A `"name"` or `"key"` member of JSON text whose value holds such a word: how a header list naming a secret is found. */
  private readonly jsonTextName: RegExp | undefined;
  /** Such a word in a key of JSON text held in a string (its quotes escaped): without one, there is nothing to look into. */
  private readonly escapedKeyWord: RegExp | undefined;

  constructor(keys: readonly string[] = DEFAULT_REDACT_KEYS) {
    this.patterns = keys.map(wordsOf).filter((words) => words.length > 0);
    const longest = new Set(this.patterns.map((pattern) => pattern.reduce((a, b) => (b.length > a.length ? b : a))));
    // A key holding `passwords` holds `password`: the shorter word alone finds both.
    const words = [...longest].filter((word) => ![...longest].some((other) => other !== word && word.includes(other)));
    const keyText = '[^"\\\\\\r\\n]{0,128}';
    this.jsonTextMember =
      words.length === 0 ? undefined : new RegExp(`"(${keyText}?(?:${words.join("|")})${keyText})"(\\s*:\\s*)("(?:[^"\\\\]|\\\\.)*(?:"|\\\\?$)|-?\\d[\\d.eE+-]*|[[{])`, "gi");
    this.escapedKeyWord = words.length === 0 ? undefined : new RegExp(`\\\\"${keyText}?(?:${words.join("|")})`, "i");
    this.jsonTextName = words.length === 0 ? undefined : new RegExp(`"(?:name|key)"\\s*:\\s*"(${keyText}?(?:${words.join("|")})${keyText})"`, "gi");
  }

  /**
   * Remembers a resolved secret value: from now on it is written as `[secret:NAME]`, and so are
   * the forms an upstream echoes it in: inside a JSON string, URL-encoded (a redirect's Location),
   * base64 (a Basic credential).
   */
  addSecret(name: string, value: string): void {
    if (value.length < MIN_SECRET_LENGTH || this.secrets.get(value) === name) return;
    for (const form of encodedForms(value)) this.remember(form, name, true);
    // A multi-line value (a PEM key) reaches logs a line at a time: each line is replaced on its own too.
    if (/[\r\n]/.test(value)) {
      for (const line of value.split(/\r?\n|\r/)) if (line.trim().length >= MIN_SECRET_LENGTH) for (const form of encodedForms(line)) this.remember(form, name, false);
    }
    this.ordered = [...this.secrets].sort((a, b) => b[0].length - a[0].length);
  }

  private remember(text: string, name: string, replace: boolean): void {
    if (text.length >= MIN_SECRET_LENGTH && (replace || !this.secrets.has(text))) this.secrets.set(text, name);
  }

  get secretCount(): number {
    return this.secrets.size;
  }

  /** The length of the longest text replaced (0 with none): a text cut into parts must be redacted before any cut within this distance of its end. */
  get longestSecret(): number {
    return this.ordered[0]?.[0].length ?? 0;
  }

  /** True when a key's value should not be recorded. */
  isSecretKey(key: string): boolean {
    let decision = this.decisions.get(key);
    if (decision === undefined) {
      const words = wordsOf(key);
      const joined = words.join("");
      decision = this.patterns.some((pattern) => {
        if (pattern.join("") === joined) return true;
        for (let i = 0; i + pattern.length <= words.length; i++) {
          if (pattern.every((word, j) => words[i + j] === word)) return true;
        }
        return false;
      });
      if (this.decisions.size < 10_000) this.decisions.set(key, decision);
    }
    return decision;
  }

  /**
   * A call's error as stored, cut at `limit` characters: `text` with secret values replaced (before the cut: a value
   * straddling it would keep its first part), and secret-looking keys hidden as in a result (an error result's text is
   * the error), after it: a tool's error text may be a whole page.
   */
  errorText(text: string, limit: number): string {
    return this.hideKeysInJsonText(this.text(text).slice(0, limit)).slice(0, limit);
  }

  /** `text` with the values under secret-looking keys of the JSON it holds hidden; the same string when it holds none. */
  private hideKeysInJsonText(text: string, depth = 0): string {
    if (!this.jsonTextMember || !JSON_MEMBER_COLON.test(text)) return text;
    let hidden = this.hideSecretMembers(text, this.jsonTextMember);
    if (hidden.includes('"value"') && this.namesSecretIn(hidden)) hidden = this.hideValuesHeldUnderName(hidden);
    // JSON text in a string of this one (a response's body) has its quotes escaped (\"), which the passes above do not read.
    if (depth < MAX_JSON_TEXT_DEPTH && this.escapedKeyWord!.test(hidden)) {
      hidden = hidden.replace(JSON_STRING_TOKEN, (token) => (token.includes('\\"') ? this.hideKeysInJsonString(token, depth + 1) : token));
    }
    return hidden;
  }

  /** A string of JSON text (its quotes included; without its closing one when the cut ends inside it) with the JSON text it holds hidden as `hideKeysInJsonText` does. */
  private hideKeysInJsonString(token: string, depth: number): string {
    let inner: string;
    let closed = true;
    try {
      inner = JSON.parse(token) as string;
    } catch {
      // Cut inside: closed where it ends, without the escape the cut may have split.
      closed = false;
      try {
        inner = JSON.parse(`${token.replace(/(?<!\\)((?:\\\\)*)\\(u[0-9a-fA-F]{0,3})?$/, "$1")}"`) as string;
      } catch {
        return token;
      }
    }
    const hidden = this.hideKeysInJsonText(inner, depth);
    if (hidden === inner) return token;
    const text = JSON.stringify(hidden);
    return closed ? text : text.slice(0, -1);
  }

  /**
   * JSON text with the value of each member under a secret-looking key replaced: a string or number, or a list or
   * object whole (as `jsonWithin` hides one), up to its closing bracket or the end of the text when cut inside it.
   * The members of a list or object under another key are looked at one by one.
   */
  private hideSecretMembers(text: string, member: RegExp): string {
    let out = "";
    let copied = 0;
    member.lastIndex = 0;
    for (let match = member.exec(text); match !== null; match = member.exec(text)) {
      const [whole, key, colon, item] = match as unknown as [string, string, string, string];
      const nested = item === "[" || item === "{";
      if (!this.isSecretKey(key) || (!nested && SECRET_REFERENCE_ONLY.test(item.slice(1, -1)))) continue;
      const end = nested ? endOfNestedJson(text, match.index + whole.length - 1) : match.index + whole.length;
      out += `${text.slice(copied, match.index)}"${key}"${colon}"${REDACTED}"`;
      copied = member.lastIndex = end;
    }
    return copied === 0 ? text : out + text.slice(copied);
  }

  /** Whether JSON text has a `name` or `key` member naming a secret-looking key (most have none, and are not looked at further). */
  private namesSecretIn(text: string): boolean {
    const named = this.jsonTextName!;
    named.lastIndex = 0;
    for (let match = named.exec(text); match !== null; match = named.exec(text)) if (this.isSecretKey(match[1]!)) return true;
    return false;
  }

  /** JSON text with the `value` beside a secret-looking `name` or `key` replaced, as `namesSecret` has it hidden in an object. */
  private hideValuesHeldUnderName(text: string): string {
    return text.replace(FLAT_JSON_OBJECT, (object) => {
      const name = (NAME_MEMBER.exec(object) ?? KEY_MEMBER.exec(object))?.[1];
      if (name === undefined || !this.isSecretKey(name)) return object;
      return object.replace(VALUE_MEMBER, (member, colon: string, item: string) => (SECRET_REFERENCE_ONLY.test(item.slice(1, -1)) ? member : `${colon}"${REDACTED}"`));
    });
  }

  /**
   * Whether an object names a secret-looking key in one member and holds its value in another: a header list
   * (`[{ "name": "Authorization", "value": "Bearer …" }]`, as HAR files and HTTP tools write them) or a form field.
   */
  private namesSecret(object: Record<string, unknown>): boolean {
    if (!("value" in object)) return false;
    const name = object.name ?? object.key;
    return typeof name === "string" && name.length <= 128 && this.isSecretKey(name);
  }

  /** `text` with every known secret value replaced by `[secret:NAME]`. */
  text(text: string): string {
    for (let i = 0; i < this.ordered.length; i++) {
      const [value, name] = this.ordered[i]!;
      if (text.includes(value)) text = text.split(value).join(`[secret:${name}]`);
    }
    return text;
  }

  /**
   * `value` with every known secret value replaced in its strings and keys, as `text` does; the
   * same object when none held one (a copy of only the parts that changed otherwise).
   */
  value<T>(value: T): T {
    if (this.ordered.length === 0) return value;
    if (typeof value === "string") return this.text(value) as T;
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const clean = this.value(item);
        if (clean !== item) (copy ??= value.slice())[i] = clean;
      }
      return (copy ?? value) as T;
    }
    let changed = false;
    const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const cleanKey = this.text(key);
      const clean = this.value(item);
      if (cleanKey !== key || clean !== item) changed = true;
      return [cleanKey, clean] as const;
    });
    return changed ? (Object.fromEntries(entries) as T) : value;
  }

  /**
   * The payload as stored: redacted JSON cut at `limit` characters, and the
   * size of its full JSON (before redaction; `knownSize` when the caller
   * already has its text). Undefined stays null.
   */
  capture(value: unknown, limit: number, knownSize?: number): { json: string | null; size: number | null } {
    if (value === undefined) return { json: null, size: null };
    const state: Budget = { left: limit, cut: false, changed: false };
    const json = this.cutJson(value, limit, state);
    if (!state.cut && !state.changed) return { json, size: json.length };
    return { json, size: knownSize ?? fullSize(value) };
  }

  /** The payload as stored, as `capture` gives it, when its full size is not wanted (that would serialise all of a large payload). */
  captureJson(value: unknown, limit: number): string | null {
    if (value === undefined) return null;
    return this.cutJson(value, limit, { left: limit, cut: false, changed: false });
  }

  private cutJson(value: unknown, limit: number, state: Budget): string {
    const json = this.jsonWithin(value, state, 0);
    // ASCII marker: one non-Latin-1 character would make the whole stored text a two-byte string to hash and bind.
    return state.cut ? `${json}...[cut at ${limit} characters]` : json;
  }

  /** JSON text of `value`, stopping once `budget.left` characters are spent (strings are cut inside). */
  private jsonWithin(value: unknown, budget: Budget, depth: number): string {
    if (budget.left <= 0) {
      budget.cut = true;
      return "";
    }
    if (typeof value === "string") {
      const clean = this.ordered.length > 0 ? this.text(value) : value;
      if (clean !== value) budget.changed = true;
      const over = clean.length > budget.left;
      let kept = over ? clean.slice(0, budget.left) : clean;
      // A tool's result is text, often a JSON document: its secret-looking keys are hidden as an object's are. After the
      // cut, which may end inside a value: the pattern takes the end of the text for the end of the value.
      const hidden = this.hideKeysInJsonText(kept);
      if (hidden !== kept) {
        budget.changed = true;
        kept = hidden;
      }
      let text = JSON.stringify(kept);
      // Escapes make the JSON text longer than the string (a control character takes six characters): a string that
      // fits by its characters may not fit as JSON, and is cut there too. Cut, it ends without its closing quote.
      if (over || text.length > budget.left + 2) {
        // Without escapes (the usual case) the string's characters fit by count: only the closing quote goes.
        text = text.slice(0, text.length === kept.length + 2 ? text.length - 1 : wholeJsonStringUnits(text, budget.left + 1));
        budget.cut = true;
      }
      budget.left -= text.length;
      return text;
    }
    if (value !== null && typeof value === "object") {
      if (depth > 64) {
        budget.changed = true;
        return '"[too deep]"';
      }
      const isArray = Array.isArray(value);
      const heldUnderName = !isArray && this.namesSecret(value as Record<string, unknown>);
      let out = isArray ? "[" : "{";
      budget.left -= 1;
      let first = true;
      const entries: [string, unknown][] = isArray ? (value as unknown[]).map((v, i) => [String(i), v]) : Object.entries(value as Record<string, unknown>);
      for (const [key, item] of entries) {
        if (item === undefined || typeof item === "function") continue;
        const head = `${first ? "" : ","}${isArray ? "" : `${JSON.stringify(this.ordered.length > 0 ? this.text(key) : key)}:`}`;
        first = false;
        budget.left -= head.length;
        let body: string;
        if (!isArray && item !== null && (this.isSecretKey(key) || (heldUnderName && key === "value")) && !(typeof item === "string" && SECRET_REFERENCE_ONLY.test(item))) {
          budget.changed = true;
          body = `"${REDACTED}"`;
          budget.left -= body.length;
        } else {
          body = this.jsonWithin(item, budget, depth + 1);
        }
        out += head + body;
        if (budget.cut) return out;
      }
      budget.left -= 1;
      return out + (isArray ? "]" : "}");
    }
    const text = JSON.stringify(value) ?? "null";
    budget.left -= text.length;
    return text;
  }
}

/**
 * How much of the JSON text of a string (`"…"`) fits in `limit` characters without ending inside an escape (`\\n`,
 * `\\u0001`) or between the two halves of a surrogate pair, which would leave a lone one in the stored text.
 */
function wholeJsonStringUnits(text: string, limit: number): number {
  let at = 1;
  while (at < text.length - 1) {
    const c = text.charCodeAt(at);
    const step = c === 0x5c ? (text.charCodeAt(at + 1) === 0x75 ? 6 : 2) : c >= 0xd800 && c <= 0xdbff ? 2 : 1;
    if (at + step > limit) break;
    at += step;
  }
  return at;
}

/** Where the list or object opening at `start` in JSON text ends (after its closing bracket), or the text's end when it is cut inside. */
function endOfNestedJson(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: brackets inside it do not count.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if ((c === 0x5d || c === 0x7d) && --depth === 0) return i + 1;
  }
  return text.length;
}

/**
 * A value as written, and as it reads once escaped in a JSON string (also with non-ASCII as \\uXXXX, as Python's
 * json.dumps writes it, and with "/" as "\\/", as PHP's json_encode does), percent-encoded (a URL, a form body)
 * and in base64 (standard and URL-safe, unpadded).
 * An upstream that echoes its request (a header in a JSON body, a credential in a redirect's query) quotes
 * a secret in these forms, which the plain value never matches.
 */
function encodedForms(value: string): Set<string> {
  const json = JSON.stringify(value).slice(1, -1);
  const asciiJson = json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const base64 = Buffer.from(value, "utf8").toString("base64").replace(/=+$/, "");
  return new Set([
    value,
    json,
    asciiJson,
    // PHP's json_encode also writes "/" as "\/" (a base64 credential holds slashes).
    json.replaceAll("/", "\\/"),
    asciiJson.replaceAll("/", "\\/"),
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
    base64,
    base64.replace(/\+/g, "-").replace(/\//g, "_"),
  ]);
}

interface Budget {
  left: number;
  cut: boolean;
  changed: boolean;
}

function fullSize(value: unknown): number | null {
  try {
    return JSON.stringify(value)?.length ?? null;
  } catch {
    return null;
  }
}
