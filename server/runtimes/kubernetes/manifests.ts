import type { V1Deployment, V1PersistentVolumeClaim, V1Secret } from "@kubernetes/client-node";
import { gpuType, kubernetesProductLabel, resolveGpuTypeIds } from "../../resources/gpu-types";
import { rolloutBatchSize } from "../../policy/rollout";
import type { EndpointRevision } from "../../store/resources";

/**
 * The Kubernetes objects Berth keeps for its endpoints and network volumes, as pure functions of their specs.
 * The mapping (server/runtimes/kubernetes/README.md has it in prose):
 * - an endpoint is one Deployment; a revision is its pod template (a new revision rolls the Deployment);
 * - a revision's environment is one Secret, read by the pods through envFrom;
 * - a network volume is one ReadWriteMany PersistentVolumeClaim.
 */

export const LABEL = {
  controlPlane: "berth.dev/control-plane",
  endpoint: "berth.dev/endpoint",
  revision: "berth.dev/revision",
  volume: "berth.dev/network-volume",
} as const;

/** Set on each pod by the control plane: the ReplicaSet controller removes the cheapest pods first. */
export const DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/** The GPU resource NVIDIA's device plugin advertises, and the node label its feature discovery sets. */
export const GPU_RESOURCE = "nvidia.com/gpu";
export const GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";

/**
 * A pod condition the control plane sets once the pod's worker has called in. It is a readiness gate, so a new
 * pod counts as available to the Deployment's rolling update only when its worker really serves.
 */
export const WORKER_READY_CONDITION = "berth.dev/worker-ready";

/** A stopped worker gets this long beyond the endpoint's execution timeout to finish the job it has. */
const GRACE_BEYOND_EXECUTION_TIMEOUT_S = 30;

/** The one container of a worker pod, whose log is the worker's. */
export const WORKER_CONTAINER = "worker";

export const deploymentName = (endpointId: string) => `berth-${endpointId}`;
export const secretName = (endpointId: string, revision: number) => `berth-${endpointId}-r${revision}`;
export const claimName = (volumeId: string) => `berth-vol-${volumeId}`;

/** Labels every object of an endpoint carries; the first two are the Deployment's selector. */
function endpointLabels(controlPlaneId: string, endpointId: string): Record<string, string> {
  return {
    [LABEL.controlPlane]: controlPlaneId,
    [LABEL.endpoint]: endpointId,
    "app.kubernetes.io/name": "berth-worker",
    "app.kubernetes.io/instance": endpointId,
    "app.kubernetes.io/component": "worker",
    "app.kubernetes.io/part-of": "berth",
    "app.kubernetes.io/managed-by": "berth-control-plane",
  };
}

/** The Secret holding a revision's whole worker environment: template env, endpoint env, the worker API's. */
export function revisionSecret(controlPlaneId: string, revision: EndpointRevision, env: Record<string, string>): V1Secret {
  const endpointId = revision.endpointId;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: secretName(endpointId, revision.revision),
      labels: { ...endpointLabels(controlPlaneId, endpointId), [LABEL.revision]: String(revision.revision) },
    },
    type: "Opaque",
    stringData: env,
  };
}

/**
 * GPU node pools are commonly tainted so that only pods asking for GPUs land there (GKE taints them
 * nvidia.com/gpu=present:NoSchedule; EKS and AKS guides do the same): a worker tolerates that taint, whatever its
 * value.
 */
const GPU_NODE_TOLERATION = { key: GPU_RESOURCE, operator: "Exists", effect: "NoSchedule" };

/** The node affinity for an endpoint's GPU types: only nodes with one of them, preferring them in list order. */
export function gpuAffinity(gpuTypeIds: readonly string[]) {
  const products = resolveGpuTypeIds(gpuTypeIds).map((id) => kubernetesProductLabel(gpuType(id)!));
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: GPU_PRODUCT_LABEL, operator: "In", values: products }] }],
      },
      // Weights run 100, 99, ... so each type outranks the ones after it; at most 100 distinct weights exist.
      preferredDuringSchedulingIgnoredDuringExecution: products.slice(0, 100).map((product, i) => ({
        weight: 100 - i,
        preference: { matchExpressions: [{ key: GPU_PRODUCT_LABEL, operator: "In", values: [product] }] },
      })),
    },
  };
}

