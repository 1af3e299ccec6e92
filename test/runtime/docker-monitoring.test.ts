// What operators watch, against a real control plane running workers on the Docker runtime: Prometheus metrics
// checked against the jobs actually run, usage checked against the run times the workers measured themselves,
// and the CLI's `berth workers` / `berth jobs` reading the same data.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";
import { parseMetrics, sumOf } from "../helpers/metrics";

const BERTH_BIN = path.resolve(__dirname, "../../bin/berth");
const PRICE = 0.0002;
const DISCOUNT = 0.25;

describe("metrics, usage and the CLI on the Docker runtime", () => {
  let runtime: DockerRuntime;
  const cli = async (...args: string[]) =>
    (await promisify(execFile)(process.execPath, [BERTH_BIN, ...args, "--url", runtime.cp.url, "--api-key", runtime.cp.apiKey])).stdout;
  const metrics = async () => {
    const res = await runtime.api.get("/metrics");
    assert.equal(res.status, 200);
    return parseMetrics(res.data);
  };

  before(async () => {
    runtime = await DockerRuntime.start({ BERTH_GPU_PRICES: `NVIDIA GeForce RTX 4090=${PRICE}`, BERTH_ACTIVE_WORKER_DISCOUNT: String(DISCOUNT) });
  });
  after(async () => {
    await runtime?.close();
  });

  test("/metrics counts the jobs run, their delay and execution, cold starts, workers by state, and needs the key", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: 2, idleTimeout: 30, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const ok = await Promise.all([1, 2, 3].map((n) => runtime.submit(ep.id, { sleepMs: 300, n })));
    const crash = await runtime.submit(ep.id, { exitCode: 7 }, { executionTimeout: 60_000 });
    const results = await Promise.all([...ok, crash].map((id) => runtime.ended(ep.id, id, 90_000)));
    const completed = results.filter((r) => r.status === "COMPLETED").length;
    const failed = results.filter((r) => r.status === "FAILED").length;
    assert.equal(completed + failed, 4);

    const samples = await metrics();
    assert.equal(sumOf(samples, "berth_jobs_total", { endpoint: ep.id, status: "COMPLETED" }), completed);
    assert.equal(sumOf(samples, "berth_jobs_total", { endpoint: ep.id, status: "FAILED" }), failed);
    assert.equal(sumOf(samples, "berth_job_execution_seconds_count", { endpoint: ep.id }), 4, "every ended job that ran was timed");
    const executionSum = sumOf(samples, "berth_job_execution_seconds_sum", { endpoint: ep.id });
    assert.ok(executionSum >= 0.9, `three jobs of 300 ms took at least 0.9 s in all (${executionSum})`);
    assert.equal(sumOf(samples, "berth_job_delay_seconds_count", { endpoint: ep.id }), 4);
    const coldStarts = sumOf(samples, "berth_worker_cold_start_seconds_count", { endpoint: ep.id });
    assert.ok(coldStarts >= 2, `at least the two workers' starts were counted (${coldStarts})`);
    const coldSeconds = sumOf(samples, "berth_worker_cold_start_seconds_sum", { endpoint: ep.id });
    assert.ok(coldSeconds > 0 && coldSeconds / coldStarts < 30, `cold starts took a plausible time (${coldSeconds} s over ${coldStarts})`);
    assert.equal(sumOf(samples, "berth_queue_depth", { endpoint: ep.id }), 0);
    assert.equal(sumOf(samples, "berth_endpoint_revision", { endpoint: ep.id }), 1);

    // Queued jobs on an endpoint that cannot start a worker show as queue depth.
    const stuck = await runtime.createEndpoint({ workersMin: 0, workersMax: 0 });
    await Promise.all([1, 2].map((n) => runtime.submit(stuck.id, { n })));
    assert.equal(sumOf(await metrics(), "berth_queue_depth", { endpoint: stuck.id }), 2);

    // Workers by state and type, on an endpoint that holds still: one active worker, Idle.
    const steady = await runtime.createEndpoint({ workersMin: 1, workersMax: 1, idleTimeout: 30 });
    await runtime.until("an Idle active worker", steady.id, (w) => (w.workers.some((x) => x.state === "Idle") ? true : undefined));
    const now = await metrics();
    assert.equal(sumOf(now, "berth_workers", { endpoint: steady.id, state: "Idle", type: "active" }), 1);
    assert.equal(sumOf(now, "berth_workers", { endpoint: steady.id }), 1, "and no other");
    assert.equal(sumOf(now, "berth_rollout_outdated_workers", { endpoint: steady.id, state: "done" }), 0);

    const anonymous = await fetch(`${runtime.cp.url}/metrics`);
    assert.equal(anonymous.status, 401);
  });

  test("usage: running seconds match the workers' own measured run times; active workers get the discount", async (t) => {
    const from = Date.now();
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 1, idleTimeout: 30 });
    await runtime.until("the active worker Idle", ep.id, (w) => w.workers.find((x) => x.state === "Idle" && x.type === "active"));
    // Two jobs in turn on the one worker, with idle time between them that must not be billed.
    const outputs = [];
    for (const sleepMs of [1200, 800]) {
      const job = await runtime.ended(ep.id, await runtime.submit(ep.id, { sleepMs }));
      assert.equal(job.status, "COMPLETED");
      outputs.push(job.output);
      await eventually("a second of idle time", () => (Date.now() - job.output.finishedAt > 1000 ? true : undefined));
    }
    const measured = outputs.reduce((total, o) => total + (o.finishedAt - o.startedAt), 0) / 1000;
    const res = await runtime.api.get("/admin/usage", { params: { from: new Date(from).toISOString(), endpointId: ep.id } });
    assert.equal(res.status, 200, JSON.stringify(res.data));
    assert.equal(res.data.lines.length, 1, JSON.stringify(res.data));
    const line = res.data.lines[0];
    assert.deepEqual([line.workerType, line.gpuTypeId], ["active", "NVIDIA GeForce RTX 4090"]);
    // Stated tolerance: the control plane counts from the job-take reply to the job-done request, so each job may add
    // the HTTP round trips and the SDK's handling on either side of the handler: at most 250 ms per job here.
    t.diagnostic(`usage: billed ${line.seconds} s for ${measured} s measured by the handler over 2 jobs; cost ${line.cost}`);
    assert.ok(line.seconds >= measured, `billed ${line.seconds} s is at least the ${measured} s the handler ran`);
    assert.ok(line.seconds <= measured + 2 * 0.25, `billed ${line.seconds} s is within 250 ms per job of the ${measured} s measured`);
    assert.equal(line.gpuSeconds, line.seconds, "one GPU");
    assert.ok(Math.abs(line.cost - line.gpuSeconds * PRICE * (1 - DISCOUNT)) < 1e-12, "priced per GPU-second, less the active discount");
    assert.deepEqual(res.data.unpriced, []);

    const bad = await runtime.api.get("/admin/usage", { params: { from: "yesterday" } });
    assert.equal(bad.status, 400);
    assert.match(bad.data.message, /query\.from: must be an ISO 8601 time or ms since the epoch/);

    const report = JSON.parse(await cli("usage", "--from", new Date(from).toISOString(), "--endpoint", ep.id, "--json"));
    assert.equal(report.lines[0].seconds, line.seconds, "the CLI reads the same report");
    const text = await cli("usage", "--from", new Date(from).toISOString(), "--endpoint", ep.id);
    assert.match(text, new RegExp(`${ep.id}\\s+active\\s+NVIDIA GeForce RTX 4090\\s+${line.seconds.toFixed(1)}`));
  });

  test("`berth workers` and `berth jobs` show the endpoint's workers and recent jobs, as a table or JSON", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 1, workersMax: 1, idleTimeout: 30 });
    const worker = await runtime.until("the active worker Idle", ep.id, (w) => w.workers.find((x) => x.state === "Idle"));
    const job = await runtime.ended(ep.id, await runtime.submit(ep.id, { sleepMs: 100 }));

    const workers = JSON.parse(await cli("workers", ep.id, "--json"));
    assert.equal(workers.workers[0].id, worker.id);
    assert.equal(workers.workers[0].recentJobs[0].id, job.id);
    assert.ok(workers.workers[0].recentJobs[0].executionMs >= 100);
    const table = await cli("workers", ep.id);
    assert.match(table, /^WORKER\s+STATE\s+TYPE\s+REV\s+GPUS\s+CPU\s+MEMORY\s+GPU\s+UPTIME\s+JOB\s+REASON$/m);
    assert.match(table, new RegExp(`^${worker.id}\\s+Idle\\s+active\\s+1\\s+sim-\\d+ \\(simulated\\)`, "m"));

    const jobs = JSON.parse(await cli("jobs", ep.id, "--json"));
    assert.deepEqual(jobs.jobs.map((j: { id: string }) => j.id), [job.id]);
    assert.match(await cli("jobs", ep.id), new RegExp(`^${job.id}\\s+COMPLETED\\s+${worker.id}\\s`, "m"));
    await assert.rejects(cli("workers", "no-such-endpoint"), /HTTP 404/);
  });
});
