// The Node worker SDK against Berth's real control plane: each fixture in test/fixtures/node-workers runs as a
// real child process with the environment the control plane hands its workers, and jobs go through the
// RunPod-compatible client API. Nothing waits on a sleep for readiness: every wait polls the API (or the
// child) for the state it needs, with a deadline.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import axios, { type AxiosInstance } from "axios";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { eventually } from "../helpers/endpoint";
import { WorkerProcess } from "../helpers/worker-process";

const DEADLINE_MS = 30_000;
const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined) => eventually(what, probe, DEADLINE_MS);

let cp: ControlPlaneProcess;
let api: AxiosInstance;
let templateId: string;
let scratch: string;

before(async () => {
  cp = await ControlPlaneProcess.start({
    env: { BERTH_LONG_POLL_MS: "2000", BERTH_PING_INTERVAL_MS: "1000", BERTH_WORKER_LOST_AFTER_MS: "3000", BERTH_SWEEP_INTERVAL_MS: "100" },
  });
  api = axios.create({ baseURL: cp.url, headers: { Authorization: `Bearer ${cp.apiKey}` }, validateStatus: () => true });
  const template = await api.post("/admin/templates", { name: "node-sdk-tests", imageName: "berth/echo:dev" });
  assert.equal(template.status, 200, `creating a template: ${JSON.stringify(template.data)}`);
  templateId = template.data.id;
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "berth-sdk-"));
});

