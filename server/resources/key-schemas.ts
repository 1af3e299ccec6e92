import { z } from "zod";

/** POST /admin/keys: a new API key. */
export const createKeyBodySchema = z
  .object({
    name: z.string().min(1).max(191).describe("who or what holds the key: \"ci\", \"web app\", \"dashboard\""),
    scope: z
      .enum(["admin", "read", "run"])
      .describe("admin: everything; read: the admin and monitoring reads and /metrics; run: the client API of endpointIds only"),
    endpointIds: z.array(z.string().min(1).max(64)).max(100).optional().describe("the endpoints a run key may call; required for run, refused otherwise"),
    expiresAt: z.iso.datetime({ offset: true }).optional().describe("ISO 8601; absent: the key never expires"),
  })
  .strict()
  .describe("A new API key");

export const keyViewSchema = z
  .object({
    id: z.string().describe("public: the key's first part, in every listing and audit entry"),
    name: z.string(),
    scope: z.enum(["admin", "read", "run"]),
    endpointIds: z.array(z.string()),
    status: z.enum(["active", "revoked", "expired"]),
    createdAt: z.string().describe("ISO 8601"),
    expiresAt: z.string().nullable(),
    lastUsedAt: z.string().nullable().describe("to the minute: a key's use is written at most once a minute"),
    revokedAt: z.string().nullable(),
  })
  .describe("An API key; its secret is never shown again after creation");

export const createdKeySchema = keyViewSchema
  .extend({ key: z.string().describe("the key itself: shown this once, kept only as a hash") })
  .describe("A new API key, with its secret");

export const auditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: z.coerce.number().int().min(0).optional().describe("entries after this seq, oldest first (to follow the log); absent: the newest first"),
    targetId: z.string().min(1).max(64).optional().describe("entries about this resource or key only"),
  })
  .strict();

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  at: z.string().describe("ISO 8601"),
  keyId: z.string().describe("the key that made the change (\"bootstrap\": a key given at start-up)"),
  keyName: z.string(),
  action: z.string().describe("method and route: \"PUT /admin/templates/:id\""),
  targetKind: z.string(),
  targetId: z.string().nullable(),
  before: z.unknown().describe("the thing as the admin API showed it before (secret values masked); null for a creation"),
  after: z.unknown().describe("the thing after; null for a deletion"),
});
export const auditLogSchema = z.object({ entries: z.array(auditEntrySchema) }).describe("Audit log entries");
