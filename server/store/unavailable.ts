/**
 * Error codes that mean the database could not be reached or went away (not that a statement was wrong): Node's
 * socket errors, postgres.js's connection errors, and PostgreSQL's classes 08 (connection exception) and 57P
 * (shutting down, restarting, not accepting connections yet).
 */
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);

/** Whether `err` says the store is unreachable for now, so the request may be sent again shortly. */
export function storeUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08") || code.startsWith("57P"));
}
