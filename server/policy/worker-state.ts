import type { WorkerState } from "./worker-model";

/** Where a worker is as its runtime tells it, in terms both runtimes share. */
export type RuntimeCondition =
  /** Being created or started: its process does not run yet. */
  | "starting"
  /** Its process runs: serving, draining or being terminated. */
  | "up"
  /** A paused standby: it takes a job within milliseconds of being resumed. */
  | "frozen"
  /** Exited, crash-looping, or unable to start (its image, its command). */
  | "failed"
  /** Wanted, but no GPU or memory is free for it. */
  | "unschedulable";

/** A worker as its runtime sees it. */
export interface RuntimeFacts {
  condition: RuntimeCondition;
  revision: number;
  /** When its process last started (when it was created, if it has not started yet). */
  startedAt: number;
}

/** What the control plane knows about a worker besides what its runtime says. */
export interface WorkerActivity {
  /** Its endpoint's current revision. */
  currentRevision: number;
  /** When it last called the worker API; undefined when never (since the control plane started). */
  lastSeenAt?: number;
  /** Jobs it has in progress. */
  jobs: number;
}

/**
 * The state users see, RunPod's names, the same for every runtime: a failed worker is Unhealthy; one no GPU or
 * memory is free for is Throttled; a worker of an older revision is Outdated (it finishes its job, then goes);
 * one that has not called since its process started is Initializing; one with a job is Running; else Idle
 * (frozen standbys included).
 */
export function workerState(worker: RuntimeFacts, activity: WorkerActivity): WorkerState {
  if (worker.condition === "failed") return "Unhealthy";
  if (worker.condition === "unschedulable") return "Throttled";
  if (worker.revision < activity.currentRevision) return "Outdated";
  if (worker.condition === "starting") return "Initializing";
  if (worker.condition === "frozen") return "Idle";
  if (activity.lastSeenAt === undefined || activity.lastSeenAt < worker.startedAt) return "Initializing";
  return activity.jobs > 0 ? "Running" : "Idle";
}
