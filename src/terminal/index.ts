/**
 * Text others chose (a tool name a client called, an upstream's stderr line,
 * an audit record's fields) on its way to a terminal: the CLI's tables, the
 * TUI and the log. Raw, an ESC sequence would rewrite the admin's screen, a
 * line feed would print a forged row and a bidi override would reorder one.
 */

/**
 * Unicode's bidirectional controls (its Bidi_Control property: the marks U+061C, U+200E and U+200F, the embeddings and
 * overrides, the isolates): a terminal that reorders text for them draws a line other than the one written.
 */
const BIDI_CONTROLS = "\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069";
/**
 * The rest of Unicode's Default_Ignorable_Code_Point characters that terminals draw as nothing and no script needs to
 * spell a word: the soft hyphen, U+200B ZERO WIDTH SPACE, U+2060–U+2064 (word joiner, invisible operators), the
 * deprecated format controls U+206A–U+206F, U+FEFF, the shorthand and musical format controls, the tag characters
 * (U+E0000–U+E007F, which can spell a whole instruction a model reads: "ASCII smuggling"), and the code points Unicode
 * reserves as ignorable (U+2065, U+FFF0–U+FFF8, U+E0080–U+E00FF, U+E01F0–U+E0FFF), which a terminal draws as nothing too.
 * Left out, though ignorable too, as text needs them: U+200C/U+200D (ZWNJ, ZWJ: emoji sequences, Persian and Indic
 * spelling), the variation selectors U+FE00–U+FE0F and U+E0100–U+E01EF (U+FE0F makes most emoji; ideographic variants),
 * U+034F COMBINING GRAPHEME JOINER, the Mongolian selectors and vowel separator U+180B–U+180F, the Khmer inherent vowels
 * U+17B4/U+17B5, and the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0 (letters, drawn as blanks).
 */
const INVISIBLE_FORMATS = "\\u00ad\\u200b\\u2060-\\u2065\\u206a-\\u206f\\ufeff\\ufff0-\\ufff8\\u{1bca0}-\\u{1bca3}\\u{1d173}-\\u{1d17a}\\u{e0000}-\\u{e00ff}\\u{e01f0}-\\u{e0fff}";
/** What hides or reorders text without drawing anything: what a tool's description must not hold unnoticed. */
const INVISIBLE_CLASS = `[${BIDI_CONTROLS}${INVISIBLE_FORMATS}]`;
const INVISIBLE = new RegExp(INVISIBLE_CLASS, "gu");
/** Control characters, line and paragraph separators, and the invisible characters above. */
const UNPRINTABLE_CLASS = `[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029${BIDI_CONTROLS}${INVISIBLE_FORMATS}]`;
const HAS_UNPRINTABLE = new RegExp(UNPRINTABLE_CLASS, "u");
const UNPRINTABLE = new RegExp(UNPRINTABLE_CLASS, "gu");
const SHORT_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Whether `text` holds a character `printable` would escape: for a name that must be refused rather than shown escaped. */
export function hasUnprintable(text: string): boolean {
  return HAS_UNPRINTABLE.test(text);
}

/** What text of several lines (a description) must not hold: every unprintable character but line feeds and tabs. */
const UNWRITABLE_IN_LINES = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029${BIDI_CONTROLS}${INVISIBLE_FORMATS}]`, "u");

/**
 * For text an admin writes that is later shown on terminals and to AI clients (a Virtual MCP's name, its
 * description, a tool's description): the first character that has no place in it, in words
 * ("the control character U+001B"), or undefined when there is none. One line (`lines: false`) takes no
 * unprintable character at all; several lines take line feeds and tabs. Letters of any script and emoji pass.
 */
export function unwritableCharacterIn(text: string, options: { lines: boolean }): string | undefined {
  const found = (options.lines ? UNWRITABLE_IN_LINES : HAS_UNPRINTABLE).exec(text)?.[0];
  if (found === undefined) return undefined;
  const code = codePointOf(found);
  if (found === "\n" || found === "\r" || found === "\u2028" || found === "\u2029") return `the line break ${code}`;
  if (/^\p{Bidi_Control}$/u.test(found)) return `the bidirectional control ${code}`;
  if (found.codePointAt(0)! >= 0xe0000 && found.codePointAt(0)! <= 0xe007f) return `the invisible tag character ${code}`;
  return /^\p{Cc}$/u.test(found) ? `the control character ${code}` : `the invisible character ${code}`;
}

/** A character's code point as Unicode writes it: "U+200B", "U+E0041". */
export function codePointOf(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The invisible characters in `text` (bidirectional controls, tag characters, zero-width and other format characters), in order. */
export function invisibleCharactersIn(text: string): string[] {
  return text.match(INVISIBLE) ?? [];
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
 * `text` with each unprintable character drawn as a visible one of the same UTF-16 length: a control character as its
 * picture (a line feed as ␊, a tab as ␉), any other as �. For a text field being edited, whose cursor is an index into
 * the text: a value loaded with a line break (a description of several lines) drew the one-line field on two.
 */
export function visibleInPlace(text: string): string {
  if (!HAS_UNPRINTABLE.test(text)) return text;
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 ? String.fromCharCode(0x2400 + code) : code === 0x7f ? "\u2421" : "\ufffd".repeat(c.length);
  });
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
