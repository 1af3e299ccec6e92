import os from "node:os";
import type { Logger } from "pino";
import { readWorkerEnv, type WorkerEnv } from "./config";
import { onShutdownSignals, settleAll } from "./drain";
import { Heartbeat } from "./heartbeat";
import { WorkerHttpClient } from "./http";
import { runJobLoop } from "./job-loop";
import type { RawJob } from "./job-take";
import { createLogger, describeError } from "./logger";
import { attachProgressSink, detachProgressSink } from "./progress";
import type { ResultBody } from "./result";
import { runJob, type RunJobContext } from "./run-job";
import { StopChannel } from "./stop-channel";
import { JobStoppedError, type Handler, type Job, type StartOptions, type StopReason, type WorkerHandle } from "./types";
import { WorkerUrls } from "./urls";
import { SDK_VERSION_TAG } from "./version";

/** How many early stops (for jobs not yet handed to this worker) are remembered. */
const MAX_REMEMBERED_STOPS = 1000;

interface RunningJob {
  job: Job;
  controller: AbortController;
  /** Stopped by the control plane or a forced exit: nothing more is posted for it. */
  stopped: boolean;
  logger: Logger;
}

type State = "running" | "draining" | "stopped";

/**
 * One worker process's life: the take loop, the jobs it runs, the heartbeat and the stop channel, and how it
 * ends (drain on stop() or a signal, exit after a job when refreshing, forced exit on a second signal).
 */
export class WorkerRuntime {
  readonly workerId: string;
  readonly stopped: Promise<StopReason>;
  private resolveStopped!: (reason: StopReason) => void;
  private state: State = "running";
  private readonly running = new Map<string, RunningJob>();
  /**
   * Stops for jobs not running here (yet): a cancel can reach the stop channel before the job-take reply that
   * hands the job out, and such a job must not start. Oldest forgotten first; ids are unique.
   */
  private readonly stoppedBeforeStart = new Set<string>();
  /** Every job's whole run, result POST included; a drain waits for these. */
  private readonly pending = new Set<Promise<void>>();
  private readonly slotWaiters: Array<() => void> = [];
  private readonly takeController = new AbortController();
  private readonly http: WorkerHttpClient;
  private readonly urls: WorkerUrls;
  private readonly logger: Logger;
  private readonly heartbeat?: Heartbeat;
  private readonly stopChannel?: StopChannel;
  private readonly handler: Handler;
  private draining?: Promise<void>;
  private removeSignalHandlers?: () => void;
  private loop?: Promise<void>;

  constructor(
    private readonly env: WorkerEnv,
    private readonly options: StartOptions<any, any>,
  ) {
    this.workerId = env.workerId;
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.handler = options.handler as Handler;
    this.logger = options.logger ?? createLogger(options.logLevel ?? env.logLevel, { workerId: env.workerId, endpointId: env.endpointId });
    this.http = new WorkerHttpClient(env.apiKey);
    this.urls = new WorkerUrls(env.urls, env.workerId);

    const stopUrl = this.urls.jobStop();
    if (stopUrl) this.stopChannel = new StopChannel(this.http, stopUrl, (ids) => this.stopJobs(ids), this.logger.child({ part: "job-stop" }));

    // runpod-python pings only when RUNPOD_AI_API_KEY and RUNPOD_POD_ID are both set. Berth also pings with a
    // made-up worker id: the control plane learns of workers from their calls, and a worker busy on a long job
    // makes no other call, so without pings it would be declared lost and its job handed out again.
    if (env.apiKey && env.urls.ping) {
      this.heartbeat = new Heartbeat({
        pingUrl: (jobIds) => this.urls.ping(jobIds, SDK_VERSION_TAG)!,
        apiKey: env.apiKey,
        intervalMs: env.pingIntervalMs,
        userAgent: SDK_VERSION_TAG,
        logger: this.logger.child({ part: "heartbeat" }),
      });
    }
  }

