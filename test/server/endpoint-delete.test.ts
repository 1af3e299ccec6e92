import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, workerClient } from "../helpers/endpoint";

/** Long enough that a long-poll answered by the deletion is told apart from one that ran out its time. */
const LONG_POLL_MS = 20_000;

describe("deleting an endpoint", () => {
  let cp: ControlPlaneProcess;

  before(async () => {
    cp = await ControlPlaneProcess.start({ env: { BERTH_LONG_POLL_MS: String(LONG_POLL_MS) } });
  });
  after(async () => {
    await cp?.stop();
    cp?.removeData();
  });

  test("removes its jobs, stops its running job on the worker and answers every long-poll about it", async () => {
    const api = apiClient(cp);
    const ep = await createEndpoint(cp);
    const busy = workerClient(ep, "worker-busy");
    const idle = workerClient(ep, "worker-idle");

    const running = await api.post(`/v2/${ep.id}/run`, { input: { n: 1 } });
    const taken = await busy.take();
    assert.equal(taken.status, 200);
    assert.equal(taken.data.id, running.data.id);
    const queued = await api.post(`/v2/${ep.id}/run`, { input: { n: 2 }, policy: { lowPriority: true } });
    // Two jobs now: one running on worker-busy, one queued. Then three long-polls wait on this endpoint.
    assert.equal((await api.get(`/v2/${ep.id}/health`)).data.jobs.inQueue, 1);
    const queuedTaker = workerClient(ep, "worker-late");
    const stopPoll = busy.stops();
    const statusPoll = api.get(`/v2/${ep.id}/status-sync/${running.data.id}`, { params: { wait: LONG_POLL_MS } });
    // An idle worker's job-take would take the queued job: drain it first, then let the idle one poll an empty queue.
    const second = await queuedTaker.take();
    assert.equal(second.data.id, queued.data.id);
    const idleStarted = Date.now();
    const takePoll = idle.take();

    const deleted = await api.delete(`/admin/endpoints/${ep.id}`);
    assert.equal(deleted.status, 204);

    const stop = await stopPoll;
    assert.equal(stop.status, 200);
    assert.deepEqual(stop.data.jobsToStop.sort(), [running.data.id]);
    const idleTake = await takePoll;
    assert.equal(idleTake.status, 204);
    assert.ok(Date.now() - idleStarted < LONG_POLL_MS / 2, "the idle worker's job-take was answered by the deletion, not its deadline");
    const status = await statusPoll;
    assert.equal(status.status, 404, JSON.stringify(status.data));
    assert.equal(status.data.error, "job_not_found");

    for (const id of [running.data.id, queued.data.id]) {
      const res = await api.get(`/v2/${ep.id}/status/${id}`);
      assert.equal(res.status, 404, `job ${id} after its endpoint was deleted: ${JSON.stringify(res.data)}`);
    }
    const lateDone = await busy.done(running.data.id, { output: "too late" });
    assert.equal(lateDone.status, 404);
    assert.equal(lateDone.data.error, "endpoint_not_found");
    assert.equal((await api.get(`/v2/${ep.id}/health`)).status, 404);
  });

  test("leaves other endpoints' jobs alone, also after a restart", async () => {
    const api = apiClient(cp);
    const doomed = await createEndpoint(cp);
    const kept = await createEndpoint(cp);
    await api.post(`/v2/${doomed.id}/run`, { input: {} });
    const keptJob = await api.post(`/v2/${kept.id}/run`, { input: { keep: true } });
    assert.equal((await api.delete(`/admin/endpoints/${doomed.id}`)).status, 204);

    await cp.stop();
    cp = await cp.restart();
    const again = apiClient(cp);
    assert.equal((await again.get(`/v2/${doomed.id}/health`)).status, 404);
    const status = await again.get(`/v2/${kept.id}/status/${keptJob.data.id}`);
    assert.equal(status.status, 200);
    assert.equal(status.data.status, "IN_QUEUE");
    const taken = await workerClient(kept, "worker-kept").take();
    assert.deepEqual(taken.data.input, { keep: true });
  });
});
