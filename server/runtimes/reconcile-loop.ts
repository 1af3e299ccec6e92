/**
 * Runs a reconcile pass every `intervalMs` and whenever triggered (a job was queued, a volume deleted). Passes never
 * overlap, and any number of triggers during one make exactly one more, so a burst of jobs costs one extra pass.
 */
export class ReconcileLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private queued = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly intervalMs: number,
    /** A failed pass is reported here; the next one runs as planned. */
    private readonly failed: (err: Error) => void,
  ) {}

  start(): void {
    const tick = () => {
      this.trigger();
      this.timer = setTimeout(tick, this.intervalMs);
    };
    tick();
  }

  trigger(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    this.running = this.running.then(async () => {
      this.queued = false;
      if (this.stopped) return;
      try {
        await this.pass();
      } catch (err) {
        this.failed(err as Error);
      }
    });
  }

  /** No more passes; resolves once the one in progress, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
