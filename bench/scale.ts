/**
 * Fleet-scale benchmark (issue 16): what the control plane costs as the fleet grows, each large case beside the
 * small one measured in the same run, with ratios. This first dimension is connected workers: WORKERS idle
 * workers (raw worker protocol, long-polling and pinging as runpod-python does, spread over PROCESSES processes)
 * across ENDPOINTS endpoints, against none. For each: the control plane's CPU while idle (a share of one core,
 * over IDLE_S seconds, two ping intervals), its resident memory, and runsync p50/p99 on one more endpoint whose
 * one worker answers at once, while the others idle. Second dimension, a backlog: BACKLOG jobs queued on one
 * endpoint against 1,000 (queued straight through the store while the control plane is stopped, then the control
 * plane started on it): its start-up time, idle CPU, job-take, /health and /status latency on that endpoint, runsync
 * on another, and the store's size; then the backlog drained, retention passed, and the store's size again.
 * The control plane runs the Docker runtime (simulated GPUs, every endpoint at workersMax 0, so no container
 * starts): its reconcile pass over every endpoint each second is part of what is measured.
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
import Database from "better-sqlite3";
import pino from "pino";
import type { JobCounts } from "../server/jobs/stores";
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
/** How long the backlog's jobs are kept once they end, so the benchmark sees retention pass. */
const RETENTION_MS = 5_000;
const DRAINERS = 8;
const DRAIN_BATCH = 16;
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
  idleCpuShare: number;
  take: Summary;
  health: Summary;
  status: Summary;
  runsync: Summary;
  storeMb: number;
  drainS: number;
  retentionS: number;
  afterMb: number;
  freeMb: number;
  refilledMb: number;
}

/** Queues `count` jobs on the endpoint straight through the store (its control plane stopped): the last ones' ids. */
async function queueDirectly(cp: ControlPlaneProcess, endpointId: string, count: number): Promise<string[]> {
  const store = await openStore({ dataDir: cp.dataDir, databaseUrl: cp.database?.url }, pino({ level: "silent" }));
  let ids: string[] = [];
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
        retentionMs: RETENTION_MS,
        createdAt: createdAt + done + i,
      }));
      await store.jobs.jobs.insert(jobs);
      ids = [...ids, ...jobs.map((j) => j.id)].slice(-SAMPLES);
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

/** The store's size on disk, and how much of it is free space that new rows reuse (SQLite's free pages). */
async function storeSize(cp: ControlPlaneProcess): Promise<{ mb: number; freeMb: number }> {
  if (cp.database) {
    const [row] = await cp.query("SELECT pg_database_size(current_database()) AS size");
    return { mb: Number(row!.size) / 1e6, freeMb: NaN };
  }
  const files = ["berth.db", "berth.db-wal"].reduce((sum, f) => sum + (fs.statSync(path.join(cp.dataDir, f), { throwIfNoEntry: false })?.size ?? 0), 0);
  const db = new Database(path.join(cp.dataDir, "berth.db"), { readonly: true });
  try {
    const pages = (db.pragma("freelist_count", { simple: true }) as number) * (db.pragma("page_size", { simple: true }) as number);
    return { mb: files / 1e6, freeMb: pages / 1e6 };
  } finally {
    db.close();
  }
}

