import { z } from "zod";

/** The worker API's bodies and queries, as runpod-python sends them: the routes parse with these, /openapi.json shows them. */

const MAX_BATCH = 100;

export const workerParamsSchema = z.object({ endpointId: z.string().min(1).max(128), workerId: z.string().min(1).max(256) });
export const workerJobParamsSchema = workerParamsSchema.extend({ jobId: z.string().min(1).max(128) });

/** Any value is accepted (runpod-python ignores a 400 and would ask again forever); only "0" means anything. */
export const takeQuerySchema = z.object({
  job_in_progress: z
    .string()
    .optional()
    .describe("1 while the worker runs a job; 0 when it runs none, so jobs still its own were never received (a crash cut the answer off) and are handed to it again"),
});

/** Larger batches are clamped, not refused: runpod-python ignores a 400 and would ask again forever. */
export const batchQuerySchema = takeQuerySchema.extend({
  batch_size: z.coerce
    .number()
    .int()
    .min(1)
    .transform((n) => Math.min(n, MAX_BATCH))
    .default(1)
    .describe(`how many jobs at most; more than ${MAX_BATCH} is read as ${MAX_BATCH}`),
});

export const pingQuerySchema = z.object({
  job_id: z.string().optional().describe("the jobs the worker is running, comma-separated"),
  runpod_version: z.string().max(64).optional().describe("the worker SDK's version"),
  status: z.string().optional().describe('"unhealthy": the worker failed a fitness check; its jobs go back to the queue'),
  check: z.string().max(256).optional().describe("with status=unhealthy: the check that failed"),
  reason: z.string().max(1024).optional().describe("with status=unhealthy: why"),
});

/** Every field is optional and any other is kept: runpod-python's bodies vary by version. A body must be a JSON object. */
export const jobDoneBodySchema = z
  .looseObject({
    status: z.unknown().optional().describe('"IN_PROGRESS" makes this a progress update: output replaces the job\'s progress'),
    output: z.unknown().optional().describe("the handler's result (or, with status IN_PROGRESS, its progress)"),
    error: z.unknown().optional().describe("set when the handler failed: the job ends FAILED with it"),
    stopPod: z.unknown().optional().describe("true: the worker leaves after this job"),
  })
  .describe("a job's result, error or progress update");

export const streamBodySchema = z.looseObject({ output: z.unknown().describe("one chunk of a generator handler's output") }).describe("one stream chunk");

export const workerJobSchema = z
  .object({
    id: z.string().describe("the job's id"),
    input: z.unknown().describe("the job's input, as the client sent it"),
    webhook: z.string().optional().describe("the client's webhook, if it gave one"),
  })
  .describe("a job handed to a worker");

export const jobsToStopSchema = z.object({ jobsToStop: z.array(z.string()).describe("ids of jobs the worker must abandon") });
