import type { EndpointSpec } from "../../resources/schemas";
import type { ObservedWorker } from "./container-driver";
import {
  endpointActivity,
  runtimeHealth,
  settledRollout,
  type EndpointHealth,
  type EndpointWorkersView,
  type ResourceUse,
  type RolloutStatus,
  type RuntimeDescription,
  type WorkerInfo,
  type WorkerRuntime,
} from "../worker-runtime";
import type { EndpointRecord, EndpointRevision } from "../../store/resources";
import { desiredServing, idleWorkersToStop, queueCountCap } from "../../policy/autoscaler";
import { describeInventory } from "./placement";
import { pickRetirees, rolloutBatchSize } from "../../policy/rollout";
import type { LifecyclePhase, RuntimeWorker, WorkerType } from "../../policy/worker-model";
import { ReconcilingRuntime } from "../reconciling-runtime";
import { WorkerActions, type FleetParts, type WorkerActionsConfig } from "./worker-actions";
import { workerState, type RuntimeCondition, type RuntimeFacts } from "../../policy/worker-state";

export interface FleetConfig extends WorkerActionsConfig {
  /** How often every endpoint is reconciled; a newly queued job also triggers a pass at once. */
  reconcileIntervalMs: number;
  /** Frozen standby workers per endpoint, where capacity allows (RunPod's extra workers). */
  extraWorkers: number;
  /** A worker that called and then went silent this long has failed (the job API releases its jobs then too). */
  workerLostAfterMs: number;
}

const CONDITION: Record<LifecyclePhase, RuntimeCondition> = {
  starting: "starting",
  up: "up",
  draining: "up",
  frozen: "frozen",
  failed: "failed",
};

/** A fleet worker in the terms the worker states are decided in (policy/worker-state.ts). */
export function fleetWorkerFacts(worker: RuntimeWorker): RuntimeFacts {
  return { condition: CONDITION[worker.phase], revision: worker.revision, startedAt: worker.startedAt ?? worker.createdAt };
}

/** After a restart has kept a worker up this long, its earlier failures are forgiven. */
const HEALTHY_AFTER_MS = 60_000;

/**
 * The control plane's workers on its runtime: it decides how many each endpoint needs (autoscaler), where their
 * GPUs come from (placement), when old revisions give way (rollout) and when failed workers come back (backoff),
 * and carries that out through the runtime driver. One pass at a time; each pass first compares what it decided
 * (the runtime_workers table) with what the runtime reports, so a crashed worker, a lost one or a restarted
 * control plane all converge the same way.
 */
export class Fleet extends ReconcilingRuntime implements WorkerRuntime {
  /** In memory: when each serving worker was last seen without a job. A restart starts the clocks afresh. */
  private readonly idleSince = new Map<string, number>();
  /**
   * Workers that have called the control plane since they were last started or resumed (the value is that
   * moment, their phaseSince): only such a worker can go silent, and then it has failed.
   */
  private readonly calledSince = new Map<string, number>();
  private readonly actions: WorkerActions;
  private readonly throttled = new Map<string, { count: number; reason?: string }>();
  private readonly rollouts = new Map<string, RolloutStatus>();

  constructor(
    private readonly parts: FleetParts,
    private readonly config: FleetConfig,
  ) {
    super(parts.jobs, config.reconcileIntervalMs, parts.log, "fleet", parts.reconciled);
    this.actions = new WorkerActions(parts, config);
  }

  /** Adopts what the runtime already runs for this control plane, then reconciles periodically. */
  override start(): void {
    this.parts.sampler.start();
    for (const worker of this.parts.store.all()) {
      if (worker.phase === "frozen" || worker.phase === "starting" || worker.phase === "draining") this.parts.jobs.hold(worker.endpointId, worker.id);
    }
    super.start();
  }

  override async stop(): Promise<void> {
    this.parts.sampler.stop();
    await super.stop();
    await this.parts.logs?.stop();
  }

