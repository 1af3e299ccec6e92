// The wire format, request by request, against a recording stub of the worker API: what runpod-python sends,
// the Node SDK must send. (The behaviour against Berth's real control plane is in worker.test.ts.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { progressUpdate, start, type Handler, type StartOptions, type WorkerHandle } from "../../sdk/worker";
import { WorkerHttpClient } from "../../sdk/worker/http";
import { takeJobs } from "../../sdk/worker/job-take";
import { WorkerUrls } from "../../sdk/worker/urls";
import { createLogger } from "../../sdk/worker/logger";
import { StubPlatform } from "./stub-platform";

let stub: StubPlatform;
before(async () => {
  stub = await StubPlatform.start();
});
after(async () => {
  await stub.close();
});

/** A worker on the stub with its own worker id, stopped (drained) at the end of the test. */
async function withWorker(
  t: { after: (fn: () => Promise<void>) => void },
  workerId: string,
  options: Omit<StartOptions, "handler"> & { handler: Handler<any, any> },
): Promise<WorkerHandle> {
  const handle = start({ handleSignals: false, exitProcess: false, ...options, env: stub.env({ RUNPOD_POD_ID: workerId, ...options.env }) });
  t.after(() => handle.stop());
  return handle;
}

const forWorker = (workerId: string) => (r: { path: string }) => r.path.includes(`/${workerId}`);
const body = (r: { body: string }) => JSON.parse(r.body) as Record<string, unknown>;

test("take, then result: URLs, bare Authorization, X-Request-ID and the {output} body", async (t) => {
  await withWorker(t, "w-plain", { handler: async (job) => ({ echoed: job.input, extra: job.webhook }) });
  stub.addJob("w-plain", { id: "job-plain", input: { prompt: "hi" }, webhook: "http://hook" });
  const done = await stub.waitFor((r) => r.path.endsWith("/job-done/w-plain/job-plain"), 5_000, "job-done");
  assert.equal(done.url, "/v2/ep1/job-done/w-plain/job-plain?isStream=false");
  assert.equal(done.headers.authorization, "bw_secret-worker-key");
  assert.equal(done.headers["x-request-id"], "job-plain");
  assert.deepEqual(body(done), { output: { echoed: { prompt: "hi" }, extra: "http://hook" } });

  const takes = stub.requests.filter((r) => forWorker("w-plain")(r) && r.path.includes("/job-take/"));
  assert.ok(takes.length >= 1);
  assert.equal(takes[0]!.url, "/v2/ep1/job-take/w-plain?job_in_progress=0");
  assert.equal(takes[0]!.headers.authorization, "bw_secret-worker-key");
});

test("a thrown error is posted as runpod-python's JSON error string", async (t) => {
  await withWorker(t, "w-throw", {
    handler: async () => {
      throw new RangeError("seed out of range");
    },
  });
  stub.addJob("w-throw", { id: "job-throw", input: {} });
  const done = await stub.waitFor((r) => r.path.endsWith("/job-done/w-throw/job-throw"));
  const posted = body(done);
  assert.deepEqual(Object.keys(posted), ["error"]);
  const info = JSON.parse(posted.error as string) as Record<string, string>;
  assert.equal(info.error_type, "RangeError");
  assert.equal(info.error_message, "seed out of range");
  assert.equal(info.worker_id, "w-throw");
});

test("a generator's chunks go to job-stream one by one, then job-done with isStream=true and []", async (t) => {
  await withWorker(t, "w-gen", {
    handler: async function* () {
      yield "a";
      yield { b: 2 };
      yield "c";
    },
  });
  stub.addJob("w-gen", { id: "job-gen", input: null });
  const done = await stub.waitFor((r) => r.path.endsWith("/job-done/w-gen/job-gen"));
  const chunks = stub.posts("job-stream").filter(forWorker("w-gen"));
  assert.deepEqual(chunks.map((r) => r.url), Array(3).fill("/v2/ep1/job-stream/w-gen/job-gen?isStream=false"));
  assert.deepEqual(chunks.map(body), [{ output: "a" }, { output: { b: 2 } }, { output: "c" }]);
  assert.equal(done.url, "/v2/ep1/job-done/w-gen/job-gen?isStream=true");
  assert.deepEqual(body(done), { output: [] });
  assert.ok(chunks.every((c) => c.at <= done.at));
});

test("returnAggregateStream: the final output is every chunk; sync generators stream too", async (t) => {
  await withWorker(t, "w-agg", {
    returnAggregateStream: true,
    handler: function* () {
      yield 1;
      yield 2;
    },
  });
  stub.addJob("w-agg", { id: "job-agg", input: null });
  const done = await stub.waitFor((r) => r.path.endsWith("/job-done/w-agg/job-agg"));
  assert.deepEqual(body(done), { output: [1, 2] });
});

