import { ENDED_OUTCOME, type JobRow } from "../../jobs/model";
import type { ExpiredJob, JobAttemptRow, JobCounts, JobEventRow, JobHistory, JobStore, JobSummaryRow, NewJob } from "../../jobs/stores";
import type { QueueStats } from "../../policy/autoscaler";
import { plain, type Sql } from "./database";
import type { GroupCommit } from "./group-commit";

/** A job row's columns (not `seq`, which only orders the queue), so rows read as SQLite's do. */
export const JOB_COLUMNS = [
  "id",
  "endpoint_id",
  "status",
  "input",
  "webhook",
  "low_priority",
  "execution_timeout_ms",
  "ttl_ms",
  "retention_ms",
  "created_at",
  "started_at",
  "finished_at",
  "worker_id",
  "attempts",
  "retries",
  "output",
  "error",
  "stream_read",
  "webhook_attempts",
  "webhook_due_at",
];

/**
 * SQL for jobs and their stream chunks in PostgreSQL. Every state change is one conditional statement, as in
 * SQLite; a take locks the rows it hands out and skips rows another control plane has locked, so two replicas
 * never hand out one job.
 */
export class PostgresJobStore implements JobStore {
  private readonly columns;

  constructor(
    private readonly sql: Sql,
    private readonly group: GroupCommit,
  ) {
    this.columns = sql(JOB_COLUMNS);
  }

  async insert(jobs: NewJob[]): Promise<JobRow[]> {
    if (jobs.length === 0) return [];
    const rows = jobs.map((job) => ({
      id: job.id,
      endpoint_id: job.endpointId,
      status: "IN_QUEUE",
      input: job.input,
      webhook: job.webhook,
      low_priority: job.lowPriority ? 1 : 0,
      execution_timeout_ms: job.executionTimeoutMs,
      ttl_ms: job.ttlMs,
      retention_ms: job.retentionMs,
      created_at: job.createdAt,
    }));
    const inserted = await this.group.run((sql) => plain(sql<JobRow[]>`INSERT INTO jobs ${sql(rows)} RETURNING ${this.columns}`));
    // RETURNING promises no order; callers get the rows in the order they gave.
    const byId = new Map(inserted.map((row) => [row.id, row]));
    return jobs.map((job) => byId.get(job.id)!);
  }

  async get(endpointId: string, id: string): Promise<JobRow | undefined> {
    const [row] = await this.sql<JobRow[]>`SELECT ${this.columns} FROM jobs WHERE id = ${id} AND endpoint_id = ${endpointId}`;
    return row;
  }

  async endpointOf(id: string): Promise<string | undefined> {
    const [row] = await this.sql<Array<{ endpoint_id: string }>>`SELECT endpoint_id FROM jobs WHERE id = ${id}`;
    return row?.endpoint_id;
  }

  async progress(endpointId: string, id: string, workerId: string, output: string, now: number): Promise<boolean> {
    const [row] = await this.sql<Array<{ progressed: boolean }>>`
      WITH progressed AS (
        UPDATE jobs SET output = ${output}
        WHERE id = ${id} AND endpoint_id = ${endpointId} AND status = 'IN_PROGRESS' AND worker_id = ${workerId}
        RETURNING id
      ), noted AS (
        INSERT INTO job_progress (job_id, at, output) SELECT id, ${now}, ${output} FROM progressed
      )
      SELECT EXISTS (SELECT 1 FROM progressed) AS progressed`;
    return row!.progressed;
  }

  /** The job's run in progress, if it had one (a queued job has no worker), is recorded by the same statement. */
  async end(id: string, status: "FAILED" | "CANCELLED" | "TIMED_OUT", error: string | null, now: number): Promise<JobRow | undefined> {
    const [row] = await this.sql<JobRow[]>`
      WITH ended AS (
        UPDATE jobs SET status = ${status}, error = COALESCE(${error}, error), finished_at = ${now},
          webhook_due_at = CASE WHEN webhook IS NOT NULL THEN ${now}::bigint END
        WHERE id = ${id} AND status IN ('IN_QUEUE', 'IN_PROGRESS')
        RETURNING ${this.columns}
      ), attempt AS (
        INSERT INTO job_attempts (job_id, retry, attempt, worker_id, taken_at, ended_at, outcome, reason)
        SELECT id, retries, attempts, worker_id, started_at, ${now}, ${ENDED_OUTCOME[status]}, error FROM ended WHERE worker_id IS NOT NULL
      )
      SELECT * FROM ended`;
    return row;
  }

  /** The run's record comes from the row as it was, locked first: the requeue clears its worker and start. */
  async requeue(id: string, reason: string, now: number): Promise<JobRow | undefined> {
    const [row] = await this.sql<JobRow[]>`
      WITH running AS (
        SELECT id, retries, attempts, worker_id, started_at FROM jobs WHERE id = ${id} AND status = 'IN_PROGRESS' FOR UPDATE
      ), requeued AS (
        UPDATE jobs SET status = 'IN_QUEUE', worker_id = NULL, started_at = NULL, output = NULL
        WHERE id IN (SELECT id FROM running) AND status = 'IN_PROGRESS'
        RETURNING ${this.columns}
      ), attempt AS (
        INSERT INTO job_attempts (job_id, retry, attempt, worker_id, taken_at, ended_at, outcome, reason)
        SELECT id, retries, attempts, worker_id, started_at, ${now}, 'requeued', ${reason} FROM running
        WHERE EXISTS (SELECT 1 FROM requeued)
      )
      SELECT * FROM requeued`;
    return row;
  }

