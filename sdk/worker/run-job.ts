import type { Logger } from "pino";
import { describeError } from "./logger";
import type { WorkerHttpClient } from "./http";
import { chunkError, errorResult, generatorErrorResult, isStream, resultFromOutput, type ErrorContext, type ResultBody } from "./result";
import type { Handler, Job } from "./types";
import type { WorkerUrls } from "./urls";

export interface RunJobContext {
  http: WorkerHttpClient;
  urls: WorkerUrls;
  logger: Logger;
  returnAggregateStream: boolean;
  errorContext: ErrorContext;
}

/** What to POST to job-done once the handler is through; `undefined` when the job was stopped meanwhile. */
export interface JobOutcome {
  body: ResultBody;
  /** A generator handler: the final POST carries `isStream=true`. */
  isStream: boolean;
}

const STOPPED = Symbol("stopped");

/** A handler's own error: its stack is worth logging (an SDK or HTTP error's is not, see describeError). */
const stackOf = (err: unknown) => (err instanceof Error ? err.stack : undefined);

/** Resolves to STOPPED when the signal aborts. */
function whenAborted(signal: AbortSignal): Promise<typeof STOPPED> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(STOPPED);
    signal.addEventListener("abort", () => resolve(STOPPED), { once: true });
  });
}

/**
 * Runs one job through the handler, as runpod-python's handle_job does: a plain handler's value (or thrown
 * error) becomes the result body; a generator's chunks are POSTed to the stream URL one by one, in order,
 * and its final body is `{"output": [chunks]}` (returnAggregateStream) or `{"output": []}`. When the job's
 * signal aborts the run ends at once with `undefined`: the handler is told through the signal, and what it
 * still produces is dropped.
 */
export async function runJob(handler: Handler, job: Job, ctx: RunJobContext): Promise<JobOutcome | undefined> {
  const aborted = whenAborted(job.signal);
  let returned: unknown;
  try {
    returned = handler(job);
  } catch (err) {
    ctx.logger.error({ ...describeError(err), stack: stackOf(err) }, "handler threw");
    return { body: errorResult(err, ctx.errorContext), isStream: false };
  }

  if (isStream(returned)) return runStream(returned, job, ctx, aborted);

  const settled = Promise.resolve(returned).then(
    (output) => ({ output }),
    (err: unknown) => ({ err }),
  );
  const first = await Promise.race([settled, aborted]);
  if (first === STOPPED) {
    void settled.then((late) => {
      if ("err" in late) ctx.logger.debug({ ...describeError(late.err) }, "stopped job's handler failed after the stop");
    });
    return undefined;
  }
  if ("err" in first) {
    ctx.logger.error({ ...describeError(first.err), stack: stackOf(first.err) }, "handler threw");
    return { body: errorResult(first.err, ctx.errorContext), isStream: false };
  }
  return { body: resultFromOutput(first.output), isStream: false };
}

async function runStream(
  stream: AsyncIterable<unknown> | Iterator<unknown>,
  job: Job,
  ctx: RunJobContext,
  aborted: Promise<typeof STOPPED>,
): Promise<JobOutcome | undefined> {
  const iterator: AsyncIterator<unknown> | Iterator<unknown> =
    Symbol.asyncIterator in stream ? (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (stream as Iterator<unknown>);
  const close = () => {
    // Lets the generator run its finally blocks; not awaited, since a suspended generator may take a while.
    void Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => undefined);
  };
  const streamUrl = ctx.urls.jobStream(job.id);
  if (streamUrl === undefined) {
    close();
    return {
      body: { error: "generator handler, but RUNPOD_WEBHOOK_POST_STREAM is not set: the worker has nowhere to send chunks" },
      isStream: true,
    };
  }

  const chunks: unknown[] = [];
  let count = 0;
  for (;;) {
    let step: IteratorResult<unknown> | typeof STOPPED;
    try {
      step = await Promise.race([Promise.resolve(iterator.next()), aborted]);
    } catch (err) {
      ctx.logger.error({ ...describeError(err), stack: stackOf(err), chunks: count }, "generator handler threw");
      return { body: generatorErrorResult(err), isStream: true };
    }
    if (step === STOPPED) {
      close();
      return undefined;
    }
    if (step.done) break;
    const chunk = step.value === undefined ? null : step.value;
    const error = chunkError(chunk);
    if (error !== undefined) {
      close();
      return { body: { error }, isStream: true };
    }
    if (ctx.returnAggregateStream) chunks.push(chunk);
    count++;
    try {
      await ctx.http.postJson(streamUrl, { output: chunk }, { jobId: job.id });
    } catch (err) {
      // As runpod-python: a lost chunk is logged, and the job goes on.
      ctx.logger.error({ ...describeError(err), chunk: count }, "could not send a stream chunk");
    }
    if (job.signal.aborted) {
      close();
      return undefined;
    }
  }
  ctx.logger.debug({ chunks: count }, "generator finished");
  return { body: { output: chunks }, isStream: true };
}
