/**
 * Summaries of samples: percentiles, the median, and timing helpers.
 */

/**
 * The `p`-th percentile by nearest rank: the smallest sample that at
 * least `p` % of the samples do not exceed. With 20 samples, p99 is the
 * largest.
 *
 * @param p from 0 to 100
 * @returns NaN for no samples
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The middle sample (the lower one for an even count). */
export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return NaN;
  return samples.reduce((sum, value) => sum + value, 0) / samples.length;
}

/** Runs `work` and resolves with how long it took, milliseconds. */
export async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Runs `work` `count` times, one after another; resolves with each ms. */
export async function timedEach(
  count: number,
  work: (index: number) => Promise<unknown>
): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < count; index++) {
    times.push(await timed(() => work(index)));
  }
  return times;
}

/**
 * Bytes to megabytes (10^6 bytes): the targets are stated in MB, and
 * the decimal unit is the stricter reading of them.
 */
export function mb(bytes: number): number {
  return bytes / 1e6;
}