  async retry(endpointId: string, id: string): Promise<JobRow | undefined> {
    const [row] = await this.sql<JobRow[]>`
      UPDATE jobs SET status = 'IN_QUEUE', worker_id = NULL, started_at = NULL, finished_at = NULL, output = NULL,
        error = NULL, attempts = 0, retries = retries + 1, webhook_due_at = NULL, webhook_attempts = 0
      WHERE id = ${id} AND endpoint_id = ${endpointId} AND status IN ('FAILED', 'TIMED_OUT')
      RETURNING ${this.columns}`;
    return row;
  }

  async purgeQueue(endpointId: string): Promise<number> {
    return (await this.sql`DELETE FROM jobs WHERE endpoint_id = ${endpointId} AND status = 'IN_QUEUE'`).count;
  }

  async deleteOfEndpoint(endpointId: string): Promise<Array<Pick<JobRow, "id" | "status" | "worker_id">>> {
    return plain(this.sql<Array<Pick<JobRow, "id" | "status" | "worker_id">>>`
      DELETE FROM jobs WHERE endpoint_id = ${endpointId} RETURNING id, status, worker_id`);
  }


  async inProgressOf(endpointId: string, workerId: string): Promise<JobRow[]> {
    return plain(this.sql<JobRow[]>`
      SELECT ${this.columns} FROM jobs WHERE worker_id = ${workerId} AND status = 'IN_PROGRESS' AND endpoint_id = ${endpointId}`);
  }

  async overdue(now: number): Promise<JobRow[]> {
    return plain(this.sql<JobRow[]>`
      SELECT ${this.columns} FROM jobs WHERE status = 'IN_PROGRESS' AND started_at + execution_timeout_ms <= ${now}`);
  }

  async expire(now: number, limit: number): Promise<ExpiredJob[]> {
    return plain(this.sql<ExpiredJob[]>`
      DELETE FROM jobs
      WHERE id IN (SELECT id FROM jobs WHERE created_at + ttl_ms <= ${now} AND status IN ('IN_QUEUE', 'IN_PROGRESS') LIMIT ${limit})
        OR id IN (SELECT id FROM jobs WHERE finished_at + retention_ms <= ${now} LIMIT ${limit})
      RETURNING id, endpoint_id, status, worker_id`);
  }

  /** The folded counts plus the changes not folded yet (see the job_counts migration). */
  async counts(endpointId: string): Promise<JobCounts> {
    const [row] = await this.sql<JobCounts[]>`
      WITH by_status AS (
        SELECT status, n FROM job_counts WHERE endpoint_id = ${endpointId}
        UNION ALL SELECT status, delta FROM job_count_changes WHERE endpoint_id = ${endpointId}
      )
      SELECT
        COALESCE(SUM(n) FILTER (WHERE status = 'COMPLETED'), 0)::bigint AS completed,
        COALESCE(SUM(n) FILTER (WHERE status = 'FAILED'), 0)::bigint AS failed,
        COALESCE(SUM(n) FILTER (WHERE status = 'IN_PROGRESS'), 0)::bigint AS "inProgress",
        COALESCE(SUM(n) FILTER (WHERE status = 'IN_QUEUE'), 0)::bigint AS "inQueue",
        (SELECT COUNT(*) FROM jobs WHERE endpoint_id = ${endpointId} AND (retries > 0 OR attempts > 1)) AS retried
      FROM by_status`;
    return row!;
  }

  async endpointsWithQueuedJobs(): Promise<Set<string>> {
    const rows = await this.sql<Array<{ endpoint_id: string }>>`
      SELECT endpoint_id FROM (
        SELECT endpoint_id, n FROM job_counts WHERE status = 'IN_QUEUE'
        UNION ALL SELECT endpoint_id, delta FROM job_count_changes WHERE status = 'IN_QUEUE'
      ) AS queued GROUP BY endpoint_id HAVING SUM(n) > 0`;
    return new Set(rows.map((r) => r.endpoint_id));
  }

  /** Moves the statements' count changes into the counts, in one statement: each change is folded once. */
  async housekeeping(): Promise<void> {
    await this.sql`
      WITH moved AS (DELETE FROM job_count_changes RETURNING endpoint_id, status, delta)
      INSERT INTO job_counts (endpoint_id, status, n)
      SELECT endpoint_id, status, SUM(delta) FROM moved GROUP BY endpoint_id, status ORDER BY endpoint_id, status
      ON CONFLICT (endpoint_id, status) DO UPDATE SET n = job_counts.n + excluded.n`;
  }

