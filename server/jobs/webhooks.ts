import axios from "axios";
import type { FastifyBaseLogger } from "fastify";
import { statusBody } from "./model";
import type { JobStore } from "./stores";

/** RunPod tries a webhook three times in all, 10 s apart. */
export const WEBHOOK_ATTEMPTS = 3;
const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * Delivers the /status body of ended jobs to their webhook URL. Which deliveries are due lives in the store
 * (webhook_due_at), so a restart resumes them; a 200 ends them, anything else is retried after `retryDelayMs`.
 */
export class WebhookSender {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly store: JobStore,
    private readonly retryDelayMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  async deliverDue(now = Date.now()): Promise<void> {
    for (const job of await this.store.webhooksDue(now)) {
      if (this.inFlight.has(job.id) || !job.webhook) continue;
      this.inFlight.add(job.id);
      const url = job.webhook;
      const attempt = job.webhook_attempts + 1;
      axios
        .post(url, statusBody(job, now), { timeout: WEBHOOK_TIMEOUT_MS, validateStatus: () => true, maxRedirects: 0 })
        .then(
          (res) => (res.status === 200 ? undefined : `HTTP ${res.status}`),
          (err: Error) => err.message,
        )
        .then(async (failure) => {
          const retry = failure !== undefined && attempt < WEBHOOK_ATTEMPTS;
          if (failure) {
            this.log.warn({ jobId: job.id, endpointId: job.endpoint_id, attempt, failure, willRetry: retry }, "webhook delivery failed");
          }
          await this.store.webhookAttempted(job.id, retry ? Date.now() + this.retryDelayMs : null);
        })
        .catch((err: Error) => this.log.error({ jobId: job.id, err }, "could not record a webhook delivery attempt"))
        .finally(() => this.inFlight.delete(job.id));
    }
  }
}
