import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { JobService } from "../jobs/service";
import type { JobRow } from "../jobs/model";
import { workerStateSchema, workerTypeSchema } from "../policy/worker-model";
import type { WorkerRuntime } from "../runtimes/worker-runtime";
import type { ResourceStore } from "../store/resources";

export interface MetricsSources {
  jobs: JobService;
  resources: ResourceStore;
  runtime: () => WorkerRuntime | undefined;
}

/** Seconds: jobs from milliseconds to hours, cold starts from a resumed standby to a slow image pull. */
const JOB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const PASS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5];
const COLD_START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Prometheus metrics (prom-client, in a registry of the control plane's own). Jobs and cold starts are counted as
 * they happen; queue depth, workers and rollouts are read from the store and the runtime when scraped, so they
 * can never drift from what the APIs say.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly jobsEnded: Counter<"endpoint" | "status">;
  private readonly delay: Histogram<"endpoint">;
  private readonly execution: Histogram<"endpoint">;
  private readonly coldStarts: Histogram<"endpoint">;
  private readonly passes: Histogram;
  private readonly clusterRequests: Counter<"verb" | "resource">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const endpoints = () => sources.resources.listEndpoints();
    this.jobsEnded = new Counter({
      name: "berth_jobs_total",
      help: "Jobs that reached a terminal status, by endpoint and status",
      labelNames: ["endpoint", "status"],
      registers,
    });
    new Gauge({
      name: "berth_jobs",
      help: "Jobs waiting (IN_QUEUE) and running (IN_PROGRESS) now, by endpoint and status",
      labelNames: ["endpoint", "status"],
      registers,
      async collect() {
        this.reset();
        for (const endpoint of endpoints()) {
          const counts = await sources.jobs.counts(endpoint.id);
          this.set({ endpoint: endpoint.id, status: "IN_QUEUE" }, counts.inQueue);
          this.set({ endpoint: endpoint.id, status: "IN_PROGRESS" }, counts.inProgress);
        }
      },
    });
    new Gauge({
      name: "berth_queue_depth",
      help: "Jobs waiting for a worker, by endpoint",
      labelNames: ["endpoint"],
      registers,
      async collect() {
        this.reset();
        for (const endpoint of endpoints()) this.set({ endpoint: endpoint.id }, (await sources.jobs.counts(endpoint.id)).inQueue);
      },
    });
    this.delay = new Histogram({
      name: "berth_job_delay_seconds",
      help: "From queued to taken by a worker (RunPod's delayTime), by endpoint",
      labelNames: ["endpoint"],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.execution = new Histogram({
      name: "berth_job_execution_seconds",
      help: "From taken by a worker to ended (RunPod's executionTime), by endpoint",
      labelNames: ["endpoint"],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.coldStarts = new Histogram({
      name: "berth_worker_cold_start_seconds",
      help: "From the runtime starting (or resuming) a worker to its first call; _count is the number of cold starts",
      labelNames: ["endpoint"],
      buckets: COLD_START_BUCKETS,
      registers,
    });
    this.passes = new Histogram({
      name: "berth_reconcile_seconds",
      help: "How long each of the runtime's reconcile passes took (every endpoint, once a second by default)",
      buckets: PASS_BUCKETS,
      registers,
    });
    this.clusterRequests = new Counter({
      name: "berth_kubernetes_requests_total",
      help: "Requests the Kubernetes runtime sent the API server (lists and watches included), by verb and resource",
      labelNames: ["verb", "resource"],
      registers,
    });
    new Gauge({
      name: "berth_workers",
      help: "The runtime's workers by endpoint, state and type (Throttled: wanted, with no capacity)",
      labelNames: ["endpoint", "state", "type"],
      registers,
      async collect() {
        this.reset();
        const runtime = sources.runtime();
        if (!runtime) return;
        for (const endpoint of endpoints()) {
          const view = await runtime.status(endpoint.id);
          for (const state of workerStateSchema.options) {
            for (const type of workerTypeSchema.options) {
              const n = view.workers.filter((w) => w.state === state && w.type === type).length;
              if (n > 0) this.set({ endpoint: endpoint.id, state, type }, n);
            }
          }
          // Docker's throttled workers have no record; Kubernetes' are pods, already counted above.
          const listed = view.workers.filter((w) => w.state === "Throttled").length;
          if (view.throttled.count > listed) this.inc({ endpoint: endpoint.id, state: "Throttled", type: "flex" }, view.throttled.count - listed);
        }
      },
    });
    new Gauge({
      name: "berth_rollout_outdated_workers",
      help: "Workers of older revisions still serving or draining, by endpoint: 0 when a rollout is done",
      labelNames: ["endpoint", "state"],
      registers,
      async collect() {
        this.reset();
        const runtime = sources.runtime();
        if (!runtime) return;
        for (const endpoint of endpoints()) {
          const { rollout } = await runtime.status(endpoint.id);
          this.set({ endpoint: endpoint.id, state: rollout.state }, rollout.outdated);
        }
      },
    });
    new Gauge({
      name: "berth_endpoint_revision",
      help: "Each endpoint's current revision: a change means a rollout began",
      labelNames: ["endpoint"],
      registers,
      collect() {
        this.reset();
        for (const endpoint of endpoints()) this.set({ endpoint: endpoint.id }, endpoint.revision);
      },
    });
    sources.jobs.onEnded((job) => this.jobEnded(job));
  }

  coldStart(endpointId: string, seconds: number): void {
    this.coldStarts.observe({ endpoint: endpointId }, seconds);
  }

  reconciled(seconds: number): void {
    this.passes.observe(seconds);
  }

  clusterRequest(verb: string, resource: string): void {
    this.clusterRequests.inc({ verb, resource });
  }

  private jobEnded(job: JobRow): void {
    this.jobsEnded.inc({ endpoint: job.endpoint_id, status: job.status });
    if (job.started_at === null) return;
    this.delay.observe({ endpoint: job.endpoint_id }, (job.started_at - job.created_at) / 1000);
    if (job.finished_at !== null) this.execution.observe({ endpoint: job.endpoint_id }, (job.finished_at - job.started_at) / 1000);
  }
}
