import { SDK_VERSION_TAG } from "./version";

/** The body POSTed to job-done: runpod-python's shapes. */
export interface ResultBody {
  output?: unknown;
  error?: string;
  stopPod?: true;
}

/** A dict in runpod-python's sense: an object literal, not an array, class instance or Buffer. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A plain handler's return value as a job-done body, read as runpod-python's run_job reads it: a plain object's
 * `error` key fails the job (the rest stays the output), `refresh_worker` asks for the worker to be replaced
 * (`stopPod`), and an output of `{}` is left out. `undefined` becomes `null` (Python's None). The handler's
 * object is copied, never changed.
 */
export function resultFromOutput(output: unknown): ResultBody {
  if (!isPlainObject(output)) return { output: output === undefined ? null : output };
  const { error, refresh_worker: refreshWorker, ...rest } = output;
  const body: ResultBody = { output: rest };
  if (error !== undefined && error !== null && error !== false && error !== "") {
    body.error = typeof error === "string" ? error : JSON.stringify(error);
  }
  if (refreshWorker) body.stopPod = true;
  if (Object.keys(rest).length === 0) delete body.output;
  return body;
}

export interface ErrorContext {
  workerId: string;
  hostname: string;
}

/**
 * A thrown error as runpod-python reports one: `error` is a JSON string of
 * {error_type, error_message, error_traceback, hostname, worker_id, runpod_version}.
 */
export function errorResult(err: unknown, context: ErrorContext): ResultBody {
  const e = err instanceof Error ? err : undefined;
  const info = {
    error_type: e ? errorType(e) : typeof err,
    error_message: e ? e.message : String(err),
    error_traceback: e?.stack ?? String(err),
    hostname: context.hostname,
    worker_id: context.workerId,
    runpod_version: SDK_VERSION_TAG,
  };
  return { error: JSON.stringify(info) };
}

/** The error's class: its `name` when set to something specific, else its constructor's name. */
function errorType(e: Error): string {
  if (e.name && e.name !== "Error") return e.name;
  return e.constructor?.name || "Error";
}

/** A generator that throws: runpod-python's `handler: <message> \ntraceback: <trace>` string. */
export function generatorErrorResult(err: unknown): ResultBody {
  const message = err instanceof Error ? err.message : String(err);
  const trace = err instanceof Error && err.stack ? err.stack : String(err);
  return { error: `handler: ${message} \ntraceback: ${trace}` };
}

/** A yielded chunk that is an object with a truthy `error` ends the stream as that error (runpod-python). */
export function chunkError(chunk: unknown): string | undefined {
  if (!isPlainObject(chunk) || !chunk.error) return undefined;
  return String(chunk.error);
}

/**
 * Whether a handler's (not awaited) return value is a stream: an async iterable (an async generator, a
 * Readable) or a sync generator object. Arrays, strings and promises are plain outputs.
 */
export function isStream(value: unknown): value is AsyncIterable<unknown> | Iterator<unknown> {
  if (typeof value !== "object" || value === null) return false;
  if (typeof (value as { then?: unknown }).then === "function") return false;
  if (typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") return true;
  return Object.prototype.toString.call(value) === "[object Generator]";
}
