import { Worker } from "node:worker_threads";
import type { Logger } from "pino";

export interface HeartbeatOptions {
  /** The ping URL for a given set of jobs in progress (see WorkerUrls.ping). */
  pingUrl: (jobIds: readonly string[]) => string;
  apiKey: string;
  intervalMs: number;
  userAgent: string;
  logger: Logger;
}

/**
 * The heartbeat runs on its own thread, so a handler that keeps the main thread busy (synchronous CPU work)
 * does not silence it, which would get the worker declared lost and its job handed to another worker;
 * runpod-python pings from a separate process for the same reason. It uses Node's own fetch (keep-alive by
 * default), since the thread cannot share the main thread's axios client. Plain JavaScript, evaluated as is:
 * no loader or build step is involved. The main thread builds the URL and sends it whenever the set of jobs in
 * progress changes, so the URL rules live in one place (urls.ts).
 *
 * Every interval: `GET {ping}?job_id=<ids>&runpod_version=<v>` (job_id left out when no job runs), with a
 * timeout of twice the interval, as runpod-python.
 */
const THREAD_SOURCE = `
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const { apiKey, intervalMs, userAgent } = workerData;
let current = workerData.url;
let timer;
let stopped = false;

async function ping() {
  if (stopped) return;
  const url = current;
  const started = Date.now();
  try {
    const response = await fetch(url, {
      headers: { Authorization: apiKey, "User-Agent": userAgent },
      signal: AbortSignal.timeout(intervalMs * 2),
    });
    await response.arrayBuffer();
    parentPort.postMessage({ type: "ping", url, status: response.status, ms: Date.now() - started });
  } catch (err) {
    const why = err && err.cause && err.cause.message ? err.cause.message : err && err.message ? err.message : String(err);
    parentPort.postMessage({ type: "ping", url, error: why });
  }
  if (!stopped) timer = setTimeout(ping, intervalMs);
}

parentPort.on("message", (message) => {
  if (message.type === "url") current = message.url;
  if (message.type === "stop") {
    stopped = true;
    clearTimeout(timer);
    parentPort.close();
  }
});
ping();
`;

type ThreadMessage = { type: "ping"; url: string; status?: number; error?: string; ms?: number };

export class Heartbeat {
  private thread?: Worker;
  private failures = 0;

  constructor(private readonly options: HeartbeatOptions) {}

  start(jobIds: readonly string[]): void {
    const { pingUrl, apiKey, intervalMs, userAgent, logger } = this.options;
    const thread = new Worker(THREAD_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { url: pingUrl(jobIds), apiKey, intervalMs, userAgent },
      stdout: false,
      stderr: false,
    });
    thread.unref();
    thread.on("message", (message: ThreadMessage) => this.onPing(message));
    thread.on("error", (err) => logger.error({ error: err.message }, "heartbeat thread failed"));
    this.thread = thread;
    logger.debug({ intervalMs }, "heartbeat started");
  }

  /** Tells the thread which jobs are in progress, for the next ping's job_id. */
  setJobs(jobIds: readonly string[]): void {
    this.thread?.postMessage({ type: "url", url: this.options.pingUrl(jobIds) });
  }

  async stop(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    this.thread = undefined;
    thread.postMessage({ type: "stop" });
    await thread.terminate();
    this.options.logger.debug("heartbeat stopped");
  }

  private onPing(message: ThreadMessage): void {
    const { logger } = this.options;
    const ok = message.status !== undefined && message.status >= 200 && message.status < 300;
    if (ok) {
      if (this.failures > 0) logger.info({ after: this.failures }, "heartbeat reaches the control plane again");
      this.failures = 0;
      logger.trace({ url: message.url, ms: message.ms }, "ping");
      return;
    }
    this.failures++;
    // The first failure, then every tenth, so an unreachable control plane does not flood the log.
    if (this.failures === 1 || this.failures % 10 === 0) {
      logger.warn({ status: message.status, error: message.error, failures: this.failures }, "heartbeat ping failed");
    }
  }
}