  start(): void {
    const { options, env, logger } = this;
    if (!env.apiKey) logger.warn("RUNPOD_AI_API_KEY is not set: worker API calls go without Authorization, and no heartbeat is sent");
    if (!env.urls.ping) logger.warn("RUNPOD_WEBHOOK_PING is not set: no heartbeat is sent");
    if (!env.workerIdFromEnv) logger.info("RUNPOD_POD_ID is not set: using a made-up worker id");
    if (options.handleSignals ?? true) {
      this.removeSignalHandlers = onShutdownSignals({
        drain: (signal) => {
          logger.info({ signal, jobsInProgress: this.jobsInProgress() }, "shutdown signal: draining (send it again to force)");
          void this.drain("signal");
        },
        force: (signal) => {
          logger.warn({ signal, abandoned: this.jobsInProgress() }, "second shutdown signal: forcing exit");
          void this.force();
        },
      });
    }
    this.heartbeat?.start([]);
    this.stopChannel?.start();
    this.loop = runJobLoop(
      {
        http: this.http,
        urls: this.urls,
        logger: logger.child({ part: "job-take" }),
        concurrency: options.concurrency ?? 1,
        running: () => this.running.size,
        launch: (job) => this.launch(job),
        slotFreed: () => new Promise((resolve) => this.slotWaiters.push(resolve)),
      },
      this.takeController.signal,
    ).catch((err: unknown) => {
      // A fault in the SDK itself: finish the jobs in hand, then exit non-zero so the platform replaces us.
      logger.error({ ...describeError(err) }, "job loop failed: stopping the worker");
      void this.drain("forced");
    });
    logger.info(
      {
        concurrency: typeof options.concurrency === "function" ? "dynamic" : (options.concurrency ?? 1),
        refreshWorker: options.refreshWorker ?? false,
        heartbeatMs: this.heartbeat ? env.pingIntervalMs : undefined,
        sdk: SDK_VERSION_TAG,
      },
      "worker started",
    );
  }

