import type { z } from "zod";
import type { RecentJob } from "../jobs/model";
import type { JobService } from "../jobs/service";
import type { endpointOverviewSchema, jobSummarySchema, overviewSchema, workerDetailSchema } from "../resources/schemas";
import { settledRollout, type EndpointWorkersView, type WorkerRuntime } from "../runtimes/worker-runtime";
import type { EndpointRecord, ResourceStore } from "../store/resources";
import type { EndpointHistory } from "./endpoint-history";

export type Overview = z.output<typeof overviewSchema>;
export type EndpointOverview = z.output<typeof endpointOverviewSchema>;
export type WorkerDetail = z.output<typeof workerDetailSchema>;
export type JobSummary = z.output<typeof jobSummarySchema>;

export interface OverviewSources {
  resources: ResourceStore;
  jobs: JobService;
  runtime: () => WorkerRuntime | undefined;
  history: EndpointHistory;
}

/** How many of an endpoint's latest jobs are read to fill its workers' histories, and how many each shows. */
const RECENT_JOBS_READ = 500;
const RECENT_JOBS_PER_WORKER = 10;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function jobSummary(job: RecentJob): JobSummary {
  return {
    id: job.id,
    status: job.status,
    workerId: job.workerId,
    createdAt: new Date(job.createdAt).toISOString(),
    delayMs: job.startedAt === undefined ? undefined : job.startedAt - job.createdAt,
    executionMs: job.startedAt === undefined || job.finishedAt === undefined ? undefined : job.finishedAt - job.startedAt,
    finishedAt: iso(job.finishedAt),
  };
}

/**
 * Workers heard from when the control plane runs none itself (`--runtime none`): what the job API knows of them.
 * Their type is flex (nothing keeps them on) and their GPUs are unknown.
 */
async function externalWorkers(sources: OverviewSources, endpoint: EndpointRecord, now: number): Promise<EndpointWorkersView["workers"]> {
  const jobs = await sources.jobs.inProgressByWorker(endpoint.id);
  return (await sources.jobs.callingWorkers(endpoint.id)).map((worker) => ({
    id: worker.id,
    type: "flex",
    state: worker.unhealthyReason ? "Unhealthy" : (jobs.get(worker.id) ?? 0) > 0 ? "Running" : "Idle",
    // A silent worker's silence says more than an older unhealthy report.
    reason: now - worker.lastSeenAt > 60_000 ? `not heard from for ${Math.round((now - worker.lastSeenAt) / 1000)} s` : worker.unhealthyReason,
    revision: endpoint.revision,
    gpus: { ids: [], simulated: false },
    frozen: false,
    draining: worker.leaving,
    restarts: 0,
    startedAt: iso(worker.firstSeenAt),
    jobsInProgress: jobs.get(worker.id) ?? 0,
  }));
}

export async function endpointOverview(sources: OverviewSources, endpoint: EndpointRecord, now = Date.now()): Promise<EndpointOverview> {
  const runtime = sources.runtime();
  const view = await runtime?.status(endpoint.id);
  const recent = await sources.jobs.recentJobs(endpoint.id, RECENT_JOBS_READ);
  const byWorker = new Map<string, RecentJob[]>();
  for (const job of recent) {
    if (!job.workerId) continue;
    const list = byWorker.get(job.workerId) ?? [];
    if (list.length < RECENT_JOBS_PER_WORKER) list.push(job);
    byWorker.set(job.workerId, list);
  }
  const workers = (view?.workers ?? (await externalWorkers(sources, endpoint, now))).map(
    (w): WorkerDetail => ({
      ...w,
      uptimeSeconds: w.startedAt === undefined ? undefined : Math.max(0, Math.round((now - Date.parse(w.startedAt)) / 1000)),
      currentJobs: (byWorker.get(w.id) ?? []).filter((j) => j.status === "IN_PROGRESS").map((j) => j.id),
      resources: runtime?.resourceUse(w.id) ?? { note: "runs outside this control plane's runtime" },
      recentJobs: (byWorker.get(w.id) ?? []).map(jobSummary),
    }),
  );
  const counts = await sources.jobs.counts(endpoint.id);
  return {
    id: endpoint.id,
    name: endpoint.spec.name,
    revision: endpoint.revision,
    workersMin: endpoint.spec.workersMin,
    workersMax: endpoint.spec.workersMax,
    queue: { queued: counts.inQueue, inProgress: counts.inProgress },
    lastError: sources.history.lastError(endpoint.id),
    throttled: view?.throttled ?? { count: 0 },
    rollout: view?.rollout ?? settledRollout(endpoint.revision),
    workers,
  };
}

export async function overview(sources: OverviewSources, now = Date.now()): Promise<Overview> {
  const endpoints = sources.resources.listEndpoints();
  const runtime = endpoints.length > 0 ? sources.runtime()?.describe() : undefined;
  return {
    generatedAt: new Date(now).toISOString(),
    runtime: runtime ?? null,
    endpoints: await Promise.all(endpoints.map((endpoint) => endpointOverview(sources, endpoint, now))),
  };
}