test("a generator that throws ends with runpod-python's handler/traceback error; an error chunk ends the stream", async (t) => {
  await withWorker(t, "w-generr", {
    handler: async function* (job) {
      yield "first";
      if (job.input === "chunk") yield { error: "bad chunk" };
      throw new Error("generator broke");
    },
  });
  stub.addJob("w-generr", { id: "job-generr-1", input: "throw" });
  stub.addJob("w-generr", { id: "job-generr-2", input: "chunk" });
  const thrown = await stub.waitFor((r) => r.path.endsWith("/job-done/w-generr/job-generr-1"));
  assert.match(body(thrown).error as string, /^handler: generator broke \ntraceback: Error: generator broke/);
  const chunked = await stub.waitFor((r) => r.path.endsWith("/job-done/w-generr/job-generr-2"));
  assert.deepEqual(body(chunked), { error: "bad chunk" });
  assert.deepEqual(stub.posts("job-stream").filter((r) => r.path.endsWith("/job-generr-2")).map(body), [{ output: "first" }]);
});

test("progressUpdate posts {status: IN_PROGRESS, output} to job-done before the result", async (t) => {
  await withWorker(t, "w-prog", {
    handler: async (job) => {
      await progressUpdate(job, { percent: 50 });
      return "done";
    },
  });
  stub.addJob("w-prog", { id: "job-prog", input: null });
  await stub.waitFor((r) => r.path.endsWith("/job-prog") && body(r).output === "done");
  const posts = stub.posts("job-done").filter((r) => r.path.endsWith("/job-prog"));
  assert.deepEqual(posts.map((r) => [r.url, body(r)]), [
    ["/v2/ep1/job-done/w-prog/job-prog?isStream=false", { status: "IN_PROGRESS", output: { percent: 50 } }],
    ["/v2/ep1/job-done/w-prog/job-prog?isStream=false", { output: "done" }],
  ]);
});

test("the heartbeat: ping with job_id while a job runs, without it when idle, runpod_version always", async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await withWorker(t, "w-ping", {
    handler: async () => {
      await released;
      return 1;
    },
  });
  const idle = await stub.waitFor((r) => r.path === "/v2/ep1/ping/w-ping");
  assert.match(idle.url, /^\/v2\/ep1\/ping\/w-ping\?runpod_version=berth-node%2F\d+\.\d+\.\d+$/);
  assert.equal(idle.headers.authorization, "bw_secret-worker-key");
  stub.addJob("w-ping", { id: "job-ping", input: null });
  const busy = await stub.waitFor((r) => r.path === "/v2/ep1/ping/w-ping" && r.query.get("job_id") === "job-ping");
  assert.ok(busy.query.get("runpod_version"));
  release();
  await stub.waitFor((r) => r.path.endsWith("/job-done/w-ping/job-ping"));
  const after = stub.requests.length;
  await stub.waitFor((r) => stub.requests.indexOf(r) >= after && r.path === "/v2/ep1/ping/w-ping");
  const last = stub.requests.filter((r) => r.path === "/v2/ep1/ping/w-ping").at(-1)!;
  assert.equal(last.query.get("job_id"), null);
});

test("job-stop: the job's signal aborts with a JobStoppedError and nothing is posted for it", async (t) => {
  let reason: unknown;
  const stopped = new Promise<void>((resolve) => {
    void withWorker(t, "w-stop", {
      handler: (job) =>
        new Promise((_resolve, reject) => {
          job.signal.addEventListener("abort", () => {
            reason = job.signal.reason;
            resolve();
            reject(job.signal.reason);
          });
        }),
    });
  });
  stub.addJob("w-stop", { id: "job-stop", input: null });
  const stopPoll = await stub.waitFor((r) => r.path === "/v2/ep1/job-stop/w-stop");
  // The template's bare trailing `?` is dropped on the wire (as aiohttp's yarl drops it): no query at all.
  assert.match(stopPoll.url, /^\/v2\/ep1\/job-stop\/w-stop\??$/);
  await stub.waitFor((r) => r.path === "/v2/ep1/ping/w-stop" && r.query.get("job_id") === "job-stop");
  stub.stopJob("w-stop", "job-stop");
  await stopped;
  assert.equal((reason as Error).name, "JobStoppedError");
  assert.match((reason as Error).message, /job job-stop stopped by the control plane/);
  // The slot is free again: the next take says no job is in progress.
  const mark = stub.requests.length;
  await stub.waitFor((r) => stub.requests.indexOf(r) >= mark && r.path === "/v2/ep1/job-take/w-stop" && r.query.get("job_in_progress") === "0");
  assert.deepEqual(stub.posts("job-done").filter((r) => r.path.endsWith("/job-stop")), []);
});

