/**
 * A backlog: BACKLOG jobs queued on one endpoint against 1,000 (straight through the store while the control plane
 * is stopped, then the control plane started on it): start-up time, idle CPU, job-take, /health and /status
 * latency on that endpoint, runsync on another, the store's size; then the backlog drained, retention passed, and
 * the store's size again (and once a tenth of the backlog is queued again: is the space reused?).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import pino from "pino";
import type { JobCounts } from "../../server/jobs/stores";
import { openStore } from "../../server/store/open-store";
import { secretsKeyFileOf, type ControlPlaneProcess } from "../../test/helpers/control-plane";
import type { TestEndpoint } from "../../test/helpers/endpoint";
import { flag } from "../args";
import { startChild } from "../children";
import { JsonClient } from "../http-client";
import { fmt, summarize, type Summary } from "../stats";
import { header, IDLE_S, idleCpu, ratio, responder, runsyncLatency, SAMPLES, timed, WARMUP } from "./common";

const BACKLOG = Number(flag("backlog") ?? 1_000_000);
/** How long the backlog's jobs are kept once they end, so the benchmark sees retention pass. */
const RETENTION_MS = 5_000;
const DRAINERS = 8;
const DRAIN_BATCH = 16;
/** Jobs per insert when queueing a backlog: PostgreSQL takes at most 65,535 parameters a statement. */
const INSERT_BATCH = 5_000;

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
  const secretsKeyFile = cp.database ? secretsKeyFileOf(cp.database) : undefined;
  const store = await openStore({ dataDir: cp.dataDir, databaseUrl: cp.database?.url, secretsKeyFile }, pino({ level: "silent" }));
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
    answering.kill();
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

export async function backlog(start: ControlPlaneProcess, target: TestEndpoint, backlogged: TestEndpoint): Promise<ControlPlaneProcess> {
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

