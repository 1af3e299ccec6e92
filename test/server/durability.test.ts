import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint, eventually } from "../helpers/endpoint";
import { WorkerProcess } from "../helpers/worker-process";

const FAST = {
  BERTH_LONG_POLL_MS: "1000",
  BERTH_PING_INTERVAL_MS: "1000",
  BERTH_WORKER_LOST_AFTER_MS: "3000",
  BERTH_SWEEP_INTERVAL_MS: "100",
};

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("delivery guarantees", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("a worker killed mid-job gives the job back, and another worker completes it", async () => {
    const cp = await ControlPlaneProcess.start({ env: FAST });
    cleanups.push(async () => (await cp.stop(), cp.removeData()));
    const ep = await createEndpoint(cp);
    const api = apiClient(cp);
    const first = WorkerProcess.python("worker.py", ep.workerEnv, "py-doomed");
    cleanups.push(() => first.kill());

    const { data: job } = await api.post(`/v2/${ep.id}/run`, { input: { sleepSeconds: 60 } });
    await eventually("the first worker to start the job", async () => {
      const s = (await api.get(`/v2/${ep.id}/status/${job.id}`)).data;
      return s.status === "IN_PROGRESS" && s.workerId === "py-doomed" ? s : undefined;
    });
    await first.kill("SIGKILL");
    await eventually("the job back in the queue", async () => {
      const s = (await api.get(`/v2/${ep.id}/status/${job.id}`)).data;
      return s.status === "IN_QUEUE" ? s : undefined;
    });

    // The job still asks for a 60 s sleep: the rescuer caps its sleeps so the test need not wait that long.
    const second = WorkerProcess.python("worker.py", { ...ep.workerEnv, BERTH_TEST_MAX_SLEEP: "0" }, "py-rescuer");
    cleanups.push(() => second.kill());
    const done = await eventually("the job completed by the second worker", async () => {
      const s = (await api.get(`/v2/${ep.id}/status/${job.id}`)).data;
      return s.status === "COMPLETED" ? s : undefined;
    }, 30_000);
    assert.equal(done.workerId, "py-rescuer");
  });

  test("nothing acknowledged is lost when the control plane is SIGKILLed under load", async () => {
    const port = await freePort();
    let cp = await ControlPlaneProcess.start({ env: FAST, port });
    cleanups.push(async () => (await cp.stop(), cp.removeData()));
    const ep = await createEndpoint(cp);
    // Workers on both SDKs: runpod-python's takes about a second between jobs, Berth's Node SDK keeps the queue moving.
    const workers = [
      WorkerProcess.python("worker.py", ep.workerEnv, "py-load"),
      WorkerProcess.node("echo", ep.workerEnv, "node-load-1"),
      WorkerProcess.node("echo", ep.workerEnv, "node-load-2"),
    ];
    for (const worker of workers) cleanups.push(() => worker.kill());

    const acknowledged = new Set<string>();
    const api = apiClient(cp);
    const submitOne = async (i: number) => {
      try {
        const res = await api.post(`/v2/${ep.id}/run`, { input: { i } }, { timeout: 5000 });
        if (res.status === 200) acknowledged.add(res.data.id);
      } catch {
        // Refused or reset by the dying server: not acknowledged, so nothing is promised about it.
      }
    };
    // Keep 16 submissions in flight; kill the server once 150 have been acknowledged.
    const submitters = Array.from({ length: 16 }, async (_, lane) => {
      for (let i = lane; acknowledged.size < 400 && cp.child.exitCode === null && cp.child.signalCode === null; i += 16) {
        await submitOne(i);
        if (acknowledged.size >= 150 && cp.child.signalCode === null) await cp.kill();
      }
    });
    await Promise.all(submitters);
    assert.ok(acknowledged.size >= 150, `only ${acknowledged.size} acknowledged before the kill`);

    cp = await cp.restart();
    const restarted = apiClient(cp);
    const lost = [];
    for (const id of acknowledged) if ((await restarted.get(`/v2/${ep.id}/status/${id}`)).status === 404) lost.push(id);
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged jobs were lost`);

    const pending = new Set(acknowledged);
    await eventually(`all ${acknowledged.size} acknowledged jobs to complete`, async () => {
      for (const id of [...pending]) {
        if ((await restarted.get(`/v2/${ep.id}/status/${id}`)).data.status === "COMPLETED") pending.delete(id);
      }
      return pending.size === 0 ? true : undefined;
    }, 120_000);
  });
});
