import type { FastifyInstance } from "fastify";
import { z, ZodError, type ZodType } from "zod";
import type { AppDeps } from "./deps";
import { GPU_POOLS, GPU_TYPES, kubernetesProductLabel, resolveGpuTypeIds } from "../resources/gpu-types";
import {
  endpointSpecSchema,
  isPlainObject,
  maskSecrets,
  networkVolumeSpecSchema,
  restoreMaskedSecrets,
  SECRET_MASK,
  templateSpecSchema,
  type EndpointSpec,
  type endpointRevisionViewSchema,
  type endpointViewSchema,
  type endpointWorkersViewSchema,
  type gpuCatalogSchema,
  type networkVolumeViewSchema,
  type TemplateSpec,
  type templateUpdateReplySchema,
  type templateViewSchema,
} from "../resources/schemas";
import type { EndpointRecord, EndpointRevision, NetworkVolumeRecord, ResourceStore, TemplateRecord } from "../store/resources";
import { defaultsFor, workerEnv } from "../worker-env";
import { describeZodError } from "../errors";
import { settledRollout } from "../runtimes/worker-runtime";
import { ApiError, notFound } from "./errors";
import { parse } from "./http";
import { auditTrail, type AuditedChange } from "./audit-trail";
import type { FastifyRequest } from "fastify";

const idParamsSchema = z.object({ id: z.string().min(1).max(64) });

/**
 * The admin API the Pulumi provider calls, mounted at /admin: templates, endpoints and network volumes.
 *
 * - POST / creates and answers the resource (200, with its new id).
 * - PUT /:id replaces the whole spec: omitted fields take their defaults, as at creation. This is what the
 *   provider sends, its inputs being the whole desired state.
 * - PATCH /:id takes a JSON merge patch (RFC 7396, `application/merge-patch+json` or `application/json`):
 *   fields present replace the stored ones, objects such as `env` merge key by key, `null` removes a field
 *   (an optional one becomes absent, one with a default goes back to it), arrays are replaced whole.
 * - DELETE /:id answers 204; 409 while something uses the resource.
 * Secret env values are never returned (see server/resources/schemas.ts); writes that echo the mask keep them.
 */
export async function adminRoutes(app: FastifyInstance, opts: AppDeps): Promise<void> {
  app.addContentTypeParser("application/merge-patch+json", { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));

  const { resources } = opts;
  const audited = auditTrail(opts.audit);
  const views = resourceViews(resources, () => `${opts.publicUrl().replace(/\/+$/, "")}/v2`);

  crudRoutes<TemplateSpec>(app, resources, audited, {
    prefix: "/templates",
    what: "template",
    schema: templateSpecSchema,
    stored: (id) => resources.getTemplate(id)?.spec,
    prepare: restoreMaskedSecrets,
    list: () => resources.listTemplates().map(views.template),
    read: (id) => views.template(requireFound(resources.getTemplate(id), `template ${id}`)),
    create: (spec) => views.template(resources.createTemplate(spec)),
    replace: (id, spec): z.output<typeof templateUpdateReplySchema> => {
      const { template, rolledOut } = resources.updateTemplate(id, spec);
      return { ...views.template(template), rolledOut: rolledOut.map(endpointRef) };
    },
    remove: (id) => resources.deleteTemplate(id),
  });

  crudRoutes<EndpointSpec>(app, resources, audited, {
    prefix: "/endpoints",
    what: "endpoint",
    schema: endpointSpecSchema,
    stored: (id) => resources.getEndpoint(id)?.spec,
    prepare: restoreMaskedSecrets,
    list: () => resources.listEndpoints().map(views.endpoint),
    read: (id) => views.endpoint(requireFound(resources.getEndpoint(id), `endpoint ${id}`)),
    create: (spec) => views.endpoint(resources.createEndpoint(spec)),
    replace: (id, spec) => views.endpoint(resources.updateEndpoint(id, spec)),
    remove: async (id) => {
      resources.deleteEndpoint(id);
      await opts.jobs.removeEndpoint(id);
    },
  });

  crudRoutes(app, resources, audited, {
    prefix: "/network-volumes",
    what: "network volume",
    schema: networkVolumeSpecSchema,
    stored: (id) => resources.getVolume(id)?.spec,
    list: () => resources.listVolumes().map(views.volume),
    read: (id) => views.volume(requireFound(resources.getVolume(id), `network volume ${id}`)),
    create: (spec) => views.volume(resources.createVolume(spec)),
    replace: (id, spec) => views.volume(resources.updateVolume(id, spec)),
    remove: (id) => {
      resources.deleteVolume(id);
      opts.runtime()?.removeVolume(id);
    },
  });

  app.get("/endpoints/:id/revisions", async (request) => {
    const { id } = parse(idParamsSchema, request.params, "params");
    return requireFound(resources.revisions(id), `endpoint ${id}`).map(views.revision);
  });

  app.get("/endpoints/:id/worker-env", async (request) => {
    const { id } = parse(idParamsSchema, request.params, "params");
    if (!resources.endpointExists(id)) throw notFound(`endpoint ${id}`);
    return { env: { ...defaultsFor(resources.currentRevision(id)), ...workerEnv(opts.config, opts.publicUrl(), opts.keys, id) } };
  });

  app.get("/endpoints/:id/workers", async (request): Promise<z.output<typeof endpointWorkersViewSchema>> => {
    const { id } = parse(idParamsSchema, request.params, "params");
    const endpoint = requireFound(resources.getEndpoint(id), `endpoint ${id}`);
    return (
      opts.runtime()?.status(id) ?? {
        endpointId: id,
        revision: endpoint.revision,
        runtime: null,
        workers: [],
        throttled: { count: 0 },
        rollout: settledRollout(endpoint.revision),
      }
    );
  });

  app.get("/gpu-types", async (): Promise<z.output<typeof gpuCatalogSchema>> => ({
    types: GPU_TYPES.map((type) => ({ ...type, kubernetesProduct: kubernetesProductLabel(type) })),
    pools: Object.fromEntries([...GPU_POOLS].map(([pool, ids]) => [pool, [...ids]])),
  }));
}

