/**
 * Reading the admin API's small JSON bodies and query values at the edge:
 * each field is checked against its type, and a wrong one is a 400 naming
 * it. Coercing (String(x), Number(x)) would turn `{"role": ["admin"]}` into
 * a role, or `"expires": 30` into a token that never expires.
 */
import { invalid, unknownName } from "../errors/index.ts";

type FieldType = "string" | "boolean" | "string[]";
type ValueOf<T extends FieldType> = T extends "string" ? string : T extends "boolean" ? boolean : string[];
export type Fields<S extends Record<string, FieldType>> = { [K in keyof S]?: ValueOf<S[K]> };

const TYPE_WORDS: Record<FieldType, string> = { string: "a string", boolean: "true or false", "string[]": "a list of strings" };

function hasType(value: unknown, type: FieldType): boolean {
  if (type === "string[]") return Array.isArray(value) && value.every((item) => typeof item === "string");
  return typeof value === type;
}

/** The fields of `body` (`what` names it in errors); null counts as absent, an unknown field is refused. */
export function bodyFields<S extends Record<string, FieldType>>(body: unknown, schema: S, what: string): Fields<S> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw invalid(`Send ${what} as a JSON object.`);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    // Own fields only: "__proto__" or "toString" would otherwise find Object.prototype's and be refused as "must be undefined".
    const type = Object.hasOwn(schema, key) ? schema[key] : undefined;
    if (type === undefined) throw unknownName(key, "field", what, Object.keys(schema));
    if (!hasType(value, type)) throw invalid(`${key} must be ${TYPE_WORDS[type]}.`);
    fields[key] = value;
  }
  return fields as Fields<S>;
}

/**
 * How deep an admin API body may nest. Connector specs and approvals nest a few levels; thousands would overflow the
 * recursion of the checks behind them (a 500 after seconds of work) instead of a 400.
 */
export const BODY_DEPTH_MAX = 64;

/** Refuses a parsed JSON body nested deeper than BODY_DEPTH_MAX; walked without recursion, so any depth is safe to check. */
export function checkBodyDepth(body: unknown): void {
  const pending: [unknown, number][] = [[body, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > BODY_DEPTH_MAX) throw invalid(`The request body nests deeper than ${BODY_DEPTH_MAX} levels; send a flatter JSON value.`);
    for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
}

/**
 * What the admin API's body parser gives for a body that is not UTF-8, for the route's checks to refuse after the
 * token (without it, nothing is said about a route or its body): read leniently, each bad byte would become U+FFFD.
 */
export const NOT_UTF8_BODY = Symbol("a body that is not UTF-8");

/** A body's bytes as text (a UTF-8 BOM dropped), or undefined when they are not UTF-8. */
export function utf8TextOf(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** A query value that must be a whole number from `min` to `max` when given. */
export function wholeNumberParam(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) throw invalid(`${name} must be a whole number from ${min} to ${max}, not "${raw}".`);
  return value;
}

/** A query switch: true, false, 1 or 0 (absent is false); anything else is refused rather than read as false. */
export function switchParam(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === "" || raw === "false" || raw === "0") return false;
  if (raw === "true" || raw === "1") return true;
  throw invalid(`${name} must be true or false, not "${raw}".`);
}

/**
 * The revision a client expects a resource to have, from its precondition
 * headers: `If-Match: "<revision>"` (it must be unchanged), `If-None-Match: *`
 * (it must not exist yet), or undefined (no precondition: last write wins).
 */
export function expectedRevisionOf(headers: Headers): string | null | undefined {
  if (headers.get("if-none-match")?.trim() === "*") return null;
  const ifMatch = headers.get("if-match")?.trim();
  if (ifMatch === undefined || ifMatch === "" || ifMatch === "*") return undefined;
  const tag = /^(?:W\/)?"([^"]*)"$/.exec(ifMatch)?.[1] ?? (ifMatch.includes('"') || ifMatch.includes(",") ? undefined : ifMatch);
  if (tag === undefined) throw invalid('If-Match must be the one revision the GET answered, as "<revision>".');
  return tag;
}

/**
 * Refuses a query parameter that `route` (as "METHOD /path") does not read: ignored, `?dryrun=true` applied a config
 * for real, `GET /users?role=admin` listed everyone and `/audit/export?limit=5` exported the whole trail.
 */
export function checkQueryNames(query: Record<string, unknown>, allowed: readonly string[], route: string): void {
  for (const name of Object.keys(query)) {
    if (!allowed.includes(name)) throw unknownName(name, "query parameter", route, allowed);
  }
}

/** Refuses a body sent to `route`, which reads none; no body, an empty one or `{}` passes. */
export function checkNoBody(body: unknown, route: string): void {
  if (body === undefined || body === null || (typeof body === "object" && !Array.isArray(body) && Object.keys(body).length === 0)) return;
  throw invalid(`${route} takes no request body; send none (or {}).`);
}
