import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ResourceStore } from "../store/resources";

/**
 * Read-your-writes across control planes behind a load balancer: a client that made a template on one may name it
 * on another before that one has heard (Pulumi creates a template, then its endpoint). The admin API, whose
 * requests are few and change resources, reads the resources again before each; the job APIs do so only when they
 * name an endpoint this control plane does not know. With SQLite (one control plane) this costs nothing.
 */
export function catchUpWithOtherControlPlanes(app: FastifyInstance, resources: ResourceStore): void {
  app.addHook("preHandler", async (request) => {
    if (isResourceAdmin(request) || namesUnknownEndpoint(request, resources)) await resources.catchUp();
  });
}

const RESOURCE_ADMIN = /^\/admin\/(templates|endpoints|network-volumes)(\/|$)/;

function isResourceAdmin(request: FastifyRequest): boolean {
  return RESOURCE_ADMIN.test(request.routeOptions.url ?? "");
}

function namesUnknownEndpoint(request: FastifyRequest, resources: ResourceStore): boolean {
  const endpointId = (request.params as { endpointId?: unknown } | undefined)?.endpointId;
  return typeof endpointId === "string" && !resources.endpointExists(endpointId);
}
