import assert from "node:assert/strict";
import path from "node:path";
import Database from "better-sqlite3";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, workerClient, type TestEndpoint } from "../helpers/endpoint";

/**
 * A worker key opens its own endpoint's worker API and nothing else. Endpoint B's key, on B's own paths, names
 * endpoint A's worker id and A's job id on every worker route; A's job and A's worker must come out unchanged.
 */
describe("a worker key reaches only its own endpoint's workers and jobs", () => {
  let cp: ControlPlaneProcess;
  let a: TestEndpoint;
  let b: TestEndpoint;
  const WORKER = "gpu-box-1";
  let running: string;
  let cancelled: string;

  /** Everything the store holds about A's job, A's worker and A's pending stream, read from the database itself. */
  const snapshot = () => {
    const db = new Database(path.join(cp.dataDir, "berth.db"), { readonly: true, fileMustExist: true });
    try {
      return {
        job: db.prepare("SELECT * FROM jobs WHERE id = ?").get(running),
        chunks: db.prepare("SELECT COUNT(*) AS n FROM job_stream WHERE job_id = ?").get(running),
        worker: db.prepare("SELECT * FROM workers WHERE endpoint_id = ? AND id = ?").get(a.id, WORKER),
      };
    } finally {
      db.close();
    }
  };
  let before_: ReturnType<typeof snapshot>;

  before(async () => {
    cp = await ControlPlaneProcess.start({ env: { BERTH_LONG_POLL_MS: "300" } });
    a = await createEndpoint(cp);
    b = await createEndpoint(cp);
    const api = apiClient(cp);
    const worker = workerClient(a, WORKER);
    // A's worker holds two jobs; one of them is cancelled, which leaves a stop signal waiting on A's job-stop channel.
    running = (await api.post(`/v2/${a.id}/run`, { input: "keep running" })).data.id;
    cancelled = (await api.post(`/v2/${a.id}/run`, { input: "to cancel" })).data.id;
    assert.equal((await worker.take()).data.id, running);
    // It says it runs a job now (job_in_progress=1), or it would be handed the one it has again.
    assert.equal((await worker.take(1)).data.id, cancelled);
    assert.equal((await worker.done(running, { status: "IN_PROGRESS", output: "a's progress" })).status, 200);
    assert.equal((await worker.stream(running, { output: "a's chunk" })).status, 200);
    assert.equal((await api.post(`/v2/${a.id}/cancel/${cancelled}`)).data.status, "CANCELLED");
    before_ = snapshot();
    assert.equal((before_.job as { status: string }).status, "IN_PROGRESS");
    assert.equal((before_.worker as { unhealthy_reason: string | null }).unhealthy_reason, null);
  });
  after(async () => {
    await cp?.stop();
    cp?.removeData();
  });

  /** B's key on B's paths, naming A's worker. */
  const intruder = () => workerClient(b, WORKER);
  const assertAUnchanged = () => assert.deepEqual(snapshot(), before_);

  test("job-done with A's job id answers 404 and neither finishes nor fails A's job", async () => {
    const completed = await intruder().done(running, { output: "forged" });
    assert.equal(completed.status, 404);
    assert.equal(completed.data.error, "job_not_found");
    assert.match(completed.data.message, new RegExp(`job ${running} does not exist on endpoint ${b.id}`));
    assert.equal((await intruder().done(running, { error: "forged failure" })).status, 404);
    assertAUnchanged();
  });

  test("a progress update with A's job id answers 404 and leaves A's progress", async () => {
    const progress = await intruder().done(running, { status: "IN_PROGRESS", output: "forged progress" });
    assert.equal(progress.status, 404);
    assertAUnchanged();
    assert.equal((await apiClient(cp).get(`/v2/${a.id}/status/${running}`)).data.output, "a's progress");
  });

  test("job-stream with A's job id answers 404 and adds no chunk to A's stream", async () => {
    const streamed = await intruder().stream(running, { output: "forged chunk" });
    assert.equal(streamed.status, 404);
    assertAUnchanged();
  });

  test("job-take and job-take-batch hand out none of A's jobs", async () => {
    await apiClient(cp).post(`/v2/${a.id}/run`, { input: "queued on a" });
    assert.equal((await intruder().take()).status, 204);
    const batchUrl = b.workerEnv.RUNPOD_WEBHOOK_GET_JOB!.replace("$ID", WORKER).replace("/job-take/", "/job-take-batch/");
    assert.equal((await apiClient(cp, b.workerEnv.RUNPOD_AI_API_KEY).get(`${batchUrl}&batch_size=5`)).status, 204);
    assertAUnchanged();
    assert.equal((await apiClient(cp).get(`/v2/${a.id}/health`)).data.jobs.inQueue, 1);
  });

  test("a ping reporting unhealthy marks B's worker of that id, not A's, and A's job stays with A's worker", async () => {
    const ping = await intruder().ping(`?status=unhealthy&check=forged&reason=forged&job_id=${running}`);
    assert.equal(ping.status, 200);
    assertAUnchanged();
    const health = async (endpointId: string) => (await apiClient(cp).get(`/v2/${endpointId}/health`)).data.workers;
    assert.equal((await health(a.id)).unhealthy, 0);
    assert.equal((await health(b.id)).unhealthy, 1);
  });

  test("job-stop takes none of the stop signals meant for A's worker", async () => {
    assert.equal((await intruder().stops()).status, 204);
    assertAUnchanged();
    const stops = await workerClient(a, WORKER).stops();
    assert.equal(stops.status, 200);
    assert.deepEqual(stops.data, { jobsToStop: [cancelled] });
  });

  test("A's worker still finishes its own job", async () => {
    assert.equal((await workerClient(a, WORKER).done(running, { output: "done by a" })).status, 200);
    const status = (await apiClient(cp).get(`/v2/${a.id}/status/${running}`)).data;
    assert.equal(status.status, "COMPLETED");
    assert.equal(status.output, "done by a");
    assert.equal(status.workerId, WORKER);
  });
});
