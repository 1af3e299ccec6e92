import type { JobStatusBody } from "../jobs/model";
import type { OpenAiError } from "./openai-schemas";

/**
 * What a worker's output means on the OpenAI-compatible route, and how Berth's own errors look there: pure
 * functions, so the route (server/api/openai-routes.ts) only moves bytes.
 */

export interface Failure {
  status: number;
  body: OpenAiError;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

const errorBody = (message: string, type: string, code: string | number | null, param: string | null = null): OpenAiError => ({
  error: { message, type, param, code },
});

/** OpenAI's error type for an HTTP status. */
export function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 504) return "timeout";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

/**
 * Berth's error body (`{ error: code, message, details? }`, from the access hook, the error handler or a 404) in
 * OpenAI's shape; `param` is the first field the details name, without its `body.` root. Anything else: undefined.
 */
export function fromBerthError(status: number, body: unknown): OpenAiError | undefined {
  if (!isObject(body) || typeof body.error !== "string" || typeof body.message !== "string") return undefined;
  const field = Array.isArray(body.details) && isObject(body.details[0]) ? body.details[0].field : undefined;
  const param = typeof field === "string" ? field.replace(/^body\.?/, "") || null : null;
  return errorBody(body.message, errorType(status), body.error, param);
}

/**
 * A job's output as the worker meant it: runpod-python aggregates a generator handler's items into a list
 * (worker-vllm yields its one response object, so `[response]`), a plain handler's return value (the Infinity
 * embedding worker's) comes as it is.
 */
export function unwrapOutput(output: unknown): unknown {
  return Array.isArray(output) && output.length === 1 ? output[0] : output;
}

/**
 * The error a worker answered in band, if the output is one: vLLM's ErrorResponse (`{object: "error", message,
 * type, code}` up to 0.9, `{error: {message, type, code}}` after), whose `code` is the HTTP status it means; or
 * worker-vllm's `{error: "..."}` for an engine that did not start, a failure of the worker (502).
 */
export function workerError(output: unknown): Failure | undefined {
  if (!isObject(output)) return undefined;
  const described = output.object === "error" ? output : isObject(output.error) ? output.error : undefined;
  if (described && typeof described.message === "string") {
    const status = httpStatus(described.code) ?? 400;
    const code = typeof described.code === "string" || typeof described.code === "number" ? described.code : null;
    const type = typeof described.type === "string" ? described.type : errorType(status);
    return { status, body: errorBody(described.message, type, code, typeof described.param === "string" ? described.param : null) };
  }
  if (typeof output.error === "string") return { status: 502, body: errorBody(`the worker failed: ${output.error}`, "server_error", "worker_error") };
  return undefined;
}

const httpStatus = (code: unknown): number | undefined => {
  const n = typeof code === "string" && /^\d{3}$/.test(code) ? Number(code) : code;
  return typeof n === "number" && Number.isInteger(n) && n >= 400 && n <= 599 ? n : undefined;
};

/**
 * A job that ended without an answer: FAILED is the worker's failure (502, with runpod-python's `error_message`,
 * never its traceback), TIMED_OUT its execution timeout (504), CANCELLED someone else's cancel (502).
 */
export function endedWithoutAnswer(job: JobStatusBody): Failure | undefined {
  switch (job.status) {
    case "FAILED":
      return { status: 502, body: errorBody(`the worker failed: ${workerMessage(job.error)}`, "server_error", "worker_error") };
    case "TIMED_OUT":
      return { status: 504, body: errorBody(`job ${job.id} ran past its execution timeout`, "timeout", "job_timed_out") };
    case "CANCELLED":
      return { status: 502, body: errorBody(`job ${job.id} was cancelled before it answered`, "server_error", "job_cancelled") };
    default:
      return undefined;
  }
}

/**
 * A worker's error down to its message: runpod-python's error document (`{error_type, error_message,
 * error_traceback, ...}` as JSON) for a plain handler, its `handler: <message>\ntraceback: <traceback>` for a
 * generator handler (worker-vllm's kind); a plain message (Berth's Node SDK, a worker lost) as it is.
 */
function workerMessage(error: string | undefined): string {
  if (!error) return "no error message";
  try {
    const parsed: unknown = JSON.parse(error);
    if (isObject(parsed) && typeof parsed.error_message === "string") return parsed.error_message;
  } catch {
    // Not JSON: one of the others.
  }
  const generator = /^handler: ([\s\S]*?)\s*\ntraceback: /.exec(error);
  return generator ? generator[1]! : error;
}

/** The answer when no worker answered in time; the job is cancelled, as nobody will read it. */
export function noAnswer(jobId: string, waitMs: number): Failure {
  return {
    status: 504,
    body: errorBody(`no answer from the endpoint's workers within ${waitMs} ms; job ${jobId} was cancelled`, "timeout", "timeout"),
  };
}

const DONE = /(^|\n)data: \[DONE\]/;

/**
 * A job's stream chunk as server-sent events. worker-vllm with RAW_OPENAI_OUTPUT (its default) yields strings that
 * already are SSE lines (`data: {...}\n\n`, several a chunk as its batches grow, `data: [DONE]\n\n` in the last):
 * passed through as they are. Without it, it yields lists of chunk objects: each becomes a `data:` line.
 */
export function toEvents(chunk: unknown): { text: string; done: boolean } {
  const items = Array.isArray(chunk) ? chunk : [chunk];
  const text = items.map((item) => (typeof item === "string" ? item : `data: ${JSON.stringify(item)}\n\n`)).join("");
  return { text, done: DONE.test(text) };
}

/** An error after the events began: one event OpenAI's SDKs raise as an APIError. */
export function errorEvent(failure: Failure): string {
  return `data: ${JSON.stringify(failure.body)}\n\n`;
}

export const DONE_EVENT = "data: [DONE]\n\n";
