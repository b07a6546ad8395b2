import { useEffect, useRef, useState } from "react";

/**
 * Loads `load()` now and every `everyMs`, keeping the last value and the
 * last error's sentence; never overlaps two loads, stops on unmount.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []): { value: T | undefined; error: string | undefined } {
  const [state, setState] = useState<{ value: T | undefined; error: string | undefined }>({ value: undefined, error: undefined });
  const loader = useRef(load);
  loader.current = load;
  useEffect(() => {
    let cancelled = false;
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      loader.current().then(
        (value) => !cancelled && setState({ value, error: undefined }),
        (e: Error) => !cancelled && setState((s) => ({ value: s.value, error: e.message })),
      ).finally(() => (running = false));
    };
    tick();
    const timer = setInterval(tick, everyMs);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [everyMs, ...deps]);
  return state;
}
