// Worker states the Kubernetes runtime reads from the cluster (Throttled) and network volumes as claims, against
// the test bed's cluster. Unhealthy pods (a missing image, a crash loop) are tested on the real node, whose kubelet
// really pulls and restarts (kubernetes-real-pods.test.ts). The test bed has one fake RTX 4090 node with 4 GPUs; only this file
// uses it, so its capacity is known here.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../helpers/endpoint";
import { KubeRuntime } from "../helpers/kube-runtime";

const RTX_4090 = "NVIDIA GeForce RTX 4090";

describe("worker states and volumes on the Kubernetes runtime", () => {
  let runtime: KubeRuntime;

  before(async () => {
    runtime = await KubeRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("pods the GPU nodes cannot hold are Throttled with the scheduler's reason, and start once capacity frees", async () => {
    const hog = await runtime.createEndpoint({ gpuTypeIds: [RTX_4090], gpuCount: 2, workersMin: 1, workersMax: 1 });
    await runtime.runningPods(hog.id, 1);
    const ep = await runtime.createEndpoint({ gpuTypeIds: [RTX_4090], gpuCount: 1, workersMin: 4, workersMax: 4 });
    const throttled = await runtime.until("two Throttled workers", ep.id, (w) =>
      w.throttled.count === 2 && w.workers.filter((x) => x.state === "Idle").length === 2 ? w : undefined,
    );
    assert.match(throttled.throttled.reason ?? "", /nvidia\.com\/gpu/, "the reason is the scheduler's, naming the GPU resource");
    for (const w of throttled.workers.filter((x) => x.state === "Throttled")) assert.match(w.reason ?? "", /Insufficient nvidia\.com\/gpu/);
    const health = (await runtime.api.get(`/v2/${ep.id}/health`)).data;
    assert.equal(health.workers.throttled, 2);
    assert.equal(health.workers.idle, 2);
    assert.equal(health.workers.unhealthy, 0, "throttled is not unhealthy");

    // The other endpoint lets go of its two GPUs: the scheduler places the waiting pods.
    assert.equal((await runtime.api.delete(`/admin/endpoints/${hog.id}`)).status, 204);
    const recovered = await runtime.until("four Idle workers", ep.id, (w) =>
      w.workers.filter((x) => x.state === "Idle").length === 4 && w.throttled.count === 0 ? w : undefined,
    );
    assert.equal(recovered.workers.length, 4);
    const job = await runtime.submit(ep.id, { n: 1 });
    assert.equal((await runtime.ended(ep.id, job)).status, "COMPLETED");
    assert.equal((await runtime.api.delete(`/admin/endpoints/${ep.id}`)).status, 204);
    await eventually("the deleted endpoint's pods gone", async () => ((await runtime.pods(ep.id)).length === 0 ? true : undefined), 30_000);
  });

  test("a network volume is a ReadWriteMany claim that binds, mounts where the template says, and is shared and grown", async () => {
    const volume = await runtime.api.post("/admin/network-volumes", { name: "shared", size: 10, dataCenterId: "local" });
    assert.equal(volume.status, 200, JSON.stringify(volume.data));
    const claimName = `berth-vol-${volume.data.id}`;
    const readClaim = () => runtime.core.readNamespacedPersistentVolumeClaim({ namespace: runtime.namespace, name: claimName });
    const bound = await eventually("the claim bound", async () => {
      const claim = await readClaim().catch(() => undefined);
      return claim?.status?.phase === "Bound" ? claim : undefined;
    });
    assert.deepEqual(bound.spec?.accessModes, ["ReadWriteMany"]);
    assert.equal(bound.spec?.resources?.requests?.storage, "10Gi");

    const mount = { volumeMountPath: "/data" };
    const writer = await runtime.createEndpoint({ workersMin: 1, workersMax: 1, networkVolumeId: volume.data.id }, mount);
    const reader = await runtime.createEndpoint({ workersMin: 1, workersMax: 1, networkVolumeId: volume.data.id }, mount);
    const [writerPod] = await runtime.runningPods(writer.id, 1);
    await runtime.runningPods(reader.id, 1);
    const started = await eventually("the writer pod's worker started", () => runtime.kubelet.pods.get(writerPod!));
    assert.equal(started.mountPath, "/data", "mounted at the template's volumeMountPath");
    const wrote = await runtime.ended(writer.id, await runtime.submit(writer.id, { write: { name: "greeting.txt", content: "hello from a pod" } }));
    assert.equal(wrote.status, "COMPLETED", JSON.stringify(wrote));
    const read = await runtime.ended(reader.id, await runtime.submit(reader.id, { read: "greeting.txt" }));
    assert.equal(read.output.read, "hello from a pod", "the other endpoint's pod reads what the first wrote");

    assert.equal((await runtime.api.patch(`/admin/network-volumes/${volume.data.id}`, { size: 20 })).status, 200);
    await eventually("the claim's request grown", async () => ((await readClaim()).spec?.resources?.requests?.storage === "20Gi" ? true : undefined));

    for (const ep of [writer, reader]) assert.equal((await runtime.api.delete(`/admin/endpoints/${ep.id}`)).status, 204);
    assert.equal((await runtime.api.delete(`/admin/network-volumes/${volume.data.id}`)).status, 204);
    await eventually("the claim deleted", async () => ((await readClaim().then(() => false, () => true)) ? true : undefined), 30_000);
  });
});