  async status(endpointId: string): Promise<EndpointWorkersView> {
    const revision = this.parts.resources.getEndpoint(endpointId)?.revision ?? 0;
    const activity = await endpointActivity(this.parts.jobs, endpointId, revision);
    const workers = this.parts.store.ofEndpoint(endpointId).map((w) => ({
      id: w.id,
      type: w.type,
      state: workerState(fleetWorkerFacts(w), activity.of(w.id)),
      revision: w.revision,
      gpus: { ids: w.gpus.map((g) => g.id), typeId: w.gpus[0]?.typeId, simulated: w.gpus.some((g) => g.simulated) },
      frozen: w.phase === "frozen",
      draining: w.phase === "draining",
      reason: w.reason,
      restarts: w.restarts,
      startedAt: w.startedAt === undefined ? undefined : new Date(w.startedAt).toISOString(),
      jobsInProgress: activity.of(w.id).jobs,
    }));
    return {
      endpointId,
      revision,
      runtime: this.describe(),
      workers,
      throttled: this.throttled.get(endpointId) ?? { count: 0 },
      rollout: this.rollouts.get(endpointId) ?? settledRollout(revision),
    };
  }

  describe(): RuntimeDescription {
    return { kind: this.parts.driver.kind, location: this.parts.driver.location, gpus: describeInventory(this.parts.inventory) };
  }

  async health(endpointId: string): Promise<EndpointHealth> {
    return runtimeHealth(this.parts.jobs, await this.status(endpointId));
  }

  workerInfo(workerId: string): WorkerInfo | undefined {
    const worker = this.parts.store.get(workerId);
    return worker && { type: worker.type, gpuTypeId: worker.gpus[0]?.typeId, gpuCount: worker.gpus.length };
  }

  resourceUse(workerId: string): ResourceUse {
    const worker = this.parts.store.get(workerId);
    if (!worker || worker.phase === "failed") return { note: "not running" };
    if (worker.phase === "frozen") return { note: "frozen (paused until needed)" };
    return this.parts.sampler.use(workerId, worker.gpus.map((g) => g.id));
  }

  // ---- one pass ----

  protected async reconcile(only?: ReadonlySet<string>): Promise<void> {
    if (only) return this.reconcileEndpoints(only, Date.now());
    const now = Date.now();
    const observed = new Map((await this.parts.driver.listWorkers()).map((w) => [w.workerId, w]));
    const endpoints = new Map(this.parts.resources.listEndpoints().map((e) => [e.id, e]));
    const records = this.parts.store.all();

    for (const worker of records) {
      if (!endpoints.has(worker.endpointId)) await this.actions.remove(worker, "its endpoint was deleted");
      else await this.checkAlive(worker, observed.get(worker.id), now);
    }
    const known = new Set(records.map((w) => w.id));
    for (const memory of [this.idleSince, this.calledSince]) {
      for (const id of memory.keys()) if (!known.has(id)) memory.delete(id);
    }
    for (const orphan of observed.values()) {
      if (!known.has(orphan.workerId)) {
        this.parts.log.info({ workerId: orphan.workerId, endpointId: orphan.endpointId }, "removing a worker this control plane has no record of");
        await this.parts.driver.stopWorker(orphan.workerId, 0);
      }
    }
    // An endpoint with no worker here, no queued job, and no active or standby worker to start has nothing to
    // decide: a hundred idle endpoints cost one query a pass, not three each.
    const queued = await this.parts.jobs.endpointsWithQueuedJobs();
    const busy = new Set([...queued, ...records.map((w) => w.endpointId)]);
    const wantsWorkers = (spec: EndpointRecord["spec"]) => spec.workersMin > 0 || (this.config.extraWorkers > 0 && spec.workersMax > 0);
    for (const endpoint of endpoints.values()) {
      if (busy.has(endpoint.id) || wantsWorkers(endpoint.spec)) await this.reconcileEndpoints([endpoint.id], now);
      else {
        this.throttled.delete(endpoint.id);
        this.rollouts.delete(endpoint.id);
      }
    }
    for (const volumeId of this.volumesToRemove) {
      try {
        await this.parts.driver.removeVolume(volumeId);
        this.volumesToRemove.delete(volumeId);
        this.parts.log.info({ volumeId }, "network volume removed");
      } catch (err) {
        this.parts.log.debug({ volumeId, err: (err as Error).message }, "network volume still in use; removal retried next pass");
      }
    }
  }

