/**
 * Runs a reconcile pass every `intervalMs` over every endpoint, and whenever triggered: a trigger naming endpoints
 * (a job was queued there) asks for a pass over those alone, one naming none (a volume deleted, a pod changed) for
 * a pass over all. Passes never overlap, and any number of triggers during one make exactly one more, over the
 * endpoints they named together: a burst of jobs costs one extra pass, and a job queued on one endpoint of a
 * hundred costs a look at that one.
 */
export class ReconcileLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private queued = false;
  /** The endpoints the queued pass is for; undefined when it is for all. */
  private only: Set<string> | undefined;
  private stopped = false;

  constructor(
    /** One pass: over the endpoints named, or over all when `only` is undefined. */
    private readonly pass: (only?: ReadonlySet<string>) => Promise<void>,
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

  trigger(endpointId?: string): void {
    if (this.stopped) return;
    if (this.queued) {
      if (endpointId === undefined) this.only = undefined;
      else this.only?.add(endpointId);
      return;
    }
    this.queued = true;
    this.only = endpointId === undefined ? undefined : new Set([endpointId]);
    this.running = this.running.then(async () => {
      const only = this.only;
      this.queued = false;
      this.only = undefined;
      if (this.stopped) return;
      try {
        await this.pass(only);
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
