import type { Logger } from "pino";
import { abortableSleep, type WorkerHttpClient } from "./http";
import { takeJobs, type RawJob } from "./job-take";
import type { Concurrency } from "./types";
import type { WorkerUrls } from "./urls";

const TOO_MANY_REQUESTS_BACKOFF_MS = 5_000;
const ERROR_BACKOFF_MS = [1_000, 2_000, 5_000, 10_000];
/** How often a concurrency function is asked again while every slot is busy (or it answered 0). */
const RECHECK_MS = 1_000;

export interface JobLoopDeps {
  http: WorkerHttpClient;
  urls: WorkerUrls;
  logger: Logger;
  concurrency: Concurrency;
  /** Jobs running now. */
  running: () => number;
  /** Starts a job; must not block. */
  launch: (job: RawJob) => void;
  /** Resolves the next time a job ends and frees its slot. */
  slotFreed: () => Promise<void>;
}

/**
 * How many jobs may run at once now. A number is used as is (at least 1); a function is runpod's
 * concurrency_modifier: asked with the current value, a bad answer (throws, not a number) keeps the current
 * value, and 0 pauses taking.
 */
export function resolveConcurrency(option: Concurrency, current: number, logger?: Logger): number {
  if (typeof option === "number") return Number.isFinite(option) ? Math.max(1, Math.floor(option)) : 1;
  try {
    const next = option(current);
    if (typeof next !== "number" || !Number.isFinite(next)) {
      logger?.error({ returned: String(next) }, "concurrency function did not return a number: keeping the current value");
      return current;
    }
    return Math.max(0, Math.floor(next));
  } catch (err) {
    logger?.error({ error: err instanceof Error ? err.message : String(err) }, "concurrency function threw: keeping the current value");
    return current;
  }
}

/**
 * The take loop: while running, asks for as many jobs as there are free slots (the batch route when more
 * than one), starts each, and waits for a slot when all are busy. An empty answer is asked again at once (the
 * server long-polls); 429 waits 5 s; failures back off 1 s up to 10 s. Ends when `signal` aborts, which also
 * abandons a take in flight (the server puts back jobs it could not hand out).
 */
export async function runJobLoop(deps: JobLoopDeps, signal: AbortSignal): Promise<void> {
  const { logger } = deps;
  let current = typeof deps.concurrency === "number" ? resolveConcurrency(deps.concurrency, 1) : 1;
  let failures = 0;
  while (!signal.aborted) {
    current = resolveConcurrency(deps.concurrency, current, logger);
    const free = current - deps.running();
    if (free <= 0) {
      const recheck = typeof deps.concurrency === "function" ? RECHECK_MS : 2 ** 31 - 1;
      const wake = new AbortController();
      const onAbort = () => wake.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      await Promise.race([deps.slotFreed(), abortableSleep(recheck, wake.signal)]);
      wake.abort();
      signal.removeEventListener("abort", onAbort);
      continue;
    }

    const result = await takeJobs(deps.http, deps.urls, free, deps.running() > 0, signal, logger);
    if (signal.aborted) break;
    if (result.kind === "none") {
      failures = 0;
      if (result.retryInMs) await abortableSleep(result.retryInMs, signal);
      continue;
    }
    if (result.kind === "failed") {
      const backoff = result.tooManyRequests ? TOO_MANY_REQUESTS_BACKOFF_MS : ERROR_BACKOFF_MS[Math.min(failures++, ERROR_BACKOFF_MS.length - 1)]!;
      const { kind: _kind, tooManyRequests: _tmr, ...details } = result;
      logger[result.tooManyRequests ? "info" : "warn"]({ ...details, retryInMs: backoff }, result.tooManyRequests ? "job-take throttled (429)" : "job-take failed");
      await abortableSleep(backoff, signal);
      continue;
    }
    failures = 0;
    if (result.jobs.length > free) logger.warn({ asked: free, got: result.jobs.length }, "job-take answered more jobs than asked for: running them all");
    for (const job of result.jobs) deps.launch(job);
  }
}
