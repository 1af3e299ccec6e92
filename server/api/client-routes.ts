import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AppDeps } from "./deps";
import type { JobSubmission } from "../jobs/model";
import {
  endpointParamsSchema,
  jobParamsSchema,
  runRequestSchema,
  waitQuerySchema,
  type RunRequest,
} from "./client-schemas";
import { ApiError } from "./errors";
import { acceptAnyJson, clientGone, parse } from "./http";

const MB = 1024 * 1024;
/** RunPod's payload limits. */
export const BODY_LIMITS = { run: 10 * MB, runsync: 20 * MB } as const;
/** How long /runsync and /status-sync wait when the client gives no `wait`. */
const DEFAULT_SYNC_WAIT_MS = 90_000;
/** How long /stream holds a request for a new chunk: RunPod clients call it again at once. */
const STREAM_WAIT_MS = 5_000;

/** The request's endpoint id, for the client API's routes (the OpenAI route's too): 404 when no such endpoint exists. */
export function existingEndpoint(resources: AppDeps["resources"], request: FastifyRequest): string {
  const { endpointId } = parse(endpointParamsSchema, request.params, "params");
  if (!resources.endpointExists(endpointId)) {
    throw new ApiError(404, "endpoint_not_found", `endpoint ${endpointId} does not exist`);
  }
  return endpointId;
}

/** RunPod's client API: /v2/{endpointId}/run, runsync, status, status-sync, stream, cancel, retry, purge-queue, health. */
export async function clientRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { jobs, resources } = deps;
  acceptAnyJson(app);

  const endpointOf = (request: FastifyRequest) => existingEndpoint(resources, request);
  const jobOf = (request: FastifyRequest) => ({ ...parse(jobParamsSchema, request.params, "params"), endpointId: endpointOf(request) });

  app.post("/:endpointId/run", { bodyLimit: BODY_LIMITS.run }, async (request) => {
    const endpointId = endpointOf(request);
    const job = await jobs.submit(endpointId, submissionOf(parse(runRequestSchema, request.body ?? {}, "body")), "run");
    return { id: job.id, status: job.status };
  });

  app.post("/:endpointId/runsync", { bodyLimit: BODY_LIMITS.runsync }, async (request, reply) => {
    const endpointId = endpointOf(request);
    const { wait } = parse(waitQuerySchema, request.query, "query");
    const body = parse(runRequestSchema, request.body ?? {}, "body");
    const job = await jobs.submit(endpointId, submissionOf(body), wait === undefined ? "runsync" : "runsyncWithWait");
    return jobs.waitForEnd(endpointId, job.id, wait ?? DEFAULT_SYNC_WAIT_MS, clientGone(reply), job);
  });

  app.get("/:endpointId/status/:jobId", async (request) => {
    const { endpointId, jobId } = jobOf(request);
    return jobs.status(endpointId, jobId);
  });

  app.get("/:endpointId/status-sync/:jobId", async (request, reply) => {
    const { endpointId, jobId } = jobOf(request);
    const { wait } = parse(waitQuerySchema, request.query, "query");
    return jobs.waitForEnd(endpointId, jobId, wait ?? DEFAULT_SYNC_WAIT_MS, clientGone(reply));
  });

  app.get("/:endpointId/stream/:jobId", async (request, reply) => {
    const { endpointId, jobId } = jobOf(request);
    return jobs.readStream(endpointId, jobId, STREAM_WAIT_MS, clientGone(reply));
  });

  app.post("/:endpointId/cancel/:jobId", async (request) => {
    const { endpointId, jobId } = jobOf(request);
    return jobs.cancel(endpointId, jobId);
  });

  app.post("/:endpointId/retry/:jobId", async (request) => {
    const { endpointId, jobId } = jobOf(request);
    return jobs.retry(endpointId, jobId);
  });

  app.post("/:endpointId/purge-queue", async (request) => jobs.purgeQueue(endpointOf(request)));

  app.get("/:endpointId/health", async (request) => {
    const endpointId = endpointOf(request);
    return deps.runtime()?.health(endpointId) ?? jobs.health(endpointId);
  });
}

/** RunPod's submission body in the queue's terms (s3Config is accepted and not kept: see server/README.md). */
function submissionOf(request: RunRequest): JobSubmission {
  return {
    input: request.input,
    webhook: request.webhook,
    lowPriority: request.policy?.lowPriority,
    executionTimeoutMs: request.policy?.executionTimeout,
    ttlMs: request.policy?.ttl,
  };
}
