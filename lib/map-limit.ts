/**
 * `Promise.all(items.map(fn))` with at most `limit` calls in flight, results in the items' order. For file work
 * over thousands of ports: one call at a time waits on libuv's thread pool once per file in turn; unbounded, it
 * queues thousands of requests ahead of the DHCP and TFTP servers' own.
 */
import { setImmediate } from "node:timers/promises";

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  opts: { readonly yieldEvery?: number } = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  // Calls that complete without I/O (answered from a cache) never leave the microtask queue: every `yieldEvery`
  // items every worker waits at one gate while the event loop runs (DHCP and TFTP packets waiting).
  let gate: Promise<void> | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (gate) await gate;
      if (next >= items.length) break;
      const i = next++;
      results[i] = await fn(items[i]!, i);
      if (opts.yieldEvery !== undefined && ++done % opts.yieldEvery === 0 && !gate) gate = setImmediate().then(() => void (gate = undefined));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
