// The Kubernetes runtime's pure parts: what it asks the cluster for (manifests) and how it reads pods back.
// The cluster-facing behaviour is tested against the test bed's cluster in test/runtime/kubernetes-*.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { endpointSpecSchema, templateSpecSchema } from "../../server/resources/schemas";
import { endpointDeployment, gpuAffinity, revisionSecret, volumeClaim } from "../../server/runtimes/kubernetes/manifests";
import { workerState } from "../../server/policy/worker-state";
import { podFacts, readWorkerPod } from "../../server/runtimes/kubernetes/pods";
import { servingCounts } from "../../server/runtimes/kubernetes/kubernetes-runtime";
import type { EndpointRevision } from "../../server/store/resources";

function revision(endpoint: Record<string, unknown> = {}, template: Record<string, unknown> = {}): EndpointRevision {
  return {
    endpointId: "ep123",
    revision: 3,
    spec: endpointSpecSchema.parse({ name: "e", templateId: "t", gpuTypeIds: ["NVIDIA H100 80GB HBM3"], ...endpoint }),
    templateSpec: templateSpecSchema.parse({ name: "t", imageName: "example/worker:1", ...template }),
    createdAt: 0,
  };
}

describe("Kubernetes manifests", () => {
  test("the Deployment asks for whole GPUs and memory, mounts the volume, and rolls at 10% of workersMax", () => {
    const rev = revision({ gpuCount: 2, executionTimeoutMs: 120_000, networkVolumeId: "vol1" }, { memoryInGb: 24, volumeMountPath: "/data" });
    const d = endpointDeployment("cp1", rev, 20, 0);
    assert.equal(d.metadata?.name, "berth-ep123");
    assert.equal(d.spec?.replicas, 0);
    assert.deepEqual(d.spec?.selector.matchLabels, { "berth.dev/control-plane": "cp1", "berth.dev/endpoint": "ep123" });
    assert.deepEqual(d.spec?.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 2 } });
    const pod = d.spec!.template.spec!;
    assert.equal(pod.terminationGracePeriodSeconds, 150, "the execution timeout plus 30 s: a running job can finish");
    assert.deepEqual(pod.tolerations, [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }], "GPU nodes' usual taint");
    const container = pod.containers[0]!;
    assert.deepEqual(container.resources?.limits, { "nvidia.com/gpu": "2", memory: "24Gi" });
    assert.deepEqual(container.envFrom, [{ secretRef: { name: "berth-ep123-r3" } }]);
    assert.deepEqual(container.env, [{ name: "RUNPOD_POD_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
    assert.deepEqual(container.volumeMounts, [{ name: "network-volume", mountPath: "/data" }]);
    assert.deepEqual(pod.volumes, [{ name: "network-volume", persistentVolumeClaim: { claimName: "berth-vol-vol1" } }]);
    assert.equal(d.spec!.template.metadata?.labels?.["berth.dev/revision"], "3");
    assert.equal(d.spec!.template.metadata?.labels?.["app.kubernetes.io/instance"], "ep123");
    assert.equal(endpointDeployment("cp1", rev, 3).spec?.strategy?.rollingUpdate?.maxUnavailable, 1, "at least one at a time");
    assert.equal(endpointDeployment("cp1", rev, 3).spec?.replicas, undefined, "replicas are left to the scale subresource");
  });

  test("GPU types become a required node affinity with preferences in the endpoint's order; pools expand", () => {
    const affinity = gpuAffinity(["NVIDIA GeForce RTX 4090", "AMPERE_80", "-NVIDIA A100-SXM4-80GB"]).nodeAffinity;
    const required = affinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]!.matchExpressions[0]!;
    assert.equal(required.key, "nvidia.com/gpu.product");
    assert.equal(required.values[0], "NVIDIA-GeForce-RTX-4090");
    assert.ok(required.values.includes("NVIDIA-A100-80GB-PCIe"), `AMPERE_80's members are allowed: ${required.values}`);
    assert.ok(!required.values.includes("NVIDIA-A100-SXM4-80GB"), "an excluded type is not");
    const weights = affinity.preferredDuringSchedulingIgnoredDuringExecution.map((p) => p.weight);
    assert.deepEqual(weights, [...weights].sort((a, b) => b - a), "earlier types weigh more");
    assert.equal(weights[0], 100);
  });

  test("secrets and claims", () => {
    const secret = revisionSecret("cp1", revision(), { A: "1", RUNPOD_AI_API_KEY: "k" });
    assert.equal(secret.metadata?.name, "berth-ep123-r3");
    assert.deepEqual(secret.stringData, { A: "1", RUNPOD_AI_API_KEY: "k" });
    const claim = volumeClaim("cp1", "vol1", 50, "berth-rwx");
    assert.deepEqual(claim.spec, { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "50Gi" } }, storageClassName: "berth-rwx" });
  });
});

