/**
 * Fleet-scale benchmark (issue 16): what the control plane costs as the fleet grows, each large case beside the
 * small one measured in the same run, with ratios. This first dimension is connected workers: WORKERS idle
 * workers (raw worker protocol, long-polling and pinging as runpod-python does, spread over PROCESSES processes)
 * across ENDPOINTS endpoints, against none. For each: the control plane's CPU while idle (a share of one core,
 * over IDLE_S seconds, two ping intervals), its resident memory, and runsync p50/p99 on one more endpoint whose
 * one worker answers at once, while the others idle.
 *
 * Run: node --import tsx bench/scale.ts [--workers 2000] [--endpoints 100] [--samples 500] [--database-url URL]
 * (with --database-url, a PostgreSQL server the benchmark may create a database on).
 */
import type { ChildProcess } from "node:child_process";
import os from "node:os";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { createEndpoint, type TestEndpoint } from "../test/helpers/endpoint";
import { freshDatabase } from "../test/helpers/postgres";
import { cpuMs, rssMb, startChild } from "./children";
import { JsonClient } from "./http-client";
import { fmt, summarize, type Summary } from "./stats";

const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const WORKERS = Number(flag("workers") ?? 2000);
const ENDPOINTS = Number(flag("endpoints") ?? 100);
const SAMPLES = Number(flag("samples") ?? 500);
const DATABASE_URL = flag("database-url");
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

async function main(): Promise<void> {
  // On PostgreSQL, a fresh database of its own on the server --database-url names.
  const database = DATABASE_URL ? await freshDatabase("scale", DATABASE_URL) : undefined;
  const cp = await ControlPlaneProcess.start({ database });
  const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, 4);
  const children: ChildProcess[] = [];
  try {
    const target = await createEndpoint(cp, { workersMax: 0 });
    const responder = await startChild("noop-workers.ts", { BENCH_WORKER_ENV: JSON.stringify(target.workerEnv), BENCH_WORKERS: "1" });
    children.push(responder.child);

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
    for (const group of groups) {
      const started = await startChild("idle-workers.ts", {
        BENCH_WORKER_ENVS: JSON.stringify(group.map((ep) => ep.workerEnv)),
        BENCH_WORKERS_PER_ENDPOINT: String(perEndpoint),
        BENCH_PING_MS: String(PING_MS),
      });
      children.push(started.child);
    }
    await connected(api, endpoints, perEndpoint * ENDPOINTS);
    await measure(`${perEndpoint * ENDPOINTS} idle workers on ${ENDPOINTS} endpoints`, perEndpoint * ENDPOINTS);

    const [small, large] = cases as [Case, Case];
    const cpus = os.cpus();
    console.log(`\n# Connected workers, ${new Date().toISOString().slice(0, 10)}, ${cpus.length} x ${cpus[0]?.model}, Node ${process.version}, store ${DATABASE_URL ? "PostgreSQL" : "SQLite"}`);
    console.log(`idle CPU over ${IDLE_S} s (workers ping every ${PING_MS / 1000} s and long-poll job-take); runsync: ${SAMPLES} samples, one worker answering at once\n`);
    console.log("| case | idle CPU (share of a core) | RSS | runsync p50 | runsync p99 |");
    console.log("|---|---|---|---|---|");
    for (const c of cases) {
      console.log(`| ${c.label} | ${(c.idleCpuShare * 100).toFixed(1)}% | ${c.rssMb.toFixed(0)} MB | ${fmt(c.runsync.p50)} | ${fmt(c.runsync.p99)} |`);
    }
    const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");
    console.log(
      `| ratio | +${((large.idleCpuShare - small.idleCpuShare) * 100).toFixed(1)} points | ${ratio(large.rssMb, small.rssMb)} | ` +
        `${ratio(large.runsync.p50, small.runsync.p50)} | ${ratio(large.runsync.p99, small.runsync.p99)} |`,
    );
  } finally {
    for (const child of children) child.kill();
    api.close();
    await cp.stop();
    await cp.removeData();
    await database?.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
