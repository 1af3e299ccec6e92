/**
 * Dispatch benchmark: what Berth adds to a request, and how many jobs per second it moves.
 *
 * 1. Overhead: sequential /runsync round trips with a no-op worker, against the same JSON POST to a bare
 *    HTTP echo server in the same run (interleaved, so drift hits both alike). p50 and p99, and the difference.
 * 2. Throughput: jobs submitted to /run by 64 concurrent clients, completed by 8 no-op workers, store durable;
 *    jobs/s from the first submission until /health counts them all completed. Run twice: workers taking one job
 *    per call (job-take), then batches (job-take-batch, as runpod-python does for a handler with a concurrency
 *    modifier).
 *
 * With --database-url (a PostgreSQL server the benchmark may create databases on), the same is measured on SQLite
 * (the baseline), on PostgreSQL with one control plane, and with --replicas of them (default 2) sharing a fresh
 * database: clients and workers are spread over the replicas, and the /runsync's worker long-polls another replica
 * than the one the client calls, so each job crosses between them.
 *
 * Clients and workers use a bare keep-alive node:http client (http-client.ts) for both Berth and the baseline.
 *
 * Run: node --import tsx bench/dispatch.ts [--samples N] [--jobs N] [--database-url URL [--replicas N]]
 */
import type { ChildProcess } from "node:child_process";
import os from "node:os";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { calling, createEndpoint } from "../test/helpers/endpoint";
import { freshDatabase } from "../test/helpers/postgres";
import { flag } from "./args";
import { cpuMs, startChild } from "./children";
import { JsonClient } from "./http-client";
import { fmt, summarize, type Summary } from "./stats";

const SAMPLES = Number(flag("samples") ?? 2000);
const WARMUP = 200;
const JOBS = Number(flag("jobs") ?? 20000);
const DATABASE_URL = flag("database-url");
const REPLICAS = Number(flag("replicas") ?? 2);
const CLIENTS = 64;
const WORKERS = 8;
const BATCH = 8;
/** The benchmark measures dispatch, not RunPod's per-key rate limits (server/api/rate-limits.ts): lifted. */
const UNLIMITED = { rateLimits: { run: { requestsPer10s: 1_000_000, concurrent: 100_000 }, sync: { requestsPer10s: 1_000_000, concurrent: 100_000 } } };

interface Throughput {
  submittedMs: number;
  elapsedMs: number;
  /** The control planes' CPU, all replicas together, as a share of one core. */
  serverCpuShare: number;
}

interface Measured {
  label: string;
  berth: Summary;
  bare: Summary;
  single: Throughput;
  batched: Throughput;
}

/** Submits JOBS jobs from CLIENTS concurrent clients spread over the replicas, to WORKERS no-op workers spread too. */
async function throughput(planes: ControlPlaneProcess[], apis: JsonClient[], batch: number, children: ChildProcess[]): Promise<Throughput> {
  const endpoint = await createEndpoint(planes[0]!, UNLIMITED);
  const workers = await Promise.all(
    planes.map((cp) =>
      startChild("noop-workers.ts", {
        BENCH_WORKER_ENV: JSON.stringify(calling(endpoint, planes[0]!, cp).workerEnv),
        BENCH_WORKERS: String(Math.max(1, Math.round(WORKERS / planes.length))),
        BENCH_BATCH: String(batch),
      }),
    ),
  );
  children.push(...workers.map((w) => w.child));
  try {
    const cpuBefore = planes.map((cp) => cpuMs(cp.child.pid!));
    const started = performance.now();
    let submitted = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        const api = apis[client % apis.length]!;
        while (submitted < JOBS) {
          submitted++;
          const res = await api.post(`/v2/${endpoint.id}/run`, { input: { n: submitted } });
          if (res.status !== 200) throw new Error(`/run answered ${res.status} ${JSON.stringify(res.body)}`);
        }
      }),
    );
    const submittedMs = performance.now() - started;
    for (;;) {
      const { body } = await apis[0]!.get(`/v2/${endpoint.id}/health`);
      if (body.jobs.completed >= JOBS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const elapsedMs = performance.now() - started;
    const cpu = planes.reduce((sum, cp, i) => sum + cpuMs(cp.child.pid!) - cpuBefore[i]!, 0);
    return { submittedMs, elapsedMs, serverCpuShare: cpu / elapsedMs };
  } finally {
    for (const w of workers) w.child.kill();
  }
}