  async queueStats(endpointId: string, delayedBefore: number, cap: number): Promise<QueueStats> {
    const [row] = await this.sql<QueueStats[]>`
      SELECT
        (SELECT COUNT(*) FROM (SELECT 1 FROM jobs
          WHERE endpoint_id = ${endpointId} AND status = 'IN_QUEUE' AND low_priority = 0 LIMIT ${cap}) AS q) AS queued,
        (SELECT COUNT(*) FROM (SELECT 1 FROM jobs
          WHERE endpoint_id = ${endpointId} AND status = 'IN_QUEUE' AND created_at <= ${delayedBefore} AND low_priority = 0
          LIMIT ${cap}) AS d) AS delayed,
        (SELECT COUNT(*) FROM jobs WHERE endpoint_id = ${endpointId} AND status = 'IN_PROGRESS') AS "inProgress"`;
    return row!;
  }

  async recent(endpointId: string, limit: number): Promise<JobSummaryRow[]> {
    return plain(this.sql<JobSummaryRow[]>`
      SELECT id, status, worker_id, created_at, started_at, finished_at FROM jobs
      WHERE endpoint_id = ${endpointId} ORDER BY created_at DESC, seq DESC LIMIT ${limit}`);
  }

  async inProgressByWorker(endpointId: string): Promise<Map<string, number>> {
    const rows = await this.sql<Array<{ workerId: string; n: number }>>`
      SELECT worker_id AS "workerId", COUNT(*) AS n FROM jobs
      WHERE endpoint_id = ${endpointId} AND status = 'IN_PROGRESS' GROUP BY worker_id`;
    return new Map(rows.map((r) => [r.workerId, r.n]));
  }

  async appendChunk(id: string, output: string, now: number): Promise<void> {
    await this.sql`
      INSERT INTO job_stream (job_id, seq, output, at)
      SELECT ${id}, COALESCE(MAX(seq), 0) + 1, ${output}, ${now} FROM job_stream WHERE job_id = ${id}`;
  }

  async history(jobId: string, limit: number, previewChars: number): Promise<JobHistory> {
    const [row] = await this.sql<Array<Record<keyof JobHistory, unknown>>>`
      SELECT
        (SELECT COALESCE(json_agg(a ORDER BY retry, attempt), '[]') FROM job_attempts a WHERE job_id = ${jobId}) AS attempts,
        -- Updates arrive on concurrent requests (runpod-python posts each from a thread of its own), so a later
        -- sequence number can carry an earlier arrival: the time orders them, the sequence breaks ties.
        (SELECT COALESCE(json_agg(p ORDER BY at, seq), '[]') FROM (
          SELECT seq, at, left(output, ${previewChars}) AS preview, octet_length(output) AS bytes FROM job_progress
          WHERE job_id = ${jobId} ORDER BY at, seq LIMIT ${limit}) p) AS progress,
        (SELECT COUNT(*) FROM job_progress WHERE job_id = ${jobId}) AS "progressCount",
        (SELECT COALESCE(json_agg(c ORDER BY seq), '[]') FROM (
          SELECT seq, at, left(output, ${previewChars}) AS preview, octet_length(output) AS bytes FROM job_stream
          WHERE job_id = ${jobId} ORDER BY seq LIMIT ${limit}) c) AS chunks,
        (SELECT COUNT(*) FROM job_stream WHERE job_id = ${jobId}) AS "chunkCount"`;
    const event = ({ at, preview, bytes }: JobEventRow) => ({ at, preview, bytes });
    return {
      attempts: row!.attempts as JobAttemptRow[],
      progress: (row!.progress as JobEventRow[]).map(event),
      progressCount: Number(row!.progressCount),
      chunks: (row!.chunks as JobEventRow[]).map(event),
      chunkCount: Number(row!.chunkCount),
    };
  }

  async hasUnreadChunks(job: JobRow): Promise<boolean> {
    const rows = await this.sql`SELECT 1 FROM job_stream WHERE job_id = ${job.id} AND seq > ${job.stream_read} LIMIT 1`;
    return rows.length > 0;
  }

  async readChunks(job: JobRow): Promise<unknown[]> {
    const rows = await this.sql<Array<{ seq: number; output: string }>>`
      SELECT seq, output FROM job_stream WHERE job_id = ${job.id} AND seq > ${job.stream_read} ORDER BY seq`;
    if (rows.length > 0) await this.sql`UPDATE jobs SET stream_read = ${rows[rows.length - 1]!.seq} WHERE id = ${job.id}`;
    return rows.map((r) => JSON.parse(r.output));
  }

  async webhooksDue(now: number): Promise<JobRow[]> {
    return plain(this.sql<JobRow[]>`
      SELECT ${this.columns} FROM jobs WHERE webhook_due_at <= ${now} ORDER BY webhook_due_at LIMIT 100`);
  }

  async webhookAttempted(id: string, dueAt: number | null): Promise<void> {
    await this.sql`UPDATE jobs SET webhook_attempts = webhook_attempts + 1, webhook_due_at = ${dueAt} WHERE id = ${id}`;
  }
}
