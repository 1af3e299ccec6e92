import {
  ImageUnavailableError,
  type ObservedWorker,
  type ContainerDriver,
  type VolumeSpec,
  type WorkerPhase,
  type WorkerSpec,
} from "./container-driver";
import { DockerEngineError, splitImageReference, type ContainerInspect, type ContainerSpec, type DockerEngine } from "../../../docker-engine/engine";
import { LABELS } from "../../../docker-engine/labels";
import { mustHoldLease, soleLeader, type Fence } from "../../cluster/fence";
import type { DockerLogCollector } from "./container-logs";

export interface DockerDriverOptions {
  engine: DockerEngine;
  /** Labels every container and volume this control plane makes; it lists and touches only those. */
  controlPlaneId: string;
  /**
   * Docker network the workers join. "host" by default: the control plane listens on 127.0.0.1 and the worker
   * environment points there, which a container on a bridge network would reach as its own loopback, not the host's.
   */
  networkMode?: string;
  /** Asked before every change to the engine: a control plane that lost the lease changes nothing. */
  fence?: Fence;
  /** Reads each worker container's log into the log store; absent: logs are not kept. */
  logs?: DockerLogCollector;
}

/** The variable that tells a worker which simulated GPUs it was given, since no device shows them. */
export const SIMULATED_GPUS_ENV = "BERTH_SIMULATED_GPUS";

/** How long a pull may go without a word from the engine before it counts as hung (e.g. an unanswering registry). */
const PULL_IDLE_TIMEOUT_MS = 60_000;

export function containerName(workerId: string): string {
  return `berth-${workerId}`;
}

export function volumeName(volumeId: string): string {
  return `berth-vol-${volumeId}`;
}

/** The container a worker runs in, as the engine's create call takes it. Pure, so that it can be tested alone. */
export function workerContainerSpec(spec: WorkerSpec, options: { controlPlaneId: string; networkMode: string }): ContainerSpec {
  const real = spec.gpus.filter((gpu) => !gpu.simulated).map((gpu) => gpu.id);
  const simulated = spec.gpus.filter((gpu) => gpu.simulated).map((gpu) => gpu.id);
  const labels: Record<string, string> = {
    [LABELS.controlPlane]: options.controlPlaneId,
    [LABELS.endpoint]: spec.endpointId,
    [LABELS.revision]: String(spec.revision),
    [LABELS.worker]: spec.workerId,
  };
  if (simulated.length > 0) labels[LABELS.gpuSimulated] = "true";
  return {
    name: containerName(spec.workerId),
    image: spec.image,
    cmd: spec.command,
    // Simulated devices are named in the environment instead: a host without the GPUs cannot satisfy a request.
    env: simulated.length > 0 ? { ...spec.env, [SIMULATED_GPUS_ENV]: simulated.join(",") } : spec.env,
    labels,
    hostConfig: {
      // MemorySwap equal to Memory: no swap beyond the limit, so the memory the scheduler counts is all it uses.
      ...(spec.memoryBytes !== undefined && { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes }),
      NetworkMode: options.networkMode,
      // An init process (Docker's tini) as PID 1: a worker whose own process sets no SIGTERM handler would, as
      // PID 1, ignore SIGTERM and only die at the SIGKILL after the grace period.
      Init: true,
      ...(spec.volume && { Mounts: [{ Type: "volume", Source: volumeName(spec.volume.volumeId), Target: spec.volume.mountPath }] }),
      ...(real.length > 0 && { DeviceRequests: [{ Driver: "nvidia", DeviceIDs: real, Capabilities: [["gpu"]] }] }),
    },
  };
}

/** Runs workers as containers on one Docker engine, named `berth-<workerId>` and labelled with their control plane. */
export class DockerDriver implements ContainerDriver {
  readonly kind = "docker";
  readonly location: string;
  readonly controlPlaneId: string;
  private readonly engine: DockerEngine;
  private memTotal: number | undefined;
  private readonly networkMode: string;
  private readonly fence: Fence;
  private readonly logs: DockerLogCollector | undefined;

  constructor(options: DockerDriverOptions) {
    this.engine = options.engine;
    this.logs = options.logs;
    this.fence = options.fence ?? soleLeader;
    this.controlPlaneId = options.controlPlaneId;
    this.networkMode = options.networkMode ?? "host";
    this.location = options.engine.host;
  }

  /** The host's memory, asked of the engine once: it does not change while the engine runs, and placement asks per worker. */
  async memoryCapacity(): Promise<number> {
    this.memTotal ??= (await this.engine.info()).MemTotal;
    return this.memTotal;
  }

  async ensureImage(image: string): Promise<void> {
    if (await this.engine.imageExists(image)) return;
    try {
      await this.engine.pullImage(image, PULL_IDLE_TIMEOUT_MS);
    } catch (err) {
      if (!(err instanceof DockerEngineError)) throw err;
      const { registry } = splitImageReference(image);
      throw new ImageUnavailableError(image, `not found locally, and pulling from ${registry} failed: ${err.message}`);
    }
  }

  /** The local volume driver has no size quota: the size is only recorded, as a label, as it was at creation. */
  async ensureVolume(volume: VolumeSpec): Promise<void> {
    mustHoldLease(this.fence, `create volume ${volume.volumeId}`);
    await this.engine.createVolume(volumeName(volume.volumeId), {
      [LABELS.controlPlane]: this.controlPlaneId,
      [LABELS.volume]: volume.volumeId,
      [LABELS.sizeGb]: String(volume.sizeGb),
    });
  }

