import { readAfterChanges, type Signals } from "../cluster/signals";
import type { HeldWorkerRows, WorkerRef } from "./stores";
import { Waiters } from "./waiters";

const HELD_SIGNALS = "berth_held";
type HeldSignal = { held: WorkerRef } | { released: WorkerRef };

/**
 * Workers that may take no new jobs for now (frozen standbys, starting, draining and outdated workers), as the
 * runtime on the leading control plane decides them. Every control plane hands out jobs, so each keeps the set in
 * memory (its take path reads it on every call), the leader writes it through to the store, and the others
 * follow its signals; one that was cut off from the signals reads the set again when it hears them again.
 */
export class HeldWorkers {
  private held = new Set<string>();
  /** job-take long-polls of held workers, keyed like `held`. */
  private readonly releaseWaiters = new Waiters<string>();
  /** Counts signals, so a read of the rows that raced one is made again. */
  private signalsSeen = 0;

  private constructor(
    private readonly rows: HeldWorkerRows,
    private readonly signals: Signals,
    private readonly failed: (err: Error) => void,
  ) {}

  static async open(rows: HeldWorkerRows, signals: Signals, failed: (err: Error) => void): Promise<HeldWorkers> {
    const workers = new HeldWorkers(rows, signals, failed);
    await signals.listen(HELD_SIGNALS, (message) => workers.signalled(message as HeldSignal), () => {
      workers.reload().catch(failed);
    });
    await workers.reload();
    return workers;
  }

  /** The worker gets no new jobs until released (its long-polls keep waiting); jobs it has are unaffected. */
  hold(endpointId: string, workerId: string): void {
    const ref = workerRef(endpointId, workerId);
    if (this.held.has(ref)) return;
    this.held.add(ref);
    this.write(this.rows.hold({ endpointId, workerId }), { held: { endpointId, workerId } });
  }

  release(endpointId: string, workerId: string): void {
    const ref = workerRef(endpointId, workerId);
    if (!this.held.delete(ref)) return;
    this.releaseWaiters.notify(ref);
    this.write(this.rows.release({ endpointId, workerId }), { released: { endpointId, workerId } });
  }

  isHeld(endpointId: string, workerId: string): boolean {
    return this.held.has(workerRef(endpointId, workerId));
  }

  /** Resolves true once the worker is released, false at the deadline or when `signal` aborts. */
  waitForRelease(endpointId: string, workerId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.releaseWaiters.wait(workerRef(endpointId, workerId), timeoutMs, signal);
  }

  /** Every long-poll answers now (shutdown). */
  close(): void {
    this.releaseWaiters.notifyAll();
  }

  /** The others are told once the row is written, so one that reads the rows then sees what it was told. */
  private write(written: Promise<void>, message: HeldSignal): void {
    written.then(() => this.signals.send(HELD_SIGNALS, message), this.failed);
  }

  private signalled(message: HeldSignal): void {
    this.signalsSeen++;
    if ("held" in message) this.held.add(workerRef(message.held.endpointId, message.held.workerId));
    else this.unhold(workerRef(message.released.endpointId, message.released.workerId));
  }

  private async reload(): Promise<void> {
    const rows = await readAfterChanges(() => this.rows.all(), () => this.signalsSeen);
    const now = new Set(rows.map((r) => workerRef(r.endpointId, r.workerId)));
    const before = this.held;
    this.held = now;
    for (const ref of before) if (!now.has(ref)) this.releaseWaiters.notify(ref);
  }

  private unhold(ref: string): void {
    if (this.held.delete(ref)) this.releaseWaiters.notify(ref);
  }
}

function workerRef(endpointId: string, workerId: string): string {
  return `${endpointId}/${workerId}`;
}
