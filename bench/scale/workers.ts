/**
 * Connected workers: WORKERS idle workers (raw worker protocol, long-polling and pinging as runpod-python does,
 * spread over PROCESSES processes) across ENDPOINTS endpoints, against none: the control plane's idle CPU, its
 * resident memory, and runsync p50/p99 on one more endpoint whose one worker answers at once.
 */
import type { ChildProcess } from "node:child_process";
import type { ControlPlaneProcess } from "../../test/helpers/control-plane";
import { createEndpoint, type TestEndpoint } from "../../test/helpers/endpoint";
import { flag } from "../args";
import { rssMb, startChild } from "../children";
import type { JsonClient } from "../http-client";
import { fmt, type Summary } from "../stats";
import { header, IDLE_S, idleCpu, ratio, responder, runsyncLatency, SAMPLES } from "./common";

const WORKERS = Number(flag("workers") ?? 2000);
const ENDPOINTS = Number(flag("endpoints") ?? 100);
const PROCESSES = 4;
const PING_MS = 10_000;

interface Case {
  label: string;
  workers: number;
  idleCpuShare: number;
  rssMb: number;
  runsync: Summary;
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

export async function connectedWorkers(cp: ControlPlaneProcess, api: JsonClient, target: TestEndpoint, children: ChildProcess[]): Promise<void> {
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

