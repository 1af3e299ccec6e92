import type { V1Deployment, V1Node, V1Secret } from "@kubernetes/client-node";
import type { FastifyBaseLogger } from "fastify";
import type { JobService } from "../../jobs/service";
import { gpuTypeOfProductLabel } from "../../resources/gpu-types";
import type { EndpointSpec } from "../../resources/schemas";
import { desiredServing, idleWorkersToStop, queueCountCap, type ServingCounts } from "../../policy/autoscaler";
import { rolloutBatchSize } from "../../policy/rollout";
import type { WorkerState, WorkerType } from "../../policy/worker-model";
import { workerState } from "../../policy/worker-state";
import type { EndpointRecord, EndpointRevision, ResourceStore } from "../../store/resources";
import { revisionEnv } from "../../worker-env";
import { concurrently } from "../concurrently";
import { ReconcilingRuntime } from "../reconciling-runtime";
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
import { KubernetesApiError, quantity, type KubeCluster } from "./cluster";
import { ClusterCache, type WatchedChange } from "./cluster-cache";
import {
  claimName,
  deploymentName,
  DELETION_COST,
  endpointDeployment,
  GPU_PRODUCT_LABEL,
  GPU_RESOURCE,
  LABEL,
  revisionSecret,
  secretName,
  volumeClaim,
  WORKER_READY_CONDITION,
} from "./manifests";
import { podFacts, readWorkerPod, type WorkerPod } from "./pods";
import type { PodLogCollector } from "./pod-logs";

export interface KubernetesRuntimeParts {
  cluster: KubeCluster;
  controlPlaneId: string;
  resources: ResourceStore;
  jobs: JobService;
  /** The control plane's worker env for an endpoint (without RUNPOD_POD_ID: each pod gets its own name). */
  workerEnv: (endpointId: string) => Record<string, string>;
  /** Told how long each new pod's worker took from the pod's creation to its first call (the cold start metric). */
  coldStart: (endpointId: string, seconds: number) => void;
  /** Told how long each reconcile pass took. */
  reconciled: (seconds: number) => void;
  log: FastifyBaseLogger;
  /** Reads each worker pod's log into the log store; absent: logs are not kept. */
  logs?: PodLogCollector;
}

export interface KubernetesRuntimeConfig {
  reconcileIntervalMs: number;
  /** The storage class of network volumes' claims; absent: the cluster's default. */
  storageClass?: string;
}

/**
 * Deletion costs, lowest removed first: pods chosen to stop, then idle outdated ones, then idle current ones;
 * a pod with a job is the most expensive, so scale-downs and rollouts take idle workers and leave running ones.
 */
const COST = { stopping: "-1000", outdatedIdle: "-100", idle: "0", running: "1000" } as const;

const GIB = 1024 ** 3;

/** How often the metrics API is read for the workers view (it refreshes its own figures every 15 s or so). */
const METRICS_READ_INTERVAL_MS = 5_000;
/** Pod patches (deletion costs, readiness) sent at once: a rollout's first pass re-costs every outdated pod. */
const PATCHES_AT_ONCE = 16;
/** How often nodes are listed, for the GPU summary and each pod's GPU type: nodes come and go rarely. */
const NODES_READ_INTERVAL_MS = 10_000;

/** What one pass saw of an endpoint, kept for the status reads between passes. */
interface EndpointObservation {
  pods: WorkerPod[];
  rollout: RolloutStatus;
  throttled: { count: number; reason?: string };
}

/**
 * Runs endpoints' workers on a Kubernetes cluster, one Deployment per endpoint, leaving to the cluster what it
 * does well: placing pods on GPU nodes (node affinity, `nvidia.com/gpu` limits), rolling updates (the pod
 * template per revision, maxUnavailable = RunPod's 10% pace), restarts with backoff (the kubelet), volumes (claims).
 * Berth decides what the cluster cannot know: how many workers the queue needs (the scale subresource), which
 * pods are idle (pod-deletion-cost, so the ReplicaSet removes those first), which pods may take jobs (outdated
 * and terminating ones are held), and when a worker serves (a readiness gate set once it has called in).
 * Everything it needs is in the cluster, so a restarted control plane simply carries on.
 */
