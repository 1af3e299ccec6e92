import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/**
 * A scripted stand-in for the worker API, recording every request exactly as the SDK sent it: for checking the
 * wire format (URLs, query, headers, bodies) byte by byte. The behaviour tests use the real control plane.
 */
export class StubPlatform {
  readonly requests: RecordedRequest[] = [];
  private server!: http.Server;
  /** Jobs waiting for a take, per worker id: each test's worker only ever gets its own jobs. */
  private jobs = new Map<string, unknown[]>();
  private stops = new Map<string, string[]>();
  private takeWaiters: Array<() => void> = [];
  private stopWaiters: Array<() => void> = [];
  private watchers: Array<() => void> = [];
  /** Status codes to answer the next job-done/job-stream POSTs with, before answering 200. */
  failPosts: number[] = [];
  /** Status code for job-take replies instead of handing out work (e.g. 429), while set. */
  takeStatus?: number;
  url = "";

  static async start(): Promise<StubPlatform> {
    const stub = new StubPlatform();
    stub.server = http.createServer((req, res) => stub.handle(req, res));
    await new Promise<void>((resolve) => stub.server.listen(0, "127.0.0.1", resolve));
    stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
    return stub;
  }

  /** The RUNPOD_* environment runpod-python would get, pointing at this stub. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const base = `${this.url}/v2/ep1`;
    return {
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID`,
      RUNPOD_AI_API_KEY: "bw_secret-worker-key",
      RUNPOD_POD_ID: "worker-1",
      RUNPOD_ENDPOINT_ID: "ep1",
      RUNPOD_PING_INTERVAL: "200",
      RUNPOD_DEBUG_LEVEL: "silent",
      ...extra,
    };
  }

  /** Queues a job for the worker with this id. */
  addJob(workerId: string, job: unknown): void {
    this.addJobs(workerId, [job]);
  }

  private addJobs(workerId: string, jobs: unknown[]): void {
    this.jobs.set(workerId, [...(this.jobs.get(workerId) ?? []), ...jobs]);
    for (const wake of this.takeWaiters.splice(0)) wake();
  }

  /** Tells the worker, through its job-stop channel, to stop a job. */
  stopJob(workerId: string, jobId: string): void {
    this.stops.set(workerId, [...(this.stops.get(workerId) ?? []), jobId]);
    for (const wake of this.stopWaiters.splice(0)) wake();
  }

  /** Waits until a recorded request matches, up to `timeoutMs`. */
  async waitFor(predicate: (r: RecordedRequest) => boolean, timeoutMs = 5_000, what = "request"): Promise<RecordedRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.requests.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no ${what} within ${timeoutMs} ms; got:\n${this.requests.map((r) => `${r.method} ${r.url} ${r.body}`).join("\n")}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.watchers.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  posts(kind: "job-done" | "job-stream"): RecordedRequest[] {
    return this.requests.filter((r) => r.method === "POST" && r.path.includes(`/${kind}/`));
  }

  async close(): Promise<void> {
    for (const wake of [...this.takeWaiters.splice(0), ...this.stopWaiters.splice(0)]) wake();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const parsed = new URL(req.url ?? "/", this.url);
      const record: RecordedRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        path: parsed.pathname,
        query: parsed.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        at: Date.now(),
      };
      this.requests.push(record);
      for (const wake of this.watchers.splice(0)) wake();
      void this.answer(record, req, res);
    });
  }

  private async answer(record: RecordedRequest, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (status: number, body?: unknown): void => {
      if (res.destroyed) return;
      if (body === undefined) res.writeHead(status).end();
      else res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    };
    const gone = () => res.destroyed || req.socket.destroyed;
    const workerId = decodeURIComponent(record.path.split("/").at(-1) ?? "");
    if (record.path.includes("/job-take")) {
      if (this.takeStatus !== undefined) return json(this.takeStatus);
      const batch = record.path.includes("/job-take-batch/");
      const size = batch ? Number(record.query.get("batch_size") ?? "1") : 1;
      const deadline = Date.now() + 1_000;
      const queue = () => this.jobs.get(workerId) ?? [];
      while (queue().length === 0 && Date.now() < deadline && !gone()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          this.takeWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      // Let a client that went away (a worker stopped mid-poll) be noticed before handing it jobs.
      await new Promise((resolve) => setImmediate(resolve));
      if (gone() || queue().length === 0) return json(204);
      const taken = queue().splice(0, size);
      res.once("close", () => {
        if (!res.writableFinished) this.addJobs(workerId, taken);
      });
      return json(200, batch ? taken : taken[0]);
    }
    if (record.path.includes("/job-stop/")) {
      const deadline = Date.now() + 1_000;
      const stops = () => this.stops.get(workerId) ?? [];
      while (stops().length === 0 && Date.now() < deadline && !gone()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          this.stopWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (gone() || stops().length === 0) return json(204);
      return json(200, { jobsToStop: stops().splice(0) });
    }
    if (record.method === "POST") {
      const status = this.failPosts.shift();
      return status !== undefined ? json(status, { error: "scripted failure" }) : json(200, {});
    }
    return json(200, {});
  }
}
