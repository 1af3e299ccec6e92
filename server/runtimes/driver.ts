/**
 * The runtime driver interface: how the control plane's scheduler starts, freezes, stops and finds the worker
 * processes of its endpoints, on whatever runs them (a Docker engine here; a Kubernetes cluster later). The
 * scheduler decides which workers should exist and where their GPUs come from; a driver only carries that out
 * and reports what it sees. Nothing Docker-specific crosses this interface.
 */

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

/** A network volume as a runtime sees it. */
export interface VolumeSpec {
  /** The network volume's id (admin API). */
  volumeId: string;
  sizeGb: number;
}

/** Everything a runtime needs to create one worker. */
export interface WorkerSpec {
  /** Also the worker's RUNPOD_POD_ID, so the control plane knows which process calls it. */
  workerId: string;
  endpointId: string;
  revision: number;
  image: string;
  /** Replaces the image's command; absent: the image's own. */
  command?: string[];
  /** The whole environment: template env, then endpoint env, then the control plane's worker env. */
  env: Record<string, string>;
  memoryBytes?: number;
  /** The devices this worker gets, whole and unshared; all of one type. */
  gpus: GpuDevice[];
  volume?: { volumeId: string; mountPath: string };
}

/** What a runtime reports about one of its workers. */
export type WorkerPhase = "created" | "running" | "paused" | "exited" | "missing";

export interface ObservedWorker {
  workerId: string;
  endpointId: string;
  revision: number;
  phase: WorkerPhase;
  /** For an exited worker: its exit code, and why when the runtime knows (OOM killed, start failed...). */
  exitCode?: number;
  reason?: string;
}

/** An image that cannot be had: absent locally and no registry gave it. Its message says which and why. */
export class ImageUnavailableError extends Error {
  constructor(
    readonly image: string,
    detail: string,
  ) {
    super(`image ${image} is not available: ${detail}`);
    this.name = "ImageUnavailableError";
  }
}

export interface RuntimeDriver {
  /** "docker" or "kubernetes", for logs and status output. */
  readonly kind: string;
  /** Where it runs workers, for logs and status output (e.g. the DOCKER_HOST). */
  readonly location: string;

  /** Bytes of memory available to workers in total; undefined when the runtime sets no bound. */
  memoryCapacity(): Promise<number | undefined>;

  /** Makes the image available to create workers from: present already, or pulled. Throws ImageUnavailableError. */
  ensureImage(image: string): Promise<void>;

  /** Creates the volume if it does not exist; idempotent. */
  ensureVolume(volume: VolumeSpec): Promise<void>;
  removeVolume(volumeId: string): Promise<void>;

  /** Creates and starts a worker. */
  startWorker(spec: WorkerSpec): Promise<void>;
  /** Freezes a started worker in place (its memory and GPUs kept), so it can resume in milliseconds. */
  freezeWorker(workerId: string): Promise<void>;
  resumeWorker(workerId: string): Promise<void>;
  /** Asks the worker to stop (SIGTERM), kills it after `graceMs`, and removes it. Idempotent. */
  stopWorker(workerId: string, graceMs: number): Promise<void>;

  /** Every worker this control plane owns on the runtime, whatever its phase. */
  listWorkers(): Promise<ObservedWorker[]>;
}
