import { describe, expect, test } from "bun:test";
import { Text } from "ink";
import { render } from "ink-testing-library";
import { useEffect, useState } from "react";
import { useKeys } from "../tui/components/useKeys.ts";

/**
 * The shape of every TUI screen: the list's keys are off while something
 * else has the keyboard (here a "busy" spell that ends on its own, as an
 * admin API call does). `j` is a list key.
 */
function BusyList({ seen, busyMs }: { seen: string[]; busyMs: number }) {
  const [busy, setBusy] = useState(true);
  useEffect(() => {
    const timer = setTimeout(() => setBusy(false), busyMs);
    return () => clearTimeout(timer);
  }, [busyMs]);
  useKeys(
    (input) => {
      seen.push(input);
    },
    { isActive: !busy },
  );
  return <Text>{busy ? "busy" : "list"}</Text>;
}

describe("useKeys", () => {
  test("a key pressed as soon as the screen shows it is ready is not lost", async () => {
    const seen: string[] = [];
    const { stdin, lastFrame, unmount } = render(<BusyList seen={seen} busyMs={30} />);
    // Press the key the moment the frame says "list", as a person who types ahead does.
    const deadline = performance.now() + 2000;
    while (lastFrame() !== "list" && performance.now() < deadline) await Bun.sleep(0);
    expect(lastFrame()).toBe("list");
    stdin.write("j");
    await Bun.sleep(30);
    expect(seen).toEqual(["j"]);
    unmount();
  });

  test("keys for an inactive handler are ignored", async () => {
    const seen: string[] = [];
    const { stdin, unmount } = render(<BusyList seen={seen} busyMs={60_000} />);
    await Bun.sleep(20);
    stdin.write("j");
    await Bun.sleep(20);
    expect(seen).toEqual([]);
    unmount();
  });
});
