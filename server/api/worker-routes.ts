import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppDeps } from "./deps";
import { workerJobBody } from "../jobs/model";
import type { JobDoneBody } from "../jobs/service";
import { ApiError } from "./errors";
import { acceptAnyJson, clientGone, parse } from "./http";
import {
  batchQuerySchema,
  jobDoneBodySchema,
  pingQuerySchema,
  takeQuerySchema,
  streamBodySchema,
  workerJobParamsSchema,
  workerParamsSchema,
} from "./worker-schemas";

const MB = 1024 * 1024;
/** RunPod's limit on one stream chunk. */
export const STREAM_CHUNK_LIMIT = 1 * MB;

/**
 * The worker API, as runpod-python's worker SDK speaks it (see docs: RUNPOD_WEBHOOK_* URLs):
 * job-take (long-poll), job-take-batch, job-done, job-stream, ping and the job-stop channel.
 * Authorized by the endpoint's worker key only.
 */
export async function workerRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { jobs, resources, config } = deps;
  acceptAnyJson(app);

  const workerOf = <S extends typeof workerParamsSchema | typeof workerJobParamsSchema>(request: FastifyRequest, schema: S) => {
    const params = parse(schema, request.params, "params") as z.infer<S>;
    if (!resources.endpointExists(params.endpointId)) {
      throw new ApiError(404, "endpoint_not_found", `endpoint ${params.endpointId} does not exist`);
    }
    return params;
  };

  app.get("/:endpointId/job-take/:workerId", async (request, reply) => {
    const { endpointId, workerId } = workerOf(request, workerParamsSchema);
    const { job_in_progress } = parse(takeQuerySchema, request.query, "query");
    const [job] = await jobs.take(endpointId, workerId, 1, config.longPollMs, clientGone(reply), { runsNothing: job_in_progress === "0" });
    return job ? workerJobBody(job) : reply.status(204).send();
  });

  app.get("/:endpointId/job-take-batch/:workerId", async (request, reply) => {
    const { endpointId, workerId } = workerOf(request, workerParamsSchema);
    const { batch_size, job_in_progress } = parse(batchQuerySchema, request.query, "query");
    const taken = await jobs.take(endpointId, workerId, batch_size, config.longPollMs, clientGone(reply), { runsNothing: job_in_progress === "0" });
    return taken.length > 0 ? taken.map(workerJobBody) : reply.status(204).send();
  });

  app.post("/:endpointId/job-done/:workerId/:jobId", async (request) => {
    const { endpointId, workerId, jobId } = workerOf(request, workerJobParamsSchema);
    const body = parse(jobDoneBodySchema, request.body, "body") as JobDoneBody;
    await jobs.done(endpointId, workerId, jobId, body);
    return {};
  });

  app.post("/:endpointId/job-stream/:workerId/:jobId", { bodyLimit: STREAM_CHUNK_LIMIT }, async (request) => {
    const { endpointId, workerId, jobId } = workerOf(request, workerJobParamsSchema);
    const { output } = parse(streamBodySchema, request.body, "body");
    await jobs.streamChunk(endpointId, workerId, jobId, output);
    return {};
  });

  app.get("/:endpointId/ping/:workerId", async (request) => {
    const { endpointId, workerId } = workerOf(request, workerParamsSchema);
    const query = parse(pingQuerySchema, request.query, "query");
    await jobs.ping(endpointId, workerId, {
      jobIds: query.job_id ? query.job_id.split(",").filter(Boolean) : [],
      sdkVersion: query.runpod_version,
      unhealthy: query.status === "unhealthy" ? { check: query.check, reason: query.reason } : undefined,
    });
    return {};
  });

  app.get("/:endpointId/job-stop/:workerId", async (request, reply) => {
    const { endpointId, workerId } = workerOf(request, workerParamsSchema);
    const jobsToStop = await jobs.takeStops(endpointId, workerId, config.longPollMs, clientGone(reply));
    return jobsToStop.length > 0 ? { jobsToStop } : reply.status(204).send();
  });
}
