import type { Statement } from "better-sqlite3";
import type { WorkerType } from "../policy/worker-model";
import type { UsageRun, UsageStore } from "../usage/usage-store";
import type { BerthDatabase } from "./database";

/** A run as stored, the same in SQLite and PostgreSQL. */
export interface UsageRow {
  job_id: string;
  worker_id: string;
  endpoint_id: string;
  worker_type: WorkerType;
  gpu_type_id: string | null;
  gpu_count: number;
  started_at: number;
  ended_at: number;
}

/** The usage_runs table in SQLite, written in the group transaction. */
export class SqliteUsageStore implements UsageStore {
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

  async record(run: UsageRun): Promise<void> {
    this.database.write(() => this.s.insert!.run({ ...run, gpuTypeId: run.gpuTypeId ?? null }));
  }

  async overlapping(from: number, to: number, endpointId?: string): Promise<UsageRun[]> {
    return (this.s.overlapping!.all({ from, to, endpointId: endpointId ?? null }) as UsageRow[]).map(usageRun);
  }
}

export function usageRun(row: UsageRow): UsageRun {
  return {
    jobId: row.job_id,
    workerId: row.worker_id,
    endpointId: row.endpoint_id,
    workerType: row.worker_type,
    gpuTypeId: row.gpu_type_id ?? undefined,
    gpuCount: row.gpu_count,
    startedAt: row.started_at,
    endedAt: row.ended_at,
  };
}
