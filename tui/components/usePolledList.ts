import { useCallback, useEffect, useRef, useState } from "react";

/**
 * A list loaded now and every `everyMs`, sorted by `keyOf`, with a selection
 * kept inside it. Loads may overlap (the periodic one and one after a change):
 * an older answer never replaces a newer one. `alive` is false once the screen
 * is gone, for the screen's own callbacks. `reload()` resolves to the list it
 * loaded (undefined when it failed or was overtaken), e.g. to select a new item.
 */
export function usePolledList<T>(load: () => Promise<T[]>, keyOf: (item: T) => string, everyMs: number) {
  const [list, setList] = useState<T[]>();
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState(0);
  const alive = useRef(true);
  const loads = useRef({ started: 0, shown: 0 });
  const loader = useRef(load);
  loader.current = load;
  const keyRef = useRef(keyOf);
  keyRef.current = keyOf;

  const reload = useCallback((): Promise<T[] | undefined> => {
    const id = ++loads.current.started;
    return loader.current().then(
      (unsorted) => {
        if (!alive.current || id < loads.current.shown) return undefined;
        loads.current.shown = id;
        const sorted = unsorted.slice().sort((a, b) => keyRef.current(a).localeCompare(keyRef.current(b)));
        setList(sorted);
        setError(undefined);
        setSelected((s) => Math.min(s, Math.max(0, sorted.length - 1)));
        return sorted;
      },
      (e: Error) => {
        if (alive.current) setError(e.message);
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
  }, [reload, everyMs]);

  /** Reloads, then selects the item with `key` if it is there. */
  const reloadAndSelect = useCallback(
    async (key: string) => {
      const loaded = await reload();
      const at = loaded?.findIndex((item) => keyRef.current(item) === key) ?? -1;
      if (at >= 0) setSelected(at);
    },
    [reload],
  );

  return { list, error, selected, setSelected, reload, reloadAndSelect, alive };
}
