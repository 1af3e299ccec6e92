/**
 * Fleet-scale benchmark (issue 16): what the control plane costs as the fleet grows, each large case beside the
 * small one measured in the same run, with ratios. This first dimension is connected workers: WORKERS idle
 * workers (raw worker protocol, long-polling and pinging as runpod-python does, spread over PROCESSES processes)
 * across ENDPOINTS endpoints, against none. For each: the control plane's CPU while idle (a share of one core,
 * over IDLE_S seconds, two ping intervals), its resident memory, and runsync p50/p99 on one more endpoint whose
 * one worker answers at once, while the others idle. Second dimension, a backlog: BACKLOG jobs queued on one
 * endpoint against 1,000 (queued straight through the store while the control plane is stopped, then the control
 * plane started on it): its start-up time, job-take, /health and /status latency on that endpoint, runsync on
 * another, and the store's size.
 *
 * Run: node --import tsx bench/scale.ts [--workers 2000] [--endpoints 100] [--backlog 1000000] [--samples 500]
 *   [--only workers|backlog] [--database-url URL]
 * (with --database-url, a PostgreSQL server the benchmark may create a database on).
 */
import type { ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { openStore } from "../server/store/open-store";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { createEndpoint, type TestEndpoint } from "../test/helpers/endpoint";
import { freshDatabase } from "../test/helpers/postgres";
import { flag } from "./args";
import { cpuMs, rssMb, startChild } from "./children";
import { JsonClient } from "./http-client";
import { fmt, summarize, type Summary } from "./stats";

const WORKERS = Number(flag("workers") ?? 2000);
const ENDPOINTS = Number(flag("endpoints") ?? 100);
const SAMPLES = Number(flag("samples") ?? 500);
const DATABASE_URL = flag("database-url");
const BACKLOG = Number(flag("backlog") ?? 1_000_000);
const ONLY = flag("only");
/** Jobs per insert when queueing a backlog: PostgreSQL takes at most 65,535 parameters a statement. */
const INSERT_BATCH = 5_000;
const PROCESSES = 4;
const PING_MS = 10_000;
const IDLE_S = 20;
const WARMUP = 50;

interface Case {
  label: string;
  workers: number;
  idleCpuShare: number;
  rssMb: number;
  runsync: Summary;
}

/** The control plane's CPU over `seconds` of doing nothing but serving the connected workers. */
async function idleCpu(cp: ControlPlaneProcess, seconds: number): Promise<number> {
  const before = cpuMs(cp.child.pid!);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return (cpuMs(cp.child.pid!) - before) / (seconds * 1000);
}

async function runsyncLatency(api: JsonClient, endpointId: string): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const t = performance.now();
    const res = await api.post(`/v2/${endpointId}/runsync`, { input: { n: i } });
    if (res.body?.status !== "COMPLETED") throw new Error(`runsync answered ${res.status} ${JSON.stringify(res.body)}`);
    if (i >= WARMUP) samples.push(performance.now() - t);
  }
  return summarize(samples);
}

