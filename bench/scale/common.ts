/** What the dimensions of bench/scale.ts share: flags, the control plane's idle CPU, runsync latency, tables. */
import type { ChildProcess } from "node:child_process";
import os from "node:os";
import type { ControlPlaneProcess } from "../../test/helpers/control-plane";
import type { TestEndpoint } from "../../test/helpers/endpoint";
import { flag } from "../args";
import { cpuMs, startChild } from "../children";
import type { JsonClient } from "../http-client";
import { summarize, type Summary } from "../stats";

export const SAMPLES = Number(flag("samples") ?? 500);
export const DATABASE_URL = flag("database-url");
/** Seconds over which idle CPU is measured: two of runpod-python's ping intervals. */
export const IDLE_S = 20;
export const WARMUP = 50;

/** The control plane's CPU over `seconds` of doing nothing but serving the connected workers. */
export async function idleCpu(cp: ControlPlaneProcess, seconds: number): Promise<number> {
  const before = cpuMs(cp.child.pid!);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return (cpuMs(cp.child.pid!) - before) / (seconds * 1000);
}

export async function runsyncLatency(api: JsonClient, endpointId: string): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const t = performance.now();
    const res = await api.post(`/v2/${endpointId}/runsync`, { input: { n: i } });
    if (res.body?.status !== "COMPLETED") throw new Error(`runsync answered ${res.status} ${JSON.stringify(res.body)}`);
    if (i >= WARMUP) samples.push(performance.now() - t);
  }
  return summarize(samples);
}

export const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "n/a");

export function header(title: string): void {
  const cpus = os.cpus();
  console.log(`\n# ${title}, ${new Date().toISOString().slice(0, 10)}, ${cpus.length} x ${cpus[0]?.model}, Node ${process.version}, store ${DATABASE_URL ? "PostgreSQL" : "SQLite"}`);
}

/** Starts a worker answering every job of `endpoint` at once. */
export async function responder(endpoint: TestEndpoint): Promise<ChildProcess> {
  return (await startChild("noop-workers.ts", { BENCH_WORKER_ENV: JSON.stringify(endpoint.workerEnv), BENCH_WORKERS: "1" })).child;
}


export async function timed(samples: number, call: (i: number) => Promise<unknown>): Promise<Summary> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await call(i);
    times.push(performance.now() - t);
  }
  return summarize(times);
}