test("job-stop before the job-take reply: the job is never started and nothing is posted for it", async (t) => {
  const started: string[] = [];
  void withWorker(t, "w-early", { handler: async (job) => void started.push(job.id) });
  await stub.waitFor((r) => r.path === "/v2/ep1/job-stop/w-early");
  // The control plane cancelled the job it is handing out; the stop reaches the worker first.
  stub.stopJob("w-early", "job-early");
  const mark = stub.requests.length;
  await stub.waitFor((r) => stub.requests.indexOf(r) >= mark && r.path === "/v2/ep1/job-stop/w-early");
  stub.addJob("w-early", { id: "job-early", input: null });
  stub.addJob("w-early", { id: "job-after", input: null });
  await stub.waitFor((r) => r.path.endsWith("/job-done/w-early/job-after"));
  assert.deepEqual(started, ["job-after"]);
  assert.deepEqual(stub.posts("job-done").filter((r) => r.path.endsWith("/job-early")), []);
});

test("concurrency: free slots are asked for with job-take-batch and batch_size", async (t) => {
  const running = new Set<string>();
  let peak = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await withWorker(t, "w-batch", {
    concurrency: 3,
    handler: async (job) => {
      running.add(job.id);
      peak = Math.max(peak, running.size);
      await released;
      running.delete(job.id);
      return job.id;
    },
  });
  const first = await stub.waitFor((r) => r.path.startsWith("/v2/ep1/job-take-batch/w-batch"));
  assert.equal(first.url, "/v2/ep1/job-take-batch/w-batch?batch_size=3&job_in_progress=0");
  stub.addJob("w-batch", { id: "b1", input: null });
  await stub.waitFor((r) => r.path === "/v2/ep1/job-take-batch/w-batch" && r.query.get("batch_size") === "2" && r.query.get("job_in_progress") === "1");
  stub.addJob("w-batch", { id: "b2", input: null });
  stub.addJob("w-batch", { id: "b3", input: null });
  await stub.waitFor((r) => r.path === "/v2/ep1/ping/w-batch" && (r.query.get("job_id") ?? "").split(",").length === 3);
  assert.equal(peak, 3);
  // All slots busy: no take is sent until one frees. Two more pings (200 ms apart) serve as the clock.
  const mark = stub.requests.length;
  const pingsAfter = (n: number) => (r: { path: string }) =>
    r.path === "/v2/ep1/ping/w-batch" && stub.requests.filter((x, i) => i >= mark && x.path === "/v2/ep1/ping/w-batch").length >= n;
  await stub.waitFor(pingsAfter(2));
  assert.deepEqual(stub.requests.slice(mark).filter((r) => r.path.includes("/job-take") && r.path.endsWith("/w-batch")), []);
  release();
  await stub.waitFor((r) => r.path.endsWith("/job-done/w-batch/b3"));
});

test("a concurrency function is asked with the current value before each take", async (t) => {
  const asked: number[] = [];
  await withWorker(t, "w-modifier", {
    concurrency: (current) => {
      asked.push(current);
      return 2;
    },
    handler: async () => 1,
  });
  await stub.waitFor((r) => r.path === "/v2/ep1/job-take-batch/w-modifier" && r.query.get("batch_size") === "2");
  assert.equal(asked[0], 1);
  assert.ok(asked.slice(1).every((n) => n === 2));
});

test("stop() drains: no more takes, the running job finishes and its result says stopPod", async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const handle = await withWorker(t, "w-drain", {
    handler: async () => {
      await released;
      return "finished";
    },
  });
  stub.addJob("w-drain", { id: "job-drain", input: null });
  await stub.waitFor((r) => r.path === "/v2/ep1/ping/w-drain" && r.query.get("job_id") === "job-drain");
  const stopping = handle.stop();
  const mark = stub.requests.length;
  release();
  await stopping;
  assert.equal(await handle.stopped, "stopped");
  const done = stub.posts("job-done").find((r) => r.path.endsWith("/job-drain"))!;
  assert.deepEqual(body(done), { output: "finished", stopPod: true });
  const settled = stub.requests.length;
  await new Promise((resolve) => setTimeout(resolve, 500));
  // After the drain: nothing more from this worker (no take, ping or stop poll).
  assert.deepEqual(stub.requests.slice(settled).filter(forWorker("w-drain")).map((r) => r.url), []);
  assert.ok(stub.requests.slice(mark).filter((r) => r.path.includes("/job-take/w-drain")).length <= 1);
});

