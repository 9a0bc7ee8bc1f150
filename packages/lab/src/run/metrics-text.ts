/**
 * Sums the samples of one metric in a Prometheus text exposition (every label set; a histogram's
 * or summary's series are not included unless named). Null when the metric does not appear.
 *
 * @example
 * ```ts
 * sumMetric('stateline_store_operations_total{op="get"} 3\nstateline_store_operations_total{op="update"} 2\n', 'stateline_store_operations_total'); // 5
 * ```
 */
export function sumMetric(text: string, name: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(
      rest
        .slice(rest[0] === '{' ? rest.lastIndexOf('}') + 1 : 0)
        .trim()
        .split(/\s+/)[0],
    );
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}
