import crypto from "node:crypto";
import type { ServerConfig } from "../config";
import { notShared, type SharedStore, type Signals } from "../cluster/signals";
import { NotAllowedError, NotFoundError } from "../errors";
import type { QueueStats } from "../policy/autoscaler";
import { isTerminal, statusBody, type CallingWorker, type JobRow, type JobStatusBody, type JobSubmission, type RecentJob } from "./model";
import type { JobCounts, JobStorage, JobStore, WorkerCallRow, WorkerCallStore } from "./stores";
import { Waiters } from "./waiters";
import { WorkerPresence } from "./worker-presence";
import { HeldWorkers } from "./held-workers";
import { EVENT_BYTES, EVENTS_SHOWN, jobTimeline, type JobTimeline } from "./timeline";

/** The channel control planes sharing a store tell each other about jobs on. */
const JOB_SIGNALS = "berth_jobs";
/** An ended job up to this size (as JSON) travels with its signal, so a runsync waiting elsewhere answers at once. */
const MAX_SIGNALLED_JOB = 2_000;

type JobSignal =
  | { queued: string }
  | { requeued: string }
  | { job: string; ended?: JobRow }
  | { stop: { endpointId: string; workerId: string; jobId: string } }
  | { removed: string }
  | { called: { endpointId: string; workerId: string; at: number } };

/**
 * Expired jobs are removed this many a statement, and at most this many statements a sweep: a million jobs whose
 * retention ends together go over a few minutes' sweeps (10,000 a second, more than dispatch can finish) instead of
 * one sweep holding the store, and dispatch, for the whole of it.
 */
const EXPIRE_BATCH = 1_000;
const EXPIRE_BATCHES_PER_SWEEP = 10;

export const DEFAULT_EXECUTION_TIMEOUT_MS = 600_000;
export const DEFAULT_TTL_MS = 24 * 60 * 60_000;

/** How a job was submitted, which decides how long its result is kept. */
export type SubmitMode = "run" | "runsync" | "runsyncWithWait";

type JobServiceConfig = Pick<
  ServerConfig,
  "maxAttempts" | "workerLostAfterMs" | "runRetentionMs" | "runsyncRetentionMs" | "runsyncWaitRetentionMs"
>;

/** What a worker posts to job-done, once parsed. */
export interface JobDoneBody {
  status?: unknown;
  output?: unknown;
  error?: unknown;
  stopPod?: unknown;
}

export interface PingReport {
  jobIds: string[];
  sdkVersion?: string;
  unhealthy?: { check?: string; reason?: string };
}

/** One run of a job on a worker, from when the worker took it to when it ended or was given back. */
export interface JobRun {
  jobId: string;
  workerId: string;
  endpointId: string;
  startedAt: number;
  endedAt: number;
}

/** /health without a runtime: job counts and the workers heard from. */
export interface EndpointJobHealth {
  jobs: JobCounts;
  workers: WorkerCounts;
}

export interface WorkerCounts {
  idle: number;
  running: number;
  initializing: number;
  ready: number;
  throttled: number;
  unhealthy: number;
}

/**
 * The job queue's rules, over the store: submission, hand-out to workers, results, cancellation, timeouts,
 * expiry and lost workers. Every state change is one conditional UPDATE, so a late or repeated message
 * (a retried job-done, a cancel racing a result) changes nothing once a job has ended.
 */
export class JobService {
  private readonly store: JobStore;
  private readonly workers: WorkerCallStore;
  private readonly presence = new WorkerPresence();
  /** Keyed by endpoint id: job-take long-polls waiting for work. */
  private readonly queueWaiters = new Waiters<string>();
  /** Keyed by job id: runsync, status-sync and stream long-polls waiting for a change. */
  private readonly jobWaiters = new Waiters<string, JobRow>();
  /** Deleted endpoints, so a job-take long-poll on one ends at once. Ids are random and never reused. */
  private readonly removedEndpoints = new Set<string>();
  /** Aborted at close: every long-poll, open or still to come, answers at once from then on. */
  private readonly closing = new AbortController();
  /** Told about every newly queued job, so the autoscaler can react at once instead of at its next tick. */
  private readonly queuedListeners = new Set<(endpointId: string) => void>();
  /** Told about every job that reaches a terminal status (metrics, usage metering), once, with its final row. */
  private readonly endedListeners = new Set<(job: JobRow) => void>();
  /** Told about every run of a job on a worker that ended (finished, ended, or given back): usage metering. */
  private readonly runEndedListeners = new Set<(run: JobRun) => void>();

