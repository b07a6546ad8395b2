import { codePointOf, counted, invisibleCharactersIn, joinedWithAnd, printable } from "../terminal/index.ts";

/**
 * Invisible characters in an upstream's definition of a tool, prompt or resource (see invisibleCharactersIn): a model
 * reads them, a person reading the definition on a terminal or web page sees nothing, and tag characters can spell a
 * whole instruction. Under `newTools: auto` nobody reviews a definition before clients get it, so they are said
 * (logged, and shown as a Virtual MCP's problem), never stripped: clients get the definition as the upstream wrote it.
 */
export interface InvisibleText {
  /** The definition's fields that hold them ("description", "inputSchema"), in its order. */
  fields: string[];
  count: number;
  /** The different code points, lowest first ("U+200B"): never the characters, which would hide in a log line too. */
  codePoints: string[];
}

/** How many different code points a sentence names before it says "…". */
const CODE_POINTS_NAMED = 8;

/** What invisible characters `definition` holds in its keys and texts, nested ones included; undefined when none. */
export function invisibleTextIn(definition: object): InvisibleText | undefined {
  const fields: string[] = [];
  const found: string[] = [];
  for (const [field, value] of Object.entries(definition)) {
    // JSON keeps these characters as they are (it escapes only control characters and lone surrogates): every key and text of the field in one string.
    const inField = invisibleCharactersIn(JSON.stringify([field, value]));
    if (inField.length === 0) continue;
    fields.push(printable(field));
    found.push(...inField);
  }
  if (found.length === 0) return undefined;
  const codePoints = [...new Set(found.map((c) => c.codePointAt(0)!))].sort((a, b) => a - b).map((c) => codePointOf(String.fromCodePoint(c)));
  return { fields, count: found.length, codePoints };
}

/** `found` in words: "15 invisible characters in its description (U+E0020, U+E0061, …)". */
export function invisibleTextSaid(found: InvisibleText): string {
  const named = found.codePoints.slice(0, CODE_POINTS_NAMED).join(", ");
  return `${counted(found.count, "invisible character")} in its ${joinedWithAnd(found.fields)} (${named}${found.codePoints.length > CODE_POINTS_NAMED ? ", …" : ""})`;
}
