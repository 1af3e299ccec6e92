import { z } from "zod";

/** RunPod's worker types: active workers are always on (workersMin), flex ones follow demand, extra ones wait frozen. */
export const workerTypeSchema = z.enum(["active", "flex", "extra"]);
export type WorkerType = z.output<typeof workerTypeSchema>;

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
export const workerStateSchema = z.enum(["Initializing", "Idle", "Running", "Throttled", "Outdated", "Unhealthy"]);
export type WorkerState = z.output<typeof workerStateSchema>;

/** One GPU a runtime can hand to a worker. */
export interface GpuDevice {
  /** What the runtime passes to claim the device: an nvidia-smi index or UUID ("0", "GPU-8f...") or "sim-0". */
  id: string;
  /** The RunPod GPU type id (server/resources/gpu-types.ts). */
  typeId: string;
  /** True for a device declared for development on a host without it; never handed to a container as a device. */
  simulated: boolean;
}

/** Where the devices came from, shown in every status output so a simulated inventory is never mistaken for real. */
export type GpuInventorySource = "nvidia-smi" | "declared" | "simulated" | "none";

export interface GpuInventory {
  source: GpuInventorySource;
  devices: GpuDevice[];
}
