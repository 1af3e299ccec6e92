// Worker logs on the Kubernetes runtime, from a runpod-python worker pod on the test bed's real node: pods/log,
// followed, brings what it prints into the control plane's log store (stream "output": the Kubernetes logs API merges
// stdout and stderr), a follow of the worker ends when its pod goes, and its lines stay readable after.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../helpers/endpoint";
import { KubeRuntime } from "../helpers/kube-runtime";
import { ensurePythonWorkerImage, pushedToRegistry } from "../helpers/worker-image";

interface LogLine {
  workerId: string;
  time: string;
  stream: string;
  line: string;
}

describe("worker logs on Kubernetes (a real node)", () => {
  let runtime: KubeRuntime;

  before(async () => {
    runtime = await KubeRuntime.onRealNode(pushedToRegistry(await ensurePythonWorkerImage()));
  });
  after(() => runtime?.close());

  test("a worker pod's lines come back through the API; a follow ends when the pod goes; the lines stay", async (t) => {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: 1, idleTimeout: 1 });
    t.after(async () => {
      await runtime.api.delete(`/admin/endpoints/${ep.id}`);
      await eventually(`the pods of ${ep.id} gone`, async () => ((await runtime.pods(ep.id)).length === 0 ? true : undefined), 120_000);
    });
    const job = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["hello from a pod"], stderr: ["warning from a pod"] } }), 180_000);
    assert.equal(job.status, "COMPLETED", JSON.stringify(job));
    const workerId = job.workerId!;
    const read = async (params: Record<string, string>) => {
      const res = await runtime.api.get(`/admin/endpoints/${ep.id}/logs`, { params, responseType: "text", transformResponse: (x) => x });
      assert.equal(res.status, 200, String(res.data));
      return (res.data as string)
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine);
    };
    const lines = await eventually(
      "the pod's lines in the log store",
      async () => {
        const got = await read({ worker: workerId });
        return got.some((l) => l.line === "warning from a pod") ? got : undefined;
      },
      30_000,
    );
    const mine = lines.filter((l) => l.line === "hello from a pod" || l.line === "warning from a pod");
    assert.equal(mine.length, 2, "each line once");
    assert.ok(lines.every((l) => l.workerId === workerId && l.stream === "output"), "pods/log does not tell stdout from stderr");
    const times = lines.map((l) => l.time);
    assert.deepEqual(times, [...times].sort());

    // Idle for over a second, the worker's pod is removed: the follow, begun while it runs, ends by itself.
    const res = await fetch(`${runtime.cp.url}/admin/endpoints/${ep.id}/logs?worker=${workerId}&follow=true&tail=1`, {
      headers: { authorization: `Bearer ${runtime.cp.apiKey}` },
      signal: AbortSignal.timeout(120_000),
    });
    assert.equal(res.status, 200);
    await res.text();
    assert.deepEqual(await runtime.pods(ep.id), [], "it ended because the pod is gone");
    const kept = await read({ worker: workerId });
    assert.ok(kept.some((l) => l.line === "hello from a pod"), "a stopped worker's lines stay readable");
  });

  test("a control plane stopped while it follows a pod's log exits 0; restarted, it reads on, no line twice", async (t) => {
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 1 });
    t.after(async () => {
      await runtime.api.delete(`/admin/endpoints/${ep.id}`);
      await eventually(`the pods of ${ep.id} gone`, async () => ((await runtime.pods(ep.id)).length === 0 ? true : undefined), 120_000);
    });
    const lineCount = async (text: string) => {
      const res = await runtime.api.get(`/admin/endpoints/${ep.id}/logs`, { responseType: "text", transformResponse: (x) => x });
      return (res.data as string).split("\n").filter((l) => l !== "" && (JSON.parse(l) as LogLine).line === text).length;
    };
    const before = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["before the restart"] } }), 180_000);
    assert.equal(before.status, "COMPLETED", JSON.stringify(before));
    await eventually("the line in the log store", async () => ((await lineCount("before the restart")) === 1 ? true : undefined), 30_000);
    assert.equal(await runtime.cp.stop(), 0, "stopping aborts the followed pods/log cleanly");
    runtime.cp = await runtime.cp.restart();
    const afterRestart = await runtime.ended(ep.id, await runtime.submit(ep.id, { print: { stdout: ["after the restart"] } }), 120_000);
    assert.equal(afterRestart.workerId, before.workerId, "the same pod");
    await eventually("the new line in the log store", async () => ((await lineCount("after the restart")) === 1 ? true : undefined), 30_000);
    assert.equal(await lineCount("before the restart"), 1, "read on from the last line kept, not again from the start");
  });
});
