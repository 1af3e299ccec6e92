/**
 * Long-poll support: a request waits on a key (an endpoint, a job, a worker) until something it cares about
 * happens, its deadline passes, or its client goes away.
 */
export class Waiters<K> {
  private readonly waiting = new Map<K, Set<() => void>>();

  /** Resolves true when `notify(key)` is called, false at the deadline or when `signal` aborts. */
  wait(key: K, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const set = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, set);
      const done = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve(notified);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(wake);
    });
  }

  notify(key: K): void {
    for (const wake of [...(this.waiting.get(key) ?? [])]) wake();
  }

  /** Wakes the longest waiter only: one new job needs one worker, not a stampede of all of them. */
  notifyOne(key: K): void {
    const first = this.waiting.get(key)?.values().next();
    if (first && !first.done) first.value();
  }

  /** Wakes everyone, e.g. at shutdown, so no request is left hanging. */
  notifyAll(): void {
    for (const key of [...this.waiting.keys()]) this.notify(key);
  }
}
