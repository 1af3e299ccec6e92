import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import { ZodError } from "zod";
import { describeZodError } from "../errors";
import { ApiError } from "./errors";

/** Aborts when the client goes away before its long-poll is answered. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Validates one part of a request, naming the failing field from that part: `query.wait`, `body.policy.ttl`. */
export function parse<T>(schema: ZodType<T>, value: unknown, part: "body" | "query" | "params"): T {
  try {
    return schema.parse(value);
  } catch (err) {
    if (!(err instanceof ZodError)) throw err;
    const { message, details } = describeZodError(err, part);
    throw new ApiError(400, "invalid_request", message, details);
  }
}

/**
 * Parses every body as JSON whatever its content type, and an empty body as no body: runpod-python labels its
 * JSON `application/x-www-form-urlencoded`, and RunPod clients post `{}` or nothing to cancel and purge.
 */
export function acceptAnyJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request: FastifyRequest, body: string | Buffer, done) => {
    const text = body.toString();
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError(400, "malformed_json", `body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
}
