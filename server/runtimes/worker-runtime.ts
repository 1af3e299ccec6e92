import type { z } from "zod";
import type { EndpointJobHealth, JobService } from "../jobs/service";
import type { endpointWorkersViewSchema, resourceUseSchema } from "../resources/schemas";
import type { WorkerState, WorkerType } from "../policy/worker-model";
import type { WorkerActivity } from "../policy/worker-state";

/** An endpoint's workers as /health, the admin API and the workers view show them. */
export type EndpointWorkersView = z.output<typeof endpointWorkersViewSchema>;

/** What runs the workers and where, and the GPUs it has, as every status output shows it. */
export type RuntimeDescription = NonNullable<EndpointWorkersView["runtime"]>;

/** How a rolling update of one endpoint stands; what the provider waits on and reports. */
export type RolloutStatus = EndpointWorkersView["rollout"];

export type EndpointHealth = EndpointJobHealth & { gpus: string };

/** A worker's latest measured CPU, memory and GPU use. */
export type ResourceUse = z.output<typeof resourceUseSchema>;

export interface WorkerInfo {
  type: WorkerType;
  gpuTypeId?: string;
  gpuCount: number;
}

/** Samples workers' resource use in the background; `use` answers from the latest sample at once. */
export interface ResourceSampler {
  start(): void;
  stop(): void;
  use(workerId: string, gpuIds: string[]): ResourceUse;
}

/**
 * What the rest of the control plane asks of whatever runs its endpoints' workers. Two implementations:
 * - Docker (runtimes/docker/fleet.ts): Docker has no controller of its own, so Berth's fleet decides every
 *   container and drives the engine through a per-worker ContainerDriver (runtimes/docker/container-driver.ts);
 * - Kubernetes (runtimes/kubernetes/kubernetes-runtime.ts): the cluster already schedules, rolls out and
 *   restarts, so Berth keeps one Deployment per endpoint and decides only its replicas and which pods go first.
 * Both take their scaling, rollout-pace and worker-state decisions from the same functions (server/policy/)
 * and report in the same shape.
 */
export interface WorkerRuntime {
  describe(): RuntimeDescription;
  status(endpointId: string): Promise<EndpointWorkersView>;
  health(endpointId: string): Promise<EndpointHealth>;
  /** The worker's latest sampled resource use; a note says why a figure is missing. */
  resourceUse(workerId: string): ResourceUse;
  /** What a worker is now, as usage is priced: its type and GPUs; undefined for a worker this runtime does not run. */
  workerInfo(workerId: string): WorkerInfo | undefined;
  /** A network volume was deleted through the admin API: its storage goes once no worker mounts it. */
  removeVolume(volumeId: string): void;
  stop(): Promise<void>;
}

/**
 * /health with a runtime: the job service's counts for workers it hears from that the runtime does not manage,
 * plus the runtime's workers by state and its throttled count, and the GPU inventory it sees.
 */
export async function runtimeHealth(jobs: JobService, view: EndpointWorkersView): Promise<EndpointHealth> {
  const health = await jobs.health(view.endpointId, new Set(view.workers.map((w) => w.id)));
  const count = (...states: WorkerState[]) => view.workers.filter((w) => states.includes(w.state)).length;
  const idle = count("Idle");
  health.workers.idle += idle;
  health.workers.ready += idle;
  health.workers.running += count("Running", "Outdated");
  health.workers.initializing += count("Initializing");
  health.workers.unhealthy += count("Unhealthy");
  health.workers.throttled += view.throttled.count;
  return { ...health, gpus: view.runtime?.gpus ?? "none" };
}

/** An endpoint's workers as the job service knows them, read once per pass or status read. */
export interface EndpointActivity {
  /** Jobs in progress by worker id; a worker without one is absent. */
  jobs: ReadonlyMap<string, number>;
  /** One worker's activity, for the worker-state decision (policy/worker-state.ts). */
  of(workerId: string): WorkerActivity;
}

export async function endpointActivity(jobs: JobService, endpointId: string, currentRevision: number): Promise<EndpointActivity> {
  const [running, seen] = await Promise.all([jobs.inProgressByWorker(endpointId), jobs.lastSeen(endpointId)]);
  return { jobs: running, of: (workerId) => ({ currentRevision, lastSeenAt: seen.get(workerId), jobs: running.get(workerId) ?? 0 }) };
}

/** The rollout of an endpoint that has nothing to roll (or has not been reconciled yet). */
export function settledRollout(revision: number): RolloutStatus {
  return { revision, state: "done", outdated: 0, batchSize: 1 };
}
