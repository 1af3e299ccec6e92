/**
 * Signal handling for a worker process: the first SIGTERM or SIGINT starts a graceful drain, a second one
 * forces the exit. Returns a function that removes the handlers.
 */
export function onShutdownSignals(handlers: { drain: (signal: NodeJS.Signals) => void; force: (signal: NodeJS.Signals) => void }): () => void {
  let received = 0;
  const listener = (signal: NodeJS.Signals) => {
    received++;
    if (received === 1) handlers.drain(signal);
    else handlers.force(signal);
  };
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
  for (const signal of signals) process.on(signal, listener);
  return () => {
    for (const signal of signals) process.off(signal, listener);
  };
}

/**
 * Resolves when every promise in the set has settled, including ones added while waiting (a job that starts
 * as the drain begins). Never rejects.
 */
export async function settleAll(pending: ReadonlySet<Promise<unknown>>): Promise<void> {
  while (pending.size > 0) {
    await Promise.allSettled([...pending]);
  }
}
