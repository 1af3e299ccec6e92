import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";
import type { RuntimeCondition, RuntimeFacts } from "../../policy/worker-state";
import { quantity } from "./cluster";
import { DELETION_COST, LABEL } from "./manifests";

/** Where a worker's pod is, as far as the cluster tells. */
export type PodPhase =
  /** Waiting for a node: the scheduler found none with the GPUs (or memory) it asks for. */
  | "unschedulable"
  /** Placed, its container being created or started. */
  | "starting"
  | "running"
  /** Crash-looping, unable to pull its image, or ended: Unhealthy. */
  | "failed"
  /** Being deleted: it gets no new jobs and finishes the one it has within its grace period. */
  | "terminating";

export interface WorkerPod {
  /** The pod's name: also the worker's id (RUNPOD_POD_ID). */
  name: string;
  endpointId: string;
  revision: number;
  phase: PodPhase;
  /** Why it is unschedulable or failed, in the cluster's words. */
  reason?: string;
  restarts: number;
  node?: string;
  createdAt: number;
  /** When its container last started; a worker that has not called in since is still initializing. */
  startedAt?: number;
  ready: boolean;
  deletionCost?: string;
  memoryLimitBytes?: number;
  gpuCount: number;
}

/** Container waiting reasons that mean the worker cannot run as it is, rather than that it is on its way. */
const FAILING_WAIT_REASONS = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "InvalidImageName",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);

const time = (value: Date | string | undefined) => (value === undefined ? undefined : new Date(value).getTime());

/** "last exit code 3 (Error): <message>" for a container that has ended before, else undefined. */
function lastExit(container: V1ContainerStatus): string | undefined {
  const ended = container.state?.terminated ?? container.lastState?.terminated;
  if (!ended) return undefined;
  const detail = ended.message?.trim().split("\n").pop();
  return `last exit code ${ended.exitCode}${ended.reason ? ` (${ended.reason})` : ""}${detail ? `: ${detail}` : ""}`;
}

/** Reads a worker pod the way the workers view needs it. Pure: the cluster's objects in, Berth's terms out. */
export function readWorkerPod(pod: V1Pod): WorkerPod {
  const status = pod.status ?? {};
  const container = status.containerStatuses?.[0];
  const limit = pod.spec?.containers[0]?.resources?.limits?.memory;
  const base = {
    name: pod.metadata!.name!,
    endpointId: pod.metadata?.labels?.[LABEL.endpoint] ?? "",
    revision: Number(pod.metadata?.labels?.[LABEL.revision] ?? 0),
    restarts: (status.containerStatuses ?? []).reduce((sum, c) => sum + c.restartCount, 0),
    node: pod.spec?.nodeName,
    createdAt: time(pod.metadata?.creationTimestamp) ?? 0,
    startedAt: time(container?.state?.running?.startedAt) ?? time(status.startTime),
    ready: status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    deletionCost: pod.metadata?.annotations?.[DELETION_COST],
    memoryLimitBytes: limit === undefined ? undefined : quantity(limit),
    gpuCount: Number(pod.spec?.containers[0]?.resources?.limits?.["nvidia.com/gpu"] ?? 0),
  };
  if (pod.metadata?.deletionTimestamp) return { ...base, phase: "terminating" };
  if (status.phase === "Failed" || status.phase === "Succeeded") {
    const exit = container ? lastExit(container) : undefined;
    return { ...base, phase: "failed", reason: [status.reason, status.message, exit].filter(Boolean).join(": ") || `pod ${status.phase}` };
  }
  const waiting = container?.state?.waiting;
  if (waiting?.reason && FAILING_WAIT_REASONS.has(waiting.reason)) {
    const exit = lastExit(container!);
    return { ...base, phase: "failed", reason: [waiting.reason, waiting.message, exit].filter(Boolean).join(": ") };
  }
  const scheduled = status.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    return { ...base, phase: "unschedulable", reason: scheduled.message ?? "no node has room for it" };
  }
  if (status.phase === "Running" && container?.state?.running) return { ...base, phase: "running" };
  return { ...base, phase: "starting", reason: waiting?.reason };
}

const CONDITION: Record<PodPhase, RuntimeCondition> = {
  unschedulable: "unschedulable",
  starting: "starting",
  running: "up",
  failed: "failed",
  terminating: "up",
};

/** A pod's worker in the terms the worker states are decided in (policy/worker-state.ts). */
export function podFacts(pod: WorkerPod): RuntimeFacts {
  return { condition: CONDITION[pod.phase], revision: pod.revision, startedAt: pod.startedAt ?? pod.createdAt };
}
