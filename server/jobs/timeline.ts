import { z } from "zod";
import { attemptOutcomeSchema, jobStatusSchema, statusBody, type JobRow } from "./model";
import type { JobEventRow, JobHistory } from "./stores";

/**
 * A job's timeline, what an operator opens when a job went wrong (`GET /admin/endpoints/:id/jobs/:jobId`, `berth
 * job`, the job page): its documents cut to a bound with their whole sizes, its error as the worker reported it,
 * each run on a worker and why it ended, its progress updates and stream chunks with their times.
 */

/** Input and output are shown whole up to this many bytes of JSON, cut beyond. */
export const DOCUMENT_BYTES = 4096;
/** Each progress update and stream chunk is shown whole up to this many bytes of JSON. */
export const EVENT_BYTES = 256;
/** The first this many progress updates and stream chunks are shown; how many there are is counted. */
export const EVENTS_SHOWN = 100;

const iso = z.string().describe("ISO 8601");

export const jsonPreviewSchema = z
  .object({
    bytes: z.number().int().describe("the whole document's size, as UTF-8 JSON"),
    truncated: z.boolean().describe("true when `bytes` is over the bound: `preview` holds its start, else `value` holds it"),
    value: z.unknown().optional().describe("the document, when whole"),
    preview: z.string().optional().describe("the first bytes of its JSON text, cut on a character boundary, when truncated"),
  })
  .describe("A JSON document shown up to a bound");

export const jobErrorSchema = z
  .object({
    message: z.string().describe("what went wrong: the handler's exception message, or the queue's reason (timeout, lost worker)"),
    type: z.string().optional().describe("the exception's class (ValueError), when the worker reported one"),
    traceback: z.string().optional().describe("the handler's traceback as the worker SDK formatted it"),
    hostname: z.string().optional(),
    workerId: z.string().optional().describe("the worker that reported it, by its own account"),
    runpodVersion: z.string().optional().describe("the worker SDK's version"),
  })
  .describe(
    "A job's error. runpod-python (and Berth's worker SDK) send a handler's exception as a JSON string of error_type, " +
      "error_message, error_traceback, hostname, worker_id and runpod_version, and a generator's as `handler: ... " +
      "traceback: ...`; both are taken apart here. Any other error is its `message`.",
  );

export const jobAttemptSchema = z
  .object({
    number: z.number().int().describe("1 for the first run of the job, counting across retries"),
    retry: z.number().int().describe("0 before any /retry, then how many retries came before this run"),
    workerId: z.string(),
    takenAt: iso,
    endedAt: iso.optional().describe("absent while it runs"),
    durationMs: z.number().int().describe("from taken to ended, or to now while it runs"),
    outcome: z.union([attemptOutcomeSchema, z.literal("running")]).describe("how the run ended; requeued: its worker went away and the job went back to the queue"),
    reason: z.string().optional().describe("why, in one line: the handler's error, the timeout, the worker that went away"),
  })
  .describe("One run of a job on a worker");

const eventSchema = jsonPreviewSchema.extend({ at: iso.optional().describe("when it arrived; absent for chunks stored before chunks had times") });

const eventsSchema = (what: string) =>
  z.object({
    count: z.number().int().describe(`how many ${what} the job has`),
    shown: z.array(eventSchema).describe(`the first ${EVENTS_SHOWN}, oldest first, each cut to ${EVENT_BYTES} bytes`),
  });

export const jobTimelineSchema = z
  .object({
    id: z.string(),
    endpointId: z.string(),
    status: jobStatusSchema,
    createdAt: iso,
    startedAt: iso.optional().describe("when its current (or last) run was taken"),
    finishedAt: iso.optional(),
    delayMs: z.number().int().describe("from queued to taken, or to now while queued (RunPod's delayTime)"),
    executionMs: z.number().int().describe("from taken to ended, or to now while running (RunPod's executionTime)"),
    retries: z.number().int().describe("how many times it was queued again by /retry"),
    input: jsonPreviewSchema.describe(`the job's input, cut to ${DOCUMENT_BYTES} bytes`),
    output: jsonPreviewSchema.optional().describe(`its output (while running, its last progress update), cut to ${DOCUMENT_BYTES} bytes`),
    error: jobErrorSchema.optional(),
    attempts: z.array(jobAttemptSchema).describe("every run on a worker, oldest first"),
    progress: eventsSchema("progress updates").describe("progress updates (runpod.serverless.progress_update)"),
    stream: eventsSchema("stream chunks").describe("stream chunks of a generator handler"),
  })
  .describe("A job's timeline");

export type JobTimeline = z.output<typeof jobTimelineSchema>;
export type JobAttempt = z.output<typeof jobAttemptSchema>;
export type JobError = z.output<typeof jobErrorSchema>;
type JsonPreview = z.output<typeof jsonPreviewSchema>;

