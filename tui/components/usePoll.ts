import { useCallback, useEffect, useRef, useState } from "react";

/**
 * Loads `load()` now and every `everyMs` (0: only now and on `reload()`),
 * keeping the last value and the last error's sentence. Loads may overlap
 * (the periodic one and a reload after a change): an older answer never
 * replaces a newer one. `reload()` resolves to what it loaded, or undefined
 * when it failed or was overtaken; `alive` turns false once the screen is
 * gone, for the screen's own callbacks. An answer equal to the last keeps the
 * value it had (the same object), so nothing redraws.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []) {
  const [state, setState] = useState<{ value: T | undefined; error: string | undefined }>({ value: undefined, error: undefined });
  const loader = useRef(load);
  loader.current = load;
  const alive = useRef(true);
  const loads = useRef({ started: 0, shown: 0 });

  const reload = useCallback((): Promise<T | undefined> => {
    const id = ++loads.current.started;
    return loader.current().then(
      (value) => {
        if (!alive.current || id < loads.current.shown) return undefined;
        loads.current.shown = id;
        // An answer equal to the one shown keeps it: a poll that found no change redraws nothing (150 connectors
        // every 2 s, a Virtual MCP's 1,000 tools every 3 s).
        setState((s) => (s.error === undefined && Bun.deepEquals(s.value, value) ? s : { value, error: undefined }));
        return value;
      },
      (e: Error) => {
        if (alive.current) setState((s) => ({ value: s.value, error: e.message }));
        return undefined;
      },
    );
  }, []);

  useEffect(() => {
    alive.current = true;
    void reload();
    const timer = everyMs > 0 ? setInterval(() => void reload(), everyMs) : undefined;
    return () => {
      alive.current = false;
      clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [everyMs, reload, ...deps]);

  return { value: state.value, error: state.error, reload, alive };
}