export class KubernetesRuntime extends ReconcilingRuntime implements WorkerRuntime {
  readonly kind = "kubernetes";
  private readonly observed = new Map<string, EndpointObservation>();
  /**
   * Pods seen in the last pass, by name, with their endpoint's id: to tell a pod that has gone from one never seen,
   * and whose worker it was. Undefined before the first pass.
   */
  private knownPods: Map<string, string> | undefined;
  /** When each serving pod was last seen without a job; in memory, so a restart starts the clocks afresh. */
  private readonly idleSince = new Map<string, number>();
  private gpuSummary = "unknown";
  /** The metrics API's latest reading, refreshed every few passes; undefined when the cluster has none. */
  private podMetrics: Map<string, { cpuCores: number; memoryBytes: number }> | undefined;
  private metricsReadAt = 0;
  private nodesReadAt = 0;
  /** What the passes read: this control plane's objects, kept current by watches. */
  private readonly cache: ClusterCache;
  private cacheStarted: Promise<void> = Promise.resolve();
  /** What a pass acts on of each watched pod and Deployment, as last seen: see `changed`. */
  private readonly lastSignature = new Map<string, string>();

  constructor(
    private readonly parts: KubernetesRuntimeParts,
    private readonly config: KubernetesRuntimeConfig,
  ) {
    super(parts.jobs, config.reconcileIntervalMs, parts.log, "kubernetes", parts.reconciled);
    this.cache = new ClusterCache(parts.cluster, `${LABEL.controlPlane}=${parts.controlPlaneId}`, parts.log);
  }

  override start(): void {
    this.cache.onChange((change) => this.changed(change));
    const logs = this.parts.logs;
    if (logs) this.cache.onChange((change) => change.kind === "pods" && logs.podChanged(change.object, change.gone));
    this.cacheStarted = this.cache.start();
    super.start();
  }

  /**
   * A pod or Deployment that changed in a way a pass acts on (a pod scheduled, started, ready, failed or gone; a
   * Deployment's replicas or rollout progress) is acted on at once, not at the next tick. Other updates (status
   * heartbeats, our own annotations) trigger nothing: with a thousand pods they would keep passes running.
   */
  private changed({ kind, object, gone }: WatchedChange): void {
    const key = `${kind}/${object.metadata?.name}`;
    const signature =
      kind === "pods"
        ? JSON.stringify({ ...readWorkerPod(object), deletionCost: undefined })
        : JSON.stringify([object.spec?.replicas, object.status?.replicas, object.status?.updatedReplicas, object.status?.availableReplicas]);
    if (!gone && this.lastSignature.get(key) === signature) return;
    if (gone) this.lastSignature.delete(key);
    else this.lastSignature.set(key, signature);
    // A change concerns its endpoint; what is gone concerns the whole pass too (a gone pod's jobs go back).
    this.trigger(gone ? undefined : object.metadata?.labels?.[LABEL.endpoint]);
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.cache.stop();
    await this.parts.logs?.stop();
  }

  async status(endpointId: string): Promise<EndpointWorkersView> {
    const endpoint = this.parts.resources.getEndpoint(endpointId);
    const revision = endpoint?.revision ?? 0;
    const spec = endpoint?.spec;
    const activity = await endpointActivity(this.parts.jobs, endpointId, revision);
    const observation = this.observed.get(endpointId);
    const pods = observation?.pods ?? [];
    const types = spec ? this.workerTypes(spec, pods) : new Map<string, WorkerType>();
    return {
      endpointId,
      revision,
      runtime: this.describe(),
      workers: pods.map((pod) => ({
        id: pod.name,
        type: types.get(pod.name) ?? "flex",
        state: workerState(podFacts(pod), activity.of(pod.name)),
        revision: pod.revision,
        gpus: { ids: [], typeId: pod.node ? this.nodeGpuType.get(pod.node) : undefined, simulated: false },
        frozen: false,
        draining: pod.phase === "terminating" || pod.revision < revision,
        reason: pod.reason,
        restarts: pod.restarts,
        startedAt: pod.startedAt === undefined ? undefined : new Date(pod.startedAt).toISOString(),
        jobsInProgress: activity.of(pod.name).jobs,
        node: pod.node,
      })),
      throttled: observation?.throttled ?? { count: 0 },
      rollout: observation?.rollout ?? settledRollout(revision),
    };
  }

  describe(): RuntimeDescription {
    return { kind: this.kind, location: this.parts.cluster.location, gpus: this.gpuSummary };
  }

