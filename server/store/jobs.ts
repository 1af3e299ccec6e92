import type { Statement } from "better-sqlite3";
import { ENDED_OUTCOME, type JobRow, type JobStatus } from "../jobs/model";
import type {
  ExpiredJob,
  HeldWorkerRows,
  JobAttemptRow,
  JobCounts,
  JobEventRow,
  JobHistory,
  JobStorage,
  JobStore,
  JobSummaryRow,
  NewJob,
  WorkerCallWrites,
} from "../jobs/stores";
import type { QueueStats } from "../policy/autoscaler";
import type { BerthDatabase } from "./database";
import { SqliteWorkerCallStore } from "./worker-calls";

/** The job service's storage in the control plane's SQLite database, writing through its group commit. */
export function sqliteJobStorage(database: BerthDatabase): JobStorage {
  const jobs = new SqliteJobStore(database);
  const workerCalls = new SqliteWorkerCallStore(database);
  return { jobs, workerCalls, calls: callWritesInTurn(jobs, workerCalls), heldWorkers: heldInMemoryOnly, durable: () => database.durable() };
}

/** In-process, a take or a result and the call's record cost no round trip: they are written in turn. */
function callWritesInTurn(jobs: SqliteJobStore, workerCalls: SqliteWorkerCallStore): WorkerCallWrites {
  return {
    async take(endpointId, workerId, limit, now, undeliveredFirst) {
      await workerCalls.touch(endpointId, workerId, now);
      const undelivered = undeliveredFirst ? await jobs.inProgressOf(endpointId, workerId) : [];
      if (undelivered.length > 0) return undelivered.sort((a, b) => a.created_at - b.created_at).slice(0, limit);
      return jobs.take(endpointId, workerId, limit, now);
    },
    async finish(endpointId, id, workerId, status, output, error, now) {
      const finished = await jobs.finish(endpointId, id, workerId, status, output, error, now);
      const known = finished !== undefined || (await jobs.get(endpointId, id)) !== undefined;
      if (known) await workerCalls.touch(endpointId, workerId, now);
      return { finished, known };
    },
  };
}

/** One control plane on SQLite keeps which workers are held in its memory alone: nobody else hands out jobs. */
const heldInMemoryOnly: HeldWorkerRows = {
  all: async () => [],
  hold: async () => undefined,
  release: async () => undefined,
};

/** SQL for jobs and their stream chunks. Each method is one statement or one small transaction. */
export class SqliteJobStore implements JobStore {
  private readonly s: Record<string, Statement>;
  /** One take statement per batch size: SQLite plans `LIMIT ?` about four times slower than a literal limit. */
  private readonly takeStatements = new Map<number, Statement>();

