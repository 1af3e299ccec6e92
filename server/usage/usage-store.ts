import type { Statement } from "better-sqlite3";
import type { WorkerType } from "../policy/worker-model";
import type { BerthDatabase } from "../store/database";

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

interface Row {
  job_id: string;
  worker_id: string;
  endpoint_id: string;
  worker_type: WorkerType;
  gpu_type_id: string | null;
  gpu_count: number;
  started_at: number;
  ended_at: number;
}

/** The usage_runs table: written once per run, read by time range for reports. */
export class UsageStore {
  private readonly s: Record<string, Statement>;

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      insert: db.prepare(`INSERT INTO usage_runs (job_id, worker_id, endpoint_id, worker_type, gpu_type_id, gpu_count,
          started_at, ended_at)
        VALUES (@jobId, @workerId, @endpointId, @workerType, @gpuTypeId, @gpuCount, @startedAt, @endedAt)`),
      overlapping: db.prepare(`SELECT * FROM usage_runs WHERE ended_at > @from AND started_at < @to
        AND (@endpointId IS NULL OR endpoint_id = @endpointId) ORDER BY worker_id, started_at`),
    };
  }

  record(run: UsageRun): void {
    this.database.write(() => this.s.insert!.run({ ...run, gpuTypeId: run.gpuTypeId ?? null }));
  }

  /** Runs that overlap [from, to), of one endpoint when given, ordered by worker then start. */
  overlapping(from: number, to: number, endpointId?: string): UsageRun[] {
    return (this.s.overlapping!.all({ from, to, endpointId: endpointId ?? null }) as Row[]).map((r) => ({
      jobId: r.job_id,
      workerId: r.worker_id,
      endpointId: r.endpoint_id,
      workerType: r.worker_type,
      gpuTypeId: r.gpu_type_id ?? undefined,
      gpuCount: r.gpu_count,
      startedAt: r.started_at,
      endedAt: r.ended_at,
    }));
  }
}