  private constructor(
    private readonly storage: JobStorage,
    private readonly config: JobServiceConfig,
    private readonly signals: Signals,
    private readonly held: HeldWorkers,
  ) {
    this.store = storage.jobs;
    this.workers = storage.workerCalls;
  }

  /**
   * The job service over its storage, told by the other control planes sharing it (`signals`) what changes there.
   * Every known worker gets a fresh start: nobody could call a dead server.
   */
  static async open(storage: JobStorage, config: JobServiceConfig, shared: SharedStore = notShared): Promise<JobService> {
    await storage.workerCalls.resetLastSeen(Date.now());
    const held = await HeldWorkers.open(storage.heldWorkers, shared.signals, shared.failed);
    const service = new JobService(storage, config, shared.signals, held);
    await shared.signals.listen(JOB_SIGNALS, (message) => service.signalled(message as JobSignal));
    return service;
  }

  // ---- client side ----

  /** Queues a job; resolves once it is committed, so an acknowledged job survives a crash. */
  async submit(endpointId: string, submission: JobSubmission, mode: SubmitMode): Promise<JobRow> {
    const now = Date.now();
    const id = `${mode === "run" ? "" : "sync-"}${crypto.randomUUID()}`;
    const [queued] = await this.store.insert([
      {
        id,
        endpointId,
        input: JSON.stringify(submission.input),
        webhook: submission.webhook ?? null,
        lowPriority: submission.lowPriority ?? false,
        executionTimeoutMs: submission.executionTimeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS,
        ttlMs: submission.ttlMs ?? DEFAULT_TTL_MS,
        retentionMs: {
          run: this.config.runRetentionMs,
          runsync: this.config.runsyncRetentionMs,
          runsyncWithWait: this.config.runsyncWaitRetentionMs,
        }[mode],
        createdAt: now,
      },
    ]);
    await this.storage.durable();
    this.queueWaiters.notifyOne(endpointId);
    for (const listener of this.queuedListeners) listener(endpointId);
    this.signals.send(JOB_SIGNALS, { queued: endpointId });
    return queued!;
  }

  async status(endpointId: string, id: string): Promise<JobStatusBody> {
    return statusBody(await this.mustGet(endpointId, id), Date.now());
  }

  /**
   * Waits up to `waitMs` for the job to end; answers its status either way. `known` is the job as its caller has
   * just seen it (a submission's own row), which stands in for the first look. A change made on this control plane
   * arrives with the job as it now is, and so does an end elsewhere (a small job travels with its signal); only
   * other changes are read back.
   */
  async waitForEnd(endpointId: string, id: string, waitMs: number, signal?: AbortSignal, known?: JobRow): Promise<JobStatusBody> {
    const deadline = Date.now() + waitMs;
    let seen = known;
    for (;;) {
      const change = this.jobWaiters.watch(id, deadline - Date.now(), this.untilClosing(signal));
      const job = seen ?? (await this.lookWhileWatching(change, () => this.mustGet(endpointId, id)));
      seen = undefined;
      if (isTerminal(job.status)) {
        change.cancel();
        return statusBody(job, Date.now());
      }
      if (!(await change.woken)) return statusBody(await this.mustGet(endpointId, id), Date.now());
      seen = change.delivered();
    }
  }

  /** Stream chunks not returned before; waits up to `waitMs` for one while the job is still running. */
  async readStream(endpointId: string, id: string, waitMs: number, signal?: AbortSignal) {
    const deadline = Date.now() + waitMs;
    const reply = async (job: JobRow) => ({ status: job.status, stream: (await this.store.readChunks(job)).map((output) => ({ output })) });
    for (;;) {
      const change = this.jobWaiters.watch(id, deadline - Date.now(), this.untilClosing(signal));
      const job = await this.lookWhileWatching(change, () => this.mustGet(endpointId, id));
      if (isTerminal(job.status) || (await this.lookWhileWatching(change, () => this.store.hasUnreadChunks(job)))) {
        change.cancel();
        return reply(job);
      }
      if (!(await change.woken)) return reply(await this.mustGet(endpointId, id));
    }
  }