  constructor(private readonly database: BerthDatabase) {
    const db = database.db;
    this.s = {
      insert: db.prepare(`INSERT INTO jobs (id, endpoint_id, status, input, webhook, low_priority, execution_timeout_ms,
        ttl_ms, retention_ms, created_at) VALUES (@id, @endpointId, 'IN_QUEUE', @input, @webhook, @lowPriority,
        @executionTimeoutMs, @ttlMs, @retentionMs, @createdAt) RETURNING *`),
      get: db.prepare("SELECT * FROM jobs WHERE id = ? AND endpoint_id = ?"),
      endpointOf: db.prepare("SELECT endpoint_id FROM jobs WHERE id = ?"),
      recent: db.prepare(`SELECT id, status, worker_id, created_at, started_at, finished_at FROM jobs
        WHERE endpoint_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?`),
      finish: db.prepare(`UPDATE jobs SET status = @status, output = @output, error = @error, finished_at = @now,
          webhook_due_at = CASE WHEN webhook IS NOT NULL THEN @now END
        WHERE id = @id AND endpoint_id = @endpointId AND status = 'IN_PROGRESS' AND worker_id = @workerId RETURNING *`),
      progress: db.prepare(`UPDATE jobs SET output = @output
        WHERE id = @id AND endpoint_id = @endpointId AND status = 'IN_PROGRESS' AND worker_id = @workerId`),
      noteProgress: db.prepare("INSERT INTO job_progress (job_id, at, output) VALUES (@id, @now, @output)"),
      // A run's numbers and worker are the job row's as the run ends: finish and end leave them as they were.
      attemptEnded: db.prepare(`INSERT INTO job_attempts (job_id, retry, attempt, worker_id, taken_at, ended_at, outcome, reason)
        VALUES (@id, @retries, @attempts, @worker_id, @started_at, @now, @outcome, @reason)`),
      // A requeue clears the run's worker and start, so its record is written from the row before it.
      attemptRequeued: db.prepare(`INSERT INTO job_attempts (job_id, retry, attempt, worker_id, taken_at, ended_at, outcome, reason)
        SELECT id, retries, attempts, worker_id, started_at, @now, 'requeued', @reason FROM jobs WHERE id = @id AND status = 'IN_PROGRESS'`),
      end: db.prepare(`UPDATE jobs SET status = @status, error = COALESCE(@error, error), finished_at = @now,
          webhook_due_at = CASE WHEN webhook IS NOT NULL THEN @now END
        WHERE id = @id AND status IN ('IN_QUEUE', 'IN_PROGRESS') RETURNING *`),
      requeue: db.prepare(`UPDATE jobs SET status = 'IN_QUEUE', worker_id = NULL, started_at = NULL, output = NULL
        WHERE id = @id AND status = 'IN_PROGRESS' RETURNING *`),
      retry: db.prepare(`UPDATE jobs SET status = 'IN_QUEUE', worker_id = NULL, started_at = NULL, finished_at = NULL,
          output = NULL, error = NULL, attempts = 0, retries = retries + 1, webhook_due_at = NULL, webhook_attempts = 0
        WHERE id = @id AND endpoint_id = @endpointId AND status IN ('FAILED', 'TIMED_OUT') RETURNING *`),
      purge: db.prepare("DELETE FROM jobs WHERE endpoint_id = ? AND status = 'IN_QUEUE'"),
      deleteOfEndpoint: db.prepare("DELETE FROM jobs WHERE endpoint_id = ? RETURNING id, status, worker_id"),
      inProgressOf: db.prepare("SELECT * FROM jobs WHERE worker_id = ? AND status = 'IN_PROGRESS' AND endpoint_id = ?"),
      overdue: db.prepare(`SELECT * FROM jobs WHERE status = 'IN_PROGRESS' AND started_at + execution_timeout_ms <= ?`),
      expire: db.prepare(`DELETE FROM jobs
        WHERE id IN (SELECT id FROM jobs WHERE created_at + ttl_ms <= @now AND status IN ('IN_QUEUE', 'IN_PROGRESS') LIMIT @limit)
          OR id IN (SELECT id FROM jobs WHERE finished_at + retention_ms <= @now LIMIT @limit)
        RETURNING id, endpoint_id, status, worker_id`),
      countsByStatus: db.prepare("SELECT status, n FROM job_counts WHERE endpoint_id = ?"),
      withQueued: db.prepare("SELECT endpoint_id FROM job_counts WHERE status = 'IN_QUEUE' AND n > 0"),
      queueStats: db.prepare(`SELECT
          (SELECT COUNT(*) FROM (SELECT 1 FROM jobs
            WHERE endpoint_id = @endpointId AND status = 'IN_QUEUE' AND low_priority = 0 LIMIT @cap)) AS queued,
          (SELECT COUNT(*) FROM (SELECT 1 FROM jobs
            WHERE endpoint_id = @endpointId AND status = 'IN_QUEUE' AND created_at <= @delayedBefore AND low_priority = 0
            LIMIT @cap)) AS delayed,
          (SELECT COUNT(*) FROM jobs WHERE endpoint_id = @endpointId AND status = 'IN_PROGRESS') AS inProgress`),
      inProgressByWorker: db.prepare(`SELECT worker_id AS workerId, COUNT(*) AS n FROM jobs
        WHERE endpoint_id = ? AND status = 'IN_PROGRESS' GROUP BY worker_id`),
      countRetried: db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE endpoint_id = ? AND (retries > 0 OR attempts > 1)"),
      appendChunk: db.prepare(`INSERT INTO job_stream (job_id, seq, output, at)
        SELECT @id, COALESCE(MAX(seq), 0) + 1, @output, @now FROM job_stream WHERE job_id = @id`),
      attempts: db.prepare("SELECT * FROM job_attempts WHERE job_id = ? ORDER BY retry, attempt"),
      progressEvents: db.prepare(`SELECT at, substr(output, 1, @chars) AS preview, length(CAST(output AS BLOB)) AS bytes
        FROM job_progress WHERE job_id = @id ORDER BY at, seq LIMIT @limit`),
      progressCount: db.prepare("SELECT COUNT(*) AS n FROM job_progress WHERE job_id = ?"),
      chunkEvents: db.prepare(`SELECT at, substr(output, 1, @chars) AS preview, length(CAST(output AS BLOB)) AS bytes
        FROM job_stream WHERE job_id = @id ORDER BY seq LIMIT @limit`),
      chunkCount: db.prepare("SELECT COUNT(*) AS n FROM job_stream WHERE job_id = ?"),
      unreadChunks: db.prepare("SELECT seq, output FROM job_stream WHERE job_id = ? AND seq > ? ORDER BY seq"),
      hasUnread: db.prepare("SELECT 1 FROM job_stream WHERE job_id = ? AND seq > ? LIMIT 1"),
      markRead: db.prepare("UPDATE jobs SET stream_read = ? WHERE id = ?"),
      webhooksDue: db.prepare("SELECT * FROM jobs WHERE webhook_due_at <= ? ORDER BY webhook_due_at LIMIT 100"),
      webhookAttempted: db.prepare(`UPDATE jobs SET webhook_attempts = webhook_attempts + 1, webhook_due_at = @dueAt
        WHERE id = @id`),
    };
  }

