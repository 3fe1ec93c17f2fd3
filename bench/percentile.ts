/**
 * The benchmarks' percentile: the nearest-rank value (no interpolation), rounded to hundredths.
 *
 * @example
 * percentile([5, 1, 9, 3], 50); // 3
 */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, index)] ?? NaN) * 100) / 100;
}
