import type { QueueStats } from "../policy/autoscaler";
import type { AttemptOutcome, JobRow, JobStatus } from "./model";

/**
 * What the job service needs from storage, declared here so the queue's rules do not depend on one database:
 * store/ implements these (SQLite today). Every state change is one conditional statement that answers what it
 * changed, so a late or repeated message changes nothing once a job has ended.
 */

/** A job to queue, as stored: JSON documents as text. */
export interface NewJob {
  id: string;
  endpointId: string;
  input: string;
  webhook: string | null;
  lowPriority: boolean;
  executionTimeoutMs: number;
  ttlMs: number;
  retentionMs: number;
  createdAt: number;
}

export interface JobCounts {
  completed: number;
  failed: number;
  inProgress: number;
  inQueue: number;
  retried: number;
}

export type ExpiredJob = Pick<JobRow, "id" | "endpoint_id" | "status" | "worker_id">;

export type JobSummaryRow = Pick<JobRow, "id" | "status" | "worker_id" | "created_at" | "started_at" | "finished_at">;

/** A run of a job on a worker that has ended, as stored (the one in progress is the job row itself). */
export interface JobAttemptRow {
  job_id: string;
  /** The job's `retries` and `attempts` while it ran: which retry round, and which take within it (from 1). */
  retry: number;
  attempt: number;
  worker_id: string;
  taken_at: number;
  ended_at: number;
  outcome: AttemptOutcome;
  /** Why, in words: the handler's error as the worker sent it, the timeout, the worker that went away. */
  reason: string | null;
}

/** A progress update or stream chunk: its JSON text cut to a preview, and its whole size. */
export interface JobEventRow {
  /** Null for stream chunks written before chunks had times. */
  at: number | null;
  preview: string;
  bytes: number;
}

/** What a job's timeline reads beside its row. */
export interface JobHistory {
  attempts: JobAttemptRow[];
  progress: JobEventRow[];
  progressCount: number;
  chunks: JobEventRow[];
  chunkCount: number;
}

export interface JobStore {
  /** Queues new jobs; answers their rows as stored, in the order given, so a submission needs no read back. */
  insert(jobs: NewJob[]): Promise<JobRow[]>;
  get(endpointId: string, id: string): Promise<JobRow | undefined>;
  /** The endpoint a job is on, found by its id alone (ids are random UUIDs, unique across endpoints). */
  endpointOf(id: string): Promise<string | undefined>;
  /**
   * Records a progress update of a job in progress on this worker, as its output and in its timeline; false when it
   * is not (or no longer) its.
   */
  progress(endpointId: string, id: string, workerId: string, output: string, now: number): Promise<boolean>;
  /**
   * Ends a job that has not ended yet (cancel, timeout, final failure), and its run in progress if it has one (its
   * outcome the status, its reason `error`); undefined when it already had.
   */
  end(id: string, status: Exclude<JobStatus, "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED">, error: string | null, now: number): Promise<JobRow | undefined>;
  /** Puts a job in progress back in the queue, its attempts kept, its run recorded as requeued for `reason`. */
  requeue(id: string, reason: string, now: number): Promise<JobRow | undefined>;
  /** Queues a FAILED or TIMED_OUT job again; undefined for any other. */
  retry(endpointId: string, id: string): Promise<JobRow | undefined>;
  /** Removes the endpoint's queued jobs; answers how many. */
  purgeQueue(endpointId: string): Promise<number>;
  /** Removes every job of an endpoint with its stream; returns what was removed. */
  deleteOfEndpoint(endpointId: string): Promise<Array<Pick<JobRow, "id" | "status" | "worker_id">>>;
  inProgressOf(endpointId: string, workerId: string): Promise<JobRow[]>;
  /** Jobs in progress past their execution timeout. */
  overdue(now: number): Promise<JobRow[]>;
  /**
   * Removes up to `limit` jobs past their ttl (not yet ended) and up to `limit` past their retention window
   * (ended), with their stream chunks, in one statement; answers what it removed.
   */
  expire(now: number, limit: number): Promise<ExpiredJob[]>;
  /** The endpoint's jobs by status, from counts kept as jobs change: no scan of its jobs, however many. */
  counts(endpointId: string): Promise<JobCounts>;
  /** The endpoints with at least one job IN_QUEUE, from the same counts. */
  endpointsWithQueuedJobs(): Promise<Set<string>>;
  /**
   * What the autoscaler reads: queued jobs that may scale the endpoint up (low-priority ones never do), how many
   * of those were queued before `delayedBefore`, and jobs in progress. Queued and delayed are counted up to `cap`
   * only, so a backlog of a million costs no more than the autoscaler can act on (see queueCountCap).
   */
  queueStats(endpointId: string, delayedBefore: number, cap: number): Promise<QueueStats>;
  /** What the store needs done now and then; the sweeper calls it each pass (PostgreSQL folds its count changes). */
  housekeeping(): Promise<void>;
  /** An endpoint's latest jobs, newest first, without their input or output. */
  recent(endpointId: string, limit: number): Promise<JobSummaryRow[]>;
  /** Jobs in progress per worker of an endpoint. */
  inProgressByWorker(endpointId: string): Promise<Map<string, number>>;
  appendChunk(id: string, output: string, now: number): Promise<void>;
  /**
   * A job's ended runs, oldest first, and its first `limit` progress updates and stream chunks, each cut to
   * `previewChars` characters, with how many there are: a job that streamed a million chunks costs no more to show.
   */
  history(jobId: string, limit: number, previewChars: number): Promise<JobHistory>;
  hasUnreadChunks(job: JobRow): Promise<boolean>;
  /** Stream chunks not yet returned to the client, marked returned. */
  readChunks(job: JobRow): Promise<unknown[]>;
  webhooksDue(now: number): Promise<JobRow[]>;
  /** Records one delivery attempt; `dueAt` null means no more tries. */
  webhookAttempted(id: string, dueAt: number | null): Promise<void>;
}