/** Overhead and throughput of one configuration: control planes already started. */
async function measure(label: string, planes: ControlPlaneProcess[]): Promise<Measured> {
  const apis = planes.map((cp) => new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, CLIENTS));
  const children: ChildProcess[] = [];
  try {
    const latencyEndpoint = await createEndpoint(planes[0]!, UNLIMITED);
    const echo = await startChild("echo-server.ts");
    children.push(echo.child);
    const bareApi = new JsonClient(`http://127.0.0.1:${echo.firstLine}/`, {}, 1);
    // With replicas, the worker long-polls the last one while the client calls the first.
    const workerPlane = planes[planes.length - 1]!;
    const oneWorker = await startChild("noop-workers.ts", {
      BENCH_WORKER_ENV: JSON.stringify(calling(latencyEndpoint, planes[0]!, workerPlane).workerEnv),
      BENCH_WORKERS: "1",
    });
    children.push(oneWorker.child);

    const berth: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const body = { input: { n: i } };
      let t = performance.now();
      const res = await apis[0]!.post(`/v2/${latencyEndpoint.id}/runsync`, body);
      const berthMs = performance.now() - t;
      if (res.body?.status !== "COMPLETED") throw new Error(`runsync answered ${res.status} ${JSON.stringify(res.body)}`);
      t = performance.now();
      await bareApi.post("/", body);
      const bareMs = performance.now() - t;
      if (i >= WARMUP) (berth.push(berthMs), bare.push(bareMs));
    }
    oneWorker.child.kill();
    bareApi.close();

    const single = await throughput(planes, apis, 1, children);
    const batched = await throughput(planes, apis, BATCH, children);
    return { label, berth: summarize(berth), bare: summarize(bare), single, batched };
  } finally {
    for (const child of children) child.kill();
    for (const api of apis) api.close();
  }
}

/** Starts `replicas` control planes on one store (SQLite needs one), measures them, stops them. */
async function configuration(label: string, replicas: number, databaseUrl?: string): Promise<Measured> {
  const database = databaseUrl ? await freshDatabase("bench", databaseUrl) : undefined;
  const first = await ControlPlaneProcess.start(database ? { database } : {});
  const planes = [first];
  try {
    for (let i = 1; i < replicas; i++) {
      planes.push(await ControlPlaneProcess.start({ database, apiKey: first.apiKey }));
    }
    return await measure(label, planes);
  } finally {
    for (const cp of planes.reverse()) await cp.stop();
    for (const cp of planes) await cp.removeData();
  }
}

function print(results: Measured[]): void {
  const cpu = os.cpus();
  console.log(`# Berth dispatch benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
  for (const r of results) {
    console.log(`\n## ${r.label}: overhead, sequential /runsync with a no-op worker vs a bare HTTP echo (${SAMPLES} samples each)`);
    console.log(`| | p50 | p99 | mean |\n|---|---|---|---|`);
    console.log(`| Berth /runsync | ${fmt(r.berth.p50)} | ${fmt(r.berth.p99)} | ${fmt(r.berth.mean)} |`);
    console.log(`| bare HTTP echo | ${fmt(r.bare.p50)} | ${fmt(r.bare.p99)} | ${fmt(r.bare.mean)} |`);
    console.log(`| added by Berth | ${fmt(r.berth.p50 - r.bare.p50)} | ${fmt(r.berth.p99 - r.bare.p99)} | ${fmt(r.berth.mean - r.bare.mean)} |`);
    console.log(`| ratio Berth / bare | ${(r.berth.p50 / r.bare.p50).toFixed(1)}x | ${(r.berth.p99 / r.bare.p99).toFixed(1)}x | ${(r.berth.mean / r.bare.mean).toFixed(1)}x |`);
    console.log(`\n## ${r.label}: throughput, ${JOBS} jobs, ${CLIENTS} concurrent /run clients, ${WORKERS} no-op workers, durable store`);
    console.log(`| workers take | submissions/s | all COMPLETED after | jobs/s | control plane CPU | ratio to one-per-take |\n|---|---|---|---|---|---|`);
    for (const [label, t] of [["one job per call", r.single], [`batches of ${BATCH}`, r.batched]] as const) {
      console.log(
        `| ${label} | ${Math.round(JOBS / (t.submittedMs / 1000))} | ${(t.elapsedMs / 1000).toFixed(2)} s | **${Math.round(JOBS / (t.elapsedMs / 1000))}** | ` +
          `${(t.serverCpuShare * 100).toFixed(0)}% of one core | ${(r.single.elapsedMs / t.elapsedMs).toFixed(2)}x |`,
      );
    }
  }
  if (results.length > 1) {
    const base = results[0]!;
    const jobsPerSecond = (t: Throughput) => JOBS / (t.elapsedMs / 1000);
    console.log(`\n## Against ${base.label} (same run)`);
    console.log(`| store | added p50 | added p99 | jobs/s, one per call | jobs/s, batches of ${BATCH} | batched ratio to ${base.label} |\n|---|---|---|---|---|---|`);
    for (const r of results) {
      console.log(
        `| ${r.label} | ${fmt(r.berth.p50 - r.bare.p50)} | ${fmt(r.berth.p99 - r.bare.p99)} | ${Math.round(jobsPerSecond(r.single))} | ` +
          `${Math.round(jobsPerSecond(r.batched))} | ${(jobsPerSecond(r.batched) / jobsPerSecond(base.batched)).toFixed(2)}x |`,
      );
    }
  }
}

async function main(): Promise<void> {
  const results = [await configuration("SQLite", 1)];
  if (DATABASE_URL) {
    results.push(await configuration("PostgreSQL, 1 control plane", 1, DATABASE_URL));
    if (REPLICAS > 1) results.push(await configuration(`PostgreSQL, ${REPLICAS} control planes`, REPLICAS, DATABASE_URL));
  }
  print(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
