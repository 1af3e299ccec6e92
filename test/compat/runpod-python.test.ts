import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";
import { pythonClient } from "../helpers/python-client";
import { WorkerProcess } from "../helpers/worker-process";

const FAST = { BERTH_LONG_POLL_MS: "2000", BERTH_PING_INTERVAL_MS: "1000", BERTH_SWEEP_INTERVAL_MS: "100" };

describe("runpod (PyPI) worker and client against Berth", () => {
  let cp: ControlPlaneProcess;
  let plain: TestEndpoint;
  let streaming: TestEndpoint;
  const workers: WorkerProcess[] = [];

  before(async () => {
    cp = await ControlPlaneProcess.start({ env: FAST });
    plain = await createEndpoint(cp);
    streaming = await createEndpoint(cp);
    workers.push(WorkerProcess.python("worker.py", plain.workerEnv, "py-plain-1"));
    workers.push(WorkerProcess.python("stream_worker.py", streaming.workerEnv, "py-stream-1"));
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await cp?.stop();
    cp?.removeData();
  });

  test("a plain handler's result reaches runpod.Endpoint.run_sync", async () => {
    const result = await pythonClient(cp, plain.id, "run_sync", { hello: "berth" });
    assert.deepEqual(result.output, { echo: { hello: "berth" }, workerId: "py-plain-1" });
  });

  test("run, then status and output, through runpod.Endpoint.run", async () => {
    const result = await pythonClient(cp, plain.id, "run", { n: 7 });
    assert.equal(result.status, "COMPLETED");
    assert.deepEqual(result.output.echo, { n: 7 });
  });

  test("a handler that raises ends FAILED with runpod's error document", async () => {
    const api = apiClient(cp);
    const res = await api.post(`/v2/${plain.id}/runsync`, { input: { raise: "deliberate failure" } });
    assert.equal(res.status, 200);
    assert.equal(res.data.status, "FAILED");
    const error = JSON.parse(res.data.error);
    assert.equal(error.error_message, "deliberate failure");
    assert.match(error.error_type, /ValueError/);
    assert.equal(error.worker_id, "py-plain-1");
  });

  test("progress_update is visible in /status while the job runs, then the final output replaces it", async () => {
    const api = apiClient(cp);
    const releaseFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-progress-")), "release");
    const { data: job } = await api.post(`/v2/${plain.id}/run`, { input: { progress: { percent: 42 }, releaseFile } });
    const during = await eventually("the progress update", async () => {
      const { data } = await api.get(`/v2/${plain.id}/status/${job.id}`);
      return data.status === "IN_PROGRESS" && data.output ? data : undefined;
    });
    assert.deepEqual(during.output, { percent: 42 });
    fs.writeFileSync(releaseFile, "");
    const { data: done } = await api.get(`/v2/${plain.id}/status-sync/${job.id}?wait=30000`);
    assert.equal(done.status, "COMPLETED");
    assert.deepEqual(done.output.echo.progress, { percent: 42 });
  });

  test("a generator handler streams its chunks to runpod's Job.stream and aggregates them", async () => {
    const result = await pythonClient(cp, streaming.id, "stream", { chunks: 4 });
    assert.deepEqual(result.chunks, [{ chunk: 0 }, { chunk: 1 }, { chunk: 2 }, { chunk: 3 }]);
    assert.equal(result.status, "COMPLETED");
    const sync = await apiClient(cp).post(`/v2/${streaming.id}/runsync`, { input: { chunks: 2 } });
    assert.deepEqual(sync.data.output, [{ chunk: 0 }, { chunk: 1 }]);
  });

  test("cancel through the Python client stops a running job", async () => {
    const result = await pythonClient(cp, plain.id, "cancel", { sleepSeconds: 30 });
    assert.equal(result.cancel.status, "CANCELLED");
    assert.equal(result.status, "CANCELLED");
  });

  test("health and purge_queue answer in RunPod's shape", async () => {
    const health = await pythonClient(cp, plain.id, "health", {});
    assert.ok(health.jobs.completed >= 2, JSON.stringify(health));
    assert.ok(health.workers.idle + health.workers.running >= 1, JSON.stringify(health));
    const purge = await pythonClient(cp, plain.id, "purge", {});
    assert.deepEqual(purge, { removed: 0, status: "completed" });
  });
});
