import crypto from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { JobService } from "../../jobs/service";
import type { ContainerDriver, WorkerSpec } from "./container-driver";
import type { GpuInventory } from "../../policy/worker-model";
import type { ResourceSampler } from "../worker-runtime";
import type { EndpointRecord, EndpointRevision, ResourceStore } from "../../store/resources";
import { revisionEnv } from "../../worker-env";
import type { FleetWorkerStore } from "../../store/fleet-workers";
import { RESTARTS_GIVE_UP_AFTER_MS, restartDelayMs } from "../../policy/backoff";
import { placeWorker, type Placement } from "./placement";
import type { RuntimeWorker, WorkerType } from "../../policy/worker-model";

export interface WorkerActionsConfig {
  /** How long a stopped worker gets between SIGTERM and SIGKILL. It has no job by then: drains come first. */
  stopGraceMs: number;
  restartBackoffBaseMs: number;
  restartBackoffMaxMs: number;
}

/** What the fleet works with, shared by the fleet and its actions. */
export interface FleetParts {
  driver: ContainerDriver;
  inventory: GpuInventory;
  resources: ResourceStore;
  jobs: JobService;
  store: FleetWorkerStore;
  /** The control plane's worker env (worker API URLs, key) for a worker of an endpoint. */
  workerEnv: (endpointId: string, workerId: string) => Record<string, string>;
  /** The workers' CPU, memory and GPU use, for the workers view. */
  sampler: ResourceSampler;
  /** Told how long each started or resumed worker took to call the control plane (the cold start metric). */
  coldStart: (endpointId: string, seconds: number) => void;
  /** Told how long each reconcile pass took. */
  reconciled: (seconds: number) => void;
  log: FastifyBaseLogger;
  /** What reads the workers' logs (the driver tells it of containers); stopped with the fleet. */
  logs?: { stop(): Promise<void> };
}

/** Joins a failed worker's reason and why its restart cannot be placed yet. */
const RESTART_WAITS = "; its restart waits: ";

/**
 * What the fleet does to one worker, each step kept in three places at once: the runtime (through the driver),
 * the runtime_workers table (what was decided) and the job service (whether the worker may get jobs, and its
 * jobs when it goes). The fleet decides; this carries out.
 */
export class WorkerActions {
  constructor(
    private readonly parts: FleetParts,
    private readonly config: WorkerActionsConfig,
  ) {}

