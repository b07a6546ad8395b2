/**
 * The Prometheus text exposition format (version 0.0.4), written by hand:
 * a handful of families whose label sets are resolved once, so counting on
 * the request path is a property increment and nothing else.
 */

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type MetricType = "counter" | "gauge" | "histogram";

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** `{a="x",b="y"}` for the given names and values, or "" when there are none. Built once per series. */
export function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i]!)}"`).join(",")}}`;
}

/** A sample value: integers as integers, the rest in Go's shortest form, and the special values. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** `# HELP` and `# TYPE` lines; the help text escapes backslash and line feed. */
export function familyHeader(name: string, type: MetricType, help: string): string {
  return `# HELP ${name} ${help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}\n# TYPE ${name} ${type}\n`;
}

/** One counter or gauge series: its label text is fixed at creation. */
export class Series {
  value = 0;
  constructor(readonly labels: string) {}
}

/**
 * One histogram series. Observations land in per-bucket counts (not
 * cumulative) with a short scan; the cumulative form is built when scraped.
 */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: readonly [names: readonly string[], values: readonly string[]],
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The `_bucket`, `_sum` and `_count` lines of this series. */
  write(name: string): string {
    const [names, values] = this.labels;
    const withLe = [...names, "le"];
    let out = "";
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      out += `${name}_bucket${labelText(withLe, [...values, formatValue(this.bounds[i]!)])} ${formatValue(cumulative)}\n`;
    }
    out += `${name}_bucket${labelText(withLe, [...values, "+Inf"])} ${formatValue(this.count)}\n`;
    const plain = labelText(names, values);
    out += `${name}_sum${plain} ${formatValue(this.sum)}\n${name}_count${plain} ${formatValue(this.count)}\n`;
    return out;
  }
}

/** Sample lines for a set of series, e.g. every child of a counter family. */
export function writeSeries(name: string, series: Iterable<Series>): string {
  let out = "";
  for (const s of series) out += `${name}${s.labels} ${formatValue(s.value)}\n`;
  return out;
}
