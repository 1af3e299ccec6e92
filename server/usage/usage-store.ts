import type { WorkerType } from "../policy/worker-model";

/** One run of a job on a worker, with what the worker was then. */
export interface UsageRun {
  jobId: string;
  workerId: string;
  endpointId: string;
  workerType: WorkerType;
  gpuTypeId?: string;
  gpuCount: number;
  startedAt: number;
  endedAt: number;
}

/** The usage_runs table: written once per run, read by time range for reports. */
export interface UsageStore {
  record(run: UsageRun): Promise<void>;
  /** Runs that overlap [from, to), of one endpoint when given, ordered by worker then start. */
  overlapping(from: number, to: number, endpointId?: string): Promise<UsageRun[]>;
}