  async health(endpointId: string): Promise<EndpointHealth> {
    return runtimeHealth(this.parts.jobs, await this.status(endpointId));
  }

  workerInfo(workerId: string): WorkerInfo | undefined {
    const pod = this.pod(workerId);
    const spec = pod && this.parts.resources.getEndpoint(pod.endpointId)?.spec;
    if (!pod || !spec) return undefined;
    const type = this.workerTypes(spec, this.observed.get(pod.endpointId)?.pods ?? []).get(pod.name) ?? "flex";
    return { type, gpuTypeId: pod.node ? this.nodeGpuType.get(pod.node) : undefined, gpuCount: pod.gpuCount };
  }

  resourceUse(workerId: string): ResourceUse {
    const pod = this.pod(workerId);
    if (!pod || pod.phase !== "running") return { note: "not running" };
    const gpuNote = "GPU use: read it from NVIDIA's DCGM exporter; the Kubernetes API does not report it";
    if (!this.podMetrics) return { memoryLimitBytes: pod.memoryLimitBytes, note: `the cluster has no metrics API (metrics-server); ${gpuNote}` };
    const sample = this.podMetrics.get(workerId);
    return {
      cpuPercent: sample ? Math.round(sample.cpuCores * 1000) / 10 : undefined,
      memoryBytes: sample?.memoryBytes,
      memoryLimitBytes: pod.memoryLimitBytes,
      note: gpuNote,
    };
  }

  private pod(name: string): WorkerPod | undefined {
    for (const observation of this.observed.values()) {
      const pod = observation.pods.find((p) => p.name === name);
      if (pod) return pod;
    }
    return undefined;
  }

  // ---- one pass ----

  private readonly nodeGpuType = new Map<string, string>();

  protected async reconcile(only?: ReadonlySet<string>): Promise<void> {
    const { cluster } = this.parts;
    await this.cacheStarted;
    const synced = this.cache.synced();
    if (!synced.ok) throw new Error(`the cluster's objects are not listed yet: ${synced.why}`);
    const [deployments, pods, secrets, claims] = [this.cache.deployments(), this.cache.pods(), this.cache.secrets(), this.cache.claims()];
    const now = Date.now();
    if (only) {
      const named = [...only].map((id) => this.parts.resources.getEndpoint(id)).filter((e): e is EndpointRecord => e !== undefined);
      const theirPods = pods.filter((pod) => only.has(pod.metadata?.labels?.[LABEL.endpoint] ?? ""));
      return this.reconcileEndpoints(named, deployments, theirPods.map(readWorkerPod), secrets, now);
    }
    if (now - this.nodesReadAt >= NODES_READ_INTERVAL_MS) {
      this.nodesReadAt = now;
      await this.readNodes();
    }
    if (now - this.metricsReadAt >= METRICS_READ_INTERVAL_MS) {
      this.metricsReadAt = now;
      this.podMetrics = await cluster.podMetrics().catch(() => undefined);
    }
    const workerPods = pods.map(readWorkerPod);
    await this.noticePodChanges(workerPods);

    await this.reconcileVolumes(claims.map((c) => ({ volumeId: c.metadata?.labels?.[LABEL.volume] ?? "", storage: c.spec?.resources?.requests?.storage })));

    const endpoints = new Map(this.parts.resources.listEndpoints().map((e) => [e.id, e]));
    for (const deployment of deployments) {
      const endpointId = deployment.metadata?.labels?.[LABEL.endpoint] ?? "";
      if (!endpoints.has(endpointId)) {
        await cluster.deleteDeployment(deployment.metadata!.name!);
        this.observed.delete(endpointId);
        this.parts.log.info({ endpointId }, "endpoint deleted: its deployment removed");
      }
    }
    for (const secret of secrets) {
      const endpointId = secret.metadata?.labels?.[LABEL.endpoint] ?? "";
      const revision = Number(secret.metadata?.labels?.[LABEL.revision] ?? 0);
      const endpoint = endpoints.get(endpointId);
      const inUse = workerPods.some((p) => p.endpointId === endpointId && p.revision === revision);
      if (!endpoint || (revision < endpoint.revision && !inUse)) await cluster.deleteSecret(secret.metadata!.name!);
    }

    await this.reconcileEndpoints(endpoints.values(), deployments, workerPods, secrets, now);
  }