  /** Compares a worker the control plane runs with what the runtime and the worker API say about it. */
  private async checkAlive(worker: RuntimeWorker, observed: ObservedWorker | undefined, now: number): Promise<void> {
    if (worker.phase === "failed") return;
    let failure: string | undefined;
    // Passes launch and wait for their launches, so a worker still "starting" here was being started when the
    // control plane went down: it is up if its container runs, failed otherwise.
    if (worker.phase === "starting" && observed?.phase === "running") {
      this.parts.store.save({ ...worker, phase: "up", startedAt: worker.startedAt ?? now, phaseSince: now });
      return;
    }
    if (!observed || observed.phase === "missing") failure = "its container is gone";
    else if (observed.phase === "exited") failure = `exited with code ${observed.exitCode ?? "?"}${observed.reason ? ` (${observed.reason})` : ""}`;
    else if (worker.phase !== "frozen") {
      const caller = await this.parts.jobs.callingWorker(worker.endpointId, worker.id);
      if (caller?.unhealthyReason) failure = caller.unhealthyReason;
      else if (!caller && this.calledSince.get(worker.id) === worker.phaseSince) {
        failure = `stopped calling the control plane for over ${this.config.workerLostAfterMs} ms`;
      } else if (caller && worker.restarts > 0 && worker.startedAt !== undefined && now - worker.startedAt > HEALTHY_AFTER_MS) {
        this.parts.store.save({ ...worker, restarts: 0, unhealthySince: undefined, reason: undefined });
      }
      if (caller) this.calledSince.set(worker.id, worker.phaseSince);
    }
    if (failure) await this.actions.fail(worker, failure, now);
  }

  private async reconcileEndpoints(ids: Iterable<string>, now: number): Promise<void> {
    for (const id of ids) {
      const endpoint = this.parts.resources.getEndpoint(id);
      const revision = endpoint && this.parts.resources.currentRevision(id);
      if (endpoint && revision) await this.reconcileEndpoint(endpoint, revision, now);
    }
  }

