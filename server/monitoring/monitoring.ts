import type { FastifyBaseLogger } from "fastify";
import type { JobService } from "../jobs/service";
import type { WorkerRuntime } from "../runtimes/worker-runtime";
import type { ResourceStore } from "../store/resources";
import { usageReport, type UsagePrices, type UsageReport } from "../usage/report";
import type { UsageStore } from "../usage/usage-store";
import { Metrics } from "./metrics";
import { endpointOverview, overview, type EndpointOverview, type Overview, type OverviewSources } from "./overview";
import { QueueHistory } from "./queue-history";

export interface MonitoringConfig {
  /** How often each endpoint's queue is sampled for the chart, and how long samples are kept. */
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
  private readonly history: QueueHistory;
  private readonly usage: UsageStore;
  private readonly sources: OverviewSources;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly parts: { usage: UsageStore; jobs: JobService; resources: ResourceStore; runtime: () => WorkerRuntime | undefined },
    private readonly config: MonitoringConfig,
  ) {
    this.history = new QueueHistory(config.queueHistoryMs);
    this.usage = parts.usage;
    this.sources = { ...parts, history: this.history };
    this.metrics = new Metrics(parts);
  }

  /**
   * Meters every run from now on, and samples every endpoint's queue now and every queueSampleMs; a failed sample
   * or meter write is logged and the next one goes on.
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
    const sample = async () => {
      const now = Date.now();
      const endpoints = this.parts.resources.listEndpoints();
      for (const endpoint of endpoints) {
        const counts = await this.parts.jobs.counts(endpoint.id);
        this.history.record(endpoint.id, { t: now, queued: counts.inQueue, inProgress: counts.inProgress });
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

  async usageReport(from: number, to: number, endpointId?: string): Promise<UsageReport> {
    return usageReport(await this.usage.overlapping(from, to, endpointId), from, to, this.config.prices);
  }
}
