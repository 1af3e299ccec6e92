import type { z } from "zod";
import type { JobService } from "../jobs/service";
import type { endpointOverviewSchema, jobSummarySchema, overviewSchema, workerDetailSchema } from "../resources/schemas";
import type { EndpointWorkersView, WorkerRuntime } from "../runtimes/worker-runtime";
import type { JobSummaryRow } from "../store/jobs";
import type { EndpointRecord, ResourceStore } from "../store/resources";
import type { QueueHistory } from "./queue-history";

export type Overview = z.output<typeof overviewSchema>;
export type EndpointOverview = z.output<typeof endpointOverviewSchema>;
export type WorkerDetail = z.output<typeof workerDetailSchema>;
export type JobSummary = z.output<typeof jobSummarySchema>;

export interface OverviewSources {
  resources: ResourceStore;
  jobs: JobService;
  runtime: () => WorkerRuntime | undefined;
  history: QueueHistory;
}

/** How many of an endpoint's latest jobs are read to fill its workers' histories, and how many each shows. */
const RECENT_JOBS_READ = 500;
const RECENT_JOBS_PER_WORKER = 10;

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? undefined : new Date(ms).toISOString());

export function jobSummary(row: JobSummaryRow): JobSummary {
  return {
    id: row.id,
    status: row.status,
    workerId: row.worker_id ?? undefined,
    createdAt: new Date(row.created_at).toISOString(),
    delayMs: row.started_at === null ? undefined : row.started_at - row.created_at,
    executionMs: row.started_at === null || row.finished_at === null ? undefined : row.finished_at - row.started_at,
    finishedAt: iso(row.finished_at),
  };
}

/**
 * Workers heard from when the control plane runs none itself (`--runtime none`): what the job API knows of them.
 * Their type is flex (nothing keeps them on) and their GPUs are unknown.
 */
function externalWorkers(sources: OverviewSources, endpoint: EndpointRecord, now: number): EndpointWorkersView["workers"] {
  const jobs = sources.jobs.store.inProgressByWorker(endpoint.id);
  return sources.jobs.workers.ofEndpoint(endpoint.id).map((row) => ({
    id: row.id,
    type: "flex",
    state: row.unhealthy_reason ? "Unhealthy" : (jobs.get(row.id) ?? 0) > 0 ? "Running" : "Idle",
    // A silent worker's silence says more than an older unhealthy report.
    reason:
      now - row.last_seen_at > 60_000 ? `not heard from for ${Math.round((now - row.last_seen_at) / 1000)} s` : (row.unhealthy_reason ?? undefined),
    revision: endpoint.revision,
    gpus: { ids: [], simulated: false },
    frozen: false,
    draining: row.leaving === 1,
    restarts: 0,
    startedAt: iso(row.first_seen_at),
    jobsInProgress: jobs.get(row.id) ?? 0,
  }));
}

export function endpointOverview(sources: OverviewSources, endpoint: EndpointRecord, now = Date.now()): EndpointOverview {
  const runtime = sources.runtime();
  const view = runtime?.status(endpoint.id);
  const recent = sources.jobs.store.recent(endpoint.id, RECENT_JOBS_READ);
  const byWorker = new Map<string, JobSummaryRow[]>();
  for (const row of recent) {
    if (!row.worker_id) continue;
    const list = byWorker.get(row.worker_id) ?? [];
    if (list.length < RECENT_JOBS_PER_WORKER) list.push(row);
    byWorker.set(row.worker_id, list);
  }
  const workers = (view?.workers ?? externalWorkers(sources, endpoint, now)).map(
    (w): WorkerDetail => ({
      ...w,
      uptimeSeconds: w.startedAt === undefined ? undefined : Math.max(0, Math.round((now - Date.parse(w.startedAt)) / 1000)),
      currentJobs: (byWorker.get(w.id) ?? []).filter((j) => j.status === "IN_PROGRESS").map((j) => j.id),
      resources: runtime?.resourceUse(w.id) ?? { note: "runs outside this control plane's runtime" },
      recentJobs: (byWorker.get(w.id) ?? []).map(jobSummary),
    }),
  );
  const counts = sources.jobs.store.counts(endpoint.id);
  return {
    id: endpoint.id,
    name: endpoint.spec.name,
    revision: endpoint.revision,
    workersMin: endpoint.spec.workersMin,
    workersMax: endpoint.spec.workersMax,
    queue: { queued: counts.inQueue, inProgress: counts.inProgress },
    history: sources.history.of(endpoint.id),
    throttled: view?.throttled ?? { count: 0 },
    rollout: view?.rollout ?? { revision: endpoint.revision, state: "done", outdated: 0, batchSize: 1 },
    workers,
  };
}

export function overview(sources: OverviewSources, now = Date.now()): Overview {
  const endpoints = sources.resources.listEndpoints();
  const runtime = endpoints.length > 0 ? sources.runtime()?.describe() : undefined;
  return {
    generatedAt: new Date(now).toISOString(),
    runtime: runtime ?? null,
    endpoints: endpoints.map((endpoint) => endpointOverview(sources, endpoint, now)),
  };
}
