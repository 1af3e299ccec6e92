// Berth's Kubernetes runtime with workers on the test bed's real node (testbed/kubelet.sh): real containers of a
// runpod-python worker image (and of the Node SDK's) pulled from the local registry, a GPU from the node's device plugin, a hostPath network
// volume the kubelet really mounts. What kwok cannot show: what a pod really receives, and how a pod that cannot
// start (its image missing, its process crashing) looks to the workers view.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { eventually } from "../helpers/endpoint";
import { KubeRuntime } from "../helpers/kube-runtime";
import { ensurePythonWorkerImage, ensureWorkerImage, pushedToRegistry } from "../helpers/worker-image";
import { missingImage } from "../helpers/env";
import { WORKER_READY_CONDITION as WORKER_READY } from "../../server/runtimes/kubernetes/manifests";

describe("Kubernetes runtime on a real node", () => {
  let runtime: KubeRuntime;

  before(async () => {
    runtime = await KubeRuntime.onRealNode(pushedToRegistry(await ensurePythonWorkerImage()));
  });
  after(() => runtime?.close());

  /** The node has two GPUs: each test gives its workers back before the next asks for them. */
  async function removeEndpoint(endpointId: string): Promise<void> {
    assert.equal((await runtime.api.delete(`/admin/endpoints/${endpointId}`)).status, 204);
    await eventually(`the pods of ${endpointId} gone`, async () => ((await runtime.pods(endpointId)).length === 0 ? true : undefined), 120_000);
  }

  test("a job is served by a real container with the endpoint's env, its secret env, a GPU and the volume mounted", async (t) => {
    const volume = await runtime.api.post("/admin/network-volumes", { name: "real", size: 10, dataCenterId: "local" });
    assert.equal(volume.status, 200, JSON.stringify(volume.data));
    const secret = `s3cret-${crypto.randomBytes(6).toString("hex")}`;
    const ep = await runtime.createEndpoint(
      { workersMin: 1, workersMax: 1, networkVolumeId: volume.data.id, env: { ENDPOINT_VAR: "from-endpoint" } },
      { volumeMountPath: "/data", env: { TEMPLATE_VAR: "from-template", API_TOKEN: secret }, secretEnvKeys: ["API_TOKEN"] },
    );
    t.after(() => removeEndpoint(ep.id));
    const envJob = await runtime.ended(
      ep.id,
      await runtime.submit(ep.id, { env: ["TEMPLATE_VAR", "ENDPOINT_VAR", "API_TOKEN", "NVIDIA_VISIBLE_DEVICES", "RUNPOD_POD_ID"] }),
      180_000,
    );
    assert.equal(envJob.status, "COMPLETED", JSON.stringify(envJob));
    const env = envJob.output.env;
    assert.equal(env.TEMPLATE_VAR, "from-template");
    assert.equal(env.ENDPOINT_VAR, "from-endpoint");
    assert.equal(env.API_TOKEN, secret, "the secret value reaches the container (through the revision's Secret)");
    assert.match(env.NVIDIA_VISIBLE_DEVICES, /^GPU-berth-fake-\d$/, "the kubelet allocated one of the node's GPUs through the device plugin");
    const [pod] = (await runtime.pods(ep.id)).filter((p) => p.metadata?.name === env.RUNPOD_POD_ID);
    assert.ok(pod, `the job ran in the endpoint's pod ${env.RUNPOD_POD_ID}`);
    assert.equal(pod.spec?.nodeName, "berth-node");
    assert.equal(pod.status?.containerStatuses?.[0]?.ready, true, "its container is running and ready");

    // The file lands in the volume bound to the endpoint's claim: the hostPath directory on this machine.
    const name = `from-pod-${crypto.randomBytes(4).toString("hex")}.txt`;
    const wrote = await runtime.ended(ep.id, await runtime.submit(ep.id, { writeFile: { path: `/data/${name}`, text: "hello from a real pod" } }));
    assert.equal(wrote.status, "COMPLETED", JSON.stringify(wrote));
    const claim = await runtime.core.readNamespacedPersistentVolumeClaim({ namespace: runtime.namespace, name: `berth-vol-${volume.data.id}` });
    const pv = await runtime.core.readPersistentVolume({ name: claim.spec!.volumeName! });
    assert.equal(fs.readFileSync(`${pv.spec!.hostPath!.path}/${name}`, "utf8"), "hello from a real pod");
  });

  test("a missing image is Unhealthy with the kubelet's reason, and the old worker keeps serving", async (t) => {
    const ep = await runtime.createEndpoint({ workersMin: 2, workersMax: 2 });
    t.after(() => removeEndpoint(ep.id));
    await runtime.until("two ready workers", ep.id, (w) => (w.workers.filter((x) => x.state === "Idle").length === 2 ? true : undefined), 180_000);
    const missing = missingImage("real-node");
    const changed = await runtime.api.patch(`/admin/templates/${ep.templateId}`, { imageName: missing });
    assert.equal(changed.status, 200, JSON.stringify(changed.data));
    const unhealthy = await runtime.until(
      "the new revision's worker Unhealthy",
      ep.id,
      (w) => w.workers.find((x) => x.state === "Unhealthy" && x.revision === w.revision),
      120_000,
    );
    assert.match(unhealthy.reason ?? "", /ErrImagePull|ImagePullBackOff/, `the reason names the pull failure: ${unhealthy.reason}`);
    const job = await runtime.ended(ep.id, await runtime.submit(ep.id, { n: 1 }));
    assert.equal(job.status, "COMPLETED", "a worker of the old revision still serves");
  });

  test("a crashing container is Unhealthy with its exit code and last log line, and restarts with back-off", async (t) => {
    const ep = await runtime.createEndpoint(
      { workersMin: 1, workersMax: 1 },
      { startCommand: ["python", "-c", "print('loading the model failed: no weights'); raise SystemExit(3)"] },
    );
    t.after(() => removeEndpoint(ep.id));
    const unhealthy = await runtime
      .until("the worker Unhealthy with its exit", ep.id, (w) => w.workers.find((x) => x.state === "Unhealthy" && /exit code 3/.test(x.reason ?? "")), 120_000)
      .catch(async (err: Error) => {
        // What the workers view and the pod said last, for whoever reads the failure.
        const pods = (await runtime.pods(ep.id)).map((p) => ({ name: p.metadata?.name, phase: p.status?.phase, containers: p.status?.containerStatuses }));
        throw new Error(`${err.message}; workers: ${JSON.stringify((await runtime.workers(ep.id)).workers)}; pods: ${JSON.stringify(pods)}`);
      });
    assert.match(unhealthy.reason!, /CrashLoopBackOff/);
    assert.match(unhealthy.reason!, /loading the model failed: no weights/, "the last log line, which the kubelet kept as its termination message");
    const restarted = await eventually("a second restart", async () => {
      const [pod] = await runtime.pods(ep.id);
      const restarts = pod?.status?.containerStatuses?.[0]?.restartCount ?? 0;
      return restarts >= 2 ? restarts : undefined;
    }, 120_000);
    assert.ok(restarted >= 2);
    // Between two crashes the container runs for a moment (Initializing), so only the count is certain here.
    await runtime.until("the restarts in the workers view", ep.id, (w) => w.workers.find((x) => x.restarts >= 2));
  });
  test("readiness: a started pod is not Ready and takes no job until its worker calls in and Berth sets its gate", async (t) => {
    // The container runs for 8 s before its worker starts, as one loading a model would.
    const ep = await runtime.createEndpoint(
      { workersMin: 1, workersMax: 1 },
      { startCommand: ["sh", "-c", "sleep 8; exec python -u /opt/worker/worker.py"] },
    );
    t.after(() => removeEndpoint(ep.id));
    const jobId = await runtime.submit(ep.id, { n: "early" });
    const running = await eventually("the pod's container running", async () => {
      const [pod] = await runtime.pods(ep.id);
      return pod?.status?.containerStatuses?.[0]?.state?.running ? pod : undefined;
    }, 120_000);
    const condition = (pod: typeof running, type: string) => pod.status?.conditions?.find((c) => c.type === type);
    assert.notEqual(condition(running, WORKER_READY)?.status, "True", "no readiness gate while the worker has not called");
    assert.notEqual(condition(running, "Ready")?.status, "True", "so the pod is not Ready");
    assert.equal((await runtime.api.get(`/v2/${ep.id}/status/${jobId}`)).data.status, "IN_QUEUE", "the job waits for the worker");

    assert.equal((await runtime.ended(ep.id, jobId, 120_000)).status, "COMPLETED");
    const ready = await eventually("the pod Ready", async () => {
      const [pod] = await runtime.pods(ep.id);
      return pod && condition(pod, "Ready")?.status === "True" ? pod : undefined;
    });
    const startedAt = Date.parse(String(running.status!.containerStatuses![0]!.state!.running!.startedAt));
    const gatedAt = Date.parse(String(condition(ready, WORKER_READY)!.lastTransitionTime));
    // Condition times have whole seconds.
    assert.ok(gatedAt - startedAt >= 6_000, `the gate was set once the worker called, after its start-up (${gatedAt - startedAt} ms)`);
  });

  test("a rollout and a scale-down while jobs run on runpod-python: each job completes where it started", async (t) => {
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 2, executionTimeoutMs: 120_000 });
    t.after(() => removeEndpoint(ep.id));
    await runtime.until("a ready worker", ep.id, (w) => (w.workers.some((x) => x.state === "Idle") ? true : undefined), 180_000);
    const inProgress = async (jobId: string) =>
      eventually(`job ${jobId} in progress`, async () => {
        const status = (await runtime.api.get(`/v2/${ep.id}/status/${jobId}`)).data;
        return status.status === "IN_PROGRESS" ? status : undefined;
      }, 60_000);

    // A new revision (a template change) replaces the busy worker: the kubelet sends it SIGTERM mid-job.
    const duringRollout = await runtime.submit(ep.id, { sleepSeconds: 10 });
    const [oldPod] = await runtime.pods(ep.id);
    await inProgress(duringRollout);
    const changed = await runtime.api.patch(`/admin/templates/${ep.templateId}`, { env: { REVISION: "2" } });
    assert.equal(changed.status, 200, JSON.stringify(changed.data));
    const rolled = await runtime.ended(ep.id, duringRollout, 120_000);
    assert.equal(rolled.status, "COMPLETED", JSON.stringify(rolled));
    assert.equal(rolled.workerId, oldPod!.metadata!.name, "it finished on the worker it started on, which drained");
    await runtime.until("the new revision serving", ep.id, (w) => (w.workers.some((x) => x.state === "Idle" && x.revision === w.revision) ? true : undefined), 180_000);

    // Two workers, one busy; then the endpoint shrinks to one: the idle one goes, the busy one finishes.
    assert.equal((await runtime.api.patch(`/admin/endpoints/${ep.id}`, { workersMin: 2 })).status, 200);
    await runtime.until("two ready workers", ep.id, (w) => (w.workers.filter((x) => x.state === "Idle").length === 2 ? true : undefined), 180_000);
    const duringScaleDown = await runtime.submit(ep.id, { sleepSeconds: 10 });
    const busy = await inProgress(duringScaleDown);
    assert.equal((await runtime.api.patch(`/admin/endpoints/${ep.id}`, { workersMin: 1, workersMax: 1 })).status, 200);
    const shrunk = await runtime.ended(ep.id, duringScaleDown, 120_000);
    assert.equal(shrunk.status, "COMPLETED", JSON.stringify(shrunk));
    assert.equal(shrunk.workerId, busy.workerId, "it finished on its worker");
    const left = await eventually("one pod left", async () => {
      const pods = (await runtime.pods(ep.id)).filter((p) => !p.metadata?.deletionTimestamp);
      return pods.length === 1 ? pods : undefined;
    }, 120_000);
    assert.equal(left[0]!.metadata!.name, busy.workerId, "the busy worker is the one kept");
  });
  test("the Node SDK worker image serves a job on the real node, with the GPU the kubelet gave its pod", async (t) => {
    const image = pushedToRegistry(await ensureWorkerImage());
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 1 }, { imageName: image, env: { TEMPLATE_MARKER: "node-sdk" } });
    t.after(() => removeEndpoint(ep.id));
    const job = await runtime.ended(ep.id, await runtime.submit(ep.id, { n: 1 }), 180_000);
    assert.equal(job.status, "COMPLETED", JSON.stringify(job));
    assert.equal(job.output.templateEnv, "node-sdk");
    assert.match(job.output.gpus, /^GPU-berth-fake-\d$/);
    const [pod] = await runtime.pods(ep.id);
    assert.equal(pod?.spec?.nodeName, "berth-node");
    assert.equal(pod?.spec?.containers[0]?.image, image);
  });
});