/** A worker as its calls to the worker API made it known, as stored. */
export interface WorkerCallRow {
  id: string;
  endpoint_id: string;
  first_seen_at: number;
  last_seen_at: number;
  sdk_version: string | null;
  unhealthy_reason: string | null;
  leaving: number;
}

/**
 * Workers as the worker API sees them: known by the id they call with within their endpoint (the same id on two
 * endpoints is two workers), alive while they keep calling.
 */
export interface WorkerCallStore {
  /** Records that a worker called; cheap enough for every call. */
  touch(endpointId: string, id: string, now: number, sdkVersion?: string): Promise<void>;
  /**
   * The same for a call that can wait a moment for others (a ping): a store that pays per statement writes the
   * calls of a short window together. Resolves once written.
   */
  touchBatched(endpointId: string, id: string, now: number, sdkVersion?: string): Promise<void>;
  markUnhealthy(endpointId: string, id: string, reason: string): Promise<void>;
  markLeaving(endpointId: string, id: string): Promise<void>;
  silentSince(cutoff: number): Promise<WorkerCallRow[]>;
  remove(endpointId: string, id: string): Promise<void>;
  removeOfEndpoint(endpointId: string): Promise<void>;
  get(endpointId: string, id: string): Promise<WorkerCallRow | undefined>;
  ofEndpoint(endpointId: string): Promise<WorkerCallRow[]>;
  /** After a restart nobody could call while the server was down: give every known worker a fresh start. */
  resetLastSeen(now: number): Promise<void>;
}

/** A worker, named within its endpoint. */
export interface WorkerRef {
  endpointId: string;
  workerId: string;
}

/**
 * Which workers are held (held-workers.ts), for the control planes that share the store; with SQLite there is one,
 * whose memory is enough, and a restart starts with none held (runtimes hold their workers again on start).
 */
export interface HeldWorkerRows {
  all(): Promise<WorkerRef[]>;
  /** Starts writing at once, in call order. */
  hold(worker: WorkerRef): Promise<void>;
  release(worker: WorkerRef): Promise<void>;
}

/** A job-done call's outcome: the job finished by it, and whether the job exists on the endpoint at all. */
export interface FinishCall {
  finished: JobRow | undefined;
  known: boolean;
}

/**
 * The two calls of the worker API's hot path, each a write to jobs and to the worker's call record together: in
 * one statement where the store is a server (one round trip, one commit), in turn where it is in-process.
 */
export interface WorkerCallWrites {
  /**
   * Records the call at `now`, then hands the worker up to `limit` queued jobs, oldest first. With
   * `undeliveredFirst` (the worker says it runs nothing), a worker that has jobs in progress here gets those again,
   * unchanged, instead: the answer that carried them was lost.
   */
  take(endpointId: string, workerId: string, limit: number, now: number, undeliveredFirst?: boolean): Promise<JobRow[]>;
  /**
   * Finishes the job if it is still this worker's (and records its run, in the same transaction), and records the
   * call at `now` only if the job exists on the endpoint (a call about another endpoint's job counts for nothing).
   */
  finish(endpointId: string, id: string, workerId: string, status: "COMPLETED" | "FAILED", output: string | null, error: string | null, now: number): Promise<FinishCall>;
}

/** The job service's storage: its stores and the group commit they write through. */
export interface JobStorage {
  jobs: JobStore;
  workerCalls: WorkerCallStore;
  calls: WorkerCallWrites;
  heldWorkers: HeldWorkerRows;
  /** Resolves once every write made so far is on disk. */
  durable(): Promise<void>;
}