const isoOf = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

/** The timeline of `job` from its row and the history the store keeps beside it, at `now`. */
export function jobTimeline(job: JobRow, history: JobHistory, now: number): JobTimeline {
  const status = statusBody(job, now);
  const timeline: JobTimeline = {
    id: job.id,
    endpointId: job.endpoint_id,
    status: job.status,
    createdAt: new Date(job.created_at).toISOString(),
    startedAt: isoOf(job.started_at),
    finishedAt: isoOf(job.finished_at),
    delayMs: status.delayTime,
    executionMs: status.executionTime,
    retries: job.retries,
    input: jsonPreview(job.input, DOCUMENT_BYTES),
    attempts: attempts(job, history, now),
    progress: { count: history.progressCount, shown: history.progress.map(event) },
    stream: { count: history.chunkCount, shown: history.chunks.map(event) },
  };
  if (job.output !== null) timeline.output = jsonPreview(job.output, DOCUMENT_BYTES);
  if (job.error !== null) timeline.error = parseJobError(job.error);
  return timeline;
}

/** The ended runs, then the one in progress (the job row's), unless the store read it ended meanwhile. */
function attempts(job: JobRow, history: JobHistory, now: number): JobAttempt[] {
  const runs: JobAttempt[] = history.attempts.map((a, i) => ({
    number: i + 1,
    retry: a.retry,
    workerId: a.worker_id,
    takenAt: new Date(a.taken_at).toISOString(),
    endedAt: new Date(a.ended_at).toISOString(),
    durationMs: a.ended_at - a.taken_at,
    outcome: a.outcome,
    reason: a.reason === null ? undefined : oneLine(a.reason),
  }));
  const recorded = history.attempts.some((a) => a.retry === job.retries && a.attempt === job.attempts);
  if (job.status === "IN_PROGRESS" && job.worker_id !== null && job.started_at !== null && !recorded) {
    runs.push({
      number: runs.length + 1,
      retry: job.retries,
      workerId: job.worker_id,
      takenAt: new Date(job.started_at).toISOString(),
      durationMs: now - job.started_at,
      outcome: "running",
    });
  }
  return runs;
}

function event(row: JobEventRow): JsonPreview & { at?: string } {
  return { ...(row.at === null ? {} : { at: new Date(row.at).toISOString() }), ...jsonPreview(row.preview, EVENT_BYTES, row.bytes) };
}

/**
 * A JSON text shown whole when it fits `bound` bytes, else its start. `bytes` is the whole text's size when `json`
 * is already only its start (the store cuts chunks before they leave it).
 */
export function jsonPreview(json: string, bound: number, bytes = Buffer.byteLength(json)): JsonPreview {
  if (bytes <= bound) return { bytes, truncated: false, value: JSON.parse(json) };
  return { bytes, truncated: true, preview: cutToBytes(json, bound) };
}

const encoder = new TextEncoder();

/** The longest start of `text` that is at most `bound` bytes of UTF-8: no character is cut in two. */
export function cutToBytes(text: string, bound: number): string {
  const { read } = encoder.encodeInto(text, new Uint8Array(bound));
  return text.slice(0, read);
}

const GENERATOR_ERROR = /^handler: ([\s\S]*?) \ntraceback: ([\s\S]*)$/;

/** A job's error as the worker or the queue wrote it, taken apart when it has the worker SDK's form. */
export function parseJobError(error: string): JobError {
  const generator = GENERATOR_ERROR.exec(error);
  if (generator) return { message: generator[1]!, traceback: generator[2]! };
  let parsed: unknown;
  try {
    parsed = JSON.parse(error);
  } catch {
    return { message: error };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { message: error };
  const fields = parsed as Record<string, unknown>;
  const text = (key: string) => (typeof fields[key] === "string" ? (fields[key] as string) : undefined);
  const message = text("error_message");
  if (message === undefined) return { message: error };
  const parsedError: JobError = { message };
  const type = text("error_type");
  // Python's str(type(err)): "<class 'ValueError'>".
  if (type !== undefined) parsedError.type = /^<class '(.+)'>$/.exec(type)?.[1] ?? type;
  const optional = { traceback: "error_traceback", hostname: "hostname", workerId: "worker_id", runpodVersion: "runpod_version" } as const;
  for (const [field, key] of Object.entries(optional)) {
    const value = text(key);
    if (value !== undefined) parsedError[field as keyof typeof optional] = value;
  }
  return parsedError;
}

/** A run's reason in one line: a handler's error by its type and message, anything else by its first line, cut. */
function oneLine(reason: string): string {
  const parsed = parseJobError(reason);
  const line = `${parsed.type ? `${parsed.type}: ` : ""}${parsed.message}`.split("\n")[0]!;
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}
