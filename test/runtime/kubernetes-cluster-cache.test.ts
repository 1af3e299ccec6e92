// The Kubernetes runtime reads the cluster through watches (server/runtimes/kubernetes/cluster-cache.ts), so that
// a reconcile pass costs the API server nothing once the endpoints are settled, however many there are. Against the
// test bed's real API server; pods on kwok's fake nodes, no worker processes (nothing changes once they run).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import pino from "pino";
import type { FastifyBaseLogger } from "fastify";
import { KubeCluster } from "../../server/runtimes/kubernetes/cluster";
import { ClusterCache } from "../../server/runtimes/kubernetes/cluster-cache";
import { eventually } from "../helpers/endpoint";
import { testbedEnv } from "../helpers/env";
import { KubeRuntime } from "../helpers/kube-runtime";
import { parseMetrics, sumOf } from "../helpers/metrics";

describe("the Kubernetes runtime's cluster cache", () => {
  let runtime: KubeRuntime;

  before(async () => {
    runtime = await KubeRuntime.start({}, { runWorkers: false });
  });
  after(async () => {
    await runtime?.close();
  });

  test("lists once, then follows creates and deletes by watch; reading it sends no request", async () => {
    const requests: string[] = [];
    const cluster = KubeCluster.connect({ kubeconfig: testbedEnv("BERTH_KUBECONFIG"), namespace: runtime.namespace, onRequest: (verb, resource) => requests.push(`${verb} ${resource}`) });
    const core = runtime.kubeConfig.makeApiClient(CoreV1Api);
    const labels = { "berth.dev/control-plane": "cache-test" };
    await core.createNamespacedSecret({ namespace: runtime.namespace, body: { metadata: { name: "before-start", labels }, stringData: { a: "1" } } });
    await core.createNamespacedSecret({ namespace: runtime.namespace, body: { metadata: { name: "not-mine" }, stringData: { a: "1" } } });

    const cache = new ClusterCache(cluster, "berth.dev/control-plane=cache-test", pino({ level: "silent" }) as unknown as FastifyBaseLogger);
    assert.deepEqual(cache.synced(), { ok: false, why: "the first lists have not answered yet" });
    await cache.start();
    try {
      assert.deepEqual(cache.synced(), { ok: true });
      assert.deepEqual(
        cache.secrets().map((s) => s.metadata?.name),
        ["before-start"],
        "listed at start, the selector applied",
      );
      const started = [...requests].sort();
      assert.deepEqual(started, [
        "list deployments",
        "list persistentvolumeclaims",
        "list pods",
        "list secrets",
        "watch deployments",
        "watch persistentvolumeclaims",
        "watch pods",
        "watch secrets",
      ]);

      await core.createNamespacedSecret({ namespace: runtime.namespace, body: { metadata: { name: "after-start", labels }, stringData: { a: "1" } } });
      await eventually("the new secret in the cache", async () => (cache.secrets().some((s) => s.metadata?.name === "after-start") ? true : undefined), 10_000);
      await core.deleteNamespacedSecret({ namespace: runtime.namespace, name: "before-start" });
      await eventually("the deleted secret gone from the cache", async () => (cache.secrets().some((s) => s.metadata?.name === "before-start") ? undefined : true), 10_000);
      for (let i = 0; i < 100; i++) cache.pods();
      assert.deepEqual(requests.sort(), started, "reads and watch events cost no request");
    } finally {
      await cache.stop();
    }
  });

  test("once its endpoints are settled, a reconcile pass sends nothing about them to the API server, with one endpoint or four", async () => {
    // Nodes (every 10 s) and the metrics API (every 5 s) are read on a timer, whatever the number of endpoints:
    // what must not happen is a request per pass for the endpoints' own objects.
    const perEndpointKinds = ["deployments", "deployments/scale", "pods", "pods/status", "secrets", "persistentvolumeclaims"];
    const requestsAndPasses = async () => {
      const samples = parseMetrics((await runtime.api.get("/metrics")).data);
      const requests = perEndpointKinds.reduce((n, resource) => n + sumOf(samples, "berth_kubernetes_requests_total", { resource }), 0);
      return { requests, passes: sumOf(samples, "berth_reconcile_seconds_count") };
    };
    /** Waits for a second with no request (the endpoints settled), then counts what the next 3 s of passes send. */
    const settledCost = async () => {
      await eventually(
        "a second without API requests",
        async () => {
          const before = await requestsAndPasses();
          await new Promise((resolve) => setTimeout(resolve, 1000));
          return (await requestsAndPasses()).requests === before.requests ? true : undefined;
        },
        60_000,
      );
      const before = await requestsAndPasses();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const after = await requestsAndPasses();
      return { requests: after.requests - before.requests, passes: after.passes - before.passes };
    };

    await runtime.createEndpoint({ workersMin: 2, workersMax: 2 });
    await eventually("2 pods running", async () => ((await runtime.pods()).filter((p) => p.status?.phase === "Running").length === 2 ? true : undefined), 60_000);
    const one = await settledCost();
    for (let i = 0; i < 3; i++) await runtime.createEndpoint({ workersMin: 2, workersMax: 2 });
    await eventually("8 pods running", async () => ((await runtime.pods()).filter((p) => p.status?.phase === "Running").length === 8 ? true : undefined), 60_000);
    const four = await settledCost();
    assert.ok(one.passes >= 5 && four.passes >= 5, `passes ran meanwhile (${one.passes}, ${four.passes}; one every 200 ms)`);
    assert.deepEqual({ one: one.requests, four: four.requests }, { one: 0, four: 0 });
  });
});