/** Waits until the control plane counts `count` workers alive on `endpoints` (each has called since it started). */
async function connected(api: JsonClient, endpoints: TestEndpoint[], count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    let alive = 0;
    for (const ep of endpoints) {
      const { body } = await api.get(`/v2/${ep.id}/health`);
      alive += body.workers.idle + body.workers.running;
    }
    if (alive >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${alive} of ${count} workers connected after 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");

function header(title: string): void {
  const cpus = os.cpus();
  console.log(`\n# ${title}, ${new Date().toISOString().slice(0, 10)}, ${cpus.length} x ${cpus[0]?.model}, Node ${process.version}, store ${DATABASE_URL ? "PostgreSQL" : "SQLite"}`);
}

/** Starts a worker answering every job of `endpoint` at once. */
async function responder(endpoint: TestEndpoint): Promise<ChildProcess> {
  return (await startChild("noop-workers.ts", { BENCH_WORKER_ENV: JSON.stringify(endpoint.workerEnv), BENCH_WORKERS: "1" })).child;
}

async function connectedWorkers(cp: ControlPlaneProcess, api: JsonClient, target: TestEndpoint, children: ChildProcess[]): Promise<void> {
  children.push(await responder(target));
  const cases: Case[] = [];
  const measure = async (label: string, workers: number) => {
    const idleCpuShare = await idleCpu(cp, IDLE_S);
    cases.push({ label, workers, idleCpuShare, rssMb: rssMb(cp.child.pid!), runsync: await runsyncLatency(api, target.id) });
  };
  await measure("no idle workers", 0);

  const endpoints: TestEndpoint[] = [];
  for (let i = 0; i < ENDPOINTS; i++) endpoints.push(await createEndpoint(cp, { workersMax: 0 }));
  const perEndpoint = Math.ceil(WORKERS / ENDPOINTS);
  const groups = Array.from({ length: PROCESSES }, (_, p) => endpoints.filter((_, i) => i % PROCESSES === p));
  const idle: ChildProcess[] = [];
  for (const group of groups) {
    const started = await startChild("idle-workers.ts", {
      BENCH_WORKER_ENVS: JSON.stringify(group.map((ep) => ep.workerEnv)),
      BENCH_WORKERS_PER_ENDPOINT: String(perEndpoint),
      BENCH_PING_MS: String(PING_MS),
    });
    idle.push(started.child);
  }
  try {
    await connected(api, endpoints, perEndpoint * ENDPOINTS);
    await measure(`${perEndpoint * ENDPOINTS} idle workers on ${ENDPOINTS} endpoints`, perEndpoint * ENDPOINTS);
  } finally {
    for (const child of idle) child.kill();
  }

  const [small, large] = cases as [Case, Case];
  header("Connected workers");
  console.log(`idle CPU over ${IDLE_S} s (workers ping every ${PING_MS / 1000} s and long-poll job-take); runsync: ${SAMPLES} samples, one worker answering at once\n`);
  console.log("| case | idle CPU (share of a core) | RSS | runsync p50 | runsync p99 |");
  console.log("|---|---|---|---|---|");
  for (const c of cases) {
    console.log(`| ${c.label} | ${(c.idleCpuShare * 100).toFixed(1)}% | ${c.rssMb.toFixed(0)} MB | ${fmt(c.runsync.p50)} | ${fmt(c.runsync.p99)} |`);
  }
  console.log(
    `| ratio | +${((large.idleCpuShare - small.idleCpuShare) * 100).toFixed(1)} points | ${ratio(large.rssMb, small.rssMb)} | ` +
      `${ratio(large.runsync.p50, small.runsync.p50)} | ${ratio(large.runsync.p99, small.runsync.p99)} |`,
  );
}

interface BacklogCase {
  queued: number;
  startupMs: number;
  take: Summary;
  health: Summary;
  status: Summary;
  runsync: Summary;
  storeMb: number;
}

/** Queues `count` jobs on the endpoint straight through the store (its control plane stopped): their ids. */
async function queueDirectly(cp: ControlPlaneProcess, endpointId: string, count: number): Promise<string[]> {
  const store = await openStore({ dataDir: cp.dataDir, databaseUrl: cp.database?.url }, pino({ level: "silent" }));
  const ids: string[] = [];
  try {
    const createdAt = Date.now();
    for (let done = 0; done < count; done += INSERT_BATCH) {
      const jobs = Array.from({ length: Math.min(INSERT_BATCH, count - done) }, (_, i) => ({
        id: crypto.randomUUID(),
        endpointId,
        input: JSON.stringify({ n: done + i }),
        webhook: null,
        lowPriority: false,
        executionTimeoutMs: 600_000,
        ttlMs: 24 * 60 * 60_000,
        retentionMs: 10 * 60_000,
        createdAt: createdAt + done + i,
      }));
      await store.jobs.jobs.insert(jobs);
      if (ids.length < SAMPLES) ids.push(...jobs.slice(0, SAMPLES - ids.length).map((j) => j.id));
    }
  } finally {
    await store.close();
  }
  return ids;
}

async function timed(samples: number, call: (i: number) => Promise<unknown>): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  return summarize(times);
}

async function storeMb(cp: ControlPlaneProcess): Promise<number> {
  if (cp.database) return Number((await cp.query("SELECT pg_database_size(current_database()) AS size"))[0]!.size) / 1e6;
  return ["berth.db", "berth.db-wal"].reduce((sum, f) => sum + (fs.statSync(path.join(cp.dataDir, f), { throwIfNoEntry: false })?.size ?? 0), 0) / 1e6;
}

async function backlog(start: ControlPlaneProcess, target: TestEndpoint, backlogged: TestEndpoint): Promise<ControlPlaneProcess> {
  let cp = start;
  const cases: BacklogCase[] = [];
  let queued = 0;
  for (const total of [1_000, BACKLOG]) {
    await cp.stop();
    const ids = await queueDirectly(cp, backlogged.id, total - queued);
    queued = total;
    cp = await cp.restart();
    const started = cp.entries().find((e) => e.msg === "control plane listening");
    const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, 4);
    const answering = await responder(target);
    try {
      const env = backlogged.workerEnv;
      const worker = new JsonClient(cp.url, { Authorization: env.RUNPOD_AI_API_KEY! }, 2);
      const take = `${env.RUNPOD_WEBHOOK_GET_JOB!.replace("$ID", "bench-backlog")}&job_in_progress=0`;
      const done = env.RUNPOD_WEBHOOK_POST_OUTPUT!.replace("$RUNPOD_POD_ID", "bench-backlog");
      const takeTimes: number[] = [];
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const t = performance.now();
        const res = await worker.get(take);
        if (res.status !== 200) throw new Error(`job-take answered ${res.status} with ${queued} queued`);
        if (i >= WARMUP) takeTimes.push(performance.now() - t);
        await worker.post(`${done.replace("$ID", res.body.id)}&isStream=false`, { output: res.body.input });
      }
      worker.close();
      cases.push({
        queued,
        startupMs: Number(started?.startupMs),
        take: summarize(takeTimes),
        health: await timed(Math.min(SAMPLES, 100), () => api.get(`/v2/${backlogged.id}/health`)),
        status: await timed(ids.length, (i) => api.get(`/v2/${backlogged.id}/status/${ids[i]}`)),
        runsync: await runsyncLatency(api, target.id),
        storeMb: await storeMb(cp),
      });
    } finally {
      answering.kill();
      api.close();
    }
  }
  const [small, large] = cases as [BacklogCase, BacklogCase];
  header("A backlog on one endpoint");
  console.log(`jobs queued through the store, then the control plane started on it; ${SAMPLES} takes (each answered), /status and runsync samples\n`);
  console.log("| queued | start-up | job-take p50 / p99 | /health p50 / p99 | /status p50 / p99 | runsync (other endpoint) p50 / p99 | store size |");
  console.log("|---|---|---|---|---|---|---|");
  const pair = (x: Summary) => `${fmt(x.p50)} / ${fmt(x.p99)}`;
  for (const c of cases) {
    console.log(`| ${c.queued.toLocaleString("en")} | ${c.startupMs} ms | ${pair(c.take)} | ${pair(c.health)} | ${pair(c.status)} | ${pair(c.runsync)} | ${c.storeMb.toFixed(0)} MB |`);
  }
  const ratios = (a: Summary, b: Summary) => `${ratio(a.p50, b.p50)} / ${ratio(a.p99, b.p99)}`;
  console.log(
    `| ratio | ${ratio(large.startupMs, small.startupMs)} | ${ratios(large.take, small.take)} | ${ratios(large.health, small.health)} | ` +
      `${ratios(large.status, small.status)} | ${ratios(large.runsync, small.runsync)} | ${ratio(large.storeMb, small.storeMb)} |`,
  );
  return cp;
}

async function main(): Promise<void> {
  // On PostgreSQL, a fresh database of its own on the server --database-url names.
  const database = DATABASE_URL ? await freshDatabase("scale", DATABASE_URL) : undefined;
  let cp = await ControlPlaneProcess.start({ database });
  const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, 4);
  const children: ChildProcess[] = [];
  try {
    const target = await createEndpoint(cp, { workersMax: 0 });
    const backlogged = await createEndpoint(cp, { workersMax: 0 });
    if (ONLY !== "backlog") await connectedWorkers(cp, api, target, children);
    for (const child of children.splice(0)) child.kill();
    if (ONLY !== "workers") cp = await backlog(cp, target, backlogged);
  } finally {
    for (const child of children) child.kill();
    api.close();
    await cp.stop();
    await cp.removeData();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