  async insert(jobs: NewJob[]): Promise<JobRow[]> {
    return this.database.write(() => jobs.map((job) => this.s.insert!.get({ ...job, lowPriority: job.lowPriority ? 1 : 0 }) as JobRow));
  }

  async get(endpointId: string, id: string): Promise<JobRow | undefined> {
    return this.s.get!.get(id, endpointId) as JobRow | undefined;
  }

  async endpointOf(id: string): Promise<string | undefined> {
    return (this.s.endpointOf!.get(id) as { endpoint_id: string } | undefined)?.endpoint_id;
  }

  /** Hands up to `limit` queued jobs, oldest first, to a worker. */
  async take(endpointId: string, workerId: string, limit: number, now: number): Promise<JobRow[]> {
    const taken = this.database.write(() => this.takeStatement(limit).all({ endpointId, workerId, now }) as JobRow[]);
    // RETURNING gives rows in no promised order; workers get them oldest first.
    return taken.sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
  }

  /** Records a worker's final answer; undefined when the job is no longer that worker's to finish. */
  async finish(
    endpointId: string,
    id: string,
    workerId: string,
    status: "COMPLETED" | "FAILED",
    output: string | null,
    error: string | null,
    now: number,
  ): Promise<JobRow | undefined> {
    return this.database.write(() => {
      const finished = this.s.finish!.get({ endpointId, id, workerId, status, output, error, now }) as JobRow | undefined;
      if (finished) this.attemptEnded(finished, now, ENDED_OUTCOME[status], error);
      return finished;
    });
  }

  async progress(endpointId: string, id: string, workerId: string, output: string, now: number): Promise<boolean> {
    return this.database.write(() => {
      const progressed = this.s.progress!.run({ endpointId, id, workerId, output }).changes > 0;
      if (progressed) this.s.noteProgress!.run({ id, now, output });
      return progressed;
    });
  }

  /** Ends a job that has not ended yet (cancel, timeout, final failure); undefined when it already had. */
  async end(id: string, status: "FAILED" | "CANCELLED" | "TIMED_OUT", error: string | null, now: number): Promise<JobRow | undefined> {
    return this.database.write(() => {
      const ended = this.s.end!.get({ id, status, error, now }) as JobRow | undefined;
      // A queued job has no worker (a requeue clears it): only a job in progress had a run to end.
      if (ended && ended.worker_id !== null) this.attemptEnded(ended, now, ENDED_OUTCOME[status], ended.error);
      return ended;
    });
  }

  async requeue(id: string, reason: string, now: number): Promise<JobRow | undefined> {
    return this.database.write(() => {
      this.s.attemptRequeued!.run({ id, reason, now });
      return this.s.requeue!.get({ id }) as JobRow | undefined;
    });
  }

  async retry(endpointId: string, id: string): Promise<JobRow | undefined> {
    return this.database.write(() => this.s.retry!.get({ id, endpointId }) as JobRow | undefined);
  }

  async purgeQueue(endpointId: string): Promise<number> {
    return this.database.write(() => this.s.purge!.run(endpointId).changes);
  }

  /** Removes every job of an endpoint (its stream chunks cascade); returns what was removed. */
  async deleteOfEndpoint(endpointId: string): Promise<Array<Pick<JobRow, "id" | "status" | "worker_id">>> {
    return this.database.write(() => this.s.deleteOfEndpoint!.all(endpointId) as Array<Pick<JobRow, "id" | "status" | "worker_id">>);
  }


  async inProgressOf(endpointId: string, workerId: string): Promise<JobRow[]> {
    return this.s.inProgressOf!.all(workerId, endpointId) as JobRow[];
  }

  async overdue(now: number): Promise<JobRow[]> {
    return this.s.overdue!.all(now) as JobRow[];
  }

