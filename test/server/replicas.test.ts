// Two control planes on one PostgreSQL database, as two replicas behind a load balancer would be: every API on
// either, each long-poll answered when the change happens on the other (LISTEN/NOTIFY, no polling), one leader.
// Each has a data directory of its own: the worker-key secret is the database's, so a worker's key works on both.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, calling, createEndpoint, eventually, workerClient, type TestEndpoint } from "../helpers/endpoint";

describe("two control planes on one PostgreSQL database", () => {
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  let ep: TestEndpoint;

  before(async () => {
    a = await ControlPlaneProcess.start({ store: "postgres", env: { BERTH_LONG_POLL_MS: "15000" } });
    b = await ControlPlaneProcess.start({ database: a.database, apiKey: a.apiKey, env: { BERTH_LONG_POLL_MS: "15000" } });
    ep = await createEndpoint(a);
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await a?.removeData();
    await b?.removeData();
  });

  test("exactly one of them leads", async () => {
    const leading = (cp: ControlPlaneProcess) => cp.entries().filter((e) => String(e.msg).startsWith("leading:")).length;
    await eventually("a leader", () => (leading(a) + leading(b) > 0 ? true : undefined), 5000);
    assert.equal(leading(a) + leading(b), 1);
  });

  test("an endpoint made on one is served by the other", async () => {
    const run = await eventually("the other replica to know the endpoint", async () => {
      const res = await apiClient(b).post(`/v2/${ep.id}/run`, { input: { n: 0 } });
      return res.status === 200 ? res : undefined;
    }, 5000);
    assert.equal(run.data.status, "IN_QUEUE");
    const worker = workerClient(calling(ep, a, b), "w0");
    const taken = await worker.take();
    assert.equal(taken.data.id, run.data.id);
    assert.equal((await worker.done(taken.data.id, { output: "ok" })).status, 200);
  });

  test("a job submitted on one is handed at once to a worker long-polling the other", async () => {
    const worker = workerClient(calling(ep, a, b), "w1");
    const started = performance.now();
    const taking = worker.take();
    await eventually("the worker's long-poll to be open", async () => {
      const health = await apiClient(b).get(`/v2/${ep.id}/health`);
      return health.data.workers.idle + health.data.workers.running >= 1 ? true : undefined;
    }, 5000);
    const run = await apiClient(a).post(`/v2/${ep.id}/run`, { input: { n: 1 } });
    assert.equal(run.status, 200);
    const taken = await taking;
    const waited = performance.now() - started;
    assert.equal(taken.data.id, run.data.id);
    assert.ok(waited < 10_000, `woken by the other replica, not by its ${15_000} ms long-poll ending (${Math.round(waited)} ms)`);
    await worker.done(taken.data.id, { output: 1 });
  });

  test("a /runsync waiting on one answers when its job completes through the other", async () => {
    const worker = workerClient(calling(ep, a, a), "w2");
    const runsync = apiClient(b).post(`/v2/${ep.id}/runsync?wait=20000`, { input: { n: 2 } });
    const taken = await eventually("the job", async () => {
      const res = await worker.take();
      return res.status === 200 ? res : undefined;
    }, 5000);
    const started = performance.now();
    await worker.done(taken.data.id, { output: { n: 2 } });
    const answer = await runsync;
    assert.equal(answer.data.status, "COMPLETED");
    assert.deepEqual(answer.data.output, { n: 2 });
    assert.ok(performance.now() - started < 5_000, "answered when the job ended, not at the end of its wait");
  });

  test("a cancel sent to one reaches the worker long-polling job-stop on the other", async () => {
    const worker = workerClient(calling(ep, a, b), "w3");
    const run = await apiClient(a).post(`/v2/${ep.id}/run`, { input: { n: 3 } });
    const taken = await worker.take();
    assert.equal(taken.data.id, run.data.id);
    // Whether its job-stop long-poll on the other replica is already waiting or arrives just after, the stop gets there.
    const stops = worker.stops();
    const cancelled = await apiClient(a).post(`/v2/${ep.id}/cancel/${run.data.id}`);
    assert.equal(cancelled.data.status, "CANCELLED");
    const told = await stops;
    assert.equal(told.status, 200);
    assert.deepEqual(told.data, { jobsToStop: [run.data.id] });
  });

  test("a replica told to stop stops being ready, serves through its drain delay, then hands its long-polls back and exits", async () => {
    const drainMs = 1500;
    const c = await ControlPlaneProcess.start({ database: a.database, apiKey: a.apiKey, env: { BERTH_LONG_POLL_MS: "15000", BERTH_DRAIN_DELAY_MS: String(drainMs) } });
    try {
      await eventually("the third replica to know the endpoint", async () => ((await apiClient(c).get(`/v2/${ep.id}/health`)).status === 200 ? true : undefined), 5000);
      assert.equal((await fetch(`${c.url}/readyz`)).status, 200);
      const worker = workerClient(calling(ep, a, c), "w4");
      const polling = worker.take();
      const queued = await apiClient(a).post(`/v2/${ep.id}/run`, { input: { n: 4 } });
      const taken = await polling;
      assert.equal(taken.data.id, queued.data.id);
      // A runsync and a job-take long-poll are open on it when it is told to stop.
      const runsync = apiClient(c).post(`/v2/${ep.id}/runsync?wait=20000`, { input: { n: 5 } });
      const quiet = await createEndpoint(a);
      await eventually("the third replica to know the quiet endpoint", async () => ((await apiClient(c).get(`/v2/${quiet.id}/health`)).status === 200 ? true : undefined), 5000);
      const idle = workerClient(calling(quiet, a, c), "w5").take();
      const stopped = performance.now();
      const exited = c.stop();
      const ready = await eventually("/readyz to answer 503", async () => {
        const res = await fetch(`${c.url}/readyz`);
        return res.status === 503 ? res : undefined;
      }, 1000);
      assert.equal(ready.headers.get("connection"), "close", "a draining replica closes its connections");
      // Still serving while the load balancer catches up.
      assert.equal((await worker.done(taken.data.id, { output: 4 })).status, 200);
      const [answer, handedBack] = await Promise.all([runsync, idle]);
      const waited = performance.now() - stopped;
      assert.equal(answer.status, 200);
      assert.equal(answer.data.status, "IN_QUEUE", "the runsync wait answers with the job's status, for its client to poll elsewhere");
      assert.equal(handedBack.status, 204, "the job-take long-poll answers empty, for its worker to call again elsewhere");
      assert.ok(waited >= drainMs - 100 && waited < 10_000, `answered after the drain delay, not at the end of their waits (${Math.round(waited)} ms)`);
      assert.equal(await exited, 0);
      // The job the runsync queued is still there for a worker of another replica.
      const other = workerClient(calling(ep, a, a), "w6");
      const next = await other.take();
      assert.equal(next.data.id, answer.data.id);
      await other.done(next.data.id, { output: 5 });
    } finally {
      await c.stop();
      fs.rmSync(c.dataDir, { recursive: true, force: true });
    }
  });
});
