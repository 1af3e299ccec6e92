import type { FastifyReply, FastifyRequest } from "fastify";
import { keyFromAuthorization, type Keys } from "../keys";
import { ApiError } from "./errors";

/** preHandler for the client and admin APIs: an API key, as `Bearer KEY` or bare. Worker keys are refused. */
export function requireApiKey(keys: Keys) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const key = keyFromAuthorization(request.headers.authorization);
    if (!key) throw new ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>");
    if (!keys.isApiKey(key)) throw new ApiError(401, "unauthorized", "API key not accepted");
  };
}

/** preHandler for the worker API: the worker key of the endpoint named in the path, and only that one. */
export function requireWorkerKey(keys: Keys) {
  return async (request: FastifyRequest<{ Params: { endpointId: string } }>, _reply: FastifyReply) => {
    const key = keyFromAuthorization(request.headers.authorization);
    if (!key) throw new ApiError(401, "unauthorized", "missing worker key: send Authorization: <key>");
    if (!keys.isWorkerKey(request.params.endpointId, key)) {
      throw new ApiError(401, "unauthorized", `key not accepted for the worker API of endpoint ${request.params.endpointId}`);
    }
  };
}