const pod = (status: V1Pod["status"], extra: Partial<V1Pod["metadata"]> = {}): V1Pod => ({
  metadata: { name: "berth-ep123-abc", labels: { "berth.dev/endpoint": "ep123", "berth.dev/revision": "2" }, creationTimestamp: new Date(1000), ...extra },
  spec: { containers: [{ name: "worker" }], nodeName: "gpu-h100-0" },
  status,
});

describe("reading worker pods", () => {
  const activity = { currentRevision: 2, jobs: 0 };

  test("a crash loop is Unhealthy with the kubelet's reason and the last exit", () => {
    const read = readWorkerPod(
      pod({
        phase: "Running",
        containerStatuses: [
          {
            name: "worker",
            image: "x",
            imageID: "",
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s" } },
            lastState: { terminated: { exitCode: 3, reason: "Error", message: "boom\n" } },
          },
        ],
      }),
    );
    assert.equal(read.phase, "failed");
    assert.equal(read.reason, "CrashLoopBackOff: back-off 40s: last exit code 3 (Error): boom");
    assert.equal(read.restarts, 4);
    assert.equal(workerState(podFacts(read), activity), "Unhealthy");
  });

  test("unschedulable is Throttled; pending is Initializing; an older revision is Outdated; deletion is terminating", () => {
    const unschedulable = readWorkerPod(
      pod({ phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu." }] }),
    );
    assert.equal(workerState(podFacts(unschedulable), activity), "Throttled");
    assert.match(unschedulable.reason!, /Insufficient nvidia.com\/gpu/);
    const pending = readWorkerPod(pod({ phase: "Pending", containerStatuses: [{ name: "worker", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } }] }));
    assert.equal(workerState(podFacts(pending), activity), "Initializing");
    assert.equal(workerState(podFacts(pending), { ...activity, currentRevision: 3 }), "Outdated");
    assert.equal(readWorkerPod(pod({ phase: "Running" }, { deletionTimestamp: new Date() })).phase, "terminating");
  });

  test("a running pod is Initializing until its worker calls in after its start, then Idle or Running", () => {
    const running = readWorkerPod(
      pod({ phase: "Running", containerStatuses: [{ name: "worker", image: "x", imageID: "", ready: true, restartCount: 0, state: { running: { startedAt: new Date(5000) } } }] }),
    );
    assert.equal(workerState(podFacts(running), activity), "Initializing");
    assert.equal(workerState(podFacts(running), { ...activity, lastSeenAt: 4000 }), "Initializing", "a call from before its container started");
    assert.equal(workerState(podFacts(running), { ...activity, lastSeenAt: 6000 }), "Idle");
    assert.equal(workerState(podFacts(running), { ...activity, lastSeenAt: 6000, jobs: 1 }), "Running");
  });
});

describe("serving counts for the autoscaler", () => {
  test("count at most the Deployment's replicas (a rollout's surge is not more workers), idle ones left out first", () => {
    assert.deepEqual(servingCounts(["Idle", "Idle", "Running", "Outdated", "Initializing"], 4), { initializing: 1, idle: 1, running: 2 });
    assert.deepEqual(servingCounts(["Idle", "Running"], 5), { initializing: 0, idle: 1, running: 1 });
  });

  test("throttled pods are wanted, not had; unhealthy ones keep their slot", () => {
    assert.deepEqual(servingCounts(["Throttled", "Throttled", "Unhealthy", "Running"], 4), { initializing: 0, idle: 1, running: 1 });
  });
});
