/**
 * What `berth doctor`'s probes found, as plain data. The probes (the *-probe.ts files) fill it in; checks.ts judges
 * it without any I/O, so each verdict can be tested with a hand-written object.
 */

/**
 * A probe's answer: what it found, or why it could not find out (it failed, or it ran out of time), with the HTTP
 * status of the refusal when a server refused.
 */
export type Probed<T> = { ok: true; value: T } | { ok: false; error: string; status?: number };

export interface DockerEngineFacts {
  /** DOCKER_HOST as given (or the default), for messages. */
  host: string;
  /** The engine's release and API version; an error when it is unreachable or DOCKER_HOST is not usable. */
  version: Probed<{ version: string; apiVersion: string }>;
  /** From `GET /info`; absent when the engine did not answer. */
  info?: Probed<{ rootDir?: string; runtimes: string[]; cdiSpecDirs: string[] }>;
}

export interface GpuFacts {
  /** `nvidia-smi` missing: the host has no NVIDIA driver (or it is not on PATH). */
  driver: Probed<{ installed: false } | { installed: true; devices: Array<{ id: string; typeId: string }>; unknown: string[] }>;
}

/** What would let Docker hand GPUs to a container: the NVIDIA Container Toolkit, seen three ways. */
export interface ContainerToolkitFacts {
  /** `nvidia-container-runtime-hook` on PATH: what Docker's "nvidia" device driver (Berth's DeviceRequests) runs. */
  hook?: string;
  /** CDI spec files that describe nvidia.com/gpu devices. */
  cdiSpecs: string[];
}

export interface DiskFacts {
  /** The directory measured: the engine's root dir, or "/" when that is not visible from here. */
  path: string;
  /** Why `path` is not the engine's root dir, when it is not. */
  fallback?: string;
  freeBytes: number;
  totalBytes: number;
}

export interface ControlPlaneFacts {
  url: string;
  /** GET /healthz: its HTTP status, or why there was none. */
  health: Probed<{ status: number }>;
  /** Absent when no key was given or the health check failed. */
  keyCheck?: Probed<{ status: number; message?: string; endpoints?: number; scope?: string }>;
}

export interface KubeNodeFacts {
  name: string;
  /** nvidia.com/gpu in the node's capacity and allocatable, 0 when absent. */
  gpuCapacity: number;
  gpuAllocatable: number;
  /** The nvidia.com/gpu.product label. */
  product?: string;
}

export interface KubernetesFacts {
  /** The API server from the kubeconfig. */
  server?: string;
  /** Its version: an error when the kubeconfig cannot be loaded or the server does not answer. */
  version: Probed<string>;
  /** Absent when the version call failed already. */
  nodes?: Probed<KubeNodeFacts[]>;
}

export interface DoctorFacts {
  runtime: "docker" | "kubernetes";
  /** The Docker host's facts: absent with --runtime kubernetes, where workers run on the cluster's nodes. */
  docker?: DockerEngineFacts;
  gpus?: GpuFacts;
  toolkit?: ContainerToolkitFacts;
  disk?: Probed<DiskFacts>;
  /** Absent when no control plane URL was given. */
  controlPlane?: ControlPlaneFacts;
  /** Absent unless the Kubernetes runtime or a kubeconfig was named. */
  kubernetes?: KubernetesFacts;
}
