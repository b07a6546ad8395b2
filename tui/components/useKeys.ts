import { useInput, type Key } from "ink";

/**
 * Ink's `useInput`, but a handler that is switched off stays subscribed and
 * ignores keys instead. Ink (re)subscribes a handler in an effect that runs
 * after the render, so a key that arrives between the two (a fast typist, a
 * paste, two keys in one read) was lost whenever a screen had just switched
 * a handler back on, e.g. right after closing an overlay. Ink calls the
 * handler of the latest render, so `isActive` here is always current.
 */
export function useKeys(handler: (input: string, key: Key) => void, options: { isActive?: boolean } = {}): void {
  const active = options.isActive ?? true;
  useInput((input, key) => {
    if (active) handler(input, key);
  });
}
