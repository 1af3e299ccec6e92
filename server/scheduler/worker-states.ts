import type { RuntimeWorker, WorkerState } from "./worker-model";

/** What the control plane knows about a runtime worker besides its own record. */
export interface WorkerActivity {
  /** Its endpoint's current revision. */
  currentRevision: number;
  /** When it last called the worker API; undefined when never (since the control plane started). */
  lastSeenAt?: number;
  /** Jobs it has in progress. */
  jobs: number;
}

/**
 * The state users see, RunPod's names, from the control plane's decision (phase) and the worker's calls:
 * failed workers are Unhealthy; a worker of an older revision is Outdated (it finishes its job, then goes);
 * a worker that has not called since it started is Initializing; one with a job is Running; else Idle (frozen
 * standbys included: they take a job within milliseconds of being resumed).
 * Throttled workers have no record: they are workers the endpoint wants but no GPU or memory is free for.
 */
export function workerState(worker: RuntimeWorker, activity: WorkerActivity): WorkerState {
  if (worker.phase === "failed") return "Unhealthy";
  if (worker.revision < activity.currentRevision) return "Outdated";
  if (worker.phase === "starting") return "Initializing";
  if (worker.phase === "frozen") return "Idle";
  if (activity.lastSeenAt === undefined || activity.lastSeenAt < (worker.startedAt ?? worker.createdAt)) return "Initializing";
  return activity.jobs > 0 ? "Running" : "Idle";
}
