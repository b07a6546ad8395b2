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

/**
 * Every `${secret:` in `value` that does not start a well-formed reference, as the text
 * a person would look for (up to the next `}` or a short excerpt).
 */
export function malformedSecretReferencesIn(value: string): string[] {
  const wellFormed = new Set<number>();
  for (const match of value.matchAll(SECRET_REFERENCE)) wellFormed.add(match.index);
  const malformed: string[] = [];
  let at = value.indexOf(REFERENCE_OPENING);
  while (at !== -1) {
    if (!wellFormed.has(at)) malformed.push(excerptFrom(value, at));
    at = value.indexOf(REFERENCE_OPENING, at + REFERENCE_OPENING.length);
  }
  return malformed;
}

function excerptFrom(value: string, at: number): string {
  const close = value.indexOf("}", at);
  const end = close === -1 ? value.length : close + 1;
  const limit = at + REFERENCE_OPENING.length + 40;
  return end > limit ? `${value.slice(at, limit)}…` : value.slice(at, end);
}
