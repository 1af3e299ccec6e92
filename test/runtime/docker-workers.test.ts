// Worker states on the Docker runtime: Throttled when no GPU is free, Unhealthy (with its reason and restarts
// under backoff) for a bad image or a crash-looping one, a worker killed mid-job replaced with its job retried,
// and frozen standby workers resumed on demand.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import axios from "axios";
import { missingImage } from "../helpers/env";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";

describe("worker states on the Docker runtime", () => {
  let runtime: DockerRuntime;

  before(async () => {
    runtime = await DockerRuntime.start({ BERTH_SIMULATED_GPUS: "NVIDIA GeForce RTX 4090=2;NVIDIA L4=1" });
  });
  after(async () => {
    await runtime?.close();
  });

  test("workers see Berth's defaults, the template's and the endpoint's env, and share the network volume at the mount path", async () => {
    const volume = await runtime.api.post("/admin/network-volumes", { name: "shared", size: 10, dataCenterId: "local" });
    assert.equal(volume.status, 200, JSON.stringify(volume.data));
    const template = { env: { TEMPLATE_MARKER: "from the template", WORKER_VOLUME_PATH: "/data" }, volumeMountPath: "/data" };
    const writer = await runtime.createEndpoint({ networkVolumeId: volume.data.id, env: { ENDPOINT_MARKER: "writer" } }, template);
    // The reader's endpoint sets Berth's fitness-check default back: the user's env wins over Berth's defaults.
    const reader = await runtime.createEndpoint(
      { networkVolumeId: volume.data.id, env: { ENDPOINT_MARKER: "reader", RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "false" } },
      template,
    );

    const wrote = await runtime.ended(writer.id, await runtime.submit(writer.id, { write: { name: "note.txt", content: "hello from the writer" } }));
    assert.equal(wrote.status, "COMPLETED", JSON.stringify(wrote));
    assert.equal(wrote.output.templateEnv, "from the template");
    assert.equal(wrote.output.endpointEnv, "writer");
    assert.equal(wrote.output.skipSystemChecks, "true");
    const read = await runtime.ended(reader.id, await runtime.submit(reader.id, { read: "note.txt" }));
    assert.equal(read.status, "COMPLETED", JSON.stringify(read));
    assert.equal(read.output.read, "hello from the writer");
    assert.equal(read.output.skipSystemChecks, "false");
    assert.notEqual(read.output.workerId, wrote.output.workerId, "two workers, two containers, one volume");

    // Deleting both endpoints, then the volume, removes the Docker volume once its workers are gone.
    for (const ep of [writer, reader]) assert.equal((await runtime.api.delete(`/admin/endpoints/${ep.id}`)).status, 204);
    assert.equal((await runtime.api.delete(`/admin/network-volumes/${volume.data.id}`)).status, 204);
    await eventually("the Docker volume to be removed", async () => ((await runtime.engine.volumeExists(`berth-vol-${volume.data.id}`)) ? undefined : true));
  });

  test("no free GPU of an allowed type: the workers wanted beyond capacity are Throttled, with the reason", async () => {
    const ep = await runtime.createEndpoint({ gpuTypeIds: ["NVIDIA L4"], workersMax: 3, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const jobs = await Promise.all([1, 2, 3].map((n) => runtime.submit(ep.id, { sleepMs: 3000, n })));
    const throttled = await runtime.until("two workers throttled beside one running", ep.id, (w) =>
      w.throttled.count === 2 && w.workers.length === 1 && w.workers[0]!.state === "Running" ? w : undefined,
    );
    assert.match(throttled.throttled.reason ?? "", /no free GPU .*NVIDIA L4/);
    assert.match(throttled.throttled.reason ?? "", /simulated/);
    assert.deepEqual(throttled.workers[0]!.gpus, { ids: [throttled.workers[0]!.gpus.ids[0]], typeId: "NVIDIA L4", simulated: true });
    const health = (await runtime.api.get(`/v2/${ep.id}/health`)).data;
    assert.equal(health.workers.throttled, 2);
    assert.equal(health.workers.unhealthy, 0, "no capacity is not the same as crash-looping");
    assert.equal(health.gpus, "2 x NVIDIA GeForce RTX 4090, 1 x NVIDIA L4 (simulated)", "a simulated inventory says so");
    for (const id of jobs) assert.equal((await runtime.ended(ep.id, id, 90_000)).status, "COMPLETED");
  });

  test("an image that cannot be had: the worker is Unhealthy with the reason and restarts under backoff", async () => {
    const missing = missingImage("1");
    const ep = await runtime.createEndpoint({ workersMin: 1 }, { imageName: missing });
    const sick = await runtime.until("the worker to be Unhealthy after two restarts", ep.id, (w) =>
      w.workers[0]?.state === "Unhealthy" && w.workers[0].restarts >= 2 ? w.workers[0] : undefined,
    );
    assert.ok(sick.reason?.includes(`image ${missing} is not available`), sick.reason);
    const health = (await runtime.api.get(`/v2/${ep.id}/health`)).data;
    assert.equal(health.workers.unhealthy, 1);
    assert.equal(health.workers.throttled, 0);
    assert.equal((await runtime.workers(ep.id)).workers.length, 1, "a failing worker keeps its slot: it is not multiplied");
  });

  test("a worker that crashes at start is Unhealthy with its exit code and last words", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 1 }, { env: { WORKER_EXIT_AT_START: "3" } });
    const sick = await runtime.until("the worker to be Unhealthy after a restart", ep.id, (w) =>
      w.workers[0]?.state === "Unhealthy" && w.workers[0].restarts >= 2 ? w.workers[0] : undefined,
    );
    assert.match(sick.reason ?? "", /exited with code 3 .*exiting at start with 3/);
  });

  test("a worker whose heartbeat reports it unhealthy is Unhealthy with that reason, then restarted", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 1 });
    const worker = await runtime.until("an idle worker", ep.id, (w) => (w.workers[0]?.state === "Idle" ? w.workers[0] : undefined));
    // The report a worker's own health check sends with its heartbeat (runpod-python's ping with status=unhealthy).
    const env = (await runtime.api.get(`/admin/endpoints/${ep.id}/worker-env`)).data.env as Record<string, string>;
    const ping = env.RUNPOD_WEBHOOK_PING!.replace("$RUNPOD_POD_ID", worker.id);
    const reported = await axios.get(ping, {
      params: { status: "unhealthy", check: "gpu", reason: "CUDA device lost" },
      headers: { Authorization: env.RUNPOD_AI_API_KEY! },
    });
    assert.equal(reported.status, 200);
    const restarted = await runtime.until("the worker restarted and Idle again", ep.id, (w) =>
      w.workers[0]?.state === "Idle" && w.workers[0].restarts === 1 ? w.workers[0] : undefined,
    );
    assert.equal(restarted.id, worker.id);
    assert.match(restarted.reason ?? "", /worker reported unhealthy \(gpu\): CUDA device lost/);
  });

  test("a worker container SIGKILLed mid-job: the job is retried and completes, the worker is replaced", async () => {
    const ep = await runtime.createEndpoint({ workersMax: 1 });
    const jobId = await runtime.submit(ep.id, { sleepMs: 5000 });
    const running = await runtime.until("the job's worker to be Running", ep.id, (w) => w.workers.find((x) => x.state === "Running"));
    const [before] = await runtime.containers(ep.id);
    await runtime.engine.killContainer(before!.Id);
    const result = await runtime.ended(ep.id, jobId, 90_000);
    assert.equal(result.status, "COMPLETED", JSON.stringify(result));
    const after = await runtime.until("a running container again", ep.id, (w) => (w.workers[0]?.state === "Idle" ? w.workers[0] : undefined));
    assert.equal(after.id, running.id, "the worker keeps its id and slot");
    assert.ok(after.restarts >= 1);
    const [replacement] = await runtime.containers(ep.id);
    assert.notEqual(replacement!.Id, before!.Id, "in a new container");
  });
});

describe("standby (extra) workers on the Docker runtime", () => {
  let runtime: DockerRuntime;

  before(async () => {
    runtime = await DockerRuntime.start({ BERTH_EXTRA_WORKERS: "1" });
  });
  after(async () => {
    await runtime?.close();
  });

  test("an extra worker waits frozen, takes the first job when resumed, and another standby replaces it", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: 2 });
    const standby = await runtime.until("a frozen standby", ep.id, (w) => w.workers.find((x) => x.type === "extra" && x.frozen));
    const [container] = await runtime.containers(ep.id);
    assert.equal(container!.State, "paused", "frozen means paused by the engine");

    const jobId = await runtime.submit(ep.id, { hello: "standby" });
    const result = await runtime.ended(ep.id, jobId);
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.output.workerId, standby.id, "the standby served it");
    const after = await runtime.until("the resumed worker flex and a new frozen standby", ep.id, (w) => {
      const resumed = w.workers.find((x) => x.id === standby.id);
      const fresh = w.workers.find((x) => x.id !== standby.id && x.type === "extra" && x.frozen);
      return resumed?.type === "flex" && !resumed.frozen && fresh ? w : undefined;
    });
    assert.equal(after.workers.length, 2);
  });
});
