import type { UsageRun, UsageStore } from "../../usage/usage-store";
import { usageRun, type UsageRow } from "../usage-runs";
import type { Sql } from "./database";

/** The usage_runs table in PostgreSQL. */
export class PostgresUsageStore implements UsageStore {
  constructor(private readonly sql: Sql) {}

  async record(run: UsageRun): Promise<void> {
    const row: UsageRow = {
      job_id: run.jobId,
      worker_id: run.workerId,
      endpoint_id: run.endpointId,
      worker_type: run.workerType,
      gpu_type_id: run.gpuTypeId ?? null,
      gpu_count: run.gpuCount,
      started_at: run.startedAt,
      ended_at: run.endedAt,
    };
    await this.sql`INSERT INTO usage_runs ${this.sql(row)}`;
  }

  async overlapping(from: number, to: number, endpointId?: string): Promise<UsageRun[]> {
    const rows = await this.sql<UsageRow[]>`
      SELECT * FROM usage_runs WHERE ended_at > ${from} AND started_at < ${to}
        AND (${endpointId ?? null}::text IS NULL OR endpoint_id = ${endpointId ?? null})
      ORDER BY worker_id, started_at`;
    return rows.map(usageRun);
  }
}
