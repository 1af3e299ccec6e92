/**
 * Idle workers in one process, connected as runpod-python keeps them: each long-polls job-take (saying
 * job_in_progress=0) again as soon as one answers, and pings every BENCH_PING_MS (runpod-python's default:
 * 10 s). Speaks the worker protocol directly over keep-alive HTTP, so the benchmark measures the control plane.
 * BENCH_WORKER_ENVS is a JSON list of endpoints' worker environments; BENCH_WORKERS_PER_ENDPOINT workers call
 * each. A job they are handed is answered at once. Prints "ready" once every worker has sent its first call.
 */
import { JsonClient } from "./http-client";

const envs = JSON.parse(process.env.BENCH_WORKER_ENVS!) as Array<Record<string, string>>;
const perEndpoint = Number(process.env.BENCH_WORKERS_PER_ENDPOINT ?? 1);
const pingMs = Number(process.env.BENCH_PING_MS ?? 10_000);
const client = new JsonClient(envs[0]!.RUNPOD_WEBHOOK_GET_JOB!, { Authorization: envs[0]!.RUNPOD_AI_API_KEY! }, envs.length * perEndpoint * 2);

async function work(env: Record<string, string>, workerId: string): Promise<never> {
  const headers = { Authorization: env.RUNPOD_AI_API_KEY! };
  const take = `${env.RUNPOD_WEBHOOK_GET_JOB!.replace("$ID", workerId)}&job_in_progress=0`;
  const done = env.RUNPOD_WEBHOOK_POST_OUTPUT!.replace("$RUNPOD_POD_ID", workerId);
  const ping = env.RUNPOD_WEBHOOK_PING!.replace("$RUNPOD_POD_ID", workerId);
  // Pings start spread over the interval, as workers started at different times would send them.
  setTimeout(() => setInterval(() => void client.get(ping, headers).catch(() => undefined), pingMs), Math.random() * pingMs);
  for (;;) {
    const res = await client.get(take, headers).catch(() => ({ status: 0, body: undefined }));
    if (res.status === 200) await client.post(`${done.replace("$ID", res.body.id)}&isStream=false`, { output: res.body.input }, headers);
  }
}

let n = 0;
for (const env of envs) for (let i = 0; i < perEndpoint; i++) void work(env, `idle-${process.pid}-${n++}`);
process.stdout.write("ready\n");