test("a drain past drainTimeoutMs is forced: the job's signal aborts and nothing is posted", async (t) => {
  let reason: unknown;
  const handle = await withWorker(t, "w-deadline", {
    drainTimeoutMs: 200,
    handler: (job) =>
      new Promise((_resolve, reject) =>
        job.signal.addEventListener("abort", () => {
          reason = job.signal.reason;
          reject(job.signal.reason);
        }),
      ),
  });
  stub.addJob("w-deadline", { id: "job-deadline", input: null });
  await stub.waitFor((r) => r.path === "/v2/ep1/ping/w-deadline" && r.query.get("job_id") === "job-deadline");
  await handle.stop();
  assert.equal(await handle.stopped, "forced");
  assert.match(String((reason as Error).message), /job job-deadline worker forced to exit/);
  assert.deepEqual(stub.posts("job-done").filter((r) => r.path.endsWith("/job-deadline")), []);
});

test("refreshWorker: the result carries stopPod and the worker stops after the job", async (t) => {
  const handle = await withWorker(t, "w-refresh", { refreshWorker: true, handler: async () => "once" });
  stub.addJob("w-refresh", { id: "job-refresh", input: null });
  assert.equal(await handle.stopped, "refresh");
  const done = stub.posts("job-done").find((r) => r.path.endsWith("/job-refresh"))!;
  assert.deepEqual(body(done), { output: "once", stopPod: true });
});

test("refresh_worker in a handler's output stops the worker too", async (t) => {
  const handle = await withWorker(t, "w-refresh2", { handler: async () => ({ refresh_worker: true, x: 1 }) });
  stub.addJob("w-refresh2", { id: "job-refresh2", input: null });
  assert.equal(await handle.stopped, "refresh");
  assert.deepEqual(body(stub.posts("job-done").find((r) => r.path.endsWith("/job-refresh2"))!), { output: { x: 1 }, stopPod: true });
});

test("a failed result POST is retried; a 4xx other than 408/429 is not", async () => {
  const http = new WorkerHttpClient("k", async () => {});
  stub.failPosts = [503, 500];
  const reply = await http.postJson(`${stub.url}/v2/ep1/job-done/w-retry/j1?isStream=false`, { output: 1 }, { jobId: "j1" });
  assert.equal(reply.status, 200);
  assert.equal(stub.requests.filter((r) => r.path === "/v2/ep1/job-done/w-retry/j1").length, 3);

  stub.failPosts = [400];
  await assert.rejects(http.postJson(`${stub.url}/v2/ep1/job-done/w-retry/j2?isStream=false`, { output: 1 }), /HTTP 400/);
  assert.equal(stub.requests.filter((r) => r.path === "/v2/ep1/job-done/w-retry/j2").length, 1);

  stub.failPosts = [500, 500, 500, 500, 500];
  await assert.rejects(http.postJson(`${stub.url}/v2/ep1/job-done/w-retry/j3?isStream=false`, { output: 1 }), /HTTP 500/);
  assert.equal(stub.requests.filter((r) => r.path === "/v2/ep1/job-done/w-retry/j3").length, 4, "the first try and 3 retries");
  stub.failPosts = [];
  http.close();
});

test("job-take replies: 204 and 400 are no job, 429 asks for a back-off, bodies without id or input are dropped", async () => {
  const http = new WorkerHttpClient("k");
  const logger = createLogger("silent", { workerId: "w-take" });
  const signal = new AbortController().signal;
  const realUrls = new WorkerUrls(
    { getJob: `${stub.url}/v2/ep1/job-take/$ID?`, postOutput: `${stub.url}/v2/ep1/job-done/$RUNPOD_POD_ID/$ID?` },
    "w-take",
  );
  stub.takeStatus = 400;
  assert.deepEqual(await takeJobs(http, realUrls, 1, false, signal, logger), { kind: "none", retryInMs: 1_000 });
  stub.takeStatus = 204;
  assert.deepEqual(await takeJobs(http, realUrls, 1, false, signal, logger), { kind: "none" });
  await takeJobs(http, realUrls, 500, false, signal, logger);
  assert.equal(stub.requests.at(-1)!.query.get("batch_size"), "100", "at most 100 jobs are asked for at once");
  stub.takeStatus = 429;
  assert.deepEqual(await takeJobs(http, realUrls, 1, false, signal, logger), { kind: "failed", tooManyRequests: true, status: 429 });
  stub.takeStatus = 401;
  const refused = await takeJobs(http, realUrls, 1, false, signal, logger);
  assert.equal(refused.kind, "failed");
  stub.takeStatus = undefined;
  stub.addJob("w-take", { id: "no-input" });
  assert.deepEqual(await takeJobs(http, realUrls, 1, false, signal, logger), { kind: "none" });
  stub.addJob("w-take", { id: "b1", input: 1 });
  stub.addJob("w-take", { input: 2 });
  stub.addJob("w-take", { id: "b3", input: null });
  const batch = await takeJobs(http, realUrls, 3, false, signal, logger);
  assert.deepEqual(batch, { kind: "jobs", jobs: [{ id: "b1", input: 1 }, { id: "b3", input: null }] });
  http.close();
});