  private async reconcileEndpoint(endpoint: EndpointRecord, revision: EndpointRevision, now: number): Promise<void> {
    const spec = endpoint.spec;
    const activity = await endpointActivity(this.parts.jobs, endpoint.id, revision.revision);
    const jobsByWorker = activity.jobs;
    let workers = this.parts.store.ofEndpoint(endpoint.id);
    const stateOf = (w: RuntimeWorker) => workerState(fleetWorkerFacts(w), activity.of(w.id));

    const queue = await this.parts.jobs.queueStats(endpoint.id, now - spec.scalerValue * 1000, queueCountCap(spec, workers.length));

    await this.settleFailures(workers.filter((w) => w.phase === "failed" && w.revision === revision.revision), revision, queue.queued, now);
    await this.finishDrains(workers.filter((w) => w.phase === "draining"), jobsByWorker);
    const newStarting = workers.filter((w) => w.revision === revision.revision && w.type !== "extra" && stateOf(w) === "Initializing");
    await this.rollOut(endpoint, workers, revision.revision, jobsByWorker, newStarting.length);
    workers = this.parts.store.ofEndpoint(endpoint.id);

    const current = workers.filter((w) => w.revision === revision.revision);
    // Standbys (extra workers) are not serving until resumed: they are held from the start and get no jobs.
    const serving = workers.filter((w) => (w.phase === "starting" || w.phase === "up") && w.type !== "extra");
    for (const w of serving) {
      if ((jobsByWorker.get(w.id) ?? 0) > 0 || stateOf(w) === "Initializing") this.idleSince.delete(w.id);
      else if (!this.idleSince.has(w.id)) this.idleSince.set(w.id, now);
    }
    const counts = { initializing: 0, idle: 0, running: 0 };
    for (const w of serving) {
      const state = stateOf(w);
      if (state === "Running") counts.running++;
      else if (state === "Initializing") counts.initializing++;
      else counts.idle++;
    }
    // A failed worker of this revision keeps its slot while it waits for its restart: otherwise every pass
    // would start another worker beside it, and a crash-looping image would multiply.
    const failing = current.filter((w) => w.phase === "failed" && w.type !== "extra").length;
    const draining = workers.filter((w) => w.phase === "draining").length;
    const target = Math.min(spec.workersMax, desiredServing(spec, queue, { ...counts, idle: counts.idle + failing + draining }));
    let have = serving.length + failing;

    const frozen = current.filter((w) => w.phase === "frozen");
    while (have < target && frozen.length > 0) {
      await this.actions.resume(frozen.shift()!, this.typeFor(spec, workers));
      have++;
      workers = this.parts.store.ofEndpoint(endpoint.id);
    }
    const throttle = { count: 0, reason: undefined as string | undefined };
    if (have < target) {
      const typeOf = () => this.typeFor(spec, this.parts.store.ofEndpoint(endpoint.id));
      const results = await this.actions.startNew(endpoint, revision, target - have, typeOf);
      throttle.count = target - have - results.started;
      throttle.reason = results.refusal;
      have += results.started;
    }
    this.throttled.set(endpoint.id, throttle);

    await this.scaleDown(spec, serving, have, queue, now);
    await this.keepExtras(endpoint, revision, have, now);
    this.assignTypes(spec, this.parts.store.ofEndpoint(endpoint.id));
  }

  // ---- scaling ----

  private async scaleDown(spec: EndpointSpec, serving: RuntimeWorker[], have: number, queue: { queued: number; inProgress: number }, now: number) {
    const idleFlex = serving
      .filter((w) => w.type === "flex" && w.phase === "up" && this.idleSince.has(w.id))
      .map((w) => ({ id: w.id, idleSince: this.idleSince.get(w.id)! }));
    for (const id of idleWorkersToStop(spec, queue, have, idleFlex, now)) {
      const worker = this.parts.store.get(id);
      if (worker) await this.actions.remove(worker, `idle for over ${spec.idleTimeout} s`);
    }
    // workersMax lowered below what runs: the surplus drains, idle workers first.
    const surplus = serving.length - spec.workersMax;
    if (surplus > 0) {
      const byJobs = [...serving].sort((a, b) => (this.idleSince.has(b.id) ? 1 : 0) - (this.idleSince.has(a.id) ? 1 : 0));
      for (const worker of byJobs.slice(0, surplus)) this.actions.drain(worker, `over workersMax (${spec.workersMax})`);
    }
  }

  /** Standby workers, frozen once started, as many as `extraWorkers` and the room under workersMax allow. */
  private async keepExtras(endpoint: EndpointRecord, revision: EndpointRevision, serving: number, now: number): Promise<void> {
    const workers = this.parts.store.ofEndpoint(endpoint.id);
    const extras = workers.filter((w) => w.type === "extra" && w.revision === revision.revision && w.phase !== "failed");
    const wanted = Math.max(0, Math.min(this.config.extraWorkers, endpoint.spec.workersMax - serving));
    if (extras.length < wanted) await this.actions.startNew(endpoint, revision, wanted - extras.length, () => "extra");
    for (const extra of extras.slice(wanted)) await this.actions.remove(extra, "no longer needed as a standby");
    // A standby freezes once it has called the control plane: its job-take long-poll is then already open.
    const seen = await this.parts.jobs.lastSeen(endpoint.id);
    for (const extra of extras.slice(0, wanted)) {
      if (extra.phase === "up" && (seen.get(extra.id) ?? 0) >= (extra.startedAt ?? now)) await this.actions.freeze(extra);
    }
  }

