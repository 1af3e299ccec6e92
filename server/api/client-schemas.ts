import { z } from "zod";
import { jobStatusSchema } from "../jobs/model";

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

/** RunPod's per-job policy; times in milliseconds, bounds as RunPod documents them. */
export const jobPolicySchema = z
  .object({
    executionTimeout: z.number().int().min(5 * SECOND).max(7 * DAY).optional()
      .describe("ms a worker may run the job before it ends TIMED_OUT; default 600000"),
    ttl: z.number().int().min(10 * SECOND).max(7 * DAY).optional()
      .describe("ms from submission after which the job is removed, even while running; default 24 h"),
    lowPriority: z.boolean().optional().describe("true: the job never causes a scale-up"),
  })
  .strict();

export const runRequestSchema = z
  .object({
    input: z.unknown().refine((v) => v !== undefined, "is required"),
    webhook: z.url({ protocol: /^https?$/ }).optional().describe("POSTed the /status body when the job ends"),
    policy: jobPolicySchema.optional(),
    s3Config: z.record(z.string(), z.unknown()).optional().describe("passed through to the worker, unused by Berth"),
  })
  .describe("A job submission");
export type RunRequest = z.infer<typeof runRequestSchema>;

export const endpointParamsSchema = z.object({ endpointId: z.string().min(1).max(128) });
export const jobParamsSchema = endpointParamsSchema.extend({ jobId: z.string().min(1).max(128) });

/**
 * `wait` in ms, as /runsync and /status-sync take it. Out-of-range values are clamped to RunPod's 1 s..300 s
 * rather than refused: RunPod's own JS client sends its whole timeout as `wait`, whatever its size.
 */
export const waitQuerySchema = z.object({
  wait: z.coerce.number().int().nonnegative().transform((ms) => Math.min(300_000, Math.max(1000, ms))).optional(),
});

export const jobStatusBodySchema = z.object({
  id: z.string(),
  status: jobStatusSchema,
  delayTime: z.number().describe("ms from submission until a worker took the job"),
  executionTime: z.number().describe("ms the worker has spent on it"),
  workerId: z.string().optional(),
  retries: z.number().optional(),
  output: z.unknown().optional(),
  error: z.string().optional(),
});

export const runReplySchema = z.object({ id: z.string(), status: jobStatusSchema });
export const streamReplySchema = z.object({
  status: jobStatusSchema,
  stream: z.array(z.object({ output: z.unknown() })).describe("chunks not returned by an earlier call"),
});
export const purgeReplySchema = z.object({ removed: z.number(), status: z.literal("completed") });
export const healthReplySchema = z.object({
  jobs: z.object({ completed: z.number(), failed: z.number(), inProgress: z.number(), inQueue: z.number(), retried: z.number() }),
  workers: z.object({
    idle: z.number(),
    running: z.number(),
    initializing: z.number(),
    ready: z.number(),
    throttled: z.number(),
    unhealthy: z.number(),
  }),
  gpus: z
    .string()
    .optional()
    .describe("Berth's addition: the runtime's GPU inventory, e.g. '4 x NVIDIA L4 (simulated)'; absent without a runtime"),
});
export const errorReplySchema = z.object({
  error: z.string().describe("machine-readable code"),
  message: z.string().describe("names the field or thing, and the rule"),
  details: z.unknown().optional(),
});
