import { Text } from "ink";

/** A bar of `width` cells for done/total (▓ done, ░ to do), with the percentage; works without colour. */
export function progressText(done: number, total: number, width: number): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const cells = Math.max(4, width - 6);
  const filled = Math.round(ratio * cells);
  return `${"█".repeat(filled)}${"░".repeat(cells - filled)} ${String(Math.floor(ratio * 100)).padStart(3)}%`;
}

export function ProgressBar(props: { done: number; total: number; width: number }) {
  return <Text color="cyan">{progressText(props.done, props.total, props.width)}</Text>;
}
