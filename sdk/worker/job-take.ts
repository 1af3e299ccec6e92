import type { Logger } from "pino";
import { type WorkerHttpClient } from "./http";
import { describeError } from "./logger";
import { LONG_POLL_TIMEOUT_MS } from "./stop-channel";
import type { WorkerUrls } from "./urls";

/** A job as job-take hands it out: `id`, `input` and whatever else the platform passes through. */
export interface RawJob {
  id: string;
  input: unknown;
  [extra: string]: unknown;
}

/** After a 400 from job-take, ask again after this long. */
export const BAD_REQUEST_RETRY_MS = 1_000;
/** The most jobs asked for in one take (Berth's job-take-batch limit). */
export const MAX_BATCH_SIZE = 100;

export type TakeResult =
  | { kind: "jobs"; jobs: RawJob[] }
  /**
   * No job: 204 (ask again at once, the server long-polls), or 400, which runpod-python ignores; a 400 comes
   * back at once, so `retryInMs` keeps a refusing server from being asked in a busy loop.
   */
  | { kind: "none"; retryInMs?: number }
  /** 429, another failure status, or a network error: wait before asking again. */
  | { kind: "failed"; tooManyRequests: boolean; status?: number; error?: string };

/**
 * One job-take request, read as runpod-python reads it: 204 and 400 mean no job, 429 means back off, a JSON
 * object with `id` and `input` is one job, a JSON list is a batch. Jobs missing `id` or `input` are logged and
 * dropped (the platform keeps them until the worker is declared lost).
 */
export async function takeJobs(
  http: WorkerHttpClient,
  urls: WorkerUrls,
  count: number,
  jobInProgress: boolean,
  signal: AbortSignal,
  logger: Logger,
): Promise<TakeResult> {
  let reply;
  try {
    reply = await http.get(urls.jobTake(Math.min(count, MAX_BATCH_SIZE), jobInProgress), { timeoutMs: LONG_POLL_TIMEOUT_MS, signal });
  } catch (err) {
    return { kind: "failed", tooManyRequests: false, ...describeError(err) };
  }
  if (reply.status === 204) return { kind: "none" };
  if (reply.status === 400) {
    logger.debug({ body: bodyText(reply.data) }, "job-take answered 400: no job");
    return { kind: "none", retryInMs: BAD_REQUEST_RETRY_MS };
  }
  if (reply.status === 429) return { kind: "failed", tooManyRequests: true, status: 429 };
  if (reply.status < 200 || reply.status >= 300) {
    return { kind: "failed", tooManyRequests: false, status: reply.status, error: bodyText(reply.data) };
  }
  const jobs = validJobs(reply.data, logger);
  return jobs.length > 0 ? { kind: "jobs", jobs } : { kind: "none" };
}

export function validJobs(body: unknown, logger: Logger): RawJob[] {
  if (body === undefined || body === null || body === "") return [];
  const list = Array.isArray(body) ? body : [body];
  const jobs: RawJob[] = [];
  for (const item of list) {
    if (typeof item === "object" && item !== null && typeof (item as RawJob).id === "string" && "input" in item) {
      jobs.push(item as RawJob);
    } else {
      const id = typeof item === "object" && item !== null ? (item as { id?: unknown }).id : undefined;
      logger.error({ jobId: typeof id === "string" ? id : undefined }, "job-take answered a job without id or input: dropped");
    }
  }
  return jobs;
}

function bodyText(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return text.length > 300 ? text.slice(0, 300) + "..." : text;
}
