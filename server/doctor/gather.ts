import type { DockerEnv } from "../../docker-engine/connection";
import { probeControlPlane, type ControlPlaneTarget } from "./control-plane-probe";
import { engineIsLocal, probeContainerToolkit, probeDisk, probeDockerEngine } from "./docker-probe";
import type { DoctorFacts } from "./facts";
import { probeGpus } from "./gpu-probe";
import { probeKubernetes } from "./kubernetes-probe";

export interface DoctorOptions {
  runtime: "docker" | "kubernetes";
  /** Check the cluster (with this kubeconfig, or the default one when undefined). */
  kubernetes?: { kubeconfig?: string };
  /** Check the control plane; absent when no URL was given. */
  controlPlane?: ControlPlaneTarget;
  dockerEnv: DockerEnv;
  /** The most each network probe may take. */
  timeoutMs: number;
}

/** Runs every probe the options ask for, all at once: doctor takes as long as its slowest probe, not their sum. */
export async function gatherFacts(options: DoctorOptions): Promise<DoctorFacts> {
  const dockerHost = options.runtime === "docker" ? dockerHostFacts(options) : Promise.resolve({});
  const [host, kubernetes, controlPlane] = await Promise.all([
    dockerHost,
    options.kubernetes ? probeKubernetes(options.kubernetes.kubeconfig, options.timeoutMs) : undefined,
    options.controlPlane ? probeControlPlane(options.controlPlane, options.timeoutMs) : undefined,
  ]);
  return { runtime: options.runtime, ...host, kubernetes, controlPlane };
}

/** The Docker host's facts: on Kubernetes the workers run on the cluster's nodes, whose facts come from its API. */
async function dockerHostFacts(options: DoctorOptions): Promise<Pick<DoctorFacts, "docker" | "gpus" | "toolkit" | "disk">> {
  const [docker, gpus] = await Promise.all([probeDockerEngine(options.dockerEnv, options.timeoutMs), probeGpus()]);
  const info = docker.info?.ok ? docker.info.value : undefined;
  // The toolkit's files are looked for here, which tells nothing about an engine on another machine.
  const toolkit = engineIsLocal(docker.host) ? probeContainerToolkit(info?.cdiSpecDirs ?? []) : undefined;
  return { docker, gpus, toolkit, disk: probeDisk(docker.host, info?.rootDir) };
}
