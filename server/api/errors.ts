import type { FastifyError, FastifyInstance } from "fastify";
import { ZodError } from "zod";
import { ConflictError, describeZodError, DomainError, InvalidFieldError, NotFoundError } from "../errors";
import { storeUnavailable } from "../store/unavailable";

/**
 * An error a client caused, answered as `{ error, message, details? }` with a 4xx status.
 * `error` is a stable machine-readable code; `message` names the field or thing and the rule.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const notFound = (what: string) => new ApiError(404, "not_found", `${what} does not exist`);

/**
 * The one place the domain's errors become HTTP: not found 404, conflict 409, an action the thing's state does
 * not allow 400; a field of a resource is named as the request body's (`body.size`), as zod's errors are.
 */
export function fromDomainError(err: DomainError): ApiError {
  if (err instanceof InvalidFieldError) {
    const field = `body.${err.field}`;
    return new ApiError(400, err.code, `${field}: ${err.rule}`, [{ field, rule: err.rule }]);
  }
  const status = err instanceof NotFoundError ? 404 : err instanceof ConflictError ? 409 : 400;
  return new ApiError(status, err.code, err.message, err.details);
}

/**
 * Turns every failure into a JSON body: domain errors get their kind's status; ApiErrors and fastify's own
 * client errors (bad JSON, oversize body, wrong content type) keep their 4xx status; an unreachable database
 * (PostgreSQL down or restarting) is a 503 with Retry-After, which RunPod's clients and workers retry; anything
 * else is logged with its stack and answered as a generic 500 that leaks nothing.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((thrown: FastifyError | ApiError | DomainError | ZodError, request, reply) => {
    const err = thrown instanceof DomainError ? fromDomainError(thrown) : thrown;
    if (err instanceof ApiError) {
      return reply.status(err.statusCode).send({ error: err.code, message: err.message, details: err.details });
    }
    if (err instanceof ZodError) {
      const { message, details } = describeZodError(err, "body");
      return reply.status(400).send({ error: "invalid_request", message, details });
    }
    if (storeUnavailable(err)) {
      request.log.warn({ err: err.message, code: (err as { code?: string }).code }, "the store is unreachable: answered 503");
      return reply
        .status(503)
        .header("retry-after", "1")
        .send({ error: "store_unavailable", message: "the control plane's database cannot be reached right now; send the request again shortly" });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send({ error: clientErrorCode(err), message: err.message });
    }
    request.log.error({ err }, "unhandled error");
    return reply.status(500).send({ error: "internal", message: "internal error; see the control plane's log" });
  });
  const routes = knownRoutes(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!;
    const allowed = routes.methodsFor(path);
    if (allowed.length > 0) {
      return reply
        .status(405)
        .header("allow", allowed.join(", "))
        .send({ error: "method_not_allowed", message: `${request.method} is not allowed on ${path}; allowed: ${allowed.join(", ")}` });
    }
    return reply.status(404).send({ error: "not_found", message: `no route ${request.method} ${path}` });
  });
}

/**
 * Every route registered after this call, as a pattern, so a request that found no route can be told whether its
 * path exists with other methods (405 and Allow) or not at all (404). Only requests that missed pay for the look-up.
 */
function knownRoutes(app: FastifyInstance) {
  const patterns: Array<{ method: string; pattern: RegExp }> = [];
  app.addHook("onRoute", (route) => {
    const source = route.url
      .split("/")
      .map((part) => (part.startsWith(":") ? "[^/]+" : part === "*" ? ".*" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    for (const method of [route.method].flat()) patterns.push({ method, pattern: new RegExp(`^${source}$`) });
  });
  return {
    methodsFor: (path: string): string[] => [...new Set(patterns.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort(),
  };
}

function clientErrorCode(err: FastifyError): string {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return "payload_too_large";
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return "unsupported_media_type";
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return "malformed_json";
    default:
      return err.statusCode === 413 ? "payload_too_large" : "bad_request";
  }
}
