// The fleet on a real Docker engine: workers are containers of the test worker image (a real handler on Berth's
// worker SDK), GPUs a simulated inventory. Every wait polls the admin API or the engine for the state it needs.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DockerRuntime } from "../helpers/docker-runtime";

describe("scaling on the Docker runtime", () => {
  let runtime: DockerRuntime;

  before(async () => {
    runtime = await DockerRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("a burst scales 0 -> workersMax, every job completes, then idle workers stop and the endpoint is back at 0", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: 3, idleTimeout: 2, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    assert.equal((await runtime.workers(ep.id)).workers.length, 0, "no worker before any job");
    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => runtime.submit(ep.id, { sleepMs: 1500, n: i })));

    let peak = 0;
    const seenWorkers = new Set<string>();
    await runtime.until("three workers running", ep.id, (w) => {
      peak = Math.max(peak, w.workers.length);
      w.workers.forEach((x) => seenWorkers.add(x.id));
      return w.workers.filter((x) => x.state === "Running").length === 3 ? true : undefined;
    });
    const results = await Promise.all(jobs.map((id) => runtime.ended(ep.id, id)));
    for (const r of results) assert.equal(r.status, "COMPLETED", JSON.stringify(r));
    const servedBy = new Set(results.map((r) => r.output.workerId as string));
    assert.equal(servedBy.size, 3, `jobs were spread over the three workers: ${[...servedBy]}`);
    for (const id of servedBy) assert.ok(seenWorkers.has(id), `worker ${id} was one of the endpoint's`);
    assert.ok(results.every((r) => r.output.gpus?.startsWith("sim-")), "each worker was given a simulated GPU");
    assert.equal(new Set(results.map((r) => r.output.gpus)).size, 3, "no two workers shared a GPU");
    assert.ok(peak <= 3, `never more than workersMax workers (saw ${peak})`);

    await runtime.until("the workers to stop after idleTimeout", ep.id, (w) => (w.workers.length === 0 ? true : undefined));
    assert.deepEqual(await runtime.containers(ep.id), [], "their containers are removed");
  });

  test("workersMin active workers start without jobs and stay; flex workers above them go after idleTimeout", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 2, idleTimeout: 2, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const active = await runtime.until("the active worker to be Idle", ep.id, (w) =>
      w.workers.length === 1 && w.workers[0]!.state === "Idle" ? w.workers[0] : undefined,
    );
    assert.equal(active.type, "active");
    const jobs = await Promise.all([1, 2].map((n) => runtime.submit(ep.id, { sleepMs: 1500, n })));
    await runtime.until("a flex worker beside the active one", ep.id, (w) =>
      w.workers.some((x) => x.type === "flex") && w.workers.length === 2 ? true : undefined,
    );
    for (const id of jobs) assert.equal((await runtime.ended(ep.id, id)).status, "COMPLETED");
    const left = await runtime.until("back to the active worker alone", ep.id, (w) => (w.workers.length === 1 ? w.workers : undefined));
    assert.equal(left[0]!.id, active.id, "the active worker is the one kept");
    assert.equal(left[0]!.type, "active");
    const health = (await runtime.api.get(`/v2/${ep.id}/health`)).data;
    assert.equal(health.workers.idle, 1);
  });
});
