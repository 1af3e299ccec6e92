import { PassThrough } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import { isTerminal, type JobStatusBody } from "../jobs/model";
import type { AppDeps } from "./deps";
import { BODY_LIMITS, existingEndpoint } from "./client-routes";
import { acceptAnyJson, clientGone, parse } from "./http";
import { chatCompletionBodySchema, completionBodySchema, embeddingBodySchema, openAiWaitQuerySchema } from "./openai-schemas";
import {
  DONE_EVENT,
  endedWithoutAnswer,
  errorEvent,
  fromBerthError,
  noAnswer,
  toEvents,
  unwrapOutput,
  workerError,
  type Failure,
} from "./openai-output";

/** How long the route waits for an answer when the client sets no `wait`: the default execution timeout. */
const DEFAULT_WAIT_MS = 600_000;
/** One long-poll on the job's stream while events flow; the stream itself lasts as long as the job. */
const STREAM_POLL_MS = 30_000;

/** The job input worker-vllm (and the Infinity embedding worker) read: the route, and the request body as sent. */
interface OpenAiJobInput {
  openai_route: string;
  openai_input: unknown;
}

/**
 * RunPod's OpenAI-compatible route, /v2/{endpointId}/openai/v1/...: each request becomes a job whose input is
 * `{ openai_route, openai_input }`. Non-streaming, the worker's output is the HTTP body; `stream: true`, the job's
 * stream chunks are the server-sent events. A client that goes away cancels its job: nobody can read its answer.
 * Every error, Berth's own (401, 403, 429 from the access hook, 400, 404) or the worker's, is in OpenAI's shape.
 */