  private async reconcileEndpoints(
    endpoints: Iterable<EndpointRecord>,
    deployments: readonly V1Deployment[],
    workerPods: WorkerPod[],
    secrets: readonly V1Secret[],
    now: number,
  ): Promise<void> {
    const byName = new Map(deployments.map((d) => [d.metadata?.name, d]));
    const secretNames = new Set(secrets.map((s) => s.metadata?.name));
    for (const endpoint of endpoints) {
      const revision = this.parts.resources.currentRevision(endpoint.id);
      if (!revision) continue;
      const hasSecret = secretNames.has(secretName(endpoint.id, revision.revision));
      try {
        await this.reconcileEndpoint(endpoint, revision, byName.get(deploymentName(endpoint.id)), hasSecret, workerPods, now);
      } catch (err) {
        this.parts.log.error({ endpointId: endpoint.id, err: (err as Error).message }, "could not reconcile the endpoint's deployment");
      }
    }
  }

  /** A pod that went away took its worker with it: its jobs go back to the queue now. A new pod's cold start is timed. */
  private async noticePodChanges(pods: WorkerPod[]): Promise<void> {
    const now = new Map(pods.map((p) => [p.name, p.endpointId]));
    // The first pass (after a start or restart) adopts what exists: those pods' cold starts are not new.
    const known = this.knownPods ?? now;
    for (const pod of pods) {
      if (known.has(pod.name) || pod.phase === "terminating") continue;
      void this.parts.jobs
        .firstCallAfter(pod.endpointId, pod.name, pod.createdAt)
        .then((at) => this.parts.coldStart(pod.endpointId, (at - pod.createdAt) / 1000));
    }
    for (const [name, endpointId] of known) {
      if (!now.has(name)) {
        await this.parts.jobs.workerGone(endpointId, name, `pod ${name} was deleted`);
        this.idleSince.delete(name);
      }
    }
    this.knownPods = now;
  }

  private async readNodes(): Promise<void> {
    let nodes: V1Node[];
    try {
      nodes = await this.parts.cluster.listNodes();
    } catch (err) {
      // A control plane installed with a namespaced Role may not list nodes; the summary is all that needs them.
      const forbidden = err instanceof KubernetesApiError && err.status === 403;
      this.gpuSummary = forbidden ? "not visible (no permission to list nodes)" : `unknown (${(err as Error).message})`;
      return;
    }
    const totals = new Map<string, number>();
    for (const node of nodes) {
      const product = node.metadata?.labels?.[GPU_PRODUCT_LABEL];
      const count = Number(node.status?.allocatable?.[GPU_RESOURCE] ?? 0);
      if (!product || count === 0) continue;
      const type = gpuTypeOfProductLabel(product)?.id ?? product;
      this.nodeGpuType.set(node.metadata!.name!, type);
      totals.set(type, (totals.get(type) ?? 0) + count);
    }
    this.gpuSummary =
      totals.size === 0 ? "none (no node advertises nvidia.com/gpu)" : [...totals].map(([type, n]) => `${n} x ${type}`).join(", ") + " (cluster nodes)";
  }

  private async reconcileVolumes(claims: Array<{ volumeId: string; storage?: string }>): Promise<void> {
    const { cluster, controlPlaneId } = this.parts;
    const existing = new Map(claims.map((c) => [c.volumeId, c.storage]));
    for (const volume of this.parts.resources.listVolumes()) {
      const storage = `${volume.spec.size}Gi`;
      const current = existing.get(volume.id);
      if (!existing.has(volume.id)) {
        await cluster.createClaim(volumeClaim(controlPlaneId, volume.id, volume.spec.size, this.config.storageClass));
        this.parts.log.info({ volumeId: volume.id, storage }, "network volume claim created");
      } else if (!(quantity(current ?? "") >= volume.spec.size * GIB)) {
        await cluster.resizeClaim(claimName(volume.id), storage);
        this.parts.log.info({ volumeId: volume.id, from: current, to: storage }, "network volume claim expanded");
      }
    }
    const live = new Set(this.parts.resources.listVolumes().map((v) => v.id));
    for (const volumeId of existing.keys()) {
      if (!live.has(volumeId) || this.volumesToRemove.has(volumeId)) {
        // The cluster's pvc-protection keeps the claim until no pod mounts it; deleting it now is safe.
        await cluster.deleteClaim(claimName(volumeId));
        this.volumesToRemove.delete(volumeId);
        this.parts.log.info({ volumeId }, "network volume claim deleted");
      }
    }
  }

