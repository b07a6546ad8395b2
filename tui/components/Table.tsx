import { Box, Text } from "ink";
import { fit } from "./text.ts";

export interface Column {
  title: string;
  /** Fixed width in columns; columns without one share what is left. */
  width?: number;
  /** Cut long values in the middle (paths, URLs) rather than at the end. */
  middle?: boolean;
}

/**
 * A table that fits its width: fixed columns keep their width, the others
 * share the rest; every cell is cut with … rather than wrapped. Shows the
 * rows around `selected` when there are more than `height`.
 */
export function Table(props: { columns: Column[]; rows: string[][]; width: number; height: number; selected?: number; colorOf?: (row: number) => string | undefined; empty?: string }) {
  const { columns, rows, width } = props;
  const gaps = columns.length - 1;
  const fixed = columns.reduce((sum, c) => sum + (c.width ?? 0), 0);
  const flexible = columns.filter((c) => c.width === undefined).length;
  const share = flexible > 0 ? Math.max(4, Math.floor((width - fixed - gaps) / flexible)) : 0;
  const widths = columns.map((c) => c.width ?? share);
  const line = (cells: string[]) => cells.map((cell, i) => fit(cell ?? "", widths[i]!, { pad: i < cells.length - 1, middle: columns[i]!.middle })).join(" ");
  const height = Math.max(1, props.height);
  const selected = props.selected ?? -1;
  const start = rows.length <= height ? 0 : Math.min(Math.max(0, selected - Math.floor(height / 2)), rows.length - height);
  const visible = rows.slice(start, start + height);
  return (
    <Box flexDirection="column">
      <Text bold>{fit(line(columns.map((c) => c.title)), width)}</Text>
      {rows.length === 0 ? <Text dimColor>{fit(props.empty ?? "Nothing here yet.", width)}</Text> : null}
      {visible.map((row, i) => {
        const index = start + i;
        const isSelected = index === selected;
        return (
          <Text key={index} inverse={isSelected} color={props.colorOf?.(index)}>
            {fit(line(row), width)}
          </Text>
        );
      })}
      {rows.length > height ? <Text dimColor>{fit(`${start + 1}–${start + visible.length} of ${rows.length}`, width)}</Text> : null}
    </Box>
  );
}