  /**
   * Starts up to `count` new workers of the current revision, standbys or serving ones of the type `typeOf`
   * gives; stops at the first placement refusal, which it returns (the Throttled reason).
   */
  async startNew(
    endpoint: EndpointRecord,
    revision: EndpointRevision,
    count: number,
    typeOf: () => WorkerType,
  ): Promise<{ started: number; refusal?: string }> {
    const launches: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      const placed = await this.place(revision);
      if (!placed.ok) {
        await Promise.all(launches);
        return { started: launches.length, refusal: placed.reason };
      }
      const now = Date.now();
      const worker: RuntimeWorker = {
        id: `${endpoint.id}-${crypto.randomBytes(4).toString("hex")}`,
        endpointId: endpoint.id,
        revision: revision.revision,
        type: typeOf(),
        phase: "starting",
        gpus: placed.gpus,
        memoryBytes: memoryOf(revision),
        restarts: 0,
        createdAt: now,
        phaseSince: now,
      };
      this.parts.store.save(worker);
      launches.push(this.launch(worker, revision));
    }
    await Promise.all(launches);
    return { started: launches.length };
  }

  /** Starts a failed worker again, with the same id and slot, once GPUs can be placed for it. */
  async restart(worker: RuntimeWorker, revision: EndpointRevision, now: number): Promise<void> {
    await this.parts.driver.stopWorker(worker.id, 0);
    const placed = await this.place(revision);
    if (!placed.ok) {
      const delay = restartDelayMs(worker.restarts, this.config.restartBackoffBaseMs, this.config.restartBackoffMaxMs);
      const reason = `${worker.reason?.split(RESTART_WAITS)[0]}${RESTART_WAITS}${placed.reason}`;
      this.parts.store.save({ ...worker, nextRestartAt: now + delay, reason });
      return;
    }
    const restarting: RuntimeWorker = {
      ...worker,
      phase: "starting",
      gpus: placed.gpus,
      memoryBytes: memoryOf(revision),
      nextRestartAt: undefined,
      phaseSince: now,
    };
    this.parts.store.save(restarting);
    this.parts.log.info({ workerId: worker.id, restarts: worker.restarts, reason: worker.reason }, "restarting a failed worker");
    await this.launch(restarting, revision);
  }

  /** No new jobs for the worker; it is stopped once its jobs in progress have finished. */
  drain(worker: RuntimeWorker, why: string): void {
    this.parts.jobs.hold(worker.endpointId, worker.id);
    this.parts.store.save({ ...worker, phase: "draining", reason: why, phaseSince: Date.now() });
    this.parts.log.info({ workerId: worker.id, endpointId: worker.endpointId, why }, "draining worker");
  }

  async remove(worker: RuntimeWorker, why: string): Promise<void> {
    this.parts.jobs.hold(worker.endpointId, worker.id);
    await this.parts.driver.stopWorker(worker.id, this.config.stopGraceMs);
    await this.parts.jobs.workerGone(worker.endpointId, worker.id, `worker ${worker.id} stopped: ${why}`);
    this.parts.store.remove(worker.id);
    this.parts.log.info({ workerId: worker.id, endpointId: worker.endpointId, why }, "worker stopped");
  }

  async freeze(worker: RuntimeWorker): Promise<void> {
    this.parts.jobs.hold(worker.endpointId, worker.id);
    await this.parts.driver.freezeWorker(worker.id);
    this.parts.store.save({ ...worker, phase: "frozen", phaseSince: Date.now() });
  }

  async resume(worker: RuntimeWorker, type: WorkerType): Promise<void> {
    this.timeColdStart(worker, Date.now());
    await this.parts.driver.resumeWorker(worker.id);
    this.parts.store.save({ ...worker, type, phase: "up", phaseSince: Date.now() });
    this.parts.jobs.release(worker.endpointId, worker.id);
    this.parts.log.info({ workerId: worker.id, endpointId: worker.endpointId, type }, "standby worker resumed");
  }

  /** The worker failed: its jobs go back to the queue and it waits for a restart under backoff (7 days at most). */
  async fail(worker: RuntimeWorker, why: string, now: number): Promise<void> {
    await this.parts.jobs.workerGone(worker.endpointId, worker.id, `worker ${worker.id} failed: ${why}`);
    const since = worker.unhealthySince ?? now;
    const givenUp = now - since >= RESTARTS_GIVE_UP_AFTER_MS;
    const delay = restartDelayMs(worker.restarts, this.config.restartBackoffBaseMs, this.config.restartBackoffMaxMs);
    // Its GPUs and memory go back to the pool while it waits: a crash-looping endpoint must not hold a host's GPUs
    // for the 7 days its restarts may go on. The restart places it afresh.
    this.parts.store.save({
      ...worker,
      gpus: [],
      memoryBytes: undefined,
      phase: "failed",
      reason: givenUp ? `${why}; gave up restarting after 7 days` : why,
      restarts: worker.restarts + 1,
      unhealthySince: since,
      nextRestartAt: givenUp ? undefined : now + delay,
      phaseSince: now,
    });
    this.parts.log.warn({ workerId: worker.id, endpointId: worker.endpointId, why, restartInMs: givenUp ? undefined : delay }, "worker failed");
  }

  /** GPUs and memory for one more worker of the revision, from what no worker holds. */
  private async place(revision: EndpointRevision): Promise<Placement> {
    const all = this.parts.store.all();
    return placeWorker(
      { gpuTypeIds: revision.spec.gpuTypeIds, gpuCount: revision.spec.gpuCount, memoryBytes: memoryOf(revision) },
      {
        inventory: this.parts.inventory,
        inUse: new Set(all.flatMap((w) => w.gpus.map((g) => g.id))),
        memoryCapacity: await this.parts.driver.memoryCapacity(),
        memoryInUse: all.reduce((sum, w) => sum + (w.memoryBytes ?? 0), 0),
      },
    );
  }

  /** Creates the worker's container; a failure marks it failed (Unhealthy) with the runtime's reason. */
  private async launch(worker: RuntimeWorker, revision: EndpointRevision): Promise<void> {
    if (worker.type === "extra") this.parts.jobs.hold(worker.endpointId, worker.id);
    this.timeColdStart(worker, worker.phaseSince);
    try {
      await this.parts.driver.ensureImage(revision.templateSpec.imageName);
      if (revision.spec.networkVolumeId) {
        const volume = this.parts.resources.getVolume(revision.spec.networkVolumeId);
        if (volume) await this.parts.driver.ensureVolume({ volumeId: volume.id, sizeGb: volume.spec.size });
      }
      await this.parts.driver.startWorker(this.workerSpec(worker, revision));
      const started = Date.now();
      this.parts.store.save({ ...(this.parts.store.get(worker.id) ?? worker), phase: "up", startedAt: started, phaseSince: started });
      this.parts.log.info({ workerId: worker.id, endpointId: worker.endpointId, revision: worker.revision, type: worker.type }, "worker started");
    } catch (err) {
      await this.fail(this.parts.store.get(worker.id) ?? worker, (err as Error).message, Date.now());
    }
  }

  /** From the moment the worker was asked to run to its first call; a worker that never calls is never counted. */
  private timeColdStart(worker: RuntimeWorker, since: number): void {
    void this.parts.jobs.firstCallAfter(worker.endpointId, worker.id, since).then((at) => this.parts.coldStart(worker.endpointId, (at - since) / 1000));
  }

  private workerSpec(worker: RuntimeWorker, revision: EndpointRevision): WorkerSpec {
    const template = revision.templateSpec;
    return {
      workerId: worker.id,
      endpointId: worker.endpointId,
      revision: worker.revision,
      image: template.imageName,
      command: template.startCommand,
      env: revisionEnv(revision, this.parts.workerEnv(worker.endpointId, worker.id)),
      memoryBytes: worker.memoryBytes,
      gpus: worker.gpus,
      volume: revision.spec.networkVolumeId ? { volumeId: revision.spec.networkVolumeId, mountPath: template.volumeMountPath } : undefined,
    };
  }
}

function memoryOf(revision: EndpointRevision): number | undefined {
  const gb = revision.templateSpec.memoryInGb;
  return gb === undefined ? undefined : gb * 1024 ** 3;
}
