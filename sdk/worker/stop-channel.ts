import type { Logger } from "pino";
import { abortableSleep, type WorkerHttpClient } from "./http";
import { describeError } from "./logger";

/** The client-side timeout of one long-poll, as runpod-python's (the server answers well before). */
export const LONG_POLL_TIMEOUT_MS = 90_000;
const TOO_MANY_REQUESTS_BACKOFF_MS = 5_000;
const ERROR_BACKOFF_MS = [1_000, 2_000, 5_000, 10_000];
/** A control plane without a job-stop route: ask again rarely. */
const NOT_SUPPORTED_BACKOFF_MS = 60_000;

/**
 * The job-stop channel (runpod-python >= 1.10): a long-poll GET on the job-take URL with `/job-take/` ->
 * `/job-stop/`. 204: nothing to stop; 200 `{"jobsToStop": [ids]}`: abort those jobs. Nothing is posted for a
 * stopped job: the control plane has already ended it as CANCELLED or TIMED_OUT.
 */
export class StopChannel {
  private readonly controller = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly http: WorkerHttpClient,
    private readonly url: string,
    private readonly onStop: (jobIds: string[]) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    let failures = 0;
    while (!signal.aborted) {
      let backoff = 0;
      try {
        const reply = await this.http.get(this.url, { timeoutMs: LONG_POLL_TIMEOUT_MS, signal });
        if (reply.status === 200) {
          failures = 0;
          const ids = jobIdsOf(reply.data);
          if (ids.length > 0) {
            this.logger.info({ jobIds: ids }, "control plane asked to stop jobs");
            this.onStop(ids);
          }
        } else if (reply.status === 204) {
          failures = 0;
        } else if (reply.status === 429) {
          backoff = TOO_MANY_REQUESTS_BACKOFF_MS;
        } else if (reply.status === 404 || reply.status === 405) {
          backoff = NOT_SUPPORTED_BACKOFF_MS;
          if (failures++ === 0) this.logger.warn({ status: reply.status }, "the control plane has no job-stop channel: jobs cannot be stopped");
        } else {
          backoff = ERROR_BACKOFF_MS[Math.min(failures++, ERROR_BACKOFF_MS.length - 1)]!;
          this.logger.warn({ status: reply.status, body: reply.data }, "job-stop poll refused");
        }
      } catch (err) {
        if (signal.aborted) break;
        backoff = ERROR_BACKOFF_MS[Math.min(failures++, ERROR_BACKOFF_MS.length - 1)]!;
        this.logger.warn({ ...describeError(err), retryInMs: backoff }, "job-stop poll failed");
      }
      if (backoff > 0) await abortableSleep(backoff, signal);
    }
  }
}

function jobIdsOf(body: unknown): string[] {
  if (typeof body !== "object" || body === null) return [];
  const ids = (body as { jobsToStop?: unknown }).jobsToStop;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
}
