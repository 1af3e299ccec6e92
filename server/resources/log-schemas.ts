import { z } from "zod";
import { durationMs } from "./durations";

/** `since`: a duration back from now (30s, 10m, 2h, 1d) or an ISO 8601 time; milliseconds since the epoch out. */
export function sinceMs(text: string, now: number): number | undefined {
  const back = durationMs(text);
  if (back !== undefined) return now - back;
  if (!/^\d{4}-\d{2}-\d{2}(T|$)/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** GET /admin/endpoints/{id}/logs */
export const logsQuerySchema = z
  .object({
    worker: z.string().min(1).max(128).optional().describe("one worker's lines only"),
    job: z.string().min(1).max(128).optional().describe("the lines of the job's worker between the job's start and its end"),
    since: z
      .string()
      .refine((text) => sinceMs(text, 0) !== undefined, "must be a duration back from now (30s, 10m, 2h, 1d) or an ISO 8601 time")
      .optional()
      .describe("lines from then on: a duration back from now (30s, 10m, 2h, 1d) or an ISO 8601 time"),
    tail: z.coerce.number().int().min(0).max(100_000).optional().describe("the last N lines of what the rest selects"),
    follow: z
      .enum(["true", "false", "1", "0"])
      .transform((value) => value === "true" || value === "1")
      .default(false)
      .describe("keep the response open with new lines; it ends when the worker (or the job) does, or when the client goes"),
  })
  .strict();

/** One line of the NDJSON reply. */
export const logLineSchema = z.object({
  workerId: z.string(),
  time: z.string().describe("RFC 3339 in UTC with nine fraction digits, as the runtime stamped the line"),
  stream: z.enum(["stdout", "stderr", "output"]).describe('"output" on Kubernetes, whose logs API merges stdout and stderr'),
  line: z.string(),
});
