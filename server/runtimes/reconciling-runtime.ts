import type { FastifyBaseLogger } from "fastify";
import type { JobService } from "../jobs/service";
import { ReconcileLoop } from "./reconcile-loop";

/**
 * What both runtimes share: one reconcile pass at a time, every interval and at once (over its endpoint alone) when
 * a job is queued, and the network volumes deleted through the admin API whose storage a later pass removes (once
 * no worker mounts them). Each runtime writes its own pass.
 */
export abstract class ReconcilingRuntime {
  private readonly loop: ReconcileLoop;
  /** Network volumes deleted through the admin API whose storage is still to be removed. */
  protected readonly volumesToRemove = new Set<string>();

  constructor(
    private readonly queue: JobService,
    intervalMs: number,
    log: FastifyBaseLogger,
    name: string,
    reconciled: (seconds: number) => void,
  ) {
    this.loop = new ReconcileLoop(
      async (only) => {
        const started = performance.now();
        await this.reconcile(only);
        reconciled((performance.now() - started) / 1000);
      },
      intervalMs,
      (err) => log.error({ err }, `${name} reconcile pass failed`),
    );
  }

  /**
   * One pass: over every endpoint (and what they share: volumes, workers of deleted endpoints, the runtime's own
   * view of what runs) when `only` is undefined, else over the endpoints named alone.
   */
  protected abstract reconcile(only?: ReadonlySet<string>): Promise<void>;

  start(): void {
    this.queue.onQueued((endpointId) => this.trigger(endpointId));
    this.loop.start();
  }

  /** No more passes; resolves once the one in progress, if any, has finished. */
  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** A pass soon: over the endpoint named, or over every endpoint. */
  trigger(endpointId?: string): void {
    this.loop.trigger(endpointId);
  }

  /** A deleted network volume's storage goes once no worker mounts it any more (checked every pass). */
  removeVolume(volumeId: string): void {
    this.volumesToRemove.add(volumeId);
    this.trigger();
  }
}
