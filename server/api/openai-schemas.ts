import { z } from "zod";

/**
 * The OpenAI-compatible route's bodies, checked only as far as Berth must read them (`stream`) or as far as a body
 * without them could never work (no messages, no prompt, no input): everything else, known to OpenAI or not (vLLM's
 * `min_tokens`, `guided_json`...), goes to the worker untouched, which is the judge of the rest, as at RunPod.
 */
const common = {
  model: z.string().optional().describe("the model to use; workers serving one model may ignore it"),
  stream: z.boolean().optional().describe("true: server-sent events made from the job's stream chunks, ending with `data: [DONE]`"),
};

export const chatCompletionBodySchema = z
  .looseObject({
    ...common,
    messages: z
      .array(z.looseObject({ role: z.string().describe("system, user, assistant, tool...") }))
      .min(1, "needs at least one message"),
  })
  .describe("An OpenAI chat completion request, passed to the worker as `openai_input`");

export const completionBodySchema = z
  .looseObject({
    ...common,
    prompt: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  })
  .describe("An OpenAI completion request, passed to the worker as `openai_input`");

export const embeddingBodySchema = z
  .looseObject({
    model: common.model,
    input: z.union([z.string(), z.array(z.string()), z.array(z.number().int()), z.array(z.array(z.number().int()))]),
  })
  .describe("An OpenAI embeddings request, passed to the worker as `openai_input`");

/** OpenAI's error body: what the OpenAI SDKs parse into their exceptions. */
export const openAiErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string().describe("invalid_request_error, authentication_error, permission_error, not_found_error, rate_limit_error, server_error, timeout"),
    param: z.string().nullable().describe("the body field at fault, when one is"),
    code: z.union([z.string(), z.number()]).nullable().describe("Berth's error code (unauthorized, forbidden, rate_limited, worker_error...) or the worker's own"),
  }),
});
export type OpenAiError = z.infer<typeof openAiErrorSchema>;

/**
 * How long the route waits for the worker's answer (non-streaming) or its first chunk (streaming), in ms: 1 s to
 * 10 min, default 10 min (the default execution timeout; a queued job waits for a worker as well). The OpenAI SDKs
 * send it with `extra_query` / `query`; out-of-range values are clamped, as /runsync's `wait` is.
 */
export const openAiWaitQuerySchema = z.object({
  wait: z.coerce
    .number()
    .int()
    .nonnegative()
    .transform((ms) => Math.min(600_000, Math.max(1000, ms)))
    .optional()
    .describe("ms to wait for the answer (streaming: its first chunk), 1000..600000, default 600000; then 504 and the job is cancelled"),
});
