/**
 * How deeply a message, a client's or an upstream's, may nest arrays and objects. JSON.parse reads any
 * depth, but writing a value again (to an upstream, to the audit trail, to the client) with JSON.stringify
 * takes about a second of the gateway's only thread once it nests some 25,000 levels, and throws a little
 * deeper: five 60 KB requests of `[[[…]]]` held every other client's answers for four seconds. MCP
 * messages (JSON schemas included) nest tens of levels; this leaves far more room than any needs.
 */
export const NESTING_LIMIT = 10_000;

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_ARRAY = 91;
const OPEN_OBJECT = 123;
const CLOSE_ARRAY = 93;
const CLOSE_OBJECT = 125;

/**
 * True when `text`, JSON that JSON.parse accepted, nests arrays and objects more than NESTING_LIMIT levels
 * deep. Every level takes two characters, so a text of up to twice the limit (nearly every message) is
 * not read at all; nor is one with fewer opening brackets than the limit, counted by indexOf (a 64 KB call
 * of rows: about 1,200 hops, where reading it took 85 µs); only the rest is read once (3.4 MB of rows in
 * about a seventh of JSON.parse's time).
 */
export function nestsTooDeeply(text: string): boolean {
  if (text.length <= 2 * NESTING_LIMIT || !opensAtLeast(text, "{", "[", NESTING_LIMIT + 1)) return false;
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i + 1);
      if (i === -1) return false;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > NESTING_LIMIT) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** Whether `text` holds at least `count` of `a` and `b` together (inside strings too: an upper bound of the depth). */
function opensAtLeast(text: string, a: string, b: string, count: number): boolean {
  let seen = 0;
  for (const bracket of [a, b]) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) if (++seen >= count) return true;
  }
  return false;
}

/** Where the string whose text starts at `from` ends (its closing quote), or -1. */
function endOfString(text: string, from: number): number {
  // Short strings (most keys and values) character by character; a long one by indexOf.
  const shortEnd = Math.min(from + 32, text.length);
  for (let i = from; i < shortEnd; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  // Past the first 32 characters: the next quote not preceded by an odd run of backslashes.
  let end = text.indexOf('"', shortEnd);
  while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1);
  return end;
}

function escaped(text: string, quote: number): boolean {
  let backslashes = 0;
  for (let i = quote - 1; i >= 0 && text.charCodeAt(i) === BACKSLASH; i--) backslashes++;
  return backslashes % 2 === 1;
}
