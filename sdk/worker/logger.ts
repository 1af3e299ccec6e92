import pino, { type Logger } from "pino";

const LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/**
 * Structured JSON lines on stderr, every line carrying the worker id (and endpoint id); job lines add `jobId`.
 * Synchronous writes, so the last lines are not lost when the worker calls process.exit. The API key is never
 * put in a log object; the redaction below is a second guard against an Authorization header slipping in.
 */
export function createLogger(level: string | undefined, bindings: { workerId: string; endpointId?: string }): Logger {
  const chosen = level && LEVELS.has(level) ? level : "info";
  return pino(
    {
      name: "berth-worker",
      level: chosen,
      base: { pid: process.pid, ...bindings },
      redact: {
        paths: ["apiKey", "authorization", "Authorization", "headers.authorization", "headers.Authorization", "*.headers.Authorization"],
        censor: "[redacted]",
      },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** What is safe to log about a failure: never the error object itself (axios errors carry request headers). */
export function describeError(err: unknown): { error: string; code?: string; status?: number } {
  if (err && typeof err === "object") {
    const e = err as { message?: unknown; code?: unknown; response?: { status?: unknown } };
    const out: { error: string; code?: string; status?: number } = { error: String(e.message ?? err) };
    if (typeof e.code === "string") out.code = e.code;
    if (typeof e.response?.status === "number") out.status = e.response.status;
    return out;
  }
  return { error: String(err) };
}
