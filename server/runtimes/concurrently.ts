/**
 * Runs `task` for every item, at most `limit` at a time; resolves when all have, rejects with the first failure
 * (after the tasks already started have settled). For independent calls to a remote API, which one after another
 * would cost their latencies added up: a rollout of 200 pods patches each of them.
 */
export async function concurrently<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  });
  const results = await Promise.allSettled(lanes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}
