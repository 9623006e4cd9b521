/**
 * `Promise.all(items.map(fn))` with at most `limit` calls in flight, results in the items' order. For file work
 * over thousands of ports: one call at a time waits on libuv's thread pool once per file in turn; unbounded, it
 * queues thousands of requests ahead of the DHCP and TFTP servers' own.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
