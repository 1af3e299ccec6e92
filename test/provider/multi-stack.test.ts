// examples/multi-stack: one program, its Pulumi.dev.yaml and Pulumi.prod.yaml, deployed through the real CLI.
// dev uses a control plane by URL that runs workers on the test bed's Docker engine; prod installs the control
// plane into the test bed's Kubernetes cluster with @pulumi/kubernetes and runs its workers there. kwok runs no
// containers, so the local kubelet runs that control-plane pod (with its service account's token, so its Role is
// what limits it) and the worker pods as local processes; everything else is the real cluster.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import axios from "axios";
import { CoreV1Api } from "@kubernetes/client-node";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";
import { testbedEnv } from "../helpers/env";
import { TEST_WORKER_IMAGE, testKubeConfig } from "../helpers/kube-runtime";
import { LocalKubelet } from "../helpers/local-kubelet";
import { PulumiWorkspace } from "../helpers/pulumi-cli";

const PROGRAM = path.resolve(__dirname, "../../examples/multi-stack");
const CONTROL_PLANE_IMAGE = "berth/control-plane:test";

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("examples/multi-stack", () => {
  const workspaces: PulumiWorkspace[] = [];
  after(() => {
    for (const ws of workspaces) ws.remove();
  });

  describe("dev, on the Docker runtime", () => {
    let runtime: DockerRuntime;
    before(async () => {
      runtime = await DockerRuntime.start();
    });
    after(async () => {
      await runtime?.close();
    });

    test("the dev stack gets dev's settings from Pulumi.dev.yaml and scales to zero", async () => {
      const ws = await PulumiWorkspace.create(PROGRAM, "dev");
      workspaces.push(ws);
      // The stack file names a workstation's control plane; here it is the test's.
      await ws.mustRun("config", "set", "berth:url", runtime.cp.url);
      await ws.mustRun("config", "set", "--secret", "berth:apiKey", runtime.cp.apiKey);
      await ws.mustRun("config", "set", "--secret", "modelToken", "token-for-dev");
      await ws.mustRun("config", "set", "image", runtime.image);
      await ws.mustRun("up", "--yes");
      const outputs = JSON.parse((await ws.mustRun("stack", "output", "--json")).stdout);
      const dev = (await runtime.api.get(`/admin/endpoints/${outputs.endpointId}`)).data;
      assert.deepEqual(
        [dev.workersMin, dev.workersMax, dev.idleTimeout, dev.scalerType, dev.gpuTypeIds],
        [0, 2, 5, "QUEUE_DELAY", ["ADA_24", "AMPERE_24"]],
      );
      assert.equal((await runtime.api.get(`/admin/network-volumes/${dev.networkVolumeId}`)).data.size, 20);
      assert.equal((await runtime.workers(dev.id)).workers.length, 0, "dev scales to zero");
      await ws.mustRun("destroy", "--yes");
      assert.equal((await runtime.api.get(`/admin/endpoints/${dev.id}`)).status, 404);
    });
  });

  describe("prod, on the Kubernetes cluster", () => {
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    const namespace = `berth-prod-${crypto.randomBytes(4).toString("hex")}`;
    const volumeRoot = fs.mkdtempSync(path.join(os.tmpdir(), "berth-nfs-"));
    let kubelet: LocalKubelet;
    let url: string;

    before(async () => {
      const localPort = await freePort();
      url = `http://127.0.0.1:${localPort}`;
      kubelet = new LocalKubelet(testKubeConfig(), namespace, volumeRoot, { image: CONTROL_PLANE_IMAGE, localPort });
      kubelet.start();
    });
    after(async () => {
      await kubelet?.stop();
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      fs.rmSync(volumeRoot, { recursive: true, force: true });
    });

    test("preview, up, change, up, refresh and destroy: the control plane and the endpoint on the cluster, nothing left", async () => {
      const apiKey = `prod-key-${crypto.randomBytes(12).toString("hex")}`;
      const modelToken = `prod-token-${crypto.randomBytes(12).toString("hex")}`;
      const ws = await PulumiWorkspace.create(PROGRAM, "prod");
      workspaces.push(ws);
      // The stack file names a real cluster's registry and port-forward; here they are the test bed's.
      const settings: Array<[string, string]> = [
        ["kubernetes:kubeconfig", testbedEnv("BERTH_KUBECONFIG")],
        ["namespace", namespace],
        ["controlPlaneImage", CONTROL_PLANE_IMAGE],
        ["controlPlaneUrl", url],
        ["image", TEST_WORKER_IMAGE],
        ["storageClass", "berth-rwx"],
        ["storageAccessMode", "ReadWriteMany"],
        ["workerStorageClass", "berth-rwx"],
      ];
      for (const [key, value] of settings) await ws.mustRun("config", "set", key, value);
      await ws.mustRun("config", "set", "--secret", "controlPlaneApiKey", apiKey);
      await ws.mustRun("config", "set", "--secret", "modelToken", modelToken);

      const preview = await ws.mustRun("preview", "--diff");
      for (const type of ["kubernetes:apps/v1:Deployment", "kubernetes:rbac.authorization.k8s.io/v1:Role", "pulumi-nodejs:dynamic/berth:Endpoint"]) {
        assert.ok(preview.stdout.includes(`+ ${type}: (create)`), `the preview creates a ${type}`);
      }
      await ws.mustRun("up", "--yes");
      const outputs = JSON.parse((await ws.mustRun("stack", "output", "--json", "--show-secrets")).stdout);
      assert.equal(outputs.controlPlaneNamespace, namespace);
      const api = axios.create({ baseURL: url, headers: { Authorization: `Bearer ${apiKey}` }, validateStatus: () => true });
      const prod = (await api.get(`/admin/endpoints/${outputs.endpointId}`)).data;
      assert.deepEqual(
        [prod.workersMin, prod.workersMax, prod.idleTimeout, prod.scalerType, prod.scalerValue, prod.gpuTypeIds],
        [2, 6, 60, "REQUEST_COUNT", 2, ["NVIDIA H100 80GB HBM3", "ADA_24"]],
      );
      assert.equal((await api.get(`/admin/network-volumes/${prod.networkVolumeId}`)).data.size, 200);

      let last: unknown;
      const workers = async () => (last = (await api.get(`/admin/endpoints/${prod.id}/workers`)).data);
      await eventually("prod's two active workers Idle on the cluster", async () => {
        const view = await workers();
        return view.workers.filter((w: any) => w.type === "active" && w.state === "Idle").length === 2 ? view : undefined;
      }, 60_000).catch((err) => {
        throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}; kubelet: ${JSON.stringify([...kubelet.pods.keys()])}`);
      });
      const job = await api.post(`/v2/${prod.id}/runsync`, { input: { hello: "prod" } });
      assert.equal(job.data.status, "COMPLETED", JSON.stringify(job.data));
      assert.equal(job.data.output.endpointEnv, null);
      assert.ok(kubelet.pods.has(job.data.output.workerId), "a pod of the cluster served it");

      // A change to the template: the endpoint's Deployment rolls to revision 2.
      await ws.mustRun("config", "set", "logLevel", "warn");
      const changed = await ws.mustRun("preview", "--diff");
      assert.match(changed.stdout, /~ pulumi-nodejs:dynamic\/berth:Template: \(update\)/);
      await ws.mustRun("up", "--yes");
      await eventually("both workers on revision 2", async () => {
        const view = await workers();
        return view.rollout.state === "done" && view.workers.length === 2 && view.workers.every((w: any) => w.revision === 2) ? true : undefined;
      }, 60_000);

      const refresh = await ws.mustRun("refresh", "--yes", "--expect-no-changes");
      assert.doesNotMatch(refresh.stdout, /~ pulumi-nodejs:dynamic/, "refresh finds no drift");
      const state = JSON.stringify(await ws.stackState());
      for (const secret of [apiKey, modelToken]) {
        assert.ok(!state.includes(secret), "no secret in plaintext in the state");
        assert.ok(!preview.stdout.includes(secret) && !changed.stdout.includes(secret), "nor in the preview");
      }

      await ws.mustRun("destroy", "--yes");
      await eventually("the namespace gone", () => core.readNamespace({ name: namespace }).then(() => undefined, () => true), 60_000);
      const claimed = (await core.listPersistentVolume()).items.filter((pv) => pv.spec?.claimRef?.namespace === namespace && pv.status?.phase === "Bound");
      assert.deepEqual(claimed.map((pv) => pv.metadata?.name), [], "no volume is still bound to the stack's claims");
    });
  });
});
