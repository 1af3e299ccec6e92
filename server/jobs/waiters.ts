/**
 * Long-poll support: a request waits on a key (an endpoint, a job, a worker) until something it cares about
 * happens, its deadline passes, or its client goes away. A notification may carry what changed (`V`, e.g. the job
 * as it now is), so a waiter on this control plane need not read it back.
 */
export class Waiters<K, V = never> {
  private readonly waiting = new Map<K, Set<(value?: V) => void>>();

  /** Resolves true when `notify(key)` is called, false at the deadline or when `signal` aborts. */
  wait(key: K, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.watch(key, timeoutMs, signal).woken;
  }

  /**
   * Starts waiting now, before the caller looks at the store: a change made while it looks (an await away, on
   * PostgreSQL) still wakes it. `cancel` stops waiting when the look found what it wanted, and says whether a
   * notification had already arrived, so a caller that took it from someone else (notifyOne) can pass it on.
   */
  watch(key: K, timeoutMs: number, signal?: AbortSignal): { woken: Promise<boolean>; cancel(): boolean; delivered(): V | undefined } {
    let notified = false;
    let delivered: V | undefined;
    let finish: (woke: boolean, value?: V) => void = () => undefined;
    const woken =
      signal?.aborted || timeoutMs <= 0
        ? Promise.resolve(false)
        : new Promise<boolean>((resolve) => {
            const set = this.waiting.get(key) ?? new Set();
            this.waiting.set(key, set);
            let settled = false;
            finish = (woke: boolean, value?: V) => {
              if (settled) return;
              settled = true;
              notified = woke;
              delivered = value;
              clearTimeout(timer);
              signal?.removeEventListener("abort", onAbort);
              set.delete(wake);
              if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
              resolve(woke);
            };
            const wake = (value?: V) => finish(true, value);
            const onAbort = () => finish(false);
            const timer = setTimeout(() => finish(false), timeoutMs);
            signal?.addEventListener("abort", onAbort, { once: true });
            set.add(wake);
          });
    return {
      woken,
      cancel: () => {
        finish(false);
        return notified;
      },
      delivered: () => delivered,
    };
  }

  notify(key: K, value?: V): void {
    for (const wake of [...(this.waiting.get(key) ?? [])]) wake(value);
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
