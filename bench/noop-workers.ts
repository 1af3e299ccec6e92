/**
 * N no-op workers in one process, speaking the worker protocol directly over keep-alive HTTP (no SDK), so the
 * benchmark measures the control plane and not a worker library. Reads the worker env from BENCH_WORKER_ENV
 * (JSON), the worker count from BENCH_WORKERS and the batch size from BENCH_BATCH: with a batch above 1 each
 * worker calls job-take-batch, as runpod-python does for a handler with a concurrency modifier, and answers
 * the jobs of a batch concurrently. Each job is answered with its input.
 */
import { JsonClient } from "./http-client";

const env = JSON.parse(process.env.BENCH_WORKER_ENV!) as Record<string, string>;
const count = Number(process.env.BENCH_WORKERS ?? 1);
const batch = Number(process.env.BENCH_BATCH ?? 1);
const client = new JsonClient(env.RUNPOD_WEBHOOK_GET_JOB!, { Authorization: env.RUNPOD_AI_API_KEY! }, count * (batch + 1));

type Job = { id: string; input: unknown };

async function work(workerId: string): Promise<never> {
  const takeOne = `${env.RUNPOD_WEBHOOK_GET_JOB!.replace("$ID", workerId)}&job_in_progress=0`;
  const takeBatch = `${takeOne.replace("/job-take/", "/job-take-batch/")}&batch_size=${batch}`;
  const done = env.RUNPOD_WEBHOOK_POST_OUTPUT!.replace("$RUNPOD_POD_ID", workerId);
  for (;;) {
    const res = await client.get(batch > 1 ? takeBatch : takeOne);
    if (res.status !== 200) continue;
    const jobs: Job[] = batch > 1 ? res.body : [res.body];
    await Promise.all(jobs.map((job) => client.post(`${done.replace("$ID", job.id)}&isStream=false`, { output: job.input })));
  }
}

for (let i = 0; i < count; i++) void work(`bench-worker-${process.pid}-${i}`);
process.stdout.write("ready\n");
