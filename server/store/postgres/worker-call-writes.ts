import type { FinishCall, WorkerCallWrites } from "../../jobs/stores";
import { ENDED_OUTCOME, type JobRow } from "../../jobs/model";
import { JOB_COLUMNS } from "./jobs";
import type { Sql } from "./database";
import type { GroupCommit } from "./group-commit";

/**
 * The worker API's hot path in PostgreSQL: a take (with its look for undelivered jobs) or a result (with its run's
 * record, server/jobs/timeline.ts) and the worker's call record in one statement (a data-modifying CTE), so each
 * costs one round trip and one commit rather than two, and under load it shares that commit with the others arriving
 * meanwhile (GroupCommit).
 */
export class PostgresWorkerCallWrites implements WorkerCallWrites {
  private readonly columns;

  constructor(
    sql: Sql,
    private readonly group: GroupCommit,
  ) {
    this.columns = sql(JOB_COLUMNS);
  }

  async take(endpointId: string, workerId: string, limit: number, now: number, undeliveredFirst = false): Promise<JobRow[]> {
    const taken = await this.group.run((sql) => sql<Array<JobRow & { seq: number }>>`
      WITH called AS (
        INSERT INTO workers (endpoint_id, id, first_seen_at, last_seen_at) VALUES (${endpointId}, ${workerId}, ${now}, ${now})
        ON CONFLICT (endpoint_id, id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
      ), undelivered AS (
        SELECT ${this.columns}, seq FROM jobs
        WHERE ${undeliveredFirst}::boolean AND worker_id = ${workerId} AND status = 'IN_PROGRESS' AND endpoint_id = ${endpointId}
      ), taken AS (
        UPDATE jobs SET status = 'IN_PROGRESS', worker_id = ${workerId}, started_at = ${now}, attempts = attempts + 1
        WHERE NOT EXISTS (SELECT 1 FROM undelivered) AND id IN (
          SELECT id FROM jobs WHERE endpoint_id = ${endpointId} AND status = 'IN_QUEUE'
          ORDER BY created_at, seq LIMIT ${Math.max(1, Math.trunc(limit))}
          FOR UPDATE SKIP LOCKED)
        RETURNING ${this.columns}, seq
      )
      SELECT * FROM undelivered UNION ALL SELECT * FROM taken`);
    // RETURNING gives rows in no promised order; workers get them oldest first.
    const oldestFirst = taken.sort((a, b) => a.created_at - b.created_at || a.seq - b.seq).map(({ seq: _, ...row }) => row);
    return oldestFirst.slice(0, limit);
  }

  async finish(endpointId: string, id: string, workerId: string, status: "COMPLETED" | "FAILED", output: string | null, error: string | null, now: number): Promise<FinishCall> {
    const [row] = await this.group.run((sql) => sql<Array<{ finished: JobRow | null; known: boolean }>>`
      WITH job AS (
        SELECT id FROM jobs WHERE id = ${id} AND endpoint_id = ${endpointId}
      ), called AS (
        INSERT INTO workers (endpoint_id, id, first_seen_at, last_seen_at)
        SELECT ${endpointId}, ${workerId}, ${now}, ${now} WHERE EXISTS (SELECT 1 FROM job)
        ON CONFLICT (endpoint_id, id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
      ), finished AS (
        UPDATE jobs SET status = ${status}, output = ${output}, error = ${error}, finished_at = ${now},
          webhook_due_at = CASE WHEN webhook IS NOT NULL THEN ${now}::bigint END
        WHERE id = ${id} AND endpoint_id = ${endpointId} AND status = 'IN_PROGRESS' AND worker_id = ${workerId}
        RETURNING ${this.columns}
      ), attempt AS (
        INSERT INTO job_attempts (job_id, retry, attempt, worker_id, taken_at, ended_at, outcome, reason)
        SELECT id, retries, attempts, worker_id, started_at, ${now}, ${ENDED_OUTCOME[status]}, error FROM finished
      )
      SELECT (SELECT row_to_json(finished) FROM finished) AS finished, EXISTS (SELECT 1 FROM job) AS known`);
    return { finished: row!.finished ?? undefined, known: row!.known };
  }
}