interface CrudBinding<S> {
  prefix: string;
  what: string;
  schema: ZodType<S>;
  /** The stored spec, which PATCH merges into. */
  stored(id: string): S | undefined;
  /** Adjusts a PUT or PATCH body against the stored spec before it is validated. */
  prepare?(body: unknown, stored: S): unknown;
  list(): unknown[];
  read(id: string): unknown;
  create(spec: S): unknown;
  replace(id: string, spec: S): unknown;
  remove(id: string): void | Promise<void>;
}

/**
 * POST /, GET /, GET /:id, PUT /:id, PATCH /:id and DELETE /:id for one kind of resource; each write goes into the
 * audit log with the resource as reads show it before and after.
 */
function crudRoutes<S>(
  app: FastifyInstance,
  resources: ResourceStore,
  audited: (request: FastifyRequest, change: AuditedChange) => Promise<void>,
  kind: CrudBinding<S>,
): void {
  const idOf = (params: unknown) => parse(idParamsSchema, params, "params").id;
  const storedOf = (id: string) => requireFound(kind.stored(id), `${kind.what} ${id}`);
  const replace = async (request: FastifyRequest, id: string, stored: S, body: unknown) => {
    const before = kind.read(id);
    const reply = kind.replace(id, parseBody(kind.schema, kind.prepare ? kind.prepare(body, stored) : body));
    await resources.durable();
    await audited(request, { targetKind: kind.what, targetId: id, before, after: markChangedSecrets(kind.read(id), stored, kind.stored(id)) });
    return reply;
  };

  app.post(kind.prefix, async (request) => {
    const reply = kind.create(parseBody(kind.schema, request.body));
    await resources.durable();
    const id = (reply as { id: string }).id;
    await audited(request, { targetKind: kind.what, targetId: id, before: null, after: kind.read(id) });
    return reply;
  });

  app.get(kind.prefix, async () => kind.list());

  app.get(`${kind.prefix}/:id`, async (request) => kind.read(idOf(request.params)));

  app.put(`${kind.prefix}/:id`, async (request) => {
    const id = idOf(request.params);
    return replace(request, id, storedOf(id), request.body);
  });

  app.patch(`${kind.prefix}/:id`, async (request) => {
    const id = idOf(request.params);
    const stored = storedOf(id);
    if (!isPlainObject(request.body)) {
      throw new ApiError(400, "invalid_request", "body: a PATCH body must be a JSON object (a JSON merge patch, RFC 7396)");
    }
    return replace(request, id, stored, mergePatch(stored, request.body));
  });

  app.delete(`${kind.prefix}/:id`, async (request, reply) => {
    const id = idOf(request.params);
    const before = kind.stored(id) === undefined ? null : kind.read(id);
    await kind.remove(id);
    await resources.durable();
    await audited(request, { targetKind: kind.what, targetId: id, before, after: null });
    return reply.status(204).send();
  });
}

