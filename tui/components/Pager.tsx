import { Box, Text } from "ink";
import { useState, type ReactNode } from "react";
import { fit } from "./text.ts";
import { useKeys } from "./useKeys.ts";

/** One line of a pager: text already fitted to the box, and how it is drawn. */
export type PagerLine = string | { text: string; bold?: boolean; dim?: boolean; color?: string };

/**
 * Lines to read in a round box under a title, within `height` rows: ↑↓ PgUp PgDn (space too) scroll when they
 * are taller than that; Esc, Enter or Backspace closes. The lines must fit `width - 4` columns (border and padding).
 */
export function Pager(props: { title: ReactNode; lines: PagerLine[]; width: number; height: number; onClose: () => void }) {
  const { lines, width } = props;
  const rows = Math.max(3, props.height - 4);
  const [top, setTop] = useState(0);
  const maxTop = Math.max(0, lines.length - rows);
  useKeys((input, key) => {
    if (key.escape || key.return || key.backspace || key.delete) return props.onClose();
    if (key.downArrow || input === "j") setTop((t) => Math.min(maxTop, t + 1));
    if (key.upArrow || input === "k") setTop((t) => Math.max(0, t - 1));
    if (key.pageDown || input === " ") setTop((t) => Math.min(maxTop, t + rows));
    if (key.pageUp) setTop((t) => Math.max(0, t - rows));
  });
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1} width={width}>
      {props.title}
      {lines.slice(top, top + rows).map((line, i) => {
        const { text, ...style } = typeof line === "string" ? { text: line } : line;
        return (
          // An empty Text takes no row: a blank line is a space.
          <Text key={top + i} bold={style.bold} dimColor={style.dim} color={style.color}>
            {text === "" ? " " : text}
          </Text>
        );
      })}
      <Text dimColor>{fit(`${lines.length > rows ? `lines ${top + 1}–${Math.min(lines.length, top + rows)} of ${lines.length} · ↑↓ PgUp PgDn scroll · ` : ""}Esc close`, width - 4)}</Text>
    </Box>
  );
}
