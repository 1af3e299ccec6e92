import crypto from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { ServerConfig } from "../config";
import type { JobService } from "../jobs/service";
import { Fleet } from "./docker/fleet";
import { describeInventory } from "./docker/placement";
import type { ResourceStore } from "../store/resources";
import { FleetWorkerStore, type FleetWorkerRows } from "../store/fleet-workers";
import type { Settings } from "../store/settings";
import { DockerDriver } from "./docker/docker-driver";
import type { Fence } from "../cluster/fence";
import { KubeCluster } from "./kubernetes/cluster";
import { KubernetesRuntime } from "./kubernetes/kubernetes-runtime";
import type { WorkerRuntime } from "./worker-runtime";
import { DockerEngine } from "../../docker-engine/engine";
import { DockerResourceSampler } from "./docker/resource-sampler";
import { detectGpuInventory } from "./docker/gpu-inventory";
import type { LogStore } from "../logs/log-store";
import { DockerLogCollector } from "./docker/container-logs";
import { PodLogCollector } from "./kubernetes/pod-logs";

export interface RuntimeDeps {
  config: ServerConfig;
  /** Where the Docker fleet keeps its decisions (the runtime_workers table of the control plane's database). */
  fleetWorkerRows: FleetWorkerRows;
  /** Where the control plane's id on the runtime is kept, shared by every control plane on the same store. */
  settings: Settings;
  resources: ResourceStore;
  jobs: JobService;
  workerEnv: (endpointId: string, workerId?: string) => Record<string, string>;
  coldStart: (endpointId: string, seconds: number) => void;
  /** Told how long each reconcile pass took. */
  reconciled: (seconds: number) => void;
  /** Told of each request the Kubernetes runtime sends the API server. */
  clusterRequest: (verb: string, resource: string) => void;
  /** Whether this control plane still holds the lease: asked before every change the runtime makes. */
  fence: Fence;
  /** Where the workers' logs are kept (server/logs/). */
  logs: LogStore;
  log: FastifyBaseLogger;
}

/** How often workers' CPU, memory and GPU use is sampled for the workers view. */
const RESOURCE_SAMPLE_INTERVAL_MS = 5_000;

/**
 * Connects the configured runtime and starts what runs workers on it; undefined for `--runtime none`.
 * A runtime that does not answer stops the start-up with the reason: a control plane that silently runs no
 * workers would leave every job queued.
 */
export async function startRuntime(deps: RuntimeDeps): Promise<WorkerRuntime | undefined> {
  const { config, log } = deps;
  if (config.runtime === "none") {
    log.info("runtime: none (workers run elsewhere, see `berth worker-env`)");
    return undefined;
  }
  // Workers and volumes are labelled with this id, so control planes sharing an engine or a namespace never
  // touch each other's.
  const controlPlaneId = config.controlPlaneId ?? (await deps.settings.readOrCreate("control-plane-id", () => crypto.randomBytes(6).toString("hex")));
  return config.runtime === "kubernetes" ? startKubernetes(deps, controlPlaneId) : startDocker(deps, controlPlaneId);
}

async function startKubernetes(deps: RuntimeDeps, controlPlaneId: string): Promise<WorkerRuntime> {
  const { config, log } = deps;
  const cluster = KubeCluster.connect({ kubeconfig: config.kubeconfig, namespace: config.kubeNamespace, fence: deps.fence, onRequest: deps.clusterRequest });
  let version: string;
  try {
    version = await cluster.version();
  } catch (err) {
    throw new Error(`${(err as Error).message}; check --kubeconfig (or KUBECONFIG) and that the cluster answers`);
  }
  log.info({ runtime: "kubernetes", location: cluster.location, version, controlPlaneId }, "runtime connected");
  if (config.extraWorkers > 0) log.info("extra (frozen standby) workers are a Docker feature: a pod cannot be paused, so none are kept");
  const runtime = new KubernetesRuntime(
    {
      cluster,
      controlPlaneId,
      resources: deps.resources,
      jobs: deps.jobs,
      workerEnv: (endpointId) => deps.workerEnv(endpointId),
      coldStart: deps.coldStart,
      reconciled: deps.reconciled,
      log,
      logs: new PodLogCollector(cluster, deps.logs, log),
    },
    { reconcileIntervalMs: config.reconcileIntervalMs, storageClass: config.kubeStorageClass },
  );
  runtime.start();
  return runtime;
}

async function startDocker(deps: RuntimeDeps, controlPlaneId: string): Promise<WorkerRuntime> {
  const { config, log } = deps;
  const engine = DockerEngine.fromEnv();
  try {
    await engine.ping();
  } catch (err) {
    throw new Error(`${(err as Error).message}; start Docker, point DOCKER_HOST at an engine, or run with --runtime none`);
  }
  const { inventory, warnings } = await detectGpuInventory({ declared: config.gpus, simulated: config.simulatedGpus });
  for (const warning of warnings) log.warn({ gpuInventory: inventory.source }, warning);
  const logs = new DockerLogCollector(engine, deps.logs, log);
  const driver = new DockerDriver({ engine, controlPlaneId, networkMode: config.dockerNetwork, fence: deps.fence, logs });
  const store = await FleetWorkerStore.open(deps.fleetWorkerRows, (err) => log.error({ err }, "could not record a fleet worker"));
  const running = () =>
    store
      .all()
      .filter((w) => w.phase === "up" || w.phase === "draining")
      .map((w) => ({ id: w.id, gpuIds: w.gpus.map((g) => g.id) }));
  const sampler = new DockerResourceSampler(engine, inventory, running, RESOURCE_SAMPLE_INTERVAL_MS);
  log.info(
    { runtime: driver.kind, location: driver.location, controlPlaneId, gpus: describeInventory(inventory), simulated: inventory.source === "simulated" },
    "runtime connected",
  );
  const fleet = new Fleet(
    {
      driver,
      inventory,
      resources: deps.resources,
      jobs: deps.jobs,
      store,
      sampler,
      coldStart: deps.coldStart,
      reconciled: deps.reconciled,
      workerEnv: deps.workerEnv,
      log,
      logs,
    },
    {
      reconcileIntervalMs: config.reconcileIntervalMs,
      extraWorkers: config.extraWorkers,
      stopGraceMs: config.stopGraceMs,
      restartBackoffBaseMs: config.restartBackoffMs,
      restartBackoffMaxMs: config.restartBackoffMaxMs,
      workerLostAfterMs: config.workerLostAfterMs,
    },
  );
  fleet.start();
  return fleet;
}