/** The replies: ISO times, masked secrets, and what each resource is used by. */
function resourceViews(resources: ResourceStore, clientBaseUrl: () => string) {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    template: (t: TemplateRecord): z.output<typeof templateViewSchema> => ({
      id: t.id,
      ...maskSecrets(t.spec),
      usedBy: resources.endpointsUsingTemplate(t.id).map(endpointRef),
      createdAt: iso(t.createdAt),
      updatedAt: iso(t.updatedAt),
    }),
    endpoint: (e: EndpointRecord): z.output<typeof endpointViewSchema> => ({
      id: e.id,
      ...maskSecrets(e.spec),
      revision: e.revision,
      resolvedGpuTypeIds: resolveGpuTypeIds(e.spec.gpuTypeIds),
      clientBaseUrl: clientBaseUrl(),
      createdAt: iso(e.createdAt),
      updatedAt: iso(e.updatedAt),
    }),
    volume: (v: NetworkVolumeRecord): z.output<typeof networkVolumeViewSchema> => ({
      id: v.id,
      ...v.spec,
      usedBy: resources.endpointsUsingVolume(v.id).map(endpointRef),
      createdAt: iso(v.createdAt),
      updatedAt: iso(v.updatedAt),
    }),
    revision: (r: EndpointRevision): z.output<typeof endpointRevisionViewSchema> => ({
      revision: r.revision,
      createdAt: iso(r.createdAt),
      endpoint: maskSecrets(r.spec),
      template: maskSecrets(r.templateSpec),
    }),
  };
}

/**
 * A masked secret reads the same before and after a change of its value: in the audit log, the view after says
 * which secret values changed, still without showing them.
 */
function markChangedSecrets(view: unknown, before: unknown, after: unknown): unknown {
  const secretsOf = (spec: unknown) => (isPlainObject(spec) && isPlainObject(spec.env) && Array.isArray(spec.secretEnvKeys) ? spec : undefined);
  const [old, now] = [secretsOf(before), secretsOf(after)];
  if (!old || !now || !isPlainObject(view) || !isPlainObject(view.env)) return view;
  const env = { ...view.env };
  for (const key of now.secretEnvKeys as string[]) {
    if ((old.env as Record<string, unknown>)[key] !== (now.env as Record<string, unknown>)[key]) env[key] = `${SECRET_MASK} (changed)`;
  }
  return { ...view, env };
}

const endpointRef = (e: EndpointRecord) => ({ id: e.id, name: e.spec.name, revision: e.revision });

function requireFound<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw notFound(what);
  return value;
}

/**
 * Validates a body against a resource schema; a failure is a 400 naming each field under `body.` as the other
 * APIs do. zod reports unknown fields and bad env names on the enclosing object; they are named here by key,
 * so `{"workresMax": 3}` answers `body.workresMax: is not a field of this resource`.
 */
function parseBody<T>(schema: ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap((issue): z.core.$ZodIssue[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ ...issue, path: [...issue.path, key], message: "is not a field of this resource" }));
    }
    if (issue.code === "invalid_key") return [{ ...issue, message: issue.issues.map((inner) => inner.message).join("; ") }];
    return [issue];
  });
  const { message, details } = describeZodError(new ZodError(issues), "body");
  throw new ApiError(400, "invalid_request", message, details);
}

/**
 * RFC 7396: objects merge key by key, `null` deletes, anything else replaces. Built with Object.fromEntries so
 * a `__proto__` key stays an ordinary key (which the strict schema then refuses).
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const merged = new Map(Object.entries(isPlainObject(target) ? target : {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, mergePatch(merged.get(key), value));
  }
  return Object.fromEntries(merged);
}