  async expire(now: number, limit: number): Promise<ExpiredJob[]> {
    return this.database.write(() => this.s.expire!.all({ now, limit }) as ExpiredJob[]);
  }

  /** Nothing to do: SQLite's counts change in the transactions that change jobs (a trigger each). */
  async housekeeping(): Promise<void> {}

  async endpointsWithQueuedJobs(): Promise<Set<string>> {
    return new Set((this.s.withQueued!.all() as Array<{ endpoint_id: string }>).map((r) => r.endpoint_id));
  }

  async counts(endpointId: string): Promise<JobCounts> {
    const byStatus = new Map(
      (this.s.countsByStatus!.all(endpointId) as Array<{ status: JobStatus; n: number }>).map((r) => [r.status, r.n]),
    );
    return {
      completed: byStatus.get("COMPLETED") ?? 0,
      failed: byStatus.get("FAILED") ?? 0,
      inProgress: byStatus.get("IN_PROGRESS") ?? 0,
      inQueue: byStatus.get("IN_QUEUE") ?? 0,
      retried: (this.s.countRetried!.get(endpointId) as { n: number }).n,
    };
  }

  async queueStats(endpointId: string, delayedBefore: number, cap: number): Promise<QueueStats> {
    return this.s.queueStats!.get({ endpointId, delayedBefore, cap }) as QueueStats;
  }

  /** An endpoint's latest jobs, newest first, without their input or output: what the workers view lists. */
  async recent(endpointId: string, limit: number): Promise<JobSummaryRow[]> {
    return this.s.recent!.all(endpointId, limit) as JobSummaryRow[];
  }

  /** Jobs in progress per worker of an endpoint. */
  async inProgressByWorker(endpointId: string): Promise<Map<string, number>> {
    const rows = this.s.inProgressByWorker!.all(endpointId) as Array<{ workerId: string; n: number }>;
    return new Map(rows.map((r) => [r.workerId, r.n]));
  }

  async appendChunk(id: string, output: string, now: number): Promise<void> {
    this.database.write(() => this.s.appendChunk!.run({ id, output, now }));
  }

  async history(jobId: string, limit: number, previewChars: number): Promise<JobHistory> {
    const events = (statement: string) => this.s[statement]!.all({ id: jobId, limit, chars: previewChars }) as JobEventRow[];
    const count = (statement: string) => (this.s[statement]!.get(jobId) as { n: number }).n;
    return {
      attempts: this.s.attempts!.all(jobId) as JobAttemptRow[],
      progress: events("progressEvents"),
      progressCount: count("progressCount"),
      chunks: events("chunkEvents"),
      chunkCount: count("chunkCount"),
    };
  }

  async hasUnreadChunks(job: JobRow): Promise<boolean> {
    return this.s.hasUnread!.get(job.id, job.stream_read) !== undefined;
  }

  /** Stream chunks not yet returned to the client, marked returned. */
  async readChunks(job: JobRow): Promise<unknown[]> {
    const rows = this.s.unreadChunks!.all(job.id, job.stream_read) as Array<{ seq: number; output: string }>;
    if (rows.length > 0) this.database.write(() => this.s.markRead!.run(rows[rows.length - 1]!.seq, job.id));
    return rows.map((r) => JSON.parse(r.output));
  }

  async webhooksDue(now: number): Promise<JobRow[]> {
    return this.s.webhooksDue!.all(now) as JobRow[];
  }

  /** Records one delivery attempt; `dueAt` null means no more tries. */
  async webhookAttempted(id: string, dueAt: number | null): Promise<void> {
    this.database.write(() => this.s.webhookAttempted!.run({ id, dueAt }));
  }

  /** Inside the write that ended the run. */
  private attemptEnded(job: JobRow, now: number, outcome: JobAttemptRow["outcome"], reason: string | null): void {
    const { id, retries, attempts, worker_id, started_at } = job;
    this.s.attemptEnded!.run({ id, retries, attempts, worker_id, started_at, now, outcome, reason });
  }

  private takeStatement(limit: number): Statement {
    const size = Math.max(1, Math.trunc(limit));
    let statement = this.takeStatements.get(size);
    if (!statement) {
      statement = this.database.db.prepare(`UPDATE jobs SET status = 'IN_PROGRESS', worker_id = @workerId, started_at = @now,
          attempts = attempts + 1
        WHERE rowid IN (SELECT rowid FROM jobs WHERE endpoint_id = @endpointId AND status = 'IN_QUEUE'
                        ORDER BY created_at, rowid LIMIT ${size})
        RETURNING *`);
      this.takeStatements.set(size, statement);
    }
    return statement;
  }
}
