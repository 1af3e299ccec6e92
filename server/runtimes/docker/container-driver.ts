import type { GpuDevice } from "../../policy/worker-model";

/**
 * The per-container driver the Docker fleet (fleet.ts) drives: it starts, freezes, stops and finds one worker
 * container at a time. The fleet decides which workers should exist and where their GPUs come from; the driver
 * only carries that out and reports what it sees, so the fleet's logic is tested apart from the engine.
 */

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

export interface ContainerDriver {
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