  /** The job as stored (times, worker, attempts), or undefined when the endpoint has no such job (any more). */
  async job(endpointId: string, id: string): Promise<JobRow | undefined> {
    return this.store.get(endpointId, id);
  }

  async cancel(endpointId: string, id: string): Promise<{ id: string; status: string }> {
    const job = await this.mustGet(endpointId, id);
    const ended = await this.end(job, "CANCELLED", null);
    await this.storage.durable();
    return { id, status: (ended ?? (await this.mustGet(endpointId, id))).status };
  }

  async retry(endpointId: string, id: string): Promise<{ id: string; status: string }> {
    const job = await this.mustGet(endpointId, id);
    const requeued = await this.store.retry(endpointId, id);
    if (!requeued) {
      throw new NotAllowedError("not_retryable", `job ${id} is ${job.status}: only FAILED or TIMED_OUT jobs can be retried`);
    }
    await this.storage.durable();
    this.queueChanged(endpointId);
    this.jobChanged(id, requeued);
    return { id, status: requeued.status };
  }

  async purgeQueue(endpointId: string): Promise<{ removed: number; status: "completed" }> {
    const removed = await this.store.purgeQueue(endpointId);
    await this.storage.durable();
    return { removed, status: "completed" };
  }

  /** Job counts, and the workers heard from recently; `managed` ones (a runtime's, counted by it) left out. */
  async health(endpointId: string, managed: ReadonlySet<string> = new Set(), now = Date.now()): Promise<EndpointJobHealth> {
    const alive = (await this.workers.ofEndpoint(endpointId)).filter(
      (w) => w.last_seen_at >= now - this.config.workerLostAfterMs && !w.leaving && !managed.has(w.id),
    );
    const unhealthy = alive.filter((w) => w.unhealthy_reason !== null).length;
    const busy = await this.store.inProgressByWorker(endpointId);
    const running = alive.filter((w) => w.unhealthy_reason === null && busy.has(w.id)).length;
    const idle = alive.length - unhealthy - running;
    return {
      jobs: await this.store.counts(endpointId),
      workers: { idle, running, initializing: 0, ready: idle, throttled: 0, unhealthy },
    };
  }

  // ---- worker side ----

  /**
   * Hands up to `limit` jobs to a worker, holding the request up to `waitMs` while the queue is empty. A worker that
   * says it runs nothing yet has jobs in progress here never got the answer that carried them (a control plane
   * died as it answered, or the connection broke): it gets those again, so they neither run twice nor wait out
   * their execution timeout.
   */
  async take(
    endpointId: string,
    workerId: string,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
    worker: { runsNothing?: boolean } = {},
  ): Promise<JobRow[]> {
    const deadline = Date.now() + waitMs;
    // A held worker waits apart, without a take: it gets its undelivered jobs before it starts waiting.
    if (worker.runsNothing && this.held.isHeld(endpointId, workerId)) {
      const undelivered = await this.store.inProgressOf(endpointId, workerId);
      if (undelivered.length > 0) {
        await this.touched(endpointId, workerId, Date.now());
        return undelivered.sort((x, y) => x.created_at - y.created_at).slice(0, limit);
      }
    }
    // Otherwise the first take looks for them, in the same statement.
    let undeliveredFirst = worker.runsNothing ?? false;
    for (;;) {
      const now = Date.now();
      if (this.held.isHeld(endpointId, workerId)) {
        // A held worker waits apart, so that a new job's single wake-up (notifyOne) never lands on it; its wait
        // starts before its call is recorded, so a release meanwhile is not missed.
        const released = this.held.waitForRelease(endpointId, workerId, deadline - Date.now(), this.untilClosing(signal));
        await this.touched(endpointId, workerId, now);
        if (!(await released)) return [];
        continue;
      }
      // Waiting starts before the look, so a job queued while the look is under way still wakes this take.
      const queued = this.queueWaiters.watch(endpointId, deadline - Date.now(), this.untilClosing(signal));
      // The call is recorded by the take itself: one statement, one round trip.
      const jobs = await this.lookWhileWatching(queued, () => this.storage.calls.take(endpointId, workerId, limit, now, undeliveredFirst));
      undeliveredFirst = false;
      this.heard(endpointId, workerId, now);
      if (jobs.length > 0) {
        // A wake-up meant for one worker (notifyOne) that this take no longer needs goes to the next one.
        if (queued.cancel()) this.queueWaiters.notifyOne(endpointId);
        await this.storage.durable();
        if (signal?.aborted) {
          // Nobody is left to receive them: put them back rather than strand them on this worker.
          for (const job of jobs) await this.store.requeue(job.id, "not delivered: the worker's request ended before the answer", Date.now());
          this.queueChanged(endpointId);
          return [];
        }
        for (const job of jobs) this.jobChanged(job.id, job);
        return jobs;
      }
      if (!(await queued.woken)) return [];
      if (this.removedEndpoints.has(endpointId)) return [];
    }
  }

