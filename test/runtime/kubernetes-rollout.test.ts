// A template change rolls an endpoint's Deployment on the test bed's cluster: the real Deployment and ReplicaSet
// controllers do the rolling, at RunPod's pace (maxUnavailable = 10% of workersMax), taking the idle pods before
// the ones with a job, which finish their job within the grace period. Every pod and ReplicaSet event is watched,
// not sampled.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Watch, type V1Pod, type V1ReplicaSet } from "@kubernetes/client-node";
import { eventually } from "../helpers/endpoint";
import { KubeRuntime } from "../helpers/kube-runtime";

interface PodHistory {
  revision: number;
  deletingAt?: number;
}

describe("rolling updates on the Kubernetes runtime", () => {
  let runtime: KubeRuntime;

  before(async () => {
    runtime = await KubeRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("a template change rolls 2 pods at a time (workersMax 20), idle pods first, running ones finish their jobs", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 8, workersMax: 20, idleTimeout: 60 });
    const oldPods = await runtime.runningPods(ep.id, 8);
    await runtime.until("eight Idle workers", ep.id, (w) => (w.workers.filter((x) => x.state === "Idle").length === 8 ? true : undefined));
    const strategy = (await runtime.deployment(ep.id)).spec?.strategy;
    assert.deepEqual({ ...strategy?.rollingUpdate }, { maxSurge: 0, maxUnavailable: 2 });

    const history = new Map<string, PodHistory>();
    let live = 0;
    let low = Infinity;
    // "No surge" is the Deployment controller's promise about its ReplicaSets' replicas: a new ReplicaSet grows
    // only into room the old one has given up. Their pods follow through two controllers working apart, so for a
    // moment a new pod can exist before the old one's deletion reaches the API; the pods are not the measure.
    const replicaSets = new Map<string, number>();
    let peakReplicas = 0;
    const watchingSets = await new Watch(runtime.kubeConfig).watch(
      `/apis/apps/v1/namespaces/${runtime.namespace}/replicasets`,
      { labelSelector: `berth.dev/endpoint=${ep.id}` },
      (type: string, set: V1ReplicaSet) => {
        if (type === "DELETED") replicaSets.delete(set.metadata!.name!);
        else replicaSets.set(set.metadata!.name!, set.spec?.replicas ?? 0);
        peakReplicas = Math.max(peakReplicas, [...replicaSets.values()].reduce((sum, n) => sum + n, 0));
      },
      () => undefined,
    );
    let rolling = false;
    const watching = await new Watch(runtime.kubeConfig).watch(
      `/api/v1/namespaces/${runtime.namespace}/pods`,
      { labelSelector: `berth.dev/endpoint=${ep.id}` },
      (type: string, pod: V1Pod) => {
        const name = pod.metadata!.name!;
        const entry = history.get(name) ?? { revision: Number(pod.metadata?.labels?.["berth.dev/revision"]) };
        history.set(name, entry);
        // A pod removed at once (no grace, no finalizer yet) may reach the watch only as DELETED, without a
        // deletionTimestamp: it is gone all the same, and counting it as live would overstate the pod count.
        if ((pod.metadata?.deletionTimestamp || type === "DELETED") && entry.deletingAt === undefined) entry.deletingAt = Date.now();
        live = [...history.values()].filter((h) => h.deletingAt === undefined).length;
        if (rolling) low = Math.min(low, live);
      },
      () => undefined,
    );

    const long = await Promise.all([1, 2, 3].map((n) => runtime.submit(ep.id, { sleepMs: 20_000, n })));
    const busy = await runtime.until("three workers Running the long jobs", ep.id, (w) => {
      const running = w.workers.filter((x) => x.state === "Running").map((x) => x.id);
      return running.length === 3 ? running : undefined;
    });
    // Idle first is the deletion cost's doing; with equal costs the order below would hold only by chance.
    await eventually("the busy pods dearer to remove than the idle ones", async () => {
      const cost = new Map(
        (await runtime.pods(ep.id)).map((p) => [p.metadata!.name!, Number(p.metadata?.annotations?.["controller.kubernetes.io/pod-deletion-cost"])]),
      );
      const idle = oldPods.filter((name) => !busy.includes(name));
      return idle.every((i) => busy.every((b) => cost.get(i)! < cost.get(b)!)) ? true : undefined;
    });
    assert.equal(live, 8, "the watch has seen the eight pods");
    rolling = true;
    const template = await runtime.api.patch(`/admin/templates/${ep.templateId}`, { env: { RELEASE: "2" } });
    assert.equal(template.status, 200, JSON.stringify(template.data));

    await runtime.until(
      "the rollout done with eight new pods",
      ep.id,
      (w) => (w.rollout.state === "done" && w.revision === 2 && w.workers.length === 8 && w.workers.every((x) => x.revision === 2) ? true : undefined),
      60_000,
    );
    watching.abort();
    watchingSets.abort();

    const results = await Promise.all(long.map((id) => runtime.ended(ep.id, id)));
    for (const r of results) {
      assert.equal(r.status, "COMPLETED", JSON.stringify(r));
      assert.ok(busy.includes(r.output.workerId), "each long job finished on the old pod that started it");
    }
    assert.equal(peakReplicas, 8, `the ReplicaSets never asked for more pods than the endpoint's 8: no surge (saw ${peakReplicas})`);
    assert.ok(low >= 8 - 2, `never more than 2 pods replaced at once (saw ${low} of 8 serving)`);
    const deletions = oldPods.map((name) => ({ name, at: history.get(name)?.deletingAt }));
    assert.ok(deletions.every((d) => d.at !== undefined), "every old pod was deleted");
    const lastIdle = Math.max(...deletions.filter((d) => !busy.includes(d.name)).map((d) => d.at!));
    const firstBusy = Math.min(...deletions.filter((d) => busy.includes(d.name)).map((d) => d.at!));
    assert.ok(lastIdle <= firstBusy, "the idle old pods went before any pod with a job");
    for (const name of busy) {
      const record = runtime.kubelet.pods.get(name)!;
      const result = results.find((r) => r.output.workerId === name)!;
      assert.ok(record.exitedAt! >= result.output.finishedAt, `pod ${name}'s worker exited after finishing its job, not before`);
    }
    const newPod = (await runtime.runningPods(ep.id, 8))[0]!;
    const { env } = await eventually(`pod ${newPod}'s worker started`, () => runtime.kubelet.pods.get(newPod));
    assert.equal(env.RELEASE, "2", "the new pods run the new template's environment");
  });
});
