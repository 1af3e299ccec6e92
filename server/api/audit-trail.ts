import type { FastifyRequest } from "fastify";
import type { AuditRows } from "../audit";

export interface AuditedChange {
  targetKind: string;
  targetId: string | null;
  /** The thing as the admin API shows it (secrets masked): null before a creation and after a deletion. */
  before: unknown;
  after: unknown;
}

/** Writes an admin write's entry, naming the key the request carried (server/api/authorize.ts set it). */
export function auditTrail(audit: AuditRows, now: () => number = Date.now) {
  return (request: FastifyRequest, change: AuditedChange): Promise<void> =>
    audit.append({
      at: now(),
      keyId: request.caller?.keyId ?? "unknown",
      keyName: request.caller?.keyName ?? "unknown",
      action: `${request.method} ${request.routeOptions.url}`,
      ...change,
    });
}