  /**
   * A worker's job-done message: a progress update, an error, or the final output. Repeats, and answers for a job
   * that is no longer this worker's (it timed out, was cancelled or went to another worker), change nothing; a job
   * this endpoint does not have is not found.
   */
  async done(endpointId: string, workerId: string, jobId: string, body: JobDoneBody): Promise<void> {
    const now = Date.now();
    // The conditional UPDATE comes first, so a result (the hot path) costs no read; only when it changed nothing
    // is the job looked up, to tell a job of another endpoint (404) from a late or repeated answer (ignored).
    if (body.status === "IN_PROGRESS") {
      const progressed = await this.store.progress(endpointId, jobId, workerId, JSON.stringify(body.output ?? null), now);
      if (!progressed) await this.mustGet(endpointId, jobId);
      await this.touched(endpointId, workerId, now);
      await this.leavesIfAsked(endpointId, workerId, body);
      if (progressed) this.jobChanged(jobId);
      await this.storage.durable();
      return;
    }
    const failed = body.error !== undefined && body.error !== null && body.error !== "";
    const output = body.output === undefined ? null : JSON.stringify(body.output);
    const error = failed ? (typeof body.error === "string" ? body.error : JSON.stringify(body.error)) : null;
    // The call is recorded by the same statement, and only if the job exists on this endpoint.
    const { finished, known } = await this.storage.calls.finish(endpointId, jobId, workerId, failed ? "FAILED" : "COMPLETED", output, error, now);
    if (!known) throw jobNotFound(endpointId, jobId);
    this.heard(endpointId, workerId, now);
    await this.leavesIfAsked(endpointId, workerId, body);
    await this.storage.durable();
    if (finished) this.ended(finished);
  }

  /** One chunk from a generator handler; ignored unless the job is still this worker's, not found off this endpoint. */
  async streamChunk(endpointId: string, workerId: string, jobId: string, output: unknown): Promise<void> {
    const job = await this.mustGet(endpointId, jobId);
    await this.touched(endpointId, workerId, Date.now());
    if (job.status !== "IN_PROGRESS" || job.worker_id !== workerId) return;
    await this.store.appendChunk(jobId, JSON.stringify(output ?? null), Date.now());
    await this.storage.durable();
    this.jobChanged(jobId);
  }

  async ping(endpointId: string, workerId: string, report: PingReport): Promise<void> {
    const now = Date.now();
    await this.workers.touchBatched(endpointId, workerId, now, report.sdkVersion);
    this.heard(endpointId, workerId, now);
    if (report.unhealthy) {
      const { check, reason } = report.unhealthy;
      const why = `worker reported unhealthy${check ? ` (${check})` : ""}${reason ? `: ${reason}` : ""}`;
      await this.workers.markUnhealthy(endpointId, workerId, why);
      await this.releaseJobsOf(endpointId, workerId, why);
    }
    await this.storage.durable();
  }

  /** Jobs this worker must stop, waiting up to `waitMs` for one. */
  async takeStops(endpointId: string, workerId: string, waitMs: number, signal?: AbortSignal): Promise<string[]> {
    await this.touched(endpointId, workerId, Date.now());
    return this.presence.takeStops(endpointId, workerId, waitMs, this.untilClosing(signal));
  }

