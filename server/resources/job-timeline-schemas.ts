import { z } from "zod";
import { jobTimelineSchema } from "../jobs/timeline";
import { logLineSchema } from "./log-schemas";

/** Each run shows at most its worker's last this many lines. */
export const LOG_LINES_PER_ATTEMPT = 100;

/** GET /admin/endpoints/{id}/jobs/{jobId} and /admin/jobs/{jobId}: a job's timeline, with its workers' log lines. */
export const jobTimelineReplySchema = jobTimelineSchema
  .extend({
    logs: z
      .object({
        collected: z
          .boolean()
          .describe(
            "false on a control plane that does not run the workers (not the leader now): the leader keeps the lines; " +
              "workers the control plane does not run (--runtime none) have none",
          ),
        lines: z
          .array(logLineSchema)
          .describe(`what each run's worker printed between its take and its end (the last ${LOG_LINES_PER_ATTEMPT} lines of each run), oldest first`),
      })
      .describe("the worker's log lines during the job"),
  })
  .describe("A job's timeline, with its workers' log lines");

export type JobTimelineReply = z.output<typeof jobTimelineReplySchema>;