  async removeVolume(volumeId: string): Promise<void> {
    mustHoldLease(this.fence, `remove volume ${volumeId}`);
    await this.engine.removeVolume(volumeName(volumeId));
  }

  async startWorker(spec: WorkerSpec): Promise<void> {
    mustHoldLease(this.fence, `start worker ${spec.workerId}`);
    const name = containerName(spec.workerId);
    // A container of that name is left from an earlier try (a crash between create and record, a failed start).
    if (await this.owned(name)) await this.engine.removeContainer(name);
    const containerId = await this.engine.createContainer(workerContainerSpec(spec, { controlPlaneId: this.controlPlaneId, networkMode: this.networkMode }));
    // A failed start throws the engine's reason and leaves the container, which listWorkers then reports exited with it.
    await this.engine.startContainer(name);
    this.logs?.follow({ containerId, workerId: spec.workerId, endpointId: spec.endpointId });
  }

  async freezeWorker(workerId: string): Promise<void> {
    mustHoldLease(this.fence, `freeze worker ${workerId}`);
    const name = containerName(workerId);
    // Already frozen: nothing to do (the engine would answer 409). A missing one gets the engine's 404 from pause.
    if ((await this.owned(name))?.State.Paused) return;
    await this.engine.pauseContainer(name);
  }

  async resumeWorker(workerId: string): Promise<void> {
    mustHoldLease(this.fence, `resume worker ${workerId}`);
    const name = containerName(workerId);
    const container = await this.owned(name);
    if (container && !container.State.Paused) return;
    await this.engine.unpauseContainer(name);
  }

  async stopWorker(workerId: string, graceMs: number): Promise<void> {
    mustHoldLease(this.fence, `stop worker ${workerId}`);
    const name = containerName(workerId);
    const container = await this.owned(name);
    if (!container) return;
    // A frozen process cannot act on SIGTERM: thawed first, it gets its whole grace period to finish.
    if (container.State.Paused) await this.engine.unpauseContainer(name);
    await this.engine.stopContainer(name, Math.ceil(graceMs / 1000));
    // Its last lines (a crash's traceback) are read before the container and its log go.
    await this.logs?.drained(container.Id);
    await this.engine.removeContainer(name);
  }

  async listWorkers(): Promise<ObservedWorker[]> {
    const containers = await this.engine.listContainers({ [LABELS.controlPlane]: this.controlPlaneId });
    this.logs?.sync(
      containers.flatMap((c) => {
        const workerId = c.Labels?.[LABELS.worker];
        const endpointId = c.Labels?.[LABELS.endpoint];
        return workerId && endpointId ? [{ containerId: c.Id, workerId, endpointId }] : [];
      }),
    );
    const observed = await Promise.all(
      containers.map(async (container): Promise<ObservedWorker | undefined> => {
        const labels = container.Labels ?? {};
        const workerId = labels[LABELS.worker];
        const endpointId = labels[LABELS.endpoint];
        const revision = Number(labels[LABELS.revision]);
        // Something else labelled with this control plane (by hand) is not a worker it can account for.
        if (!workerId || !endpointId || !Number.isInteger(revision)) return undefined;
        const worker = { workerId, endpointId, revision };
        // A restarting container counts as running: it is coming back by itself (Berth sets no restart policy).
        if (container.State === "running" || container.State === "restarting") return { ...worker, phase: "running" };
        if (container.State === "paused") return { ...worker, phase: "paused" };
        // The list says neither why a container exited nor whether a "created" one failed to start: inspect says.
        const inspected = await this.engine.inspectContainer(container.Id);
        if (!inspected) return undefined;
        const state = stateOf(inspected);
        if (state.phase === "exited" && state.exitCode !== 0 && !state.reason) {
          const said = await this.lastWords(container.Id);
          if (said) state.reason = `last output: ${said}`;
        }
        return { ...worker, ...state };
      }),
    );
    return observed.filter((worker) => worker !== undefined);
  }

  /**
   * The last line a failed worker printed (stderr first), so its Unhealthy reason says what went wrong: with an
   * init process a missing command is an exit code 127 and tini's message, not a start error.
   */
  private async lastWords(id: string): Promise<string | undefined> {
    const { stdout, stderr } = await this.engine.containerLogs(id);
    const last = (text: string) => text.split("\n").map((line) => line.trim()).filter(Boolean).at(-1);
    const line = last(stderr) ?? last(stdout);
    return line && (line.length > 300 ? `${line.slice(0, 300)}...` : line);
  }

  /** The container of that name, or undefined; one of another control plane's is never touched. */
  private async owned(name: string): Promise<ContainerInspect | undefined> {
    const container = await this.engine.inspectContainer(name);
    const owner = container?.Config.Labels?.[LABELS.controlPlane];
    if (container && owner !== this.controlPlaneId) {
      throw new Error(
        `Docker engine at ${this.engine.host}: container ${name} belongs to ${owner ? `control plane ${owner}` : "no Berth control plane"}, not ${this.controlPlaneId}; leaving it alone`,
      );
    }
    return container;
  }
}

/** The phase of an inspected container, with its exit code and reason once it has exited or failed to start. */
function stateOf({ State: state }: ContainerInspect): { phase: WorkerPhase; exitCode?: number; reason?: string } {
  if (state.Status === "running" || state.Status === "restarting") return { phase: "running" };
  if (state.Status === "paused") return { phase: "paused" };
  if (state.Status === "created" && !state.Error) return { phase: "created" };
  // exited, dead, removing (on its way out), or created with a start error: the process is not running.
  const reason = state.OOMKilled ? "OOM killed" : state.Error || undefined;
  return { phase: "exited", exitCode: state.ExitCode, ...(reason && { reason }) };
}
