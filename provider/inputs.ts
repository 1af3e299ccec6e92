import type { ZodType } from "zod";

/** What a dynamic provider sees in place of a value not known until apply time (`pulumi preview`). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsUnknown);
  return false;
}

export interface CheckFailure {
  property: string;
  reason: string;
}

/**
 * Validates a resource's inputs with the control plane's own zod schema (the one source of truth for what the
 * admin API accepts), so a bad input fails at `pulumi preview` naming the property and the rule. Properties
 * that are still unknown are not judged now: the control plane checks them at apply time.
 */
export function validate(schema: ZodType, inputs: Record<string, unknown>): CheckFailure[] {
  const parsed = schema.safeParse(inputs);
  if (parsed.success) return [];
  return parsed.error.issues
    .filter((issue) => {
      const top = issue.path[0];
      return top === undefined || !containsUnknown(inputs[String(top)]);
    })
    .map((issue) => ({
      property: issue.path.length > 0 ? issue.path.map(String).join(".") : "(inputs)",
      reason: `${issue.path.length > 0 ? issue.path.map(String).join(".") : "inputs"}: ${issue.message}`,
    }));
}

/** JSON with object keys sorted, so that two equal values compare equal whatever order their keys came in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** The keys whose values differ between two sets of inputs, of those listed. */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((key) => stableJson(olds[key]) !== stableJson(news[key]));
}

/** The listed keys of a resource's inputs that are set: what the admin API takes (no `__provider`, no extras). */
export function pick(inputs: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => inputs[key] !== undefined && inputs[key] !== null).map((key) => [key, inputs[key]]));
}

/**
 * A resource's inputs as the control plane now has them, for refresh: each field the program set, and any other
 * field that is no longer at its default (changed outside Pulumi). Defaults the program left out are not drift.
 */
export function liveInputs(
  view: Record<string, unknown>,
  state: Record<string, unknown>,
  keys: readonly string[],
  defaults: Record<string, unknown>,
): Record<string, unknown> {
  const live: Record<string, unknown> = {};
  for (const key of keys) {
    const value = view[key];
    if (value === undefined) continue;
    if (state[key] !== undefined || stableJson(value) !== stableJson(defaults[key])) live[key] = value;
  }
  return live;
}
