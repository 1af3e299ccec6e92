/**
 * Dispatch benchmark: what Berth adds to a request, and how many jobs per second it moves.
 *
 * 1. Overhead: sequential /runsync round trips with a no-op worker, against the same JSON POST to a bare
 *    HTTP echo server in the same run (interleaved, so drift hits both alike). p50 and p99, and the difference.
 * 2. Throughput: jobs submitted to /run by 64 concurrent clients, completed by 8 no-op workers, store durable
 *    (WAL, synchronous=FULL); jobs/s from the first submission until /health counts them all completed. Run
 *    twice: workers taking one job per call (job-take), then batches (job-take-batch, as runpod-python does
 *    for a handler with a concurrency modifier).
 *
 * Clients and workers use a bare keep-alive node:http client (http-client.ts) for both Berth and the baseline.
 *
 * Run: node --import tsx bench/dispatch.ts [--samples N] [--jobs N]
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { createEndpoint } from "../test/helpers/endpoint";
import { JsonClient } from "./http-client";
import { fmt, summarize } from "./stats";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SAMPLES = arg("samples", 2000);
const WARMUP = 200;
const JOBS = arg("jobs", 20000);
const CLIENTS = 64;
const WORKERS = 8;
const BATCH = 8;

function startChild(script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, script)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve) => readline.createInterface({ input: child.stdout! }).once("line", (firstLine) => resolve({ child, firstLine })));
}

function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

interface Throughput {
  submittedMs: number;
  elapsedMs: number;
  serverCpuShare: number;
}

/** Submits JOBS jobs from CLIENTS concurrent clients to a fresh endpoint served by WORKERS no-op workers. */
async function throughput(cp: ControlPlaneProcess, api: JsonClient, batch: number, children: ChildProcess[]): Promise<Throughput> {
  const endpoint = await createEndpoint(cp);
  const workers = await startChild("noop-workers.ts", {
    BENCH_WORKER_ENV: JSON.stringify(endpoint.workerEnv),
    BENCH_WORKERS: String(WORKERS),
    BENCH_BATCH: String(batch),
  });
  children.push(workers.child);
  try {
    const serverCpuBefore = cpuMs(cp.child.pid!);
    const started = performance.now();
    let submitted = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (submitted < JOBS) {
          submitted++;
          const res = await api.post(`/v2/${endpoint.id}/run`, { input: { n: submitted } });
          if (res.status !== 200) throw new Error(`/run answered ${res.status} ${JSON.stringify(res.body)}`);
        }
      }),
    );
    const submittedMs = performance.now() - started;
    for (;;) {
      const { body } = await api.get(`/v2/${endpoint.id}/health`);
      if (body.jobs.completed >= JOBS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const elapsedMs = performance.now() - started;
    return { submittedMs, elapsedMs, serverCpuShare: (cpuMs(cp.child.pid!) - serverCpuBefore) / elapsedMs };
  } finally {
    workers.child.kill();
  }
}

async function main(): Promise<void> {
  const cp = await ControlPlaneProcess.start();
  const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, CLIENTS);
  const children: ChildProcess[] = [];
  try {
    // ---- 1. overhead ----
    const latencyEndpoint = await createEndpoint(cp);
    const echo = await startChild("echo-server.ts");
    children.push(echo.child);
    const bareApi = new JsonClient(`http://127.0.0.1:${echo.firstLine}/`, {}, 1);
    const oneWorker = await startChild("noop-workers.ts", { BENCH_WORKER_ENV: JSON.stringify(latencyEndpoint.workerEnv), BENCH_WORKERS: "1" });
    children.push(oneWorker.child);

    const berth: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const body = { input: { n: i } };
      let t = performance.now();
      const res = await api.post(`/v2/${latencyEndpoint.id}/runsync`, body);
      const berthMs = performance.now() - t;
      if (res.body?.status !== "COMPLETED") throw new Error(`runsync answered ${res.status} ${JSON.stringify(res.body)}`);
      t = performance.now();
      await bareApi.post("/", body);
      const bareMs = performance.now() - t;
      if (i >= WARMUP) (berth.push(berthMs), bare.push(bareMs));
    }
    const b = summarize(berth);
    const e = summarize(bare);
    oneWorker.child.kill();
    bareApi.close();

    // ---- 2. throughput ----
    const single = await throughput(cp, api, 1, children);
    const batched = await throughput(cp, api, BATCH, children);

    const cpu = os.cpus();
    console.log(`# Berth dispatch benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
    console.log(`\n## Overhead: sequential /runsync with a no-op worker vs a bare HTTP echo (${SAMPLES} samples each)`);
    console.log(`| | p50 | p99 | mean |\n|---|---|---|---|`);
    console.log(`| Berth /runsync | ${fmt(b.p50)} | ${fmt(b.p99)} | ${fmt(b.mean)} |`);
    console.log(`| bare HTTP echo | ${fmt(e.p50)} | ${fmt(e.p99)} | ${fmt(e.mean)} |`);
    console.log(`| added by Berth | ${fmt(b.p50 - e.p50)} | ${fmt(b.p99 - e.p99)} | ${fmt(b.mean - e.mean)} |`);
    console.log(`| ratio Berth / bare | ${(b.p50 / e.p50).toFixed(1)}x | ${(b.p99 / e.p99).toFixed(1)}x | ${(b.mean / e.mean).toFixed(1)}x |`);
    console.log(`\n## Throughput: ${JOBS} jobs, ${CLIENTS} concurrent /run clients, ${WORKERS} no-op workers, durable store`);
    console.log(`| workers take | submissions/s | all COMPLETED after | jobs/s | control plane CPU | ratio to one-per-take |\n|---|---|---|---|---|---|`);
    for (const [label, t] of [["one job per call", single], [`batches of ${BATCH}`, batched]] as const) {
      console.log(
        `| ${label} | ${Math.round(JOBS / (t.submittedMs / 1000))} | ${(t.elapsedMs / 1000).toFixed(2)} s | **${Math.round(JOBS / (t.elapsedMs / 1000))}** | ` +
          `${(t.serverCpuShare * 100).toFixed(0)}% of one core | ${(single.elapsedMs / t.elapsedMs).toFixed(2)}x |`,
      );
    }
  } finally {
    for (const child of children) child.kill();
    api.close();
    await cp.stop();
    cp.removeData();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
