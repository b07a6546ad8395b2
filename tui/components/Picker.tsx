import { Box, Text } from "ink";
import { useState } from "react";
import { fit } from "./text.ts";
import { useKeys } from "./useKeys.ts";

/** Picks one of `items`: ↑/↓ move, Enter picks, Esc cancels. */
export function Picker(props: { title: string; items: string[]; onPick: (item: string) => void; onCancel: () => void; width: number; height?: number; empty?: string }) {
  const [selected, setSelected] = useState(0);
  useKeys((_input, key) => {
    if (key.escape) return props.onCancel();
    if (key.upArrow) return setSelected((s) => Math.max(0, s - 1));
    // Never below the first row: ↓ before the items arrived (they load) made it -1, and Enter then picked nothing.
    if (key.downArrow) return setSelected((s) => Math.max(0, Math.min(props.items.length - 1, s + 1)));
    if (key.return && props.items[selected] !== undefined) return props.onPick(props.items[selected]!);
  });
  const height = Math.max(1, (props.height ?? 8) - 3);
  const start = Math.min(Math.max(0, selected - Math.floor(height / 2)), Math.max(0, props.items.length - height));
  const inner = Math.max(10, props.width - 4);
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>{fit(props.title, inner)}</Text>
      {props.items.length === 0 ? <Text dimColor>{fit(props.empty ?? "Nothing to pick.", inner)}</Text> : null}
      {props.items.slice(start, start + height).map((item, i) => (
        <Text key={item} inverse={start + i === selected}>
          {fit(`${start + i === selected ? "›" : " "} ${item}`, inner)}
        </Text>
      ))}
      <Text dimColor>{fit("↑↓ move · Enter pick · Esc cancel", inner)}</Text>
    </Box>
  );
}