  // ---- the admin side ----

  /**
   * An endpoint was deleted: its jobs, queued or running, go with it (a client asking about one gets 404), its
   * running jobs are stopped on their workers, and every long-poll about it answers now. Runs in the same group
   * transaction as the endpoint's own deletion, so both are on disk together or not at all.
   */
  async removeEndpoint(endpointId: string): Promise<void> {
    for (const job of await this.store.deleteOfEndpoint(endpointId)) {
      if (job.status === "IN_PROGRESS" && job.worker_id) this.stopJob(endpointId, job.worker_id, job.id);
      this.jobChanged(job.id);
    }
    await this.workers.removeOfEndpoint(endpointId);
    this.endpointRemoved(endpointId);
    this.signals.send(JOB_SIGNALS, { removed: endpointId });
  }

  // ---- the runtime's side ----

  onQueued(listener: (endpointId: string) => void): void {
    this.queuedListeners.add(listener);
  }

  onEnded(listener: (job: JobRow) => void): void {
    this.endedListeners.add(listener);
  }

  onRunEnded(listener: (run: JobRun) => void): void {
    this.runEndedListeners.add(listener);
  }

  /**
   * Resolves with the time of the worker's first call at or after `since` (a runtime started or resumed it then).
   * A worker that has called since already resolves at once, with its first call if that was after `since`.
   */
  async firstCallAfter(endpointId: string, workerId: string, since: number): Promise<number> {
    // Waiting is set up before the read, so a first call racing the read is not missed.
    const next = this.presence.nextCallAfter(endpointId, workerId, since);
    const row = await this.workers.get(endpointId, workerId);
    if (row && row.last_seen_at >= since) {
      this.presence.forgetFirstCall(endpointId, workerId);
      return row.first_seen_at >= since ? row.first_seen_at : row.last_seen_at;
    }
    return next;
  }

  /** The worker gets no new jobs until released (its long-polls keep waiting); jobs it has are unaffected. */
  hold(endpointId: string, workerId: string): void {
    this.held.hold(endpointId, workerId);
  }

  release(endpointId: string, workerId: string): void {
    this.held.release(endpointId, workerId);
  }

  /** A runtime saw the worker die: its jobs go back to the queue now rather than when it would count as lost. */
  async workerGone(endpointId: string, workerId: string, why: string): Promise<void> {
    this.presence.forget(endpointId, workerId);
    this.held.release(endpointId, workerId);
    await this.releaseJobsOf(endpointId, workerId, why);
    await this.workers.remove(endpointId, workerId);
  }

  // ---- what runtimes and monitoring read ----

  counts(endpointId: string): Promise<JobCounts> {
    return this.store.counts(endpointId);
  }

  /** The endpoints that have jobs waiting, from the counts the store keeps. */
  endpointsWithQueuedJobs(): Promise<Set<string>> {
    return this.store.endpointsWithQueuedJobs();
  }

  /** What the autoscaler reads (see JobStore.queueStats and queueCountCap). */
  queueStats(endpointId: string, delayedBefore: number, cap: number): Promise<QueueStats> {
    return this.store.queueStats(endpointId, delayedBefore, cap);
  }

  /** Jobs in progress per worker of an endpoint; a worker without one is absent. */
  inProgressByWorker(endpointId: string): Promise<Map<string, number>> {
    return this.store.inProgressByWorker(endpointId);
  }

  /** An endpoint's latest jobs, newest first. */
  async recentJobs(endpointId: string, limit: number): Promise<RecentJob[]> {
    return (await this.store.recent(endpointId, limit)).map((row) => ({
      id: row.id,
      status: row.status,
      workerId: row.worker_id ?? undefined,
      createdAt: row.created_at,
      startedAt: row.started_at ?? undefined,
      finishedAt: row.finished_at ?? undefined,
    }));
  }

  /** The endpoint a job is on, by the job's id alone; undefined when no endpoint has it (or it expired). */
  endpointOfJob(id: string): Promise<string | undefined> {
    return this.store.endpointOf(id);
  }

