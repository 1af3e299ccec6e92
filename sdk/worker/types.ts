import type { Logger } from "pino";

/**
 * One job as the handler sees it: what the control plane handed out (`id`, `input` and any extra fields it
 * passes through, such as `webhook`), plus `signal`, which aborts when the control plane stops the job
 * (cancelled by a client, or past its execution timeout). Nothing is posted for a stopped job.
 */
export interface Job<Input = unknown> {
  readonly id: string;
  readonly input: Input;
  /** Aborts when the control plane stops this job; its `reason` is a {@link JobStoppedError}. */
  readonly signal: AbortSignal;
  /** Extra fields from the job-take reply, passed through as runpod-python does (e.g. `webhook`). */
  readonly [extra: string]: unknown;
}

/**
 * A handler: returns (or resolves to) the job's output, or is a generator (sync or async) whose every yielded
 * value is one stream chunk. A thrown error fails the job.
 *
 * A returned plain object is read the way runpod-python reads a dict: an `error` key fails the job with that
 * message (the rest is kept as output), and `refresh_worker: true` makes the worker exit after this job.
 */
export type Handler<Input = unknown, Output = unknown> = (
  job: Job<Input>,
) => Output | Promise<Output> | AsyncIterable<Output> | Generator<Output, unknown, unknown>;

/** How many jobs may run at once: a number, or runpod's `concurrency_modifier(current) -> number`. */
export type Concurrency = number | ((current: number) => number);

export interface StartOptions<Input = unknown, Output = unknown> {
  handler: Handler<Input, Output>;
  /** Jobs run at once (default 1). A function is asked before every take, with the current value. */
  concurrency?: Concurrency;
  /** Exit after each job: its result carries `stopPod: true` and the platform replaces the worker. */
  refreshWorker?: boolean;
  /** For generator handlers: the final output is the list of all chunks (otherwise `[]`). */
  returnAggregateStream?: boolean;
  /**
   * Environment to read the RUNPOD_* settings from (default `process.env`).
   */
  env?: NodeJS.ProcessEnv;
  /** Drain on SIGTERM and SIGINT, force-exit on a second one (default true). */
  handleSignals?: boolean;
  /** Call `process.exit` once the worker has stopped after a signal or a refresh (default true). */
  exitProcess?: boolean;
  /** A drain that takes longer than this (ms) is forced: jobs still running are abandoned. Default: no limit. */
  drainTimeoutMs?: number;
  /** Log level (default RUNPOD_DEBUG_LEVEL, else "info"), or a pino logger of your own. */
  logLevel?: string;
  logger?: Logger;
}

/** What {@link start} returns. */
export interface WorkerHandle {
  /** This worker's id: RUNPOD_POD_ID, or a uuid made up when it is absent. */
  readonly workerId: string;
  /**
   * Drains: stops taking jobs, finishes (and reports) the jobs in hand, stops the heartbeat and the stop
   * channel. Resolves once the worker has stopped. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
  /** Resolves once the worker has stopped, for whatever reason (stop(), a signal, a refresh). */
  readonly stopped: Promise<StopReason>;
  /** Ids of the jobs running now. */
  jobsInProgress(): string[];
}

export type StopReason = "stopped" | "signal" | "refresh" | "forced";

/** The reason of a job's aborted signal. */
export class JobStoppedError extends Error {
  override readonly name = "JobStoppedError";
  constructor(
    readonly jobId: string,
    readonly why: "stopped by the control plane" | "worker forced to exit",
  ) {
    super(`job ${jobId} ${why}`);
  }
}
