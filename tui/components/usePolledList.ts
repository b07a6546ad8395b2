import { useCallback, useEffect, useState } from "react";
import { usePoll } from "./usePoll.ts";

/**
 * A polled list (see usePoll), sorted by `keyOf`, with a selection kept
 * inside it; `reloadAndSelect(key)` reloads and selects that item (after
 * adding or editing it).
 */
export function usePolledList<T>(load: () => Promise<T[]>, keyOf: (item: T) => string, everyMs: number) {
  const { value: list, error, reload: reloadRaw, alive } = usePoll(
    () => load().then((items) => items.slice().sort((a, b) => keyOf(a).localeCompare(keyOf(b)))),
    everyMs,
  );
  const [selected, setSelected] = useState(0);
  useEffect(() => setSelected((s) => Math.min(s, Math.max(0, (list?.length ?? 1) - 1))), [list]);
  const reload = reloadRaw;
  const reloadAndSelect = useCallback(
    async (key: string) => {
      const loaded = await reloadRaw();
      const at = loaded?.findIndex((item) => keyOf(item) === key) ?? -1;
      if (at >= 0) setSelected(at);
    },
    // keyOf is a pure function of the item; the latest one is always right.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [reloadRaw],
  );
  return { list, error, selected, setSelected, reload, reloadAndSelect, alive };
}
