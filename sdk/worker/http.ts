import http from "node:http";
import https from "node:https";
import axios, { type AxiosInstance } from "axios";
import { SDK_VERSION_TAG } from "./version";

export interface HttpReply {
  status: number;
  data: unknown;
}

export interface PostRetryOptions {
  /** Tries in all (default 4: the first and up to 3 retries). */
  attempts?: number;
  /** First backoff in ms, doubled after each try (default 500). */
  backoffMs?: number;
  /** Sent as X-Request-ID, as runpod-python does. */
  jobId?: string;
}

/** Statuses worth another try: the server or something in front of it may recover. */
export const retryableStatus = (status: number) => status >= 500 || status === 429 || status === 408;

export class HttpStatusError extends Error {
  override readonly name = "HttpStatusError";
  constructor(
    readonly status: number,
    readonly url: string,
    readonly body: unknown,
  ) {
    super(`HTTP ${status} from ${url}${describeBody(body)}`);
  }
}

function describeBody(body: unknown): string {
  if (body === undefined || body === null || body === "") return "";
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return `: ${text.length > 300 ? text.slice(0, 300) + "..." : text}`;
}

/**
 * The worker's one HTTP client: axios over keep-alive agents (the take loop, the stop channel and results reuse
 * connections), the worker key as a bare `Authorization` header, no throwing on HTTP statuses (callers read
 * them). Results and stream chunks go through {@link postJson}, which retries: the server treats a repeated
 * job-done as harmless.
 */
export class WorkerHttpClient {
  private readonly client: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(apiKey: string | undefined, private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void> = abortableSleep) {
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
    const headers: Record<string, string> = { "User-Agent": SDK_VERSION_TAG };
    if (apiKey) headers.Authorization = apiKey;
    this.client = axios.create({
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      headers,
      validateStatus: () => true,
      maxContentLength: Infinity,
      maxBodyLength: Infinity,
      // Bodies are parsed here, so a 204's empty body and a non-JSON error page both come back as they are.
      responseType: "text",
      transformResponse: [(data: unknown) => parseMaybeJson(data)],
      proxy: false,
    });
  }

  async get(url: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<HttpReply> {
    const reply = await this.client.get(url, { timeout: options.timeoutMs, signal: options.signal });
    return { status: reply.status, data: reply.data };
  }

  /** One POST of a JSON body; any 2xx is success. */
  async postOnce(url: string, body: unknown, options: { timeoutMs?: number; jobId?: string; signal?: AbortSignal } = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { "Content-Type": "application/json; charset=utf-8" };
    if (options.jobId) headers["X-Request-ID"] = options.jobId;
    const reply = await this.client.post(url, JSON.stringify(body), { headers, timeout: options.timeoutMs ?? 60_000, signal: options.signal });
    return { status: reply.status, data: reply.data };
  }

  /**
   * POSTs a JSON body, retrying network errors and 5xx/429/408 replies with exponential backoff. Another 4xx is
   * not retried (the same body would be refused again). Rejects with the last failure.
   */
  async postJson(url: string, body: unknown, options: PostRetryOptions = {}): Promise<HttpReply> {
    const attempts = options.attempts ?? 4;
    let delay = options.backoffMs ?? 500;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const reply = await this.postOnce(url, body, { jobId: options.jobId });
        if (reply.status >= 200 && reply.status < 300) return reply;
        lastError = new HttpStatusError(reply.status, url, reply.data);
        if (!retryableStatus(reply.status)) break;
      } catch (err) {
        lastError = err;
      }
      if (attempt < attempts) {
        await this.sleep(delay);
        delay *= 2;
      }
    }
    throw lastError;
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function parseMaybeJson(data: unknown): unknown {
  if (typeof data !== "string") return data;
  if (data.trim() === "") return undefined;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
