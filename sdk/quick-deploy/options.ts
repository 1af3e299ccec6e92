import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { endpointFields, imageNameSchema, templateFields } from "../../server/resources/schemas";
import { WEIGHTS_DTYPES } from "./model-fit";

/**
 * The options every preset shares, and how a preset's options are checked. The endpoint and template fields reuse
 * the admin API's own zod schemas (server/resources/schemas.ts, without their defaults), so a value refused here is
 * refused for the same reason, in the same words, as by the control plane. Every options object is strict: a typo
 * is an error naming the key, never a silently ignored option.
 */

/** A preset's options are wrong: thrown while the program runs, so `pulumi preview` fails with just this message. */
export class QuickDeployOptionsError extends pulumi.RunError {
  constructor(
    readonly preset: string,
    readonly field: string,
    readonly rule: string,
  ) {
    super(`quickDeploy.${preset}: ${field}: ${rule}`);
    this.name = "QuickDeployOptionsError";
  }
}

/** A value a Pulumi program may hold for a string: a string, an Output (config.requireSecret) or a promise of one. */
export const inputString = z.custom<pulumi.Input<string>>(
  (value) => typeof value === "string" || pulumi.Output.isInstance(value) || value instanceof Promise,
  "must be a string, or a Pulumi Output of one (e.g. config.requireSecret)",
);

const withoutDefault = <T extends z.ZodType>(field: { unwrap(): T }) => field.unwrap().optional();

/** Endpoint settings a preset recommends and the user may override. */
export const endpointOptions = {
  gpuTypeIds: withoutDefault(endpointFields.shape.gpuTypeIds),
  gpuCount: withoutDefault(endpointFields.shape.gpuCount),
  workersMin: withoutDefault(endpointFields.shape.workersMin),
  workersMax: withoutDefault(endpointFields.shape.workersMax),
  idleTimeout: withoutDefault(endpointFields.shape.idleTimeout),
  executionTimeoutMs: withoutDefault(endpointFields.shape.executionTimeoutMs),
  flashboot: withoutDefault(endpointFields.shape.flashboot),
};

/** Template settings every preset takes: another tag of the image, disk, extra env. */
export const templateOptions = {
  /** Another image (a newer tag, a mirror, an image built on the worker's) in place of the pinned one. */
  image: imageNameSchema.optional(),
  containerDiskInGb: withoutDefault(templateFields.shape.containerDiskInGb),
  /** GB of network volume the worker caches models on; false: none (models download to container disk per worker). */
  modelCacheGb: z.union([z.number().int("must be a whole number of GB").min(1).max(4000), z.literal(false)]).optional(),
  /** More worker env; a key the preset sets itself is refused (use the preset's option for it). */
  env: z.record(z.string(), inputString).optional(),
};

/** What the GPU fit check takes: the weights' size, given outright or as parameters and precision. */
export const modelSizeOptions = {
  /** Size of the model's weights in GB, when known. */
  modelSizeGb: z.number().positive("must be a positive number of GB").optional(),
  /** Parameters in billions (7 for a 7B model); with dtype, gives the weights' size. */
  parameters: z.number().positive("must be a positive number of billions").optional(),
  /** Precision of the weights, for the size estimate; default bf16. */
  dtype: z.enum(WEIGHTS_DTYPES).optional(),
};

/** A Hugging Face repo id (org/name), or an absolute path to a model the image or volume holds. */
export const modelId = z
  .string()
  .regex(/^(?:[A-Za-z0-9][\w.-]*\/[\w.-]+|\/\S+)$/, "must be a Hugging Face repo id (org/name) or an absolute path");

export type EndpointOptions = z.infer<z.ZodObject<typeof endpointOptions>>;
export type TemplateOptions = Omit<z.infer<z.ZodObject<typeof templateOptions>>, "env"> & { env?: Record<string, pulumi.Input<string>> };

function closest(key: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length]!;
  };
  const best = known.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(key.length / 4)) ? best.k : undefined;
}

/** Parses a preset's options with its strict schema, throwing the first problem as a QuickDeployOptionsError. */
export function parseOptions<S extends z.ZodObject>(preset: string, schema: S, options: unknown): z.output<S> {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new QuickDeployOptionsError(preset, "options", "must be an object");
  }
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0]!;
    const hint = closest(key, Object.keys(schema.shape));
    throw new QuickDeployOptionsError(preset, key, `is not an option of this preset${hint ? `; did you mean "${hint}"?` : ""}`);
  }
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "options";
  const given = issue.path.length === 1 ? (options as Record<string, unknown>)[String(issue.path[0])] : null;
  const message = issue.code === "invalid_type" && given === undefined ? "is required" : issue.message;
  throw new QuickDeployOptionsError(preset, field, message);
}

/** Env values a preset derives from its options: numbers and booleans as the images read them, absent ones left out. */
/** An env value as an option gives it: numbers and booleans are written as text, undefined leaves the key unset. */
export type EnvValue = string | number | boolean | pulumi.Input<string> | undefined;

export function envOf(entries: Record<string, EnvValue>): Record<string, pulumi.Input<string>> {
  const env: Record<string, pulumi.Input<string>> = {};
  for (const [key, value] of Object.entries(entries)) {
    if (value === undefined) continue;
    env[key] = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
  }
  return env;
}
