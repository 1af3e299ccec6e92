import type { FastifyBaseLogger } from "fastify";
import type { ServerConfig } from "../config";
import type { JobService } from "./service";
import type { WebhookSender } from "./webhooks";

/** Runs the periodic work: timeouts, expiries, lost workers, webhook deliveries; one sweep at a time. */
export class JobSweeper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly jobs: JobService,
    private readonly webhooks: WebhookSender,
    private readonly config: Pick<ServerConfig, "sweepIntervalMs">,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    const tick = () => {
      try {
        this.jobs.sweep();
        this.webhooks.deliverDue();
      } catch (err) {
        this.log.error({ err }, "sweep failed");
      }
      this.timer = setTimeout(tick, this.config.sweepIntervalMs);
    };
    this.timer = setTimeout(tick, this.config.sweepIntervalMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
