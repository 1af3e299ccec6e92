import type { Job } from "./types";

/** Where a job's progress updates go: set by the worker for each job it runs. */
export type ProgressSink = (value: unknown) => Promise<void>;

const sinks = new WeakMap<object, ProgressSink>();

export function attachProgressSink(job: Job, sink: ProgressSink): void {
  sinks.set(job, sink);
}

export function detachProgressSink(job: Job): void {
  sinks.delete(job);
}

/**
 * Reports progress on a running job, as runpod-python's `progress_update(job, progress)`: POSTs
 * `{"status":"IN_PROGRESS","output":value}` to the job-done URL. Clients see `value` as the job's `output` in
 * `/status` while it is IN_PROGRESS; the final result replaces it. Never rejects: a failed update is logged and
 * the job goes on. Does nothing once the job has ended or been stopped.
 */
export async function progressUpdate(job: Job, value: unknown): Promise<void> {
  const sink = sinks.get(job);
  if (!sink) return;
  await sink(value);
}
