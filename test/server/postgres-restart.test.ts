// PostgreSQL restarted under load (a server of the test's own, stopped and started as an operator would): while
// it is down the control plane answers 503 with Retry-After, never 500, and once it is back every job it had
// acknowledged completes. A runpod-python worker keeps working through it, retrying as it does against RunPod.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, eventually, type TestEndpoint } from "../helpers/endpoint";
import { PostgresServer } from "../helpers/postgres-server";
import { WorkerProcess } from "../helpers/worker-process";

describe("PostgreSQL restarted under load", () => {
  let server: PostgresServer;
  let cp: ControlPlaneProcess;
  let ep: TestEndpoint;
  let worker: WorkerProcess;

  before(async () => {
    server = await PostgresServer.create();
    cp = await ControlPlaneProcess.start({
      database: server.database(),
      env: { BERTH_LONG_POLL_MS: "2000", BERTH_PING_INTERVAL_MS: "1000", BERTH_SWEEP_INTERVAL_MS: "200" },
    });
    ep = await createEndpoint(cp);
    worker = WorkerProcess.python("worker.py", ep.workerEnv, "py-pg-restart");
  });
  after(async () => {
    await worker?.kill();
    await cp?.stop();
    if (cp) fs.rmSync(cp.dataDir, { recursive: true, force: true });
    server?.remove();
  });

  test("requests fail with 503 while it is down, and nothing acknowledged is lost", async () => {
    const api = apiClient(cp);
    const acknowledged: string[] = [];
    const statuses = new Map<number, number>();
    const unexpected: string[] = [];
    let loading = true;
    let n = 0;
    const load = (async () => {
      while (loading) {
        const res = await api.post(`/v2/${ep.id}/run`, { input: { n: n++ } });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) acknowledged.push(res.data.id);
        else if (res.status === 503) assert.equal(res.headers["retry-after"], "1");
        else unexpected.push(`${res.status} ${JSON.stringify(res.data)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const more = (count: number) => {
      const target = acknowledged.length + count;
      return eventually(`${count} more jobs acknowledged`, () => (acknowledged.length >= target ? true : undefined), 30_000);
    };
    try {
      await more(5);
      server.stop();
      const refused = await eventually("a request answered 503 while PostgreSQL is down", () => ((statuses.get(503) ?? 0) >= 3 ? true : undefined), 10_000);
      assert.equal(refused, true);
      const health = await api.get(`/v2/${ep.id}/health`);
      assert.equal(health.status, 503, `health while down: ${health.status} ${JSON.stringify(health.data)}`);
      assert.equal(health.data.error, "store_unavailable");
      server.start();
      await more(5);
    } finally {
      loading = false;
      await load;
    }
    console.log(`postgres restart: ${acknowledged.length} jobs acknowledged; answers ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.deepEqual(unexpected, [], "every answer was 200 or 503");

    const ended = await eventually(`all ${acknowledged.length} acknowledged jobs to complete`, async () => {
      const all = await Promise.all(acknowledged.map((id) => api.get(`/v2/${ep.id}/status/${id}`)));
      return all.every((r) => r.data.status === "COMPLETED") ? all : undefined;
    }, 60_000);
    assert.equal(ended.length, acknowledged.length);
    assert.ok(!cp.logs.some((line) => line.includes("unhandled error")), "no request ended in an unhandled error");
  });
});
