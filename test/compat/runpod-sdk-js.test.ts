import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import runpodSdk from "runpod-sdk";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";
import { WorkerProcess } from "../helpers/worker-process";

const FAST = { BERTH_LONG_POLL_MS: "2000", BERTH_PING_INTERVAL_MS: "1000", BERTH_SWEEP_INTERVAL_MS: "100" };

describe("runpod-sdk (npm) client against Berth, served by a runpod-python worker", () => {
  let cp: ControlPlaneProcess;
  let plain: TestEndpoint;
  let streaming: TestEndpoint;
  let idle: TestEndpoint;
  const workers: WorkerProcess[] = [];
  const sdk = () => runpodSdk(cp.apiKey, { baseUrl: `${cp.url}/v2` });

  before(async () => {
    cp = await ControlPlaneProcess.start({ env: FAST });
    plain = await createEndpoint(cp);
    streaming = await createEndpoint(cp);
    idle = await createEndpoint(cp);
    workers.push(WorkerProcess.python("worker.py", plain.workerEnv, "py-js-1"));
    workers.push(WorkerProcess.python("stream_worker.py", streaming.workerEnv, "py-js-stream-1"));
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await cp?.stop();
    cp?.removeData();
  });

  test("runSync returns the handler's output", async () => {
    const result = await sdk().endpoint(plain.id)!.runSync({ input: { via: "runpod-sdk" } });
    assert.equal(result.status, "COMPLETED");
    assert.deepEqual(result.output, { echo: { via: "runpod-sdk" }, workerId: "py-js-1" });
  });

  test("run, then status until COMPLETED", async () => {
    const endpoint = sdk().endpoint(plain.id)!;
    const { id, status } = await endpoint.run({ input: { n: 1 } });
    assert.equal(status, "IN_QUEUE");
    const done = await eventually("the job to complete", async () => {
      const s = await endpoint.status(id);
      return s.status === "COMPLETED" ? s : undefined;
    });
    assert.deepEqual((done as { output?: { echo?: unknown } }).output?.echo, { n: 1 });
  });

  test("stream yields every chunk of a generator handler", async () => {
    const endpoint = sdk().endpoint(streaming.id)!;
    const { id } = await endpoint.run({ input: { chunks: 3 } });
    const chunks = [];
    for await (const chunk of endpoint.stream(id)) chunks.push(chunk.output);
    assert.deepEqual(chunks, [{ chunk: 0 }, { chunk: 1 }, { chunk: 2 }]);
  });

  test("cancel ends a queued job CANCELLED", async () => {
    const endpoint = sdk().endpoint(idle.id)!;
    const { id } = await endpoint.run({ input: {} });
    const cancelled = await endpoint.cancel(id);
    assert.equal(cancelled.status, "CANCELLED");
    assert.equal((await endpoint.status(id)).status, "CANCELLED");
  });

  test("purgeQueue removes queued jobs only, and health counts them", async () => {
    const endpoint = sdk().endpoint(idle.id)!;
    await endpoint.run({ input: { a: 1 } });
    await endpoint.run({ input: { a: 2 } });
    assert.equal((await endpoint.health()).jobs.inQueue, 2);
    assert.deepEqual(await endpoint.purgeQueue(), { removed: 2, status: "completed" });
    const health = await endpoint.health();
    assert.equal(health.jobs.inQueue, 0);
    assert.deepEqual(health.workers, { idle: 0, running: 0, initializing: 0, ready: 0, throttled: 0, unhealthy: 0 });
  });
});
