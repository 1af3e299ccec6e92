import type { FastifyBaseLogger } from "fastify";
import type { ServerConfig } from "../config";
import type { JobService } from "./service";
import { WebhookSender } from "./webhooks";

/** Runs the periodic work: timeouts, expiries, lost workers, webhook deliveries; one sweep at a time. */
export class JobSweeper {
  private timer: NodeJS.Timeout | undefined;
  private readonly webhooks: WebhookSender;

  constructor(
    private readonly jobs: JobService,
    private readonly config: Pick<ServerConfig, "sweepIntervalMs" | "webhookRetryDelayMs">,
    private readonly log: FastifyBaseLogger,
  ) {
    this.webhooks = new WebhookSender(jobs.store, config.webhookRetryDelayMs, log);
  }

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
