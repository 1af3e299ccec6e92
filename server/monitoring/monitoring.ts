import type { FastifyBaseLogger } from "fastify";
import type { JobService } from "../jobs/service";
import type { WorkerRuntime } from "../runtimes/worker-runtime";
import type { ResourceStore } from "../store/resources";
import { usageReport, type UsagePrices, type UsageReport } from "../usage/report";
import type { UsageStore } from "../usage/usage-store";
import { Metrics } from "./metrics";
import { endpointOverview, overview, type EndpointOverview, type Overview, type OverviewSources } from "./overview";
import { EndpointHistory, type EndpointHistoryView } from "./endpoint-history";
import type { JobRow } from "../jobs/model";
import { parseJobError } from "../jobs/timeline";

export interface MonitoringConfig {
  /** How often each endpoint is sampled for the charts, and how long samples are kept. */
  queueSampleMs: number;
  queueHistoryMs: number;
  prices: UsagePrices;
}

/**
 * What operators watch: the workers view's data (overview), Prometheus metrics, and usage metering. It listens to
 * the job service (jobs ending, runs ending) and samples the queue; the runtime is read when asked.
 */
export class Monitoring {
  readonly metrics: Metrics;
  private readonly history: EndpointHistory;
  private readonly usage: UsageStore;
  private readonly sources: OverviewSources;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly parts: { usage: UsageStore; jobs: JobService; resources: ResourceStore; runtime: () => WorkerRuntime | undefined },
    private readonly config: MonitoringConfig,
  ) {
    this.history = new EndpointHistory(config.queueHistoryMs);
    this.usage = parts.usage;
    this.sources = { ...parts, history: this.history };
    this.metrics = new Metrics(parts);
  }

  /**
   * Meters every run from now on, and samples every endpoint (queue, workers by state, the durations of the jobs
   * that ended) now and every queueSampleMs; a failed sample or meter write is logged and the next one goes on.
   */
  start(log: FastifyBaseLogger): void {
    // A run is priced by what its worker was when it ended; a worker the runtime does not run (--runtime none)
    // is a flex worker of unknown GPUs.
    this.parts.jobs.onRunEnded((run) => {
      const info = this.parts.runtime()?.workerInfo(run.workerId);
      this.usage
        .record({ ...run, workerType: info?.type ?? "flex", gpuTypeId: info?.gpuTypeId, gpuCount: info?.gpuCount ?? 0 })
        .catch((err: Error) => log.error({ err, jobId: run.jobId, workerId: run.workerId }, "could not record a run's usage"));
    });
    this.parts.jobs.onEnded((job) => this.jobEnded(job));
    const sample = async () => {
      const now = Date.now();
      const endpoints = this.parts.resources.listEndpoints();
      for (const endpoint of endpoints) {
        const counts = await this.parts.jobs.counts(endpoint.id);
        const view = await this.parts.runtime()?.status(endpoint.id);
        const workers: Record<string, number> = {};
        for (const worker of view?.workers ?? []) {
          workers[worker.state] = (workers[worker.state] ?? 0) + 1;
          if (worker.state === "Unhealthy" && worker.reason) this.history.workerFailed(endpoint.id, worker.id, worker.reason, now);
        }
        const rollout = view?.rollout ?? { revision: endpoint.revision, state: "done" };
        this.history.record(endpoint.id, { t: now, queued: counts.inQueue, inProgress: counts.inProgress, workers, rollout });
      }
      this.history.retain(new Set(endpoints.map((e) => e.id)));
    };
    const sampled = () => void sample().catch((err: Error) => log.error({ err }, "queue sample failed"));
    sampled();
    this.timer = setInterval(sampled, this.config.queueSampleMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  overview(): Promise<Overview> {
    return overview(this.sources);
  }

  async endpoint(endpointId: string): Promise<EndpointOverview | undefined> {
    const endpoint = this.parts.resources.getEndpoint(endpointId);
    return endpoint && endpointOverview(this.sources, endpoint);
  }

  /** The endpoint's last hour for the charts; undefined for an endpoint that does not exist. */
  endpointHistory(endpointId: string): EndpointHistoryView | undefined {
    if (!this.parts.resources.endpointExists(endpointId)) return undefined;
    return this.history.view(endpointId, this.config.queueSampleMs);
  }

  private jobEnded(job: JobRow): void {
    const failed = job.status === "FAILED" || job.status === "TIMED_OUT";
    this.history.jobEnded(job.endpoint_id, {
      delayMs: job.started_at === null ? undefined : job.started_at - job.created_at,
      executionMs: job.started_at === null || job.finished_at === null ? undefined : job.finished_at - job.started_at,
      error: failed ? { at: job.finished_at ?? Date.now(), message: errorMessage(job), jobId: job.id } : undefined,
    });
  }

  async usageReport(from: number, to: number, endpointId?: string): Promise<UsageReport> {
    return usageReport(await this.usage.overlapping(from, to, endpointId), from, to, this.config.prices);
  }
}

/** A failed job's error in a line: the exception's type and message as the worker reported them, cut to 500 characters. */
function errorMessage(job: JobRow): string {
  if (job.status === "TIMED_OUT") return "timed out";
  if (job.error === null) return "failed without an error message";
  const { type, message } = parseJobError(job.error);
  const line = type ? `${type}: ${message}` : message;
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}
