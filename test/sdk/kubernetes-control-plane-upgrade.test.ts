// A rolling upgrade of KubernetesControlPlane under steady load, on the test bed's real node (testbed/kubelet.sh):
// two control-plane pods, real containers of the control-plane image pulled from the local registry, share a
// PostgreSQL server of the test's own and are reached through their Service (kube-proxy), by a runpod-sdk client
// sending a job every 400 ms and by three runpod-python workers. `pulumi up` with a new image tag rolls them one
// at a time: a new pod must pass its readiness probe before an old one stops, and the old one drains (unready from
// SIGTERM, long-polls handed back) before it exits. Every acknowledged job completes exactly once, the client sees
// no error, and the Service never has fewer than two ready control planes behind it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import runpodSdk from "runpod-sdk";
import { createEndpoint, type TestEndpoint } from "../helpers/endpoint";
import { testbedEnv } from "../helpers/env";
import { realNode, testKubeConfig } from "../helpers/kube-runtime";
import { PostgresServer } from "../helpers/postgres-server";
import { PulumiWorkspace } from "../helpers/pulumi-cli";
import { SteadyLoad } from "../helpers/steady-load";
import { pushedToRegistry } from "../helpers/worker-image";
import { WorkerProcess } from "../helpers/worker-process";

const PROGRAM = path.resolve(__dirname, "../fixtures/pulumi-kubernetes-control-plane");
const REPO = path.resolve(__dirname, "../..");
const REPLICAS = 2;
/** The Service's port (sdk/kubernetes.ts). */
const PORT = 8910;

const ready = (pod: V1Pod) =>
  !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

describe("KubernetesControlPlane rolled to a new image under steady load, on real pods", () => {
  const core = testKubeConfig().makeApiClient(CoreV1Api);
  const namespace = `berth-upgrade-${crypto.randomBytes(3).toString("hex")}`;
  const apiKey = `upgrade-${crypto.randomBytes(12).toString("hex")}`;
  const runLogs = fs.mkdtempSync(path.join(os.tmpdir(), "berth-upgrade-"));
  const workers: WorkerProcess[] = [];
  let postgres: PostgresServer;
  let ws: PulumiWorkspace;
  let baseUrl = "";
  const images: string[] = [];

  const podsNow = async () =>
    (await core.listNamespacedPod({ namespace, labelSelector: "app.kubernetes.io/name=berth-control-plane" })).items;

  before(async () => {
    // Pods reach the test's database at the real node's address (this machine's, on loopback), from the pod network.
    const node = await realNode();
    postgres = await PostgresServer.create({ host: node.address, clients: node.podCidr });

    // Two tags of the control plane's image in the registry the node pulls from: the upgrade changes the tag.
    const built = execFileSync("bash", [path.join(REPO, "scripts/build-control-plane-image.sh"), "berth/control-plane:upgrade"], { encoding: "utf8" }).trim();
    for (const tag of ["upgrade-a", "upgrade-b"]) images.push(pushedToRegistry(built, tag));

    ws = await PulumiWorkspace.create(PROGRAM, "upgrade");
    await ws.mustRun("config", "set", "kubeconfig", testbedEnv("BERTH_KUBECONFIG"));
    await ws.mustRun("config", "set", "namespace", namespace);
    await ws.mustRun("config", "set", "image", images[0]!);
    await ws.mustRun("config", "set", "replicas", String(REPLICAS));
    await ws.mustRun("config", "set", "--secret", "apiKey", apiKey);
    await ws.mustRun("config", "set", "--secret", "database", postgres.database("berth").url);
    await ws.mustRun("up", "--yes");

    const service = await core.readNamespacedService({ name: "berth-control-plane", namespace });
    baseUrl = `http://${service.spec!.clusterIP}:${PORT}`;
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    if (ws) {
      await ws.run("destroy", "--yes");
      ws.remove();
    }
    postgres?.remove();
    fs.rmSync(runLogs, { recursive: true, force: true });
  });

  test("pulumi up with a new tag: every job completes once, no client error, never fewer than two ready", async () => {
    const before = await podsNow();
    assert.equal(before.filter(ready).length, REPLICAS, "both control planes are ready after the first up");
    assert.ok(before.every((p) => p.spec?.nodeName === testbedEnv("BERTH_REAL_NODE")), "on the real node");

    const api = { url: baseUrl, apiKey };
    // The steady endpoint's workers are runpod-python processes of the test's own (workersMax 0: the runtime runs
    // none), calling the control planes through the Service as a worker in the cluster would.
    const steady = await createEndpoint(api, { workersMax: 0 });
    const serviceUrl = JSON.parse((await ws.mustRun("stack", "output", "--json")).stdout).serviceUrl as string;
    const throughService: TestEndpoint = {
      ...steady,
      workerEnv: Object.fromEntries(Object.entries(steady.workerEnv).map(([k, v]) => [k, v.replaceAll(serviceUrl, baseUrl)])),
    };
    for (const id of ["py-upgrade-1", "py-upgrade-2", "py-upgrade-3"]) {
      workers.push(WorkerProcess.python("worker.py", { ...throughService.workerEnv, BERTH_TEST_RUN_LOG: path.join(runLogs, id) }, id));
    }
    const load = new SteadyLoad(runpodSdk(apiKey, { baseUrl: `${baseUrl}/v2` }).endpoint(steady.id)!);

    let fewestReady = Number.POSITIVE_INFINITY;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        fewestReady = Math.min(fewestReady, (await podsNow()).filter(ready).length);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    let upgradeMs = 0;
    try {
      await load.more(10);
      await ws.mustRun("config", "set", "image", images[1]!);
      const started = Date.now();
      await ws.mustRun("up", "--yes");
      upgradeMs = Date.now() - started;
      await load.more(10);
    } finally {
      watching = false;
      await watch;
      await load.stop();
    }

    await load.assertEachCompletedOnce(runLogs, workers);
    const afterUp = await podsNow();
    const serving = afterUp.filter(ready);
    assert.equal(serving.length, REPLICAS, "two control planes are ready after the upgrade");
    assert.deepEqual(serving.map((p) => p.spec?.containers[0]?.image), Array(REPLICAS).fill(images[1]), "both run the new image");
    const oldNames = new Set(before.map((p) => p.metadata?.name));
    assert.ok(serving.every((p) => !oldNames.has(p.metadata?.name)), "both are new pods");
    assert.ok(fewestReady >= REPLICAS, `never fewer than ${REPLICAS} ready control planes during the rollout (fewest: ${fewestReady})`);
    console.log(
      `rolling upgrade: pulumi up took ${upgradeMs} ms; ${load.acknowledged.length} jobs acknowledged and completed once each; ` +
        `0 client errors; fewest ready control planes ${fewestReady}`,
    );
  });
});
