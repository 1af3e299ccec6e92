import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { ApiKeyRecord } from "../api-keys";
import type { AuditEntry } from "../audit";
import { InvalidFieldError } from "../errors";
import type { AppDeps } from "./deps";
import { auditTrail } from "./audit-trail";
import { parse } from "./http";
import { auditLogSchema, auditQuerySchema, createKeyBodySchema, type createdKeySchema, type keyViewSchema } from "../resources/key-schemas";

const idParamsSchema = z.object({ id: z.string().min(1).max(64) });
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * API keys and the audit log, under /admin: POST /keys makes a key and shows its secret once; GET lists or reads
 * keys (never a secret: only hashes are kept); DELETE revokes, at once on this control plane and within a second on
 * the others. GET /audit reads the log of admin writes.
 */
export async function keyRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { apiKeys, resources } = deps;
  const audited = auditTrail(deps.audit);

  app.post("/keys", async (request, reply) => {
    const body = parse(createKeyBodySchema, request.body, "body");
    body.endpointIds?.forEach((id, i) => {
      if (!resources.endpointExists(id)) throw new InvalidFieldError(`endpointIds.${i}`, `endpoint ${id} does not exist`);
    });
    const now = Date.now();
    const { key, record } = await apiKeys.create({ ...body, expiresAt: body.expiresAt === undefined ? undefined : Date.parse(body.expiresAt) }, now);
    const view = keyView(record, now);
    await audited(request, { targetKind: "api key", targetId: record.id, before: null, after: view });
    const created: z.output<typeof createdKeySchema> = { ...view, key };
    return reply.status(201).send(created);
  });

  app.get("/keys", async () => {
    const now = Date.now();
    return (await apiKeys.list()).map((record) => keyView(record, now));
  });

  app.get("/keys/:id", async (request) => keyView(await apiKeys.get(parse(idParamsSchema, request.params, "params").id), Date.now()));

  app.delete("/keys/:id", async (request, reply) => {
    const { id } = parse(idParamsSchema, request.params, "params");
    const before = keyView(await apiKeys.get(id), Date.now());
    await apiKeys.revoke(id, Date.now());
    await audited(request, { targetKind: "api key", targetId: id, before, after: keyView(await apiKeys.get(id), Date.now()) });
    return reply.status(204).send();
  });

  app.get("/audit", async (request): Promise<z.output<typeof auditLogSchema>> => {
    const query = parse(auditQuerySchema, request.query, "query");
    const entries = await deps.audit.list({ limit: query.limit, afterSeq: query.after, targetId: query.targetId });
    return { entries: entries.map(auditView) };
  });
}

function keyView(record: ApiKeyRecord, now: number): z.output<typeof keyViewSchema> {
  const status = record.revokedAt !== null ? "revoked" : record.expiresAt !== null && record.expiresAt <= now ? "expired" : "active";
  return {
    id: record.id,
    name: record.name,
    scope: record.scope,
    endpointIds: record.endpointIds,
    status,
    createdAt: iso(record.createdAt)!,
    expiresAt: iso(record.expiresAt),
    lastUsedAt: iso(record.lastUsedAt),
    revokedAt: iso(record.revokedAt),
  };
}

const auditView = (entry: AuditEntry) => ({ ...entry, at: new Date(entry.at).toISOString() });
