/**
 * N no-op workers in one process, speaking the worker protocol directly over keep-alive HTTP (no SDK), so the
 * benchmark measures the control plane and not a worker library. Reads the worker env from BENCH_WORKER_ENV
 * (JSON) and the worker count from BENCH_WORKERS; each answers every job with its input.
 */
import http from "node:http";
import axios from "axios";

const env = JSON.parse(process.env.BENCH_WORKER_ENV!) as Record<string, string>;
const count = Number(process.env.BENCH_WORKERS ?? 1);
const agent = new http.Agent({ keepAlive: true, maxSockets: count * 2 });
const client = axios.create({ httpAgent: agent, headers: { Authorization: env.RUNPOD_AI_API_KEY! }, validateStatus: () => true });

async function work(workerId: string): Promise<never> {
  const take = `${env.RUNPOD_WEBHOOK_GET_JOB!.replace("$ID", workerId)}&job_in_progress=0`;
  const done = env.RUNPOD_WEBHOOK_POST_OUTPUT!.replace("$RUNPOD_POD_ID", workerId);
  for (;;) {
    const res = await client.get(take);
    if (res.status !== 200) continue;
    await client.post(`${done.replace("$ID", res.data.id)}&isStream=false`, { output: res.data.input });
  }
}

for (let i = 0; i < count; i++) void work(`bench-worker-${process.pid}-${i}`);
process.stdout.write("ready\n");
