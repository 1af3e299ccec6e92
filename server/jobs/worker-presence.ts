import { Waiters } from "./waiters";

/** A worker silent this long (stopped, frozen, just started) whose call then arrives may be making its first call. */
const SILENCE_MS = 2_000;

/**
 * What the control plane keeps in memory about each worker besides its jobs and whether it is held
 * (held-workers.ts): the jobs it must abandon (its job-stop channel), and who waits for its first call (cold-start
 * timing). A worker id names a worker within its endpoint only, so every entry is keyed by both. After a restart
 * all of this starts empty.
 */
export class WorkerPresence {
  /** Jobs each worker must abandon; told once through its job-stop channel. */
  private readonly stops = new Map<string, Set<string>>();
  private readonly stopWaiters = new Waiters<string>();
  private readonly firstCallWaiters = new Map<string, { since: number; resolve: (at: number) => void }>();
  /** When each worker's last call reached this control plane. */
  private readonly lastCall = new Map<string, number>();

  /** Queues a stop of the job for the worker's next (or open) job-stop long-poll. */
  requestStop(endpointId: string, workerId: string, jobId: string): void {
    const ref = workerRef(endpointId, workerId);
    const set = this.stops.get(ref) ?? new Set<string>();
    set.add(jobId);
    this.stops.set(ref, set);
    this.stopWaiters.notify(ref);
  }

  /** The jobs this worker must stop, each told once, waiting up to `waitMs` for one. */
  async takeStops(endpointId: string, workerId: string, waitMs: number, signal?: AbortSignal): Promise<string[]> {
    const ref = workerRef(endpointId, workerId);
    if (!this.stops.get(ref)?.size) await this.stopWaiters.wait(ref, waitMs, signal);
    const ids = [...(this.stops.get(ref) ?? [])];
    this.stops.delete(ref);
    return ids;
  }

  /** Resolves with the time of the worker's next call at or after `since`. */
  nextCallAfter(endpointId: string, workerId: string, since: number): Promise<number> {
    return new Promise((resolve) => this.firstCallWaiters.set(workerRef(endpointId, workerId), { since, resolve }));
  }

  /** Nobody waits for the worker's next call any more (its first call was found already made). */
  forgetFirstCall(endpointId: string, workerId: string): void {
    this.firstCallWaiters.delete(workerRef(endpointId, workerId));
  }

  /**
   * The worker called at `now`: whoever waits here for its first call since it started is told. Answers whether the
   * call ends a silence here (the first heard, or the first in SILENCE_MS): perhaps the first call since the worker
   * started or resumed, which a runtime on another control plane may be waiting for.
   */
  called(endpointId: string, workerId: string, now: number): boolean {
    const ref = workerRef(endpointId, workerId);
    const last = this.lastCall.get(ref);
    this.lastCall.set(ref, now);
    this.calledElsewhere(endpointId, workerId, now);
    return last === undefined || now - last > SILENCE_MS;
  }

  /** The worker called another control plane at `at`: whoever waits here for its first call is told. */
  calledElsewhere(endpointId: string, workerId: string, at: number): void {
    const ref = workerRef(endpointId, workerId);
    const waiter = this.firstCallWaiters.get(ref);
    if (waiter && at >= waiter.since) {
      this.firstCallWaiters.delete(ref);
      waiter.resolve(at);
    }
  }

  /** The worker is gone: nothing waits for its first call any more. */
  forget(endpointId: string, workerId: string): void {
    const ref = workerRef(endpointId, workerId);
    this.firstCallWaiters.delete(ref);
    this.lastCall.delete(ref);
  }

  /** Every long-poll answers now (shutdown). */
  close(): void {
    this.stopWaiters.notifyAll();
  }
}

function workerRef(endpointId: string, workerId: string): string {
  return `${endpointId}/${workerId}`;
}
