import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppDeps } from "./deps";
import { isTerminal } from "../jobs/model";
import { timeOf, type LogLine } from "../logs/log-line";
import type { LogEvent, LogQuery } from "../logs/log-store";
import { logsQuerySchema, sinceMs } from "../resources/log-schemas";
import { ApiError, notFound } from "./errors";
import { parse } from "./http";

const idParamsSchema = z.object({ id: z.string().min(1).max(64) });

/** How long one wait for a followed job's end lasts before it is asked again. */
const JOB_WAIT_MS = 60_000;

const NDJSON = "application/x-ndjson; charset=utf-8";
const lineKey = (line: LogLine) => `${line.workerId}\n${line.time}\n${line.stream}\n${line.line}`;

/**
 * Workers' log lines, under /admin: `GET /endpoints/:id/logs`, answered as NDJSON, one {workerId, time, stream,
 * line} per line, oldest first. With `follow` the reply stays open and new lines follow as the runtime hands them
 * over; it ends when the worker followed stops (or the job followed ends), when the client goes, or at shutdown.
 * The lines are in the log store of the control plane that runs the runtime (the leader): another one says so.
 */
export async function logRoutes(app: FastifyInstance, opts: AppDeps): Promise<void> {
  const { logs, jobs, resources } = opts;
  // A hijacked reply is fastify's no more: a shutdown would wait for the client to go. They end first.
  const follows = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const finish of [...follows]) finish();
  });

  app.get("/endpoints/:id/logs", async (request, reply) => {
    const { id } = parse(idParamsSchema, request.params, "params");
    const query = parse(logsQuerySchema, request.query, "query");
    if (!resources.endpointExists(id)) throw notFound(`endpoint ${id}`);
    if (!opts.leading()) {
      reply.header("retry-after", "1");
      throw new ApiError(
        503,
        "logs_on_leader",
        "worker logs are read and kept by the control plane that runs the workers (the leader), and this one does not lead now: send the request again (a load balancer picks another control plane) or to the leader",
      );
    }
    const selection: LogQuery = { workerId: query.worker, tail: query.tail };
    if (query.since !== undefined) selection.from = timeOf(sinceMs(query.since, Date.now())!);
    let followJob: string | undefined;
    if (query.job !== undefined) {
      const job = await jobs.job(id, query.job);
      if (!job) throw notFound(`job ${query.job} of endpoint ${id}`);
      if (query.worker !== undefined && job.worker_id !== query.worker) {
        const rule = `job ${job.id} ran on ${job.worker_id ? `worker ${job.worker_id}` : "no worker yet"}, not ${query.worker}`;
        throw new ApiError(400, "invalid_request", `query.worker: ${rule}`, [{ field: "query.worker", rule }]);
      }
      if (job.worker_id === null || job.started_at === null) {
        // Queued: no worker has printed anything for it yet.
        return reply.header("content-type", NDJSON).send("");
      }
      selection.workerId = job.worker_id;
      const started = timeOf(job.started_at);
      if (selection.from === undefined || selection.from < started) selection.from = started;
      if (job.finished_at !== null || isTerminal(job.status)) selection.to = timeOf((job.finished_at ?? Date.now()) + 1);
      else followJob = job.id;
    }
    const workerId = selection.workerId;
    if (workerId !== undefined && !logs.hasWorker(id, workerId)) {
      const view = await opts.runtime()?.status(id);
      if (!view?.workers.some((w) => w.id === workerId)) throw notFound(`worker ${workerId} of endpoint ${id}`);
    }
    const follow = query.follow && selection.to === undefined && !(workerId !== undefined && logs.stopped(id, workerId) === true);
    if (!follow) {
      const lines = await logs.read(id, selection);
      return reply.header("content-type", NDJSON).send(lines.map((l) => JSON.stringify(l) + "\n").join(""));
    }

    // Told of new lines from before the history is read, so none falls between; those read twice are sent once.
    const early: LogEvent[] = [];
    let live: ((event: LogEvent) => void) | undefined;
    const unsubscribe = logs.subscribe(id, (event) => (live ? live(event) : early.push(event)));
    let history: LogLine[];
    try {
      history = await logs.read(id, selection);
    } catch (err) {
      unsubscribe();
      throw err;
    }
    reply.hijack();
    const out = reply.raw;
    // The connection closes with the follow: one kept alive would hold a shutdown for its idle timeout (65 s).
    out.writeHead(200, { "content-type": NDJSON, "cache-control": "no-cache", connection: "close" });
    out.flushHeaders();
    const jobWait = new AbortController();
    let open = true;
    const finish = () => {
      if (!open) return;
      open = false;
      unsubscribe();
      jobWait.abort();
      follows.delete(finish);
      out.end();
    };
    follows.add(finish);
    out.on("close", finish);
    out.write(history.map((l) => JSON.stringify(l) + "\n").join(""));
    const sent = new Set(history.map(lineKey));
    const matches = (line: LogLine) => (workerId === undefined || line.workerId === workerId) && (selection.from === undefined || line.time >= selection.from);
    live = (event) => {
      if (!open) return;
      if (event.kind === "stopped") {
        if (event.workerId === workerId) finish();
      } else if (matches(event.line)) out.write(JSON.stringify(event.line) + "\n");
    };
    for (const event of early) {
      if (event.kind === "line" && sent.has(lineKey(event.line))) continue;
      live(event);
    }
    sent.clear();
    if (workerId !== undefined && logs.stopped(id, workerId) === true) finish();
    if (followJob !== undefined) void untilJobEnds(followJob);

    async function untilJobEnds(jobId: string): Promise<void> {
      try {
        for (let ended = false; open && !ended; ) ended = isTerminal((await jobs.waitForEnd(id, jobId, JOB_WAIT_MS, jobWait.signal)).status);
      } catch (err) {
        if (open) request.log.warn({ err: (err as Error).message, jobId }, "stopped following a job's log lines: its end could not be read");
      }
      finish();
    }
  });
}