  private async reconcileEndpoint(
    endpoint: EndpointRecord,
    revision: EndpointRevision,
    deployment: V1Deployment | undefined,
    hasSecret: boolean,
    allPods: WorkerPod[],
    now: number,
  ): Promise<void> {
    const { cluster, controlPlaneId, jobs } = this.parts;
    const spec = endpoint.spec;
    const name = deploymentName(endpoint.id);
    if (!hasSecret) await cluster.createSecret(revisionSecret(controlPlaneId, revision, revisionEnv(revision, this.parts.workerEnv(endpoint.id))));

    const pods = allPods.filter((p) => p.endpointId === endpoint.id);
    const activity = await endpointActivity(jobs, endpoint.id, revision.revision);
    const stateOf = (pod: WorkerPod) => workerState(podFacts(pod), activity.of(pod.name));

    const live = pods.filter((p) => p.phase !== "terminating");
    for (const pod of live) {
      if (stateOf(pod) === "Idle" && pod.revision === revision.revision) {
        if (!this.idleSince.has(pod.name)) this.idleSince.set(pod.name, now);
      } else this.idleSince.delete(pod.name);
    }

    const replicas = deployment?.spec?.replicas ?? 0;
    const counts = servingCounts(live.map(stateOf), replicas);
    const queue = await jobs.queueStats(endpoint.id, now - spec.scalerValue * 1000, queueCountCap(spec, pods.length));
    let target = Math.min(spec.workersMax, desiredServing(spec, queue, counts));

    const types = this.workerTypes(spec, live);
    const idleFlex = live
      .filter((p) => types.get(p.name) === "flex" && this.idleSince.has(p.name))
      .map((p) => ({ id: p.name, idleSince: this.idleSince.get(p.name)! }));
    const stopping = new Set(target > replicas ? [] : idleWorkersToStop(spec, queue, Math.min(replicas, live.length), idleFlex, now));
    if (stopping.size > 0) target = Math.min(target, replicas - stopping.size);

    // Terminating pods, pods chosen to stop and outdated pods take no new jobs: they finish what they have, then the
    // cluster removes them. But while the new revision cannot start a worker (its image missing, its process
    // crashing) the rollout stalls, and outdated pods go on serving: held, they would leave the endpoint no worker.
    const newRevisionFailing = live.some((p) => p.revision === revision.revision && stateOf(p) === "Unhealthy");
    for (const pod of pods) {
      const outdated = pod.revision < revision.revision;
      if (pod.phase === "terminating" || stopping.has(pod.name) || (outdated && !newRevisionFailing)) jobs.hold(endpoint.id, pod.name);
      else if (outdated) jobs.release(endpoint.id, pod.name);
    }

    // Costs first, so the ReplicaSet controller already sees them when the scale-down reaches it.
    const costs = live.map((pod) => {
      const state = stateOf(pod);
      const cost = stopping.has(pod.name)
        ? COST.stopping
        : state === "Running" || activity.of(pod.name).jobs > 0
          ? COST.running
          : pod.revision < revision.revision
            ? COST.outdatedIdle
            : COST.idle;
      return { pod, cost };
    });
    await concurrently(
      costs.filter(({ pod, cost }) => pod.deletionCost !== cost),
      PATCHES_AT_ONCE,
      ({ pod, cost }) => cluster.annotatePod(pod.name, { [DELETION_COST]: cost }),
    );

    if (!deployment) {
      await cluster.createDeployment(endpointDeployment(controlPlaneId, revision, spec.workersMax, target));
      this.parts.log.info({ endpointId: endpoint.id, revision: revision.revision, replicas: target }, "deployment created");
    } else {
      const wanted = endpointDeployment(controlPlaneId, revision, spec.workersMax);
      const deployedRevision = Number(deployment.metadata?.annotations?.[LABEL.revision] ?? 0);
      const batchSize = rolloutBatchSize(spec.workersMax);
      const deployedBatch = Number(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable);
      if (deployedRevision !== revision.revision || deployedBatch !== batchSize) {
        // Replaced whole, not merged: a merge would keep a volume or variable the new revision no longer has.
        await cluster.patchDeployment(name, [
          { op: "add", path: `/metadata/annotations/${LABEL.revision.replace("/", "~1")}`, value: String(revision.revision) },
          { op: "replace", path: "/spec/strategy", value: wanted.spec!.strategy },
          { op: "replace", path: "/spec/template", value: wanted.spec!.template },
        ]);
        this.parts.log.info({ endpointId: endpoint.id, revision: revision.revision, from: deployedRevision, batchSize }, "deployment updated: rolling");
      }
      if (target !== replicas) {
        try {
          await cluster.scaleDeployment(name, target);
        } catch (err) {
          for (const id of stopping) jobs.release(endpoint.id, id);
          throw err;
        }
        this.parts.log.info({ endpointId: endpoint.id, from: replicas, to: target, stopping: [...stopping] }, "endpoint scaled");
      }
    }

    // A worker that has called in makes its pod ready: the rollout counts a replacement once it really serves.
    const serving = live.filter((pod) => pod.phase === "running" && pod.revision === revision.revision && !pod.ready && stateOf(pod) !== "Initializing");
    await concurrently(serving, PATCHES_AT_ONCE, (pod) =>
      cluster.setPodCondition(pod.name, { type: WORKER_READY_CONDITION, status: "True", lastTransitionTime: new Date() }),
    );

    this.observed.set(endpoint.id, {
      pods,
      rollout: this.rolloutStatus(endpoint, revision, pods, deployment),
      throttled: throttledOf(live),
    });
  }

