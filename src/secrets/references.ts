/**
 * Secret references: `${secret:NAME}` inside connector env values and headers.
 * The gateway resolves them with the same pattern when it spawns or connects.
 */

/**
 * One `${secret:NAME}` reference; group 1 is NAME (the secret store's name syntax).
 * Global: use it with `replace`, `replaceAll` and `matchAll`, which reset it; not with
 * `test` or `exec`, which keep state in `lastIndex`.
 */
export const SECRET_REFERENCE = /\$\{secret:([A-Za-z][A-Za-z0-9_.-]{0,127})\}/g;

/** How every reference starts: text holding it anywhere else is refused, as it would be sent as written. */
export const REFERENCE_OPENING = "${secret:";

/** The secret names referenced by `value`, in order of first appearance, without repeats. */
export function secretReferencesIn(value: string): string[] {
  const names: string[] = [];
  for (const match of value.matchAll(SECRET_REFERENCE)) {
    const name = match[1];
    if (name !== undefined && !names.includes(name)) names.push(name);
  }
  return names;
}

/** An opening as a person may mistype it (`${SECRET:`, `${ secret :`): no reference, so it would be sent as written. */
const LOOSE_OPENING = /\$\{\s*secret\s*:/gi;

/**
 * Every `${secret:` in `value` (in any case, with spaces or not) that does not start a well-formed reference, as the
 * text a person would look for (up to the next `}` or a short excerpt).
 */
export function malformedSecretReferencesIn(value: string): string[] {
  const wellFormed = new Set<number>();
  for (const match of value.matchAll(SECRET_REFERENCE)) wellFormed.add(match.index);
  const malformed: string[] = [];
  for (const opening of value.matchAll(LOOSE_OPENING)) {
    if (!wellFormed.has(opening.index)) malformed.push(excerptFrom(value, opening.index, opening[0].length));
  }
  return malformed;
}

function excerptFrom(value: string, at: number, openingLength: number): string {
  const close = value.indexOf("}", at);
  const end = close === -1 ? value.length : close + 1;
  const limit = at + openingLength + 40;
  return end > limit ? `${value.slice(at, limit)}…` : value.slice(at, end);
}
