// The Kubernetes runtime against the test bed's cluster: a real API server, controller manager and scheduler with
// kwok's fake H100 nodes. Each Running pod's worker runs as a local process with the pod's own environment (the
// local kubelet), so every job here goes through a real worker that the control plane found through its pod.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../helpers/endpoint";
import { KubeRuntime } from "../helpers/kube-runtime";
import { parseMetrics, sumOf } from "../helpers/metrics";

describe("scaling on the Kubernetes runtime", () => {
  let runtime: KubeRuntime;

  before(async () => {
    runtime = await KubeRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("a burst scales the Deployment 0 -> workersMax, pods' workers serve every job, then it scales back to 0", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: 3, idleTimeout: 2, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const created = await runtime.until("the deployment at 0 replicas", ep.id, async () => {
      const d = await runtime.deployment(ep.id).catch(() => undefined);
      return d?.spec?.replicas === 0 ? d : undefined;
    });
    const container = created.spec!.template.spec!.containers[0]!;
    assert.equal(container.resources?.limits?.["nvidia.com/gpu"], "1", "each pod asks for its GPU as an extended resource");
    const required = created.spec!.template.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!;
    assert.deepEqual(
      JSON.parse(JSON.stringify(required.nodeSelectorTerms[0]!.matchExpressions)),
      [{ key: "nvidia.com/gpu.product", operator: "In", values: ["NVIDIA-H100-80GB-HBM3"] }],
    );
    assert.equal(created.metadata?.labels?.["app.kubernetes.io/managed-by"], "berth-control-plane");

    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => runtime.submit(ep.id, { sleepMs: 1500, n: i })));
    const pods = await runtime.runningPods(ep.id, 3);
    const results = await Promise.all(jobs.map((id) => runtime.ended(ep.id, id)));
    for (const r of results) assert.equal(r.status, "COMPLETED", JSON.stringify(r));
    const servedBy = new Set(results.map((r) => r.output.workerId as string));
    assert.ok(servedBy.size >= 2, `jobs were spread over the pods: ${[...servedBy]}`);
    for (const id of servedBy) assert.ok(pods.includes(id), `worker ${id} is one of the endpoint's pods (${pods})`);
    for (const name of pods) {
      const { env } = await eventually(`pod ${name}'s worker started`, () => runtime.kubelet.pods.get(name));
      assert.equal(env.RUNPOD_POD_ID, name, "the pod's worker id is its name (downward API)");
      assert.equal(env.RUNPOD_ENDPOINT_ID, ep.id);
    }
    const nodes = new Set((await runtime.workers(ep.id)).workers.map((w) => w.node));
    assert.ok([...nodes].every((n) => n?.startsWith("gpu-h100-")), `pods were placed on H100 nodes only: ${[...nodes]}`);

    // Monitoring covers pods too: cold starts from each pod's creation, usage by the GPU type of its node.
    const metrics = parseMetrics((await runtime.api.get("/metrics")).data);
    const coldStarts = sumOf(metrics, "berth_worker_cold_start_seconds_count", { endpoint: ep.id });
    assert.ok(coldStarts >= 3, `the three pods' cold starts were counted (${coldStarts})`);
    const usage = (await runtime.api.get("/admin/usage", { params: { endpointId: ep.id } })).data;
    assert.deepEqual(
      usage.lines.map((l: { workerType: string; gpuTypeId: string }) => [l.workerType, l.gpuTypeId]),
      [["flex", "NVIDIA H100 80GB HBM3"]],
    );
    assert.ok(usage.lines[0].seconds >= 6 * 1.5, `six jobs of 1.5 s were billed (${usage.lines[0].seconds} s)`);

    await runtime.until("the deployment back at 0 after idleTimeout", ep.id, async () => {
      const [d, left] = await Promise.all([runtime.deployment(ep.id), runtime.pods(ep.id)]);
      return d.spec?.replicas === 0 && left.length === 0 ? true : undefined;
    });
    for (const name of pods) assert.ok(runtime.kubelet.pods.get(name)!.exitedAt, `pod ${name}'s worker was stopped`);
  });

  test("scale-down removes the idle pods and keeps the one running a job until its job is done", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: 3, idleTimeout: 2, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const warmup = await Promise.all(Array.from({ length: 3 }, (_, i) => runtime.submit(ep.id, { sleepMs: 800, n: i })));
    await runtime.runningPods(ep.id, 3);
    for (const id of warmup) assert.equal((await runtime.ended(ep.id, id)).status, "COMPLETED");

    const long = await runtime.submit(ep.id, { sleepMs: 7000 });
    const busy = await runtime.until("the long job on a worker", ep.id, (w) => w.workers.find((x) => x.jobsInProgress > 0)?.id);
    // Which pod the ReplicaSet removes is decided by the deletion cost Berth sets: without it, the busy pod goes
    // first whenever it happens to be the newest, so the order below alone would pass by chance.
    // Costs follow each pass, so the idle pods' fall from a warm-up job is waited for, not read once.
    await eventually("the idle pods cheaper to remove than the busy one", async () => {
      const pods = (await runtime.pods(ep.id)).filter((p) => !p.metadata?.deletionTimestamp);
      const cost = (name: string) => Number(pods.find((p) => p.metadata!.name === name)?.metadata?.annotations?.["controller.kubernetes.io/pod-deletion-cost"]);
      const idle = pods.map((p) => p.metadata!.name!).filter((name) => name !== busy);
      return idle.length > 0 && idle.every((name) => cost(name) < cost(busy)) ? true : undefined;
    });
    const idle = await runtime.until("two pods removed, one kept", ep.id, async () => {
      const names = (await runtime.pods(ep.id)).filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!);
      return names.length === 1 ? names : undefined;
    });
    assert.deepEqual(idle, [busy], "the pod left is the one with the job");
    const result = await runtime.ended(ep.id, long, 30_000);
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.output.workerId, busy);
    const terminated = runtime.kubelet.pods.get(busy)!.terminatedAt;
    assert.ok(terminated === undefined || terminated >= result.output.finishedAt, "the busy pod was not stopped before its job finished");
    await runtime.until("the last pod gone after idleTimeout", ep.id, async () => ((await runtime.pods(ep.id)).length === 0 ? true : undefined));
  });

  test("workersMin pods are active and stay; a restarted control plane adopts them", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 2, workersMax: 3, idleTimeout: 2 });
    const pods = await runtime.runningPods(ep.id, 2);
    const view = await runtime.until("two Idle active workers", ep.id, (w) =>
      w.workers.filter((x) => x.state === "Idle" && x.type === "active").length === 2 ? w : undefined,
    );
    assert.deepEqual(view.workers.map((w) => w.id).sort(), [...pods].sort());
    await runtime.cp.stop();
    runtime.cp = await runtime.cp.restart();
    const job = await runtime.submit(ep.id, { n: 1 });
    const result = await runtime.ended(ep.id, job);
    assert.equal(result.status, "COMPLETED");
    assert.ok(pods.includes(result.output.workerId), "an adopted pod served the job");
    assert.deepEqual((await runtime.runningPods(ep.id, 2)).sort(), [...pods].sort(), "the same pods: none replaced");
  });
});