/**
 * The endpoint's Deployment at a revision. `workersMax` is the endpoint's live value (a scaling change is not a
 * new revision, but it sets the rollout's pace). Replicas are left out unless given: after creation they are the
 * control plane's to set through the scale subresource, and a template change must not reset them.
 */
export function endpointDeployment(controlPlaneId: string, revision: EndpointRevision, workersMax: number, replicas?: number): V1Deployment {
  const { endpointId, spec, templateSpec: template } = revision;
  const labels = endpointLabels(controlPlaneId, endpointId);
  const podLabels = { ...labels, [LABEL.revision]: String(revision.revision), "app.kubernetes.io/version": `r${revision.revision}` };
  const limits: Record<string, string> = { [GPU_RESOURCE]: String(spec.gpuCount) };
  if (template.memoryInGb !== undefined) limits.memory = `${template.memoryInGb}Gi`;
  const volume = spec.networkVolumeId;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: deploymentName(endpointId),
      labels,
      annotations: { [LABEL.revision]: String(revision.revision) },
    },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { [LABEL.controlPlane]: controlPlaneId, [LABEL.endpoint]: endpointId } },
      // RunPod's pace: 10% of max workers at a time, at least one. Replaced rather than surged: a GPU cluster is
      // usually full, and surge pods would wait for GPUs that only the old pods free (a stalled rollout).
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: rolloutBatchSize(workersMax) } },
      revisionHistoryLimit: 2,
      template: {
        metadata: { labels: podLabels },
        spec: {
          terminationGracePeriodSeconds: Math.ceil(spec.executionTimeoutMs / 1000) + GRACE_BEYOND_EXECUTION_TIMEOUT_S,
          readinessGates: [{ conditionType: WORKER_READY_CONDITION }],
          affinity: gpuAffinity(spec.gpuTypeIds),
          tolerations: [GPU_NODE_TOLERATION],
          containers: [
            {
              name: WORKER_CONTAINER,
              image: template.imageName,
              imagePullPolicy: "IfNotPresent",
              ...(template.startCommand ? { args: template.startCommand } : {}),
              envFrom: [{ secretRef: { name: secretName(endpointId, revision.revision) } }],
              // The worker's id is its pod's name, known only once the ReplicaSet names the pod.
              env: [{ name: "RUNPOD_POD_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
              resources: { limits },
              // A container that dies without a termination message leaves its last log lines there instead, so
              // the workers view can say why it crashed.
              terminationMessagePolicy: "FallbackToLogsOnError",
              ...(volume ? { volumeMounts: [{ name: "network-volume", mountPath: template.volumeMountPath }] } : {}),
            },
          ],
          ...(volume ? { volumes: [{ name: "network-volume", persistentVolumeClaim: { claimName: claimName(volume) } }] } : {}),
        },
      },
    },
  };
}

/** A network volume's claim: ReadWriteMany, so every worker of every endpoint that mounts it shares it. */
export function volumeClaim(controlPlaneId: string, volumeId: string, sizeGb: number, storageClass?: string): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: claimName(volumeId),
      labels: {
        [LABEL.controlPlane]: controlPlaneId,
        [LABEL.volume]: volumeId,
        "app.kubernetes.io/name": "berth-network-volume",
        "app.kubernetes.io/part-of": "berth",
        "app.kubernetes.io/managed-by": "berth-control-plane",
      },
    },
    spec: {
      accessModes: ["ReadWriteMany"],
      resources: { requests: { storage: `${sizeGb}Gi` } },
      ...(storageClass ? { storageClassName: storageClass } : {}),
    },
  };
}
