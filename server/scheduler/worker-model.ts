import type { GpuDevice } from "../runtimes/driver";

/** RunPod's worker types: active workers are always on (workersMin), flex ones follow demand, extra ones wait frozen. */
export type WorkerType = "active" | "flex" | "extra";

/**
 * Where a runtime worker is in the control plane's own life cycle for it (what it decided, not what the worker
 * says): being started, up, frozen as a standby, draining before a stop (no new jobs, current ones finish), or
 * failed and waiting for a restart under backoff.
 */
export type LifecyclePhase = "starting" | "up" | "frozen" | "draining" | "failed";

/** A worker the control plane runs on its runtime, as stored. */
export interface RuntimeWorker {
  id: string;
  endpointId: string;
  revision: number;
  type: WorkerType;
  phase: LifecyclePhase;
  gpus: GpuDevice[];
  memoryBytes?: number;
  /** Why it failed (or is draining), in words for /health and the admin API. */
  reason?: string;
  restarts: number;
  nextRestartAt?: number;
  /** When the current run of failures began; restarts give up 7 days after it. */
  unhealthySince?: number;
  createdAt: number;
  startedAt?: number;
  phaseSince: number;
}

/** What users see, RunPod's worker states. */
export type WorkerState = "Initializing" | "Idle" | "Running" | "Throttled" | "Outdated" | "Unhealthy";
