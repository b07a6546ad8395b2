import { useInput, usePaste, useStdin, type Key } from "ink";
import type { EventEmitter } from "node:events";
import { createContext, useContext, useLayoutEffect, useRef } from "react";

/**
 * True while something above a screen has the keyboard (the help overlay):
 * the screen stays mounted, with its state, but hears no keys.
 */
export const KeysPaused = createContext(false);

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The pieces of one input event as Ink hands it over: Ink splits off escape sequences (arrows, Esc) and
 * Backspace, but gives the rest of a read as one string, so "abc\r" from a fast typist, a script or a slow link
 * was "abc" to a text field and nothing to the form: its Enter was lost. Here each control character (Enter,
 * Tab, Ctrl-letters) is a piece of its own, between runs of printable text.
 */
export function piecesOf(input: string): string[] {
  if (input.startsWith("\u001b") || input.length <= 1) return [input];
  return input.split(/([\u0000-\u001f\u007f])/).filter((piece) => piece !== "");
}

/** The keys that arrived together, and whether a text field is taking typed text now (see `takesText`). */
interface KeyLine {
  queue: { event: string; payload: unknown }[];
  draining: boolean;
  textTakers: Set<() => boolean>;
}

const lines = new WeakMap<EventEmitter, KeyLine>();

/**
 * Makes Ink's input events arrive one key at a time, each after the screen has been redrawn for the one before.
 * Keys from one read were handled in one go, all against the state from before the first: after "x", ↓, "y"
 * the "y" went into the field the ↓ had left, and "text" + Enter submitted the form without the text. The
 * first key is handled at once, the rest on later turns of the event loop (React has rendered by then, so a
 * form opened by one key hears the next). A run of text goes whole to a text field that is taking text (one
 * render, not one a character: a long line typed by a script) and otherwise a character at a time, so "jjd"
 * over a list is three keys. Pastes wait their turn in the same line.
 */
function keyLineOf(emitter: EventEmitter): KeyLine {
  const known = lines.get(emitter);
  if (known) return known;
  const line: KeyLine = { queue: [], draining: false, textTakers: new Set() };
  lines.set(emitter, line);
  const emit = emitter.emit.bind(emitter);
  const drain = () => {
    const next = line.queue[0];
    if (!next) {
      line.draining = false;
      return;
    }
    const { event, payload } = next;
    const text = event === "input" && typeof payload === "string" && !payload.startsWith("\u001b") && !CONTROL.test(payload);
    if (text && ![...line.textTakers].some((taking) => taking())) {
      const first = graphemes.segment(payload).containing(0)!.segment;
      if (first.length < payload.length) next.payload = payload.slice(first.length);
      else line.queue.shift();
      emit(event, first);
    } else {
      line.queue.shift();
      emit(event, payload);
    }
    // A timer, not setImmediate: under Bun an immediate queued from an immediate waited for the next timer or I/O.
    setTimeout(drain, 0);
  };
  emitter.emit = (event: string | symbol, ...args: unknown[]) => {
    if (event !== "input" && event !== "paste") return emit(event, ...args);
    const [payload] = args;
    const pieces = event === "input" && typeof payload === "string" ? piecesOf(payload) : [payload];
    for (const piece of pieces) line.queue.push({ event, payload: piece });
    if (!line.draining) {
      line.draining = true;
      drain();
    }
    return true;
  };
  return line;
}

/**
 * Ink's `useInput`, but a handler that is switched off stays subscribed and
 * ignores keys instead. Ink (re)subscribes a handler in an effect that runs
 * after the render, so a key that arrives between the two (a fast typist, a
 * paste, two keys in one read) was lost whenever a screen had just switched
 * a handler back on, e.g. right after closing an overlay. Ink calls the
 * handler of the latest render, so `isActive` here is always current.
 * Keys that arrive together are handled one by one, in order (keyLineOf);
 * `takesText` says the handler takes a run of typed text as well as one key.
 * `onPaste` takes a bracketed paste (the terminal marks pasted text) as text
 * only: its line breaks and Tabs never act as Enter or Tab.
 */
export function useKeys(handler: (input: string, key: Key) => void, options: { isActive?: boolean; modifiers?: boolean; onPaste?: (text: string) => void; takesText?: boolean } = {}): void {
  const paused = useContext(KeysPaused);
  const active = (options.isActive ?? true) && !paused;
  const line = keyLineOf((useStdin() as unknown as { internal_eventEmitter: EventEmitter }).internal_eventEmitter);
  const activeNow = useRef(active);
  activeNow.current = active;
  useLayoutEffect(() => {
    if (!options.takesText) return;
    const taking = () => activeNow.current;
    line.textTakers.add(taking);
    return () => void line.textTakers.delete(taking);
  }, [line, options.takesText]);
  useInput((input, key) => {
    if (!active) return;
    // Ink gives Ctrl-Y as "y" with a flag: a handler that reads plain letters took it for the letter, so Ctrl-Y
    // confirmed a deletion and Ctrl-R (the form's secret key, pressed after the form closed) restarted a
    // connector. Only handlers that read Ctrl keys (forms, text fields) hear them. Alt-letters still pass: Esc
    // typed fast before a letter arrives as one, and the letter was meant.
    if (key.ctrl && !options.modifiers && input.length === 1) return;
    handler(input, key);
  });
  usePaste(
    (text) => {
      if (active) options.onPaste?.(text);
    },
    { isActive: options.onPaste !== undefined },
  );
}