  /** A job's timeline: its documents, error, runs on workers, progress updates and stream chunks. */
  async timeline(endpointId: string, id: string): Promise<JobTimeline> {
    const job = await this.mustGet(endpointId, id);
    return jobTimeline(job, await this.store.history(id, EVENTS_SHOWN, EVENT_BYTES), Date.now());
  }

  /** When each worker of the endpoint last called, by worker id. */
  async lastSeen(endpointId: string): Promise<Map<string, number>> {
    return new Map((await this.workers.ofEndpoint(endpointId)).map((row) => [row.id, row.last_seen_at]));
  }

  /** The endpoint's workers that have called (and not since been lost or removed). */
  async callingWorkers(endpointId: string): Promise<CallingWorker[]> {
    return (await this.workers.ofEndpoint(endpointId)).map(callingWorker);
  }

  async callingWorker(endpointId: string, workerId: string): Promise<CallingWorker | undefined> {
    const row = await this.workers.get(endpointId, workerId);
    return row && callingWorker(row);
  }

  // ---- the sweeper's side ----

  /** Ends overdue jobs, removes expired ones, and gives back the jobs of workers that went silent. */
  async sweep(now = Date.now()): Promise<void> {
    for (const job of await this.store.overdue(now)) {
      await this.end(job, "TIMED_OUT", `execution timeout of ${job.execution_timeout_ms} ms exceeded`);
    }
    for (let batch = 0; batch < EXPIRE_BATCHES_PER_SWEEP; batch++) {
      const expired = await this.store.expire(now, EXPIRE_BATCH);
      for (const job of expired) {
        if (job.status === "IN_PROGRESS" && job.worker_id) this.stopJob(job.endpoint_id, job.worker_id, job.id);
        this.jobChanged(job.id);
      }
      if (expired.length < EXPIRE_BATCH) break;
    }
    await this.store.housekeeping();
    for (const worker of await this.workers.silentSince(now - this.config.workerLostAfterMs)) {
      const why = `worker ${worker.id} lost: no call for over ${this.config.workerLostAfterMs} ms`;
      await this.releaseJobsOf(worker.endpoint_id, worker.id, why);
      await this.workers.remove(worker.endpoint_id, worker.id);
    }
  }

  /** Every long-poll answers now, and any that arrives later at once (a control plane handing its clients back). */
  close(): void {
    this.closing.abort();
    this.queueWaiters.notifyAll();
    this.jobWaiters.notifyAll();
    this.presence.close();
    this.held.close();
  }

  // ---- internals ----

  /** A long-poll's wait ends when its client goes away or when this service closes. */
  private untilClosing(signal?: AbortSignal): AbortSignal {
    return signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
  }

  private async mustGet(endpointId: string, id: string): Promise<JobRow> {
    const job = await this.store.get(endpointId, id);
    if (!job) throw jobNotFound(endpointId, id);
    return job;
  }

  /** Ends a job not yet ended; a running one is also stopped on its worker. */
  private async end(job: JobRow, status: "CANCELLED" | "TIMED_OUT" | "FAILED", error: string | null): Promise<JobRow | undefined> {
    const ended = await this.store.end(job.id, status, error, Date.now());
    if (!ended) return undefined;
    if (job.status === "IN_PROGRESS" && job.worker_id) this.stopJob(job.endpoint_id, job.worker_id, job.id);
    this.ended(ended);
    return ended;
  }

  /** The worker's jobs go back to the queue, or fail for good once they have used up their attempts. */
  private async releaseJobsOf(endpointId: string, workerId: string, why: string): Promise<void> {
    for (const job of await this.store.inProgressOf(endpointId, workerId)) {
      if (job.attempts >= this.config.maxAttempts) {
        const ended = await this.store.end(job.id, "FAILED", `${why}; gave up after ${job.attempts} attempts`, Date.now());
        if (ended) this.ended(ended);
      } else {
        const requeued = await this.store.requeue(job.id, why, Date.now());
        this.runEnded(job, Date.now());
        this.queueChanged(job.endpoint_id);
        this.jobChanged(job.id, requeued);
      }
    }
  }