  /** Active workers are the first workersMin serving ones; the rest are flex. Types are labels: nothing restarts. */
  private assignTypes(spec: EndpointSpec, workers: RuntimeWorker[]): void {
    let active = 0;
    for (const w of workers) {
      if (w.type === "extra") continue; // a standby becomes active or flex when it is resumed, not before
      const type: WorkerType = active < spec.workersMin ? "active" : "flex";
      if (type === "active") active++;
      if (w.type !== type) this.parts.store.save({ ...w, type });
    }
  }

  private typeFor(spec: EndpointSpec, workers: RuntimeWorker[]): WorkerType {
    const active = workers.filter((w) => w.type === "active").length;
    return active < spec.workersMin ? "active" : "flex";
  }

  // ---- rollout ----

  private async rollOut(endpoint: EndpointRecord, workers: RuntimeWorker[], revision: number, jobsByWorker: ReadonlyMap<string, number>, starting: number) {
    const batchSize = rolloutBatchSize(endpoint.spec.workersMax);
    const outdated = workers.filter((w) => w.revision < revision);
    // Outdated workers without a job in hand (standbys, failed or starting ones) go at once.
    for (const w of outdated.filter((w) => w.phase === "frozen" || w.phase === "failed" || w.phase === "starting")) {
      await this.actions.remove(w, `outdated: revision ${w.revision} < ${revision}`);
    }
    const serving = outdated.filter((w) => w.phase === "up" || w.phase === "draining");
    const unhealthyNew = workers.find((w) => w.revision === revision && w.phase === "failed");
    let status: RolloutStatus;
    if (serving.length === 0) status = { revision, state: "done", outdated: 0, batchSize };
    else if (unhealthyNew) {
      status = {
        revision,
        state: "halted",
        outdated: serving.length,
        batchSize,
        reason: `revision ${revision} does not become healthy: worker ${unhealthyNew.id} ${unhealthyNew.reason ?? "failed"}`,
      };
    } else {
      status = { revision, state: "rolling", outdated: serving.length, batchSize };
      const picks = pickRetirees(
        serving.map((w) => ({ id: w.id, jobs: jobsByWorker.get(w.id) ?? 0, retiring: w.phase === "draining" })),
        batchSize,
        starting,
      );
      for (const id of picks) {
        const worker = serving.find((w) => w.id === id)!;
        if ((jobsByWorker.get(id) ?? 0) === 0) await this.actions.remove(worker, `replaced by revision ${revision}`);
        else this.actions.drain(worker, `outdated: finishing its job before revision ${revision} replaces it`);
      }
    }
    const previous = this.rollouts.get(endpoint.id);
    if (previous?.state !== status.state || previous.outdated !== status.outdated) {
      this.parts.log.info({ endpointId: endpoint.id, ...status }, "rollout progress");
    }
    this.rollouts.set(endpoint.id, status);
  }

  private async finishDrains(draining: RuntimeWorker[], jobsByWorker: ReadonlyMap<string, number>): Promise<void> {
    for (const worker of draining) {
      if ((jobsByWorker.get(worker.id) ?? 0) === 0) await this.actions.remove(worker, worker.reason ?? "drained");
    }
  }

  /**
   * Failed workers of the current revision: a flex one was started for jobs, so once none waits it is let go
   * rather than restarted (active ones and standbys are restarted); the others restart when their backoff is over.
   */
  private async settleFailures(failed: RuntimeWorker[], revision: EndpointRevision, queued: number, now: number): Promise<void> {
    for (const worker of failed) {
      if (worker.type === "flex" && queued === 0) await this.actions.remove(worker, `failed (${worker.reason}); no job waits for it`);
      else if (worker.nextRestartAt !== undefined && worker.nextRestartAt <= now) await this.actions.restart(worker, revision, now);
    }
  }

}