after(async () => {
  await cp?.stop();
  cp?.removeData();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

interface Endpoint {
  id: string;
  env: Record<string, string>;
}

async function newEndpoint(name: string): Promise<Endpoint> {
  const created = await api.post("/admin/endpoints", { name: `${name}-${crypto.randomBytes(3).toString("hex")}`, templateId });
  assert.equal(created.status, 200, `creating an endpoint: ${JSON.stringify(created.data)}`);
  const env = await api.get(`/admin/endpoints/${created.data.id}/worker-env`);
  assert.equal(env.status, 200, `worker-env: ${JSON.stringify(env.data)}`);
  return { id: created.data.id, env: env.data.env };
}

function spawnWorker(t: { after: (fn: () => void | Promise<void>) => void }, fixture: string, endpoint: Endpoint, extra: Record<string, string> = {}): WorkerProcess {
  const worker = WorkerProcess.node(fixture, { ...endpoint.env, ...extra }, `node-${fixture}-${crypto.randomBytes(3).toString("hex")}`);
  t.after(async () => void (await worker.kill()));
  return worker;
}

const run = async (endpoint: Endpoint, input: unknown, policy?: Record<string, unknown>) => {
  const reply = await api.post(`/v2/${endpoint.id}/run`, { input, ...(policy ? { policy } : {}) });
  assert.equal(reply.status, 200, `/run: ${JSON.stringify(reply.data)}`);
  assert.equal(reply.data.status, "IN_QUEUE");
  return reply.data.id as string;
};

/**
 * Runs a job on the `slow` fixture and waits until its handler is running in the worker. IN_PROGRESS alone means
 * handed out by the control plane, and the job-take reply may still be on its way to the worker.
 */
const runStarted = async (endpoint: Endpoint, input: Record<string, unknown>, policy?: Record<string, unknown>) => {
  const startedFile = path.join(scratch, `started-${crypto.randomUUID()}`);
  const jobId = await run(endpoint, { ...input, startedFile }, policy);
  await until(`the handler of job ${jobId} to start`, () => (fs.existsSync(startedFile) ? true : undefined));
  return jobId;
};

const status = async (endpoint: Endpoint, jobId: string) => {
  const reply = await api.get(`/v2/${endpoint.id}/status/${jobId}`);
  assert.equal(reply.status, 200, `/status: ${JSON.stringify(reply.data)}`);
  return reply.data as { id: string; status: string; output?: unknown; error?: string; workerId?: string };
};

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
const ended = (endpoint: Endpoint, jobId: string) =>
  until(`job ${jobId} to end`, async () => {
    const body = await status(endpoint, jobId);
    return TERMINAL.has(body.status) ? body : undefined;
  });
describe("the Node worker SDK against the real control plane", { concurrency: true }, () => {
  test("a plain handler's result comes back through /runsync; logs carry ids and never the key", async (t) => {
    const endpoint = await newEndpoint("echo");
    const worker = spawnWorker(t, "echo", endpoint);
    const reply = await api.post(`/v2/${endpoint.id}/runsync`, { input: { hello: "world" } });
    assert.equal(reply.status, 200);
    assert.equal(reply.data.status, "COMPLETED", JSON.stringify(reply.data));
    assert.deepEqual(reply.data.output, { echoed: { hello: "world" }, workerId: worker.workerId });

    const final = await status(endpoint, reply.data.id);
    assert.equal(final.workerId, worker.workerId);
    // The heartbeat makes the worker count in /health.
    await until("the worker in /health", async () => {
      const health = (await api.get(`/v2/${endpoint.id}/health`)).data;
      return health.workers.idle + health.workers.running >= 1 ? health : undefined;
    });

    const finished = await until("the job's log line", () =>
      worker.logs().find((l) => l.msg === "job finished" && l.jobId === reply.data.id),
    );
    assert.equal(finished.workerId, worker.workerId);
    assert.equal(finished.endpointId, endpoint.id);
    assert.equal(finished.status, "COMPLETED");
    assert.ok(!worker.lines.join("\n").includes(endpoint.env.RUNPOD_AI_API_KEY!), "the worker key appears in the logs");
  });

  test("a generator's chunks arrive through /stream, and the final output aggregates them", async (t) => {
    const endpoint = await newEndpoint("stream");
    spawnWorker(t, "stream", endpoint, { FIXTURE_AGGREGATE: "1" });
    const jobId = await run(endpoint, { count: 4 });
    const chunks: unknown[] = [];
    const last = await until("the stream to end", async () => {
      const reply = await api.get(`/v2/${endpoint.id}/stream/${jobId}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.data));
      for (const item of reply.data.stream as Array<{ output: unknown }>) chunks.push(item.output);
      return TERMINAL.has(reply.data.status) ? reply.data : undefined;
    });
    assert.equal(last.status, "COMPLETED");
    assert.deepEqual(chunks, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
    assert.deepEqual((await status(endpoint, jobId)).output, [{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
  });

  test("progressUpdate is visible in /status while the job is IN_PROGRESS", async (t) => {
    const endpoint = await newEndpoint("progress");
    spawnWorker(t, "progress", endpoint);
    const releaseFile = path.join(scratch, `release-${crypto.randomUUID()}`);
    const jobId = await run(endpoint, { releaseFile });
    const during = await until("the progress in /status", async () => {
      const body = await status(endpoint, jobId);
      return body.status === "IN_PROGRESS" && body.output !== undefined ? body : undefined;
    });
    assert.deepEqual(during.output, { step: 1, of: 2 });
    fs.writeFileSync(releaseFile, "");
    const final = await ended(endpoint, jobId);
    assert.equal(final.status, "COMPLETED");
    assert.deepEqual(final.output, { done: true });
  });

  test("a throwing handler ends the job FAILED with its message", async (t) => {
    const endpoint = await newEndpoint("throws");
    const worker = spawnWorker(t, "throws", endpoint);
    const reply = await api.post(`/v2/${endpoint.id}/runsync`, { input: { message: "CUDA out of memory" } });
    assert.equal(reply.data.status, "FAILED", JSON.stringify(reply.data));
    const info = JSON.parse(reply.data.error) as Record<string, string>;
    assert.equal(info.error_type, "ModelError");
    assert.equal(info.error_message, "CUDA out of memory");
    assert.equal(info.worker_id, worker.workerId);
    assert.match(info.error_traceback!, /ModelError: CUDA out of memory/);
    // The worker goes on serving after a failed job.
    const next = await api.post(`/v2/${endpoint.id}/runsync`, { input: { message: "again" } });
    assert.equal(next.data.status, "FAILED");
  });

  test("concurrency 3 runs three jobs at once", async (t) => {
    const endpoint = await newEndpoint("concurrent");
    const worker = spawnWorker(t, "slow", endpoint, { FIXTURE_CONCURRENCY: "3" });
    const ids = await Promise.all([1, 2, 3].map(() => run(endpoint, { ms: 3000 })));
    const results = await Promise.all(ids.map((id) => ended(endpoint, id)));
    for (const result of results) assert.equal(result.status, "COMPLETED", JSON.stringify(result));
    const outputs = results.map((r) => r.output as { startedAt: number; finishedAt: number; pid: number });
    assert.equal(new Set(outputs.map((o) => o.pid)).size, 1, "one worker process ran them all");
    assert.equal(outputs[0]!.pid, worker.child.pid);
    // All three were running at one moment: the last to start started before the first to finish finished.
    const lastStart = Math.max(...outputs.map((o) => o.startedAt));
    const firstEnd = Math.min(...outputs.map((o) => o.finishedAt));
    assert.ok(lastStart < firstEnd, `the jobs did not overlap: ${JSON.stringify(outputs)}`);
  });

  test("refreshWorker: the worker exits after one job, its result sent with stopPod", async (t) => {
    const endpoint = await newEndpoint("refresh");
    const worker = spawnWorker(t, "refresh", endpoint);
    const reply = await api.post(`/v2/${endpoint.id}/runsync`, { input: "only one" });
    assert.equal(reply.data.status, "COMPLETED", JSON.stringify(reply.data));
    assert.deepEqual(reply.data.output, { echoed: "only one", pid: worker.child.pid });
    const exit = await worker.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    const finished = worker.logs().find((l) => l.msg === "job finished" && l.jobId === reply.data.id);
    assert.equal(finished?.stopPod, true);
    // Nobody takes the next job: the worker is gone.
    const next = await run(endpoint, "second");
    assert.equal((await status(endpoint, next)).status, "IN_QUEUE");
  });

  test("SIGTERM mid-job: the job finishes COMPLETED, no new job is taken, then the process exits 0", async (t) => {
    const endpoint = await newEndpoint("drain");
    const worker = spawnWorker(t, "slow", endpoint);
    const jobId = await runStarted(endpoint, { ms: 4000 });
    await until("the worker to count as running in /health", async () => {
      const health = (await api.get(`/v2/${endpoint.id}/health`)).data;
      return health.workers.running === 1 ? health : undefined;
    });
    worker.child.kill("SIGTERM");
    const draining = await until("the worker to start draining", () => worker.logs().find((l) => String(l.msg).startsWith("shutdown signal")));
    assert.deepEqual(draining.jobsInProgress, [jobId], "the signal arrived after the job had ended");
    const queued = await run(endpoint, { ms: 10 });
    const exit = await worker.exited;
    assert.deepEqual(exit, { code: 0, signal: null });
    const final = await status(endpoint, jobId);
    assert.equal(final.status, "COMPLETED", JSON.stringify(final));
    assert.equal((final.output as { jobId: string }).jobId, jobId);
    assert.equal((await status(endpoint, queued)).status, "IN_QUEUE", "a job submitted during the drain was taken");
    assert.ok(worker.logs().some((l) => l.msg === "worker stopped" && l.reason === "signal"));
  });

  test("a second SIGTERM forces the exit; the control plane hands the abandoned job out again", async (t) => {
    const endpoint = await newEndpoint("force");
    const first = spawnWorker(t, "slow", endpoint);
    const jobId = await runStarted(endpoint, { ms: 120_000 });
    assert.equal((await status(endpoint, jobId)).workerId, first.workerId);
    first.child.kill("SIGTERM");
    await until("the worker to start draining", () => first.logs().find((l) => String(l.msg).startsWith("shutdown signal")));
    first.child.kill("SIGTERM");
    assert.deepEqual(await first.exited, { code: 1, signal: null });
    assert.ok(first.logs().some((l) => l.msg === "worker stopped" && l.reason === "forced"));
    // The worker went silent: once it counts as lost, its job is queued again and a new worker runs it.
    const second = spawnWorker(t, "slow", endpoint);
    const rerun = await until("the job to run on another worker", async () => {
      const body = await status(endpoint, jobId);
      return body.status === "IN_PROGRESS" && body.workerId === second.workerId ? body : undefined;
    });
    assert.equal(rerun.id, jobId);
  });

  test("cancelling a running job aborts the handler's signal; the worker then takes the next job", async (t) => {
    const endpoint = await newEndpoint("cancel");
    spawnWorker(t, "slow", endpoint);
    const abortedFile = path.join(scratch, `aborted-${crypto.randomUUID()}`);
    const jobId = await runStarted(endpoint, { ms: 120_000, abortedFile });
    const cancel = await api.post(`/v2/${endpoint.id}/cancel/${jobId}`, {});
    assert.equal(cancel.status, 200);
    assert.equal(cancel.data.status, "CANCELLED");
    const aborted = await until("the handler to see its signal abort", () =>
      fs.existsSync(abortedFile) ? (JSON.parse(fs.readFileSync(abortedFile, "utf8")) as Record<string, string>) : undefined,
    );
    assert.equal(aborted.jobId, jobId);
    assert.equal(aborted.name, "JobStoppedError");
    // Its slot is free again, and the cancelled job stays CANCELLED (nothing was posted for it).
    const next = await api.post(`/v2/${endpoint.id}/runsync`, { input: { ms: 10 } });
    assert.equal(next.data.status, "COMPLETED", JSON.stringify(next.data));
    assert.equal((await status(endpoint, jobId)).status, "CANCELLED");
  });

  test("a job past its execution timeout ends TIMED_OUT and its handler is aborted", async (t) => {
    const endpoint = await newEndpoint("timeout");
    spawnWorker(t, "slow", endpoint);
    const abortedFile = path.join(scratch, `timeout-${crypto.randomUUID()}`);
    const jobId = await run(endpoint, { ms: 120_000, abortedFile }, { executionTimeout: 5_000 });
    const final = await ended(endpoint, jobId);
    assert.equal(final.status, "TIMED_OUT", JSON.stringify(final));
    const aborted = await until("the handler to see its signal abort", () =>
      fs.existsSync(abortedFile) ? (JSON.parse(fs.readFileSync(abortedFile, "utf8")) as Record<string, string>) : undefined,
    );
    assert.equal(aborted.name, "JobStoppedError");
    assert.equal((await status(endpoint, jobId)).status, "TIMED_OUT");
  });
});
