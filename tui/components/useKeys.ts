import { useInput, type Key } from "ink";
import { createContext, useContext } from "react";

/**
 * True while something above a screen has the keyboard (the help overlay):
 * the screen stays mounted, with its state, but hears no keys.
 */
export const KeysPaused = createContext(false);

/**
 * Ink's `useInput`, but a handler that is switched off stays subscribed and
 * ignores keys instead. Ink (re)subscribes a handler in an effect that runs
 * after the render, so a key that arrives between the two (a fast typist, a
 * paste, two keys in one read) was lost whenever a screen had just switched
 * a handler back on, e.g. right after closing an overlay. Ink calls the
 * handler of the latest render, so `isActive` here is always current.
 */
export function useKeys(handler: (input: string, key: Key) => void, options: { isActive?: boolean; modifiers?: boolean } = {}): void {
  const paused = useContext(KeysPaused);
  const active = (options.isActive ?? true) && !paused;
  useInput((input, key) => {
    if (!active) return;
    // Ink gives Ctrl-Y as "y" with a flag: a handler that reads plain letters took it for the letter, so Ctrl-Y
    // confirmed a deletion and Ctrl-R (the form's secret key, pressed after the form closed) restarted a
    // connector. Only handlers that read Ctrl keys (forms, text fields) hear them. Alt-letters still pass: Esc
    // typed fast before a letter arrives as one, and the letter was meant.
    if (key.ctrl && !options.modifiers && input.length === 1) return;
    handler(input, key);
  });
}
