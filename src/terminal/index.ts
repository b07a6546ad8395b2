/**
 * Text others chose (a tool name a client called, an upstream's stderr line,
 * an audit record's fields) on its way to a terminal: the CLI's tables, the
 * TUI and the log. Raw, an ESC sequence would rewrite the admin's screen, a
 * line feed would print a forged row and a bidi override would reorder one.
 */

/**
 * Control characters, line and paragraph separators, bidirectional overrides, and Unicode tag characters
 * (U+E0000–U+E007F): invisible, they can spell out a whole instruction ("ASCII smuggling") that a model reads
 * and an admin approving a tool's description would not see.
 */
const UNPRINTABLE_CLASS = "[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\u{e0000}-\\u{e007f}]";
const HAS_UNPRINTABLE = new RegExp(UNPRINTABLE_CLASS, "u");
const UNPRINTABLE = new RegExp(UNPRINTABLE_CLASS, "gu");
const SHORT_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Whether `text` holds a character `printable` would escape: for a name that must be refused rather than shown escaped. */
export function hasUnprintable(text: string): boolean {
  return HAS_UNPRINTABLE.test(text);
}

/** What text of several lines (a description) must not hold: every unprintable character but line feeds and tabs. */
const UNWRITABLE_IN_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u{e0000}-\u{e007f}]/u;

/**
 * For text an admin writes that is later shown on terminals and to AI clients (a Virtual MCP's name, its
 * description, a tool's description): the first character that has no place in it, in words
 * ("the control character U+001B"), or undefined when there is none. One line (`lines: false`) takes no
 * unprintable character at all; several lines take line feeds and tabs. Letters of any script and emoji pass.
 */
export function unwritableCharacterIn(text: string, options: { lines: boolean }): string | undefined {
  const found = (options.lines ? UNWRITABLE_IN_LINES : HAS_UNPRINTABLE).exec(text)?.[0];
  if (found === undefined) return undefined;
  const code = `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  if (found === "\n" || found === "\r" || found === "\u2028" || found === "\u2029") return `the line break ${code}`;
  if (found.codePointAt(0)! >= 0xe0000) return `the invisible tag character ${code}`;
  return found >= "\u202a" ? `the bidirectional control ${code}` : `the control character ${code}`;
}

/** `text` with every unprintable character replaced by a space: for a name others chose that is stored readable rather than refused (a provider's display name). */
export function unprintableAsSpaces(text: string): string {
  return text.replace(UNPRINTABLE, " ");
}

/** `printable` for a message of several lines (one problem per line): its line feeds stay, every other unprintable character is escaped. */
export function printableLines(text: string): string {
  return text.includes("\n") ? text.split("\n").map(printable).join("\n") : printable(text);
}

/**
 * `text` with every unprintable character written as an escape (`\n`, `\u001b`; a tag character as its two UTF-16
 * halves, `\udb40\udc41`, so that escaped JSON still parses back to the same text); text without any is returned as it is.
 */
export function printable(text: string): string {
  if (!HAS_UNPRINTABLE.test(text)) return text;
  const escape = (unit: number) => `\\u${unit.toString(16).padStart(4, "0")}`;
  return text.replace(UNPRINTABLE, (c) => SHORT_ESCAPES[c] ?? [...Array(c.length).keys()].map((i) => escape(c.charCodeAt(i))).join(""));
}

/**
 * An argument as it must be typed into a POSIX shell to arrive unchanged, for a command line a message suggests
 * (`--data '/srv/my data'`): as it is when that is safe, else in single quotes.
 */
export function shellWord(arg: string): string {
  return /^[\w./:@=,+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

/** A count with its noun, singular for one: "1 record", "3 records". Shared by the CLI and the TUI, so neither says "1 records" or "record(s)". */
export function counted(count: number, noun: string): string {
  return `${count} ${count === 1 ? noun : `${noun}s`}`;
}

/** Items as an English list: "a", "a and b", "a, b and c"; for sentences that name several things ("used by connectors …"). */
export function joinedWithAnd(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)}` : (items[0] ?? "");
}