  jobsInProgress(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Graceful stop: no more takes, the jobs in hand finish and their results are posted, then the heartbeat and
   * the stop channel stop. `reason` decides whether the process exits afterwards (signal, refresh).
   */
  drain(reason: StopReason): Promise<void> {
    if (this.draining) return this.draining;
    this.state = "draining";
    this.takeController.abort();
    this.wakeSlotWaiters();
    this.draining = (async () => {
      const timeout = this.options.drainTimeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const drained = settleAll(this.pending).then(() => true);
      const timedOut = timeout === undefined ? new Promise<boolean>(() => {}) : new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeout)));
      const inTime = await Promise.race([drained, timedOut]);
      clearTimeout(timer);
      if (!inTime) {
        this.logger.warn({ drainTimeoutMs: timeout, abandoned: this.jobsInProgress() }, "drain took too long: forcing exit");
        await this.force();
        return;
      }
      await this.finish(reason);
    })();
    return this.draining;
  }

  /** Abandons the jobs in hand (their signals abort, nothing is posted) and stops at once. */
  async force(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "draining";
    this.takeController.abort();
    for (const [id, record] of this.running) this.abandon(id, record, "worker forced to exit");
    await this.finish("forced");
  }

  private async finish(reason: StopReason): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.removeSignalHandlers?.();
    await Promise.allSettled([this.heartbeat?.stop(), this.stopChannel?.stop(), this.loop]);
    this.http.close();
    this.logger.info({ reason }, "worker stopped");
    this.resolveStopped(reason);
    if ((this.options.exitProcess ?? true) && reason !== "stopped") {
      process.exit(reason === "forced" ? 1 : 0);
    }
  }

  private launch(raw: RawJob): void {
    if (this.stoppedBeforeStart.delete(raw.id)) {
      this.logger.info({ jobId: raw.id }, "job stopped by the control plane before it started: not run");
      return;
    }
    if (this.running.has(raw.id)) {
      this.logger.warn({ jobId: raw.id }, "job-take handed out a job already running here: ignored");
      return;
    }
    const controller = new AbortController();
    const job = { ...raw } as Record<string, unknown>;
    Object.defineProperty(job, "signal", { value: controller.signal, enumerable: false });
    const logger = this.logger.child({ jobId: raw.id });
    const record: RunningJob = { job: job as unknown as Job, controller, stopped: false, logger };
    this.running.set(raw.id, record);
    this.heartbeat?.setJobs(this.jobsInProgress());
    attachProgressSink(record.job, (value) => this.postProgress(record, value));

    const run = this.runOne(record).finally(() => {
      this.release(raw.id, record);
      this.pending.delete(run);
    });
    this.pending.add(run);
  }

  private async runOne(record: RunningJob): Promise<void> {
    const { job, logger } = record;
    const started = Date.now();
    logger.info("job started");
    const ctx: RunJobContext = {
      http: this.http,
      urls: this.urls,
      logger,
      returnAggregateStream: this.options.returnAggregateStream ?? false,
      errorContext: { workerId: this.workerId, hostname: this.env.hostname ?? os.hostname() },
    };
    let outcome;
    try {
      outcome = await runJob(this.handler, job, ctx);
    } catch (err) {
      // runJob reports handler failures as results; this is a fault in the SDK itself.
      logger.error({ ...describeError(err) }, "job run failed");
      outcome = { body: { error: `worker SDK failure: ${err instanceof Error ? err.message : String(err)}` } as ResultBody, isStream: false };
    }
    if (!outcome || record.stopped) {
      logger.info({ ms: Date.now() - started }, "job stopped: nothing posted for it");
      return;
    }
    const body: ResultBody = { ...outcome.body };
    if (this.options.refreshWorker || body.stopPod) {
      body.stopPod = true;
      if (this.state === "running") {
        logger.info("refresh: the worker exits after this job");
        void this.drain("refresh");
      }
    } else if (this.state !== "running") {
      // Draining: this worker takes no more jobs and exits once these are reported.
      body.stopPod = true;
    }
    // The job no longer counts as in progress once its result is on its way (runpod-python's order).
    detachProgressSink(job);
    try {
      await this.http.postJson(this.urls.jobDone(job.id, outcome.isStream), body, { jobId: job.id });
      logger.info({ ms: Date.now() - started, status: body.error !== undefined ? "FAILED" : "COMPLETED", stopPod: body.stopPod }, "job finished");
    } catch (err) {
      logger.error({ ...describeError(err), ms: Date.now() - started }, "could not post the job's result");
    }
  }

  private async postProgress(record: RunningJob, value: unknown): Promise<void> {
    if (record.stopped || !this.running.has(record.job.id)) return;
    try {
      await this.http.postJson(this.urls.jobDone(record.job.id, false), { status: "IN_PROGRESS", output: value }, { jobId: record.job.id });
      record.logger.debug("progress sent");
    } catch (err) {
      record.logger.warn({ ...describeError(err) }, "could not send a progress update");
    }
  }

  /** The stop channel's order: abort those jobs, free their slots, post nothing for them. */
  private stopJobs(ids: string[]): void {
    for (const id of ids) {
      const record = this.running.get(id);
      if (!record) {
        this.logger.debug({ jobId: id }, "asked to stop a job not running here (yet)");
        this.stoppedBeforeStart.add(id);
        if (this.stoppedBeforeStart.size > MAX_REMEMBERED_STOPS) {
          this.stoppedBeforeStart.delete(this.stoppedBeforeStart.values().next().value!);
        }
        continue;
      }
      this.abandon(id, record, "stopped by the control plane");
    }
  }

  private abandon(id: string, record: RunningJob, why: JobStoppedError["why"]): void {
    record.stopped = true;
    record.controller.abort(new JobStoppedError(id, why));
    record.logger.info({ why }, "job stopped");
    this.release(id, record);
  }

  private release(id: string, record: RunningJob): void {
    if (this.running.get(id) !== record) return;
    this.running.delete(id);
    detachProgressSink(record.job);
    this.heartbeat?.setJobs(this.jobsInProgress());
    this.wakeSlotWaiters();
  }

  private wakeSlotWaiters(): void {
    for (const wake of this.slotWaiters.splice(0)) wake();
  }
}

/**
 * Starts a worker that serves one endpoint of a RunPod-compatible control plane (Berth, or RunPod itself),
 * configured by the RUNPOD_* environment the platform gives its workers. Throws a WorkerConfigError naming the
 * variable when the environment is unusable.
 */
export function start<Input = unknown, Output = unknown>(options: StartOptions<Input, Output>): WorkerHandle {
  if (typeof options?.handler !== "function") throw new TypeError("start({ handler }): handler must be a function");
  const env = readWorkerEnv(options.env ?? process.env);
  const worker = new WorkerRuntime(env, options);
  worker.start();
  return {
    workerId: worker.workerId,
    stop: () => worker.drain("stopped"),
    stopped: worker.stopped,
    jobsInProgress: () => worker.jobsInProgress(),
  };
}
