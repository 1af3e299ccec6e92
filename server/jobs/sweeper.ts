import type { FastifyBaseLogger } from "fastify";
import type { ServerConfig } from "../config";
import type { JobService } from "./service";
import type { WebhookSender } from "./webhooks";

/** Runs the periodic work: timeouts, expiries, lost workers, webhook deliveries; one sweep at a time. */
export class JobSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly jobs: JobService,
    private readonly webhooks: WebhookSender,
    private readonly config: Pick<ServerConfig, "sweepIntervalMs">,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.running = this.sweep().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.config.sweepIntervalMs);
      });
    };
    this.timer = setTimeout(tick, this.config.sweepIntervalMs);
  }

  /** No more sweeps; resolves once the one in progress, if any, has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async sweep(): Promise<void> {
    try {
      await this.jobs.sweep();
      await this.webhooks.deliverDue();
    } catch (err) {
      this.log.error({ err }, "sweep failed");
    }
  }
}