/** Seconds until `done` holds of the endpoint's /health counts, polled each second. */
async function until(api: JsonClient, endpointId: string, what: string, done: (jobs: JobCounts) => boolean): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { status, body } = await api.get(`/v2/${endpointId}/health`);
    if (status !== 200) throw new Error(`/health answered ${status} while waiting for ${what}`);
    if (done(body.jobs)) return (performance.now() - started) / 1000;
    if (performance.now() - started > 1_800_000) throw new Error(`${what}: not done after 30 minutes: ${JSON.stringify(body.jobs)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/**
 * One backlog case: `total` jobs queued while the control plane is stopped, the control plane started on them, its
 * latencies measured; then drained by workers taking batches, retention passed, and the store's size looked at.
 */
async function backlogCase(start: ControlPlaneProcess, target: TestEndpoint, backlogged: TestEndpoint, total: number): Promise<[ControlPlaneProcess, BacklogCase]> {
  await start.stop();
  const ids = await queueDirectly(start, backlogged.id, total);
  const cp = await start.restart();
  const started = cp.entries().find((e) => e.msg === "control plane listening");
  const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, 4);
  const answering = await responder(target);
  try {
    const idleCpuShare = await idleCpu(cp, IDLE_S / 2);
    const env = backlogged.workerEnv;
    const worker = new JsonClient(cp.url, { Authorization: env.RUNPOD_AI_API_KEY! }, 2);
    const take = `${env.RUNPOD_WEBHOOK_GET_JOB!.replace("$ID", "bench-backlog")}&job_in_progress=0`;
    const done = env.RUNPOD_WEBHOOK_POST_OUTPUT!.replace("$RUNPOD_POD_ID", "bench-backlog");
    const takeTimes: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const t = performance.now();
      const res = await worker.get(take);
      if (res.status !== 200) throw new Error(`job-take answered ${res.status} with ${total} queued`);
      if (i >= WARMUP) takeTimes.push(performance.now() - t);
      await worker.post(`${done.replace("$ID", res.body.id)}&isStream=false`, { output: res.body.input });
    }
    worker.close();
    const measured = {
      queued: total,
      startupMs: Number(started?.startupMs),
      idleCpuShare,
      take: summarize(takeTimes),
      health: await timed(Math.min(SAMPLES, 100), () => api.get(`/v2/${backlogged.id}/health`)),
      status: await timed(ids.length, (i) => api.get(`/v2/${backlogged.id}/status/${ids[i]}`)),
      runsync: await runsyncLatency(api, target.id),
      storeMb: (await storeSize(cp)).mb,
    };

    const drainers = await startChild("noop-workers.ts", { BENCH_WORKER_ENV: JSON.stringify(env), BENCH_WORKERS: String(DRAINERS), BENCH_BATCH: String(DRAIN_BATCH) });
    let drainS: number;
    try {
      drainS = await until(api, backlogged.id, "the drain", (jobs) => jobs.inQueue === 0 && jobs.inProgress === 0);
    } finally {
      drainers.child.kill();
    }
    const retentionS = await until(api, backlogged.id, "retention", (jobs) => jobs.completed + jobs.failed === 0);
    const after = await storeSize(cp);
    await cp.stop();
    await queueDirectly(cp, backlogged.id, total / 10);
    const refilled = await storeSize(cp);
    const next = await cp.restart();
    await purge(next, backlogged.id);
    return [next, { ...measured, drainS, retentionS, afterMb: after.mb, freeMb: after.freeMb, refilledMb: refilled.mb }];
  } finally {
    answering.kill();
    api.close();
  }
}

async function purge(cp: ControlPlaneProcess, endpointId: string): Promise<void> {
  const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, 1);
  const res = await api.post(`/v2/${endpointId}/purge-queue`, {});
  api.close();
  if (res.status !== 200) throw new Error(`purge-queue answered ${res.status}`);
}

async function backlog(start: ControlPlaneProcess, target: TestEndpoint, backlogged: TestEndpoint): Promise<ControlPlaneProcess> {
  let cp = start;
  const cases: BacklogCase[] = [];
  for (const total of [1_000, BACKLOG]) {
    const [next, measured] = await backlogCase(cp, target, backlogged, total);
    cp = next;
    cases.push(measured);
  }
  const [small, large] = cases as [BacklogCase, BacklogCase];
  header("A backlog on one endpoint");
  console.log(
    `jobs queued through the store, then the control plane (Docker runtime, reconciling each second) started on it; idle CPU ` +
      `over ${IDLE_S / 2} s; ${SAMPLES} takes (each answered), /health, /status of queued jobs and runsync on another endpoint\n`,
  );
  console.log("| queued | start-up | idle CPU | job-take p50 / p99 | /health p50 / p99 | /status p50 / p99 | runsync (other endpoint) p50 / p99 | store size |");
  console.log("|---|---|---|---|---|---|---|---|");
  const pair = (x: Summary) => `${fmt(x.p50)} / ${fmt(x.p99)}`;
  const cpu = (share: number) => `${(share * 100).toFixed(1)}%`;
  for (const c of cases) {
    console.log(
      `| ${c.queued.toLocaleString("en")} | ${c.startupMs} ms | ${cpu(c.idleCpuShare)} | ${pair(c.take)} | ${pair(c.health)} | ${pair(c.status)} | ` +
        `${pair(c.runsync)} | ${c.storeMb.toFixed(0)} MB |`,
    );
  }
  const ratios = (a: Summary, b: Summary) => `${ratio(a.p50, b.p50)} / ${ratio(a.p99, b.p99)}`;
  console.log(
    `| ratio | ${ratio(large.startupMs, small.startupMs)} | +${((large.idleCpuShare - small.idleCpuShare) * 100).toFixed(1)} points | ` +
      `${ratios(large.take, small.take)} | ${ratios(large.health, small.health)} | ${ratios(large.status, small.status)} | ` +
      `${ratios(large.runsync, small.runsync)} | ${ratio(large.storeMb, small.storeMb)} |`,
  );
  console.log(`\ndrained by ${DRAINERS} workers taking batches of ${DRAIN_BATCH}; jobs kept ${RETENTION_MS / 1000} s after they end\n`);
  console.log("| queued | drain | drain rate | retention passed after | store after | of it free | store after queueing a tenth again |");
  console.log("|---|---|---|---|---|---|---|");
  for (const c of cases) {
    console.log(
      `| ${c.queued.toLocaleString("en")} | ${c.drainS.toFixed(1)} s | ${Math.round(c.queued / c.drainS)} jobs/s | ${c.retentionS.toFixed(1)} s | ` +
        `${c.afterMb.toFixed(0)} MB | ${Number.isNaN(c.freeMb) ? "n/a" : `${c.freeMb.toFixed(0)} MB`} | ${c.refilledMb.toFixed(0)} MB |`,
    );
  }
  return cp;
}

async function main(): Promise<void> {
  // On PostgreSQL, a fresh database of its own on the server --database-url names.
  const database = DATABASE_URL ? await freshDatabase("scale", DATABASE_URL) : undefined;
  let cp = await ControlPlaneProcess.start({ database, env: { BERTH_RUNTIME: "docker", BERTH_SIMULATED_GPUS: "NVIDIA GeForce RTX 4090=8" } });
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