  /** A job-done call that says stopPod: the worker leaves after this job. */
  private async leavesIfAsked(endpointId: string, workerId: string, body: JobDoneBody): Promise<void> {
    if (body.stopPod === true) await this.workers.markLeaving(endpointId, workerId);
  }

  private async touched(endpointId: string, workerId: string, now: number, sdkVersion?: string): Promise<void> {
    await this.workers.touch(endpointId, workerId, now, sdkVersion);
    this.heard(endpointId, workerId, now);
  }

  /**
   * A call reached this control plane. One that ends a silence may be the first call a runtime on another control
   * plane waits for (cold-start timing, server/runtimes): the others hear of it.
   */
  private heard(endpointId: string, workerId: string, now: number): void {
    if (this.presence.called(endpointId, workerId, now)) this.signals.send(JOB_SIGNALS, { called: { endpointId, workerId, at: now } });
  }

  /** A look at the store made while watching for a change: if the look fails, the watch ends with it. */
  private async lookWhileWatching<T>(watch: { cancel(): boolean }, look: () => Promise<T>): Promise<T> {
    try {
      return await look();
    } catch (err) {
      watch.cancel();
      throw err;
    }
  }

  /** Whoever waits on the job, here or on another control plane, looks again; here, `now` is what they see. */
  private jobChanged(jobId: string, now?: JobRow): void {
    this.jobWaiters.notify(jobId, now);
    const ended = now && isTerminal(now.status) && JSON.stringify(now).length <= MAX_SIGNALLED_JOB ? now : undefined;
    this.signals.send(JOB_SIGNALS, ended ? { job: jobId, ended } : { job: jobId });
  }

  /** Jobs went back to the endpoint's queue: its workers' take long-polls, here and elsewhere, look again. */
  private queueChanged(endpointId: string): void {
    this.queueWaiters.notify(endpointId);
    this.signals.send(JOB_SIGNALS, { requeued: endpointId });
  }

  /** The worker must abandon the job, whichever control plane its job-stop long-poll reaches. */
  private stopJob(endpointId: string, workerId: string, jobId: string): void {
    this.presence.requestStop(endpointId, workerId, jobId);
    this.signals.send(JOB_SIGNALS, { stop: { endpointId, workerId, jobId } });
  }

  private endpointRemoved(endpointId: string): void {
    this.removedEndpoints.add(endpointId);
    this.queueWaiters.notify(endpointId);
  }

  /** What another control plane sharing the store did: the same wake-ups here, nothing written again. */
  private signalled(message: JobSignal): void {
    if ("queued" in message) {
      this.queueWaiters.notifyOne(message.queued);
      for (const listener of this.queuedListeners) listener(message.queued);
    } else if ("requeued" in message) {
      this.queueWaiters.notify(message.requeued);
      for (const listener of this.queuedListeners) listener(message.requeued);
    } else if ("job" in message) {
      this.jobWaiters.notify(message.job, message.ended);
    } else if ("stop" in message) {
      this.presence.requestStop(message.stop.endpointId, message.stop.workerId, message.stop.jobId);
    } else if ("removed" in message) {
      this.endpointRemoved(message.removed);
    } else if ("called" in message) {
      this.presence.calledElsewhere(message.called.endpointId, message.called.workerId, message.called.at);
    }
  }

  private ended(job: JobRow): void {
    this.jobChanged(job.id, job);
    for (const listener of this.endedListeners) listener(job);
    if (job.finished_at !== null) this.runEnded(job, job.finished_at);
  }

  private runEnded(job: JobRow, at: number): void {
    if (job.worker_id === null || job.started_at === null) return;
    const run = { jobId: job.id, workerId: job.worker_id, endpointId: job.endpoint_id, startedAt: job.started_at, endedAt: at };
    for (const listener of this.runEndedListeners) listener(run);
  }
}

function callingWorker(row: WorkerCallRow): CallingWorker {
  return {
    id: row.id,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    sdkVersion: row.sdk_version ?? undefined,
    unhealthyReason: row.unhealthy_reason ?? undefined,
    leaving: row.leaving === 1,
  };
}

function jobNotFound(endpointId: string, id: string): NotFoundError {
  return new NotFoundError("job_not_found", `job ${id} does not exist on endpoint ${endpointId} (or has expired)`);
}