  private rolloutStatus(endpoint: EndpointRecord, revision: EndpointRevision, pods: WorkerPod[], deployment?: V1Deployment): RolloutStatus {
    const batchSize = rolloutBatchSize(endpoint.spec.workersMax);
    const outdated = pods.filter((p) => p.revision < revision.revision).length;
    const status: RolloutStatus = { revision: revision.revision, state: outdated === 0 ? "done" : "rolling", outdated, batchSize };
    if (outdated === 0) return status;
    const failing = pods.find((p) => p.revision === revision.revision && p.phase === "failed");
    const stalled = deployment?.status?.conditions?.find((c) => c.type === "Progressing" && c.status === "False");
    if (failing) return { ...status, state: "halted", reason: `revision ${revision.revision} does not become healthy: worker ${failing.name} ${failing.reason}` };
    if (stalled) return { ...status, state: "halted", reason: `the deployment stopped progressing: ${stalled.message ?? stalled.reason}` };
    return status;
  }

  /** Active workers are the first workersMin pods by age (outdated or not); the rest are flex. */
  private workerTypes(spec: EndpointSpec, pods: WorkerPod[]): Map<string, WorkerType> {
    const byAge = [...pods].filter((p) => p.phase !== "terminating").sort((a, b) => a.createdAt - b.createdAt || a.name.localeCompare(b.name));
    return new Map(byAge.map((p, i) => [p.name, i < spec.workersMin ? "active" : "flex"]));
  }
}

/**
 * The autoscaler's counts for the pods that make up the Deployment's `replicas`: a rollout's surge pods are not
 * more workers the endpoint has, so at most `replicas` are counted, leaving out idle ones first. Throttled pods
 * are not counted: they are wanted, not had, so when demand falls they are the first to go (the ReplicaSet
 * removes unscheduled pods first). Unhealthy pods hold their slot (counted as idle), so a crash-looping revision
 * is not given more and more pods.
 */
export function servingCounts(states: readonly WorkerState[], replicas: number): ServingCounts {
  const counts = { initializing: 0, idle: 0, running: 0 };
  for (const state of states) {
    if (state === "Throttled") continue;
    if (state === "Running" || state === "Outdated") counts.running++;
    else if (state === "Initializing") counts.initializing++;
    else counts.idle++;
  }
  let excess = counts.initializing + counts.idle + counts.running - replicas;
  for (const key of ["idle", "initializing", "running"] as const) {
    const cut = Math.min(excess, counts[key]);
    counts[key] -= Math.max(0, cut);
    excess -= Math.max(0, cut);
  }
  return counts;
}

function throttledOf(pods: WorkerPod[]): { count: number; reason?: string } {
  const waiting = pods.filter((p) => p.phase === "unschedulable");
  return { count: waiting.length, reason: waiting[0]?.reason };
}