export async function openAiRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { jobs, resources } = deps;
  acceptAnyJson(app);
  // Berth's error bodies, wherever they come from (the access hook answers before any handler here), made OpenAI's.
  app.addHook("onSend", async (_request, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== "string") return payload;
    try {
      const converted = fromBerthError(reply.statusCode, JSON.parse(payload));
      return converted ? JSON.stringify(converted) : payload;
    } catch {
      return payload;
    }
  });

  const endpointOf = (request: FastifyRequest) => existingEndpoint(resources, request);
  const waitOf = (request: FastifyRequest) => parse(openAiWaitQuerySchema, request.query, "query").wait ?? DEFAULT_WAIT_MS;

  const post = (path: string, schema: ZodType<Record<string, unknown>>) =>
    app.post(`/:endpointId/openai/v1${path}`, { bodyLimit: BODY_LIMITS.runsync }, async (request, reply) => {
      const endpointId = endpointOf(request);
      const waitMs = waitOf(request);
      const { stream } = parse(schema, request.body ?? {}, "body");
      // The body as the client sent it, unknown fields and all: the worker decides what they mean.
      return answer(request, reply, endpointId, { openai_route: `/v1${path}`, openai_input: request.body }, stream === true, waitMs);
    });
  post("/chat/completions", chatCompletionBodySchema);
  post("/completions", completionBodySchema);
  post("/embeddings", embeddingBodySchema);
  // No body to pass: an empty object, which the workers' handlers never read for this route.
  app.get("/:endpointId/openai/v1/models", async (request, reply) =>
    answer(request, reply, endpointOf(request), { openai_route: "/v1/models", openai_input: {} }, false, waitOf(request)),
  );

  async function answer(request: FastifyRequest, reply: FastifyReply, endpointId: string, input: OpenAiJobInput, stream: boolean, waitMs: number) {
    const gone = clientGone(reply);
    const job = await jobs.submit(endpointId, { input }, "runsync");
    reply.header("x-berth-job-id", job.id);
    const deadline = Date.now() + waitMs;
    const cancel = () =>
      jobs.cancel(endpointId, job.id).catch((err: Error) => {
        request.log.warn({ jobId: job.id, err: err.message }, "could not cancel the job of an OpenAI request");
        return undefined;
      });
    /** Past the deadline or the client gone: the job is cancelled; undefined unless it ended first after all. */
    const abandon = async (): Promise<JobStatusBody | undefined> => {
      const cancelled = await cancel();
      return cancelled && cancelled.status !== "CANCELLED" ? jobs.status(endpointId, job.id) : undefined;
    };

    if (!stream) {
      let ended = await jobs.waitForEnd(endpointId, job.id, waitMs, gone, job);
      if (!isTerminal(ended.status)) {
        const late = await abandon();
        if (gone.aborted) return reply.hijack();
        if (!late) return fail(reply, noAnswer(job.id, waitMs));
        ended = late;
      }
      return complete(reply, ended);
    }

    // Nothing is sent before the first chunk: an error the worker answers at once (vLLM's validation) is an HTTP
    // error the SDKs raise as such, not an event.
    let first = await jobs.readStream(endpointId, job.id, waitMs, gone);
    while (first.stream.length === 0 && !isTerminal(first.status)) {
      const left = deadline - Date.now();
      if (gone.aborted || left <= 0) {
        const late = await abandon();
        if (gone.aborted) return reply.hijack();
        if (!late) return fail(reply, noAnswer(job.id, waitMs));
        first = { status: late.status, stream: [] };
        break;
      }
      first = await jobs.readStream(endpointId, job.id, left, gone);
    }
    let chunks = first.stream.map((chunk) => chunk.output);
    if (chunks.length === 0) {
      // It ended without streaming: a plain handler's whole answer becomes one event, a failure an HTTP error.
      const ended = await jobs.status(endpointId, job.id);
      const failure = endedWithoutAnswer(ended) ?? workerError(unwrapOutput(ended.output));
      if (failure) return fail(reply, failure);
      chunks = ended.output === undefined || ended.output === null ? [] : [unwrapOutput(ended.output)];
    } else {
      const failure = workerError(unwrapOutput(chunks[0]));
      if (failure) {
        if (!isTerminal(first.status)) await cancel();
        return fail(reply, failure);
      }
    }

    const events = new PassThrough();
    let done = false;
    const write = (chunk: unknown) => {
      const { text, done: last } = toEvents(chunk);
      done ||= last;
      // Destroyed when the client went away: what the worker still sends has nowhere to go.
      if (!events.destroyed) events.write(text);
    };
    chunks.forEach(write);
    reply
      .code(200)
      .header("content-type", "text/event-stream; charset=utf-8")
      .header("cache-control", "no-cache")
      // A proxy in front (nginx) must not hold events back.
      .header("x-accel-buffering", "no")
      .send(events);
    void (async () => {
      let status = first.status;
      while (!isTerminal(status)) {
        const next = await jobs.readStream(endpointId, job.id, STREAM_POLL_MS, gone);
        if (gone.aborted) {
          await cancel();
          events.destroy();
          return;
        }
        next.stream.forEach((chunk) => write(chunk.output));
        status = next.status;
      }
      if (status === "COMPLETED") {
        if (!done) events.write(DONE_EVENT);
      } else {
        events.write(errorEvent(endedWithoutAnswer(await jobs.status(endpointId, job.id))!));
      }
      events.end();
    })().catch((err: Error) => {
      request.log.error({ jobId: job.id, err: err.message }, "an OpenAI event stream ended early");
      events.end(errorEvent({ status: 502, body: { error: { message: "the event stream ended early; see the control plane's log", type: "server_error", param: null, code: "stream_error" } } }));
    });
    return reply;
  }
}

/** A finished job's answer: the worker's output as the body, or the error it means. */
function complete(reply: FastifyReply, ended: JobStatusBody) {
  const failed = endedWithoutAnswer(ended);
  if (failed) return fail(reply, failed);
  const result = unwrapOutput(ended.output);
  if (result === undefined || result === null) {
    return fail(reply, { status: 502, body: { error: { message: `job ${ended.id} completed without output`, type: "server_error", param: null, code: "worker_error" } } });
  }
  const failure = workerError(result);
  if (failure) return fail(reply, failure);
  return reply.code(200).type("application/json").send(JSON.stringify(result));
}

function fail(reply: FastifyReply, failure: Failure) {
  return reply.code(failure.status).type("application/json").send(JSON.stringify(failure.body));
}
