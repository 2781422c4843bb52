/** Runs `op` from `concurrency` workers for `seconds`; every load is bounded in time. */
export interface LoadResult { ops: number; errors: number; throughput: number; p50: number; p99: number; firstError?: string }

export async function runLoad(op: (worker: number) => Promise<void>, concurrency: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await op(worker);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
        if (errors > 20 && errors > latencies.length) break;
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! : NaN;
  return { ops: latencies.length, errors, throughput: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), ...(firstError ? { firstError } : {}) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
