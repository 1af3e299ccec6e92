import { z } from "zod";

/** RunPod's job states. A job ends in exactly one of the terminal ones. */
export const jobStatusSchema = z.enum(["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
export type JobStatus = z.output<typeof jobStatusSchema>;
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
export const isTerminal = (status: JobStatus) => TERMINAL_STATUSES.has(status);

/**
 * How one run of a job on a worker ended: the worker's result (completed, failed), the queue's doing (timed_out,
 * cancelled), or the job given back to the queue because its worker went away (requeued). A job given up on after
 * its last attempt's worker went away ends `failed`, its reason saying so.
 */
export const attemptOutcomeSchema = z.enum(["completed", "failed", "timed_out", "cancelled", "requeued"]);
export type AttemptOutcome = z.output<typeof attemptOutcomeSchema>;

/** The outcome of the run that ended its job with this status. */
export const ENDED_OUTCOME: Readonly<Record<"COMPLETED" | "FAILED" | "TIMED_OUT" | "CANCELLED", AttemptOutcome>> = {
  COMPLETED: "completed",
  FAILED: "failed",
  TIMED_OUT: "timed_out",
  CANCELLED: "cancelled",
};

/** A job as stored. JSON documents (input, output) are kept as text and parsed only when answered. */
export interface JobRow {
  id: string;
  endpoint_id: string;
  status: JobStatus;
  input: string;
  webhook: string | null;
  low_priority: number;
  execution_timeout_ms: number;
  ttl_ms: number;
  retention_ms: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
  attempts: number;
  retries: number;
  output: string | null;
  error: string | null;
  stream_read: number;
  webhook_attempts: number;
  webhook_due_at: number | null;
}

/** What /status and friends answer: RunPod's body, times in milliseconds. */
export interface JobStatusBody {
  id: string;
  status: JobStatus;
  delayTime: number;
  executionTime: number;
  workerId?: string;
  retries?: number;
  output?: unknown;
  error?: string;
}

export function statusBody(job: JobRow, now: number): JobStatusBody {
  const body: JobStatusBody = {
    id: job.id,
    status: job.status,
    delayTime: (job.started_at ?? job.finished_at ?? now) - job.created_at,
    executionTime: job.started_at === null ? 0 : (job.finished_at ?? now) - job.started_at,
  };
  if (job.worker_id) body.workerId = job.worker_id;
  if (job.retries > 0) body.retries = job.retries;
  if (job.output !== null) body.output = JSON.parse(job.output);
  if (job.error !== null) body.error = job.error;
  return body;
}

/** What a worker receives from job-take: RunPod passes the job's extra fields through to the handler. */
export function workerJobBody(job: JobRow): { id: string; input: unknown; webhook?: string } {
  const body: { id: string; input: unknown; webhook?: string } = { id: job.id, input: JSON.parse(job.input) };
  if (job.webhook) body.webhook = job.webhook;
  return body;
}

/** A job as a client submits it, in the queue's terms; absent settings take the queue's defaults. */
export interface JobSubmission {
  input: unknown;
  /** Where the job's /status body is POSTed when it ends. */
  webhook?: string;
  /** Never scales the endpoint up: taken only by workers that are there anyway. */
  lowPriority?: boolean;
  executionTimeoutMs?: number;
  ttlMs?: number;
}

/** One of an endpoint's latest jobs, without its input or output: what the workers view lists. */
export interface RecentJob {
  id: string;
  status: JobStatus;
  workerId?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
}

/** A worker as the worker API knows it from its calls. */
export interface CallingWorker {
  id: string;
  firstSeenAt: number;
  lastSeenAt: number;
  sdkVersion?: string;
  /** Why it said it is unhealthy, when it did. */
  unhealthyReason?: string;
  /** It asked to stop after its current job (stopPod). */
  leaving: boolean;
}
