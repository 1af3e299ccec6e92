import type { ZodError } from "zod";

/**
 * The control plane's own errors, in the domain's words: what was not found, what conflicts, which field broke
 * which rule. Each carries a stable machine-readable `code` and a message naming the thing; the HTTP layer
 * (api/errors.ts) gives each kind its status, so the domain never speaks HTTP.
 */
export abstract class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A job, endpoint, template or network volume that does not exist (or no longer does). */
export class NotFoundError extends DomainError {}

/** Refused because something else depends on it: a template an endpoint uses, a volume one mounts. */
export class ConflictError extends DomainError {}

/** Refused because of the thing's own state: retrying a job that has not failed. */
export class NotAllowedError extends DomainError {}

/** A field of a resource that breaks a rule only stored state can check: a reference, a volume that may only grow. */
export class InvalidFieldError extends DomainError {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super("invalid_request", `${field}: ${rule}`);
  }
}

/** A field and the rule it broke, the field named by its path: `input.policy.ttl`, `must be at least 10000`. */
export interface FieldIssue {
  field: string;
  rule: string;
}

/** One line per problem, naming the field by its path under `root`: `input.policy.ttl: must be at least 10000`. */
export function describeZodError(err: ZodError, root: string): { message: string; details: FieldIssue[] } {
  const issues = err.issues.map((issue) => ({
    field: [root, ...issue.path.map(String)].filter(Boolean).join("."),
    rule: issue.message,
  }));
  return { message: issues.map((i) => `${i.field}: ${i.rule}`).join("; "), details: issues };
}
