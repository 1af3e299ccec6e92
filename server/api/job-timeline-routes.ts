import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppDeps } from "./deps";
import type { JobAttempt } from "../jobs/timeline";
import { timeOf, type LogLine } from "../logs/log-line";
import type { LogStore } from "../logs/log-store";
import { LOG_LINES_PER_ATTEMPT, type JobTimelineReply } from "../resources/job-timeline-schemas";
import { ApiError, notFound } from "./errors";
import { parse } from "./http";

const jobId = z.string().min(1).max(128);
const jobParamsSchema = z.object({ id: z.string().min(1).max(64), jobId });
const bareJobParamsSchema = z.object({ jobId });

/**
 * `GET /admin/endpoints/:id/jobs/:jobId`: a job's timeline (server/jobs/timeline.ts), and what its workers printed
 * while they ran it, from the log store (server/logs/). `GET /admin/jobs/:jobId` finds the job's endpoint first, for
 * a reader who has only the job's id (a client's log, a webhook).
 */
export async function jobTimelineRoutes(app: FastifyInstance, opts: AppDeps): Promise<void> {
  const reply = async (endpointId: string, jobId: string): Promise<JobTimelineReply> => {
    const timeline = await opts.jobs.timeline(endpointId, jobId);
    const collected = opts.leading();
    return { ...timeline, logs: { collected, lines: collected ? await linesDuring(opts.logs, endpointId, timeline.attempts) : [] } };
  };

  app.get("/endpoints/:id/jobs/:jobId", async (request) => {
    const { id, jobId } = parse(jobParamsSchema, request.params, "params");
    if (!opts.resources.endpointExists(id)) throw notFound(`endpoint ${id}`);
    return reply(id, jobId);
  });

  app.get("/jobs/:jobId", async (request) => {
    const { jobId } = parse(bareJobParamsSchema, request.params, "params");
    const endpointId = await opts.jobs.endpointOfJob(jobId);
    if (endpointId === undefined) throw new ApiError(404, "job_not_found", `job ${jobId} does not exist on any endpoint (or has expired)`);
    return reply(endpointId, jobId);
  });
}

/** Each run's worker's lines from its take to its end (to now while it runs), oldest first. */
async function linesDuring(logs: LogStore, endpointId: string, attempts: JobAttempt[]): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  for (const attempt of attempts) {
    if (!logs.hasWorker(endpointId, attempt.workerId)) continue;
    const to = attempt.endedAt === undefined ? undefined : timeOf(Date.parse(attempt.endedAt) + 1);
    lines.push(...(await logs.read(endpointId, { workerId: attempt.workerId, from: timeOf(Date.parse(attempt.takenAt)), to, tail: LOG_LINES_PER_ATTEMPT })));
  }
  return lines.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}
