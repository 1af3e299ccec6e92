/**
 * The OpenAI-compatible route's time to first streamed token: the real `openai` npm client streaming a chat
 * completion through Berth (/v2/{endpointId}/openai/v1) from the worker-vllm-like runpod-python test worker
 * (test/fixtures/python-workers/openai_worker.py, a local process), against the baseline measured in the same run:
 * the worker's own time to its first token, from its handler's start to the chunk it yields (the test model pauses
 * --token-delay-ms before each token, standing in for prefill).
 *
 * Each streamed chunk carries the worker's times (same host clock), so the added latency splits into dispatch (the
 * request sent to the handler starting: submit, the long-polled job-take, runpod-python, which looks at its own job
 * queue every 100 ms when idle, rp_scale.py run_jobs) and delivery (the chunk yielded to the client reading it:
 * runpod-python's job-stream POST, the store, the SSE write); the job's delayTime is Berth's part of dispatch. One
 * request at a time.
 *
 * Run after the test bed is up: eval "$(bash testbed/up.sh)"; node --import tsx bench/openai.ts [--samples N]
 * [--token-delay-ms MS]
 */
import os from "node:os";
import OpenAI from "openai";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { apiClient, createEndpoint } from "../test/helpers/endpoint";
import { WorkerProcess } from "../test/helpers/worker-process";
import { flag } from "./args";
import { fmt, summarize, type Summary } from "./stats";

const SAMPLES = Number(flag("samples") ?? 200);
const TOKEN_DELAY_MS = Number(flag("token-delay-ms") ?? 20);
const WARM_UP = 10;
const MODEL = "bench-echo";

interface Sample {
  ttft: number;
  workerTtft: number;
  dispatch: number;
  delivery: number;
  /** The job's delayTime (/status): submitted to taken by the worker's job-take, Berth's share of dispatch. */
  queue: number;
}

async function firstToken(client: OpenAI, status: (jobId: string) => Promise<{ delayTime: number }>): Promise<Sample> {
  const sentAt = Date.now();
  const params = { model: MODEL, messages: [{ role: "user" as const, content: "one two three four" }], stream: true as const };
  const { data: stream, response } = await client.chat.completions
    .create({ ...params, berth_test_token_delay_ms: TOKEN_DELAY_MS } as typeof params)
    .withResponse();
  let sample: Sample | undefined;
  for await (const chunk of stream) {
    if (sample || !chunk.choices[0]?.delta.content) continue;
    const receivedAt = Date.now();
    const { started_ms: startedMs, emitted_ms: emittedMs } = (chunk as unknown as { berth_test: { started_ms: number; emitted_ms: number } }).berth_test;
    sample = { ttft: receivedAt - sentAt, workerTtft: emittedMs - startedMs, dispatch: startedMs - sentAt, delivery: receivedAt - emittedMs, queue: 0 };
  }
  if (!sample) throw new Error("the stream ended without a token");
  return { ...sample, queue: (await status(response.headers.get("x-berth-job-id")!)).delayTime };
}

async function main(): Promise<void> {
  const cp = await ControlPlaneProcess.start({ env: { BERTH_LONG_POLL_MS: "30000" } });
  const worker = await (async () => {
    const ep = await createEndpoint(cp);
    const made = await apiClient(cp).post("/admin/keys", { name: "bench", scope: "run", endpointIds: [ep.id] });
    return { ep, key: made.data.key as string, process: WorkerProcess.python("openai_worker.py", { ...ep.workerEnv, MODEL_NAME: MODEL }, "bench-openai-1") };
  })();
  try {
    const client = new OpenAI({ baseURL: `${cp.url}/v2/${worker.ep.id}/openai/v1`, apiKey: worker.key, maxRetries: 0, timeout: 60_000 });
    // The first request also waits for the worker to start and take it.
    const api = apiClient(cp);
    const status = async (jobId: string) => (await api.get(`/v2/${worker.ep.id}/status/${jobId}`)).data as { delayTime: number };
    for (let n = 0; n < WARM_UP; n++) await firstToken(client, status);
    const samples: Sample[] = [];
    for (let n = 0; n < SAMPLES; n++) samples.push(await firstToken(client, status));
    const of = (key: keyof Sample) => summarize(samples.map((s) => s[key]));
    const ttft = of("ttft");
    const baseline = of("workerTtft");
    const added = summarize(samples.map((s) => s.ttft - s.workerTtft));

    const cpu = os.cpus();
    console.log(`# Berth OpenAI-route benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
    console.log(
      `\n${SAMPLES} streamed chat completions one at a time (after ${WARM_UP} to warm up), npm openai client, SQLite store, ` +
        `runpod-python worker as a local process, ${TOKEN_DELAY_MS} ms before each token`,
    );
    console.log(`| | p50 | p99 | mean |\n|---|---|---|---|`);
    const row = (label: string, s: Summary) => console.log(`| ${label} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} |`);
    row("worker's own first token: handler start to yield (baseline)", baseline);
    row("first token through Berth: request sent to token read", ttft);
    row("added by Berth and runpod-python", added);
    row("  of which dispatch: request sent to handler start", of("dispatch"));
    row("    of which in Berth's queue: submitted to taken by job-take (delayTime)", of("queue"));
    row("  of which delivery: token yielded to token read", of("delivery"));
    console.log(`\nratio, first token through Berth to the worker's own: p50 ${(ttft.p50 / baseline.p50).toFixed(2)}x, p99 ${(ttft.p99 / baseline.p99).toFixed(2)}x`);
  } finally {
    await worker.process.kill();
    await cp.stop();
    cp.removeData();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
