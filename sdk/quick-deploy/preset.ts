import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_VOLUME_MOUNT_PATH } from "../../server/resources/schemas";
import type { EndpointArgs, TemplateArgs } from "../resources";
import { checkFit, modelSize, recommendPools, type WeightsDtype } from "./model-fit";
import { envOf, QuickDeployOptionsError, type EndpointOptions, type EnvValue, type TemplateOptions } from "./options";

export type PresetKind = "vllm" | "sglang" | "fasterWhisper" | "infinityEmbedding" | "comfyui";

/**
 * A quick deploy, as plain arguments: what to give `Template`, `Endpoint` and (for the model cache) `NetworkVolume`.
 * `new QuickDeploy(name, { preset })` makes all three; or spread them into resources of your own.
 */
export interface QuickDeployPreset {
  kind: PresetKind;
  /** Arguments of the Template: the worker image, its env (secrets stay Pulumi secrets), disk, volume mount. */
  template: Omit<TemplateArgs, "controlPlane" | "name">;
  /** Arguments of the Endpoint, less `template` and `networkVolume`: GPU pools, workers, idle timeout, flashboot. */
  endpoint: Omit<EndpointArgs, "controlPlane" | "name" | "template" | "networkVolume">;
  /** GB of the NetworkVolume the worker caches models on, mounted at `template.volumeMountPath`; absent: no volume. */
  modelCacheGb?: number;
  /** Whether the worker answers OpenAI's API, at `{clientBaseUrl}/{endpointId}/openai/v1`. */
  openAi: boolean;
}

/** What one preset module decides; the rest (overrides, fit check, cache volume) is common to all. */
export interface PresetSpec {
  kind: PresetKind;
  image: string;
  /**
   * Env the preset sets from its own options: key -> [the option's name, its value] (unset while undefined). The
   * user's `env` may not set these keys again; the message names the option to use instead.
   */
  env: Record<string, readonly [option: string, value: EnvValue]>;
  /** Env that only applies with a model cache volume (where the worker keeps its downloads): owned by `modelCacheGb`. */
  cacheEnv?: (mountPath: string) => Record<string, pulumi.Input<string>>;
  containerDiskInGb: number;
  /** GPU pools when the model's size is unknown (or the preset has no model size). */
  defaultGpuTypeIds: string[];
  idleTimeout: number;
  /** The model cache volume's size when the user gives none; undefined: no volume by default. */
  defaultModelCacheGb?: number;
  /** Share of GPU memory the engine uses (vLLM's gpu_memory_utilization); 1 for engines without one. */
  memoryFraction: number;
  openAi: boolean;
}

export interface CommonOptions extends EndpointOptions, TemplateOptions {
  modelSizeGb?: number;
  parameters?: number;
  dtype?: WeightsDtype;
}

/** The cache volume for a model of known size: its weights with room to spare, at least 20 GB. */
export const cacheSizeFor = (weightsGb: number | undefined, fallback: number) =>
  weightsGb === undefined ? fallback : Math.max(20, Math.ceil(weightsGb * 1.5));

/**
 * Builds a preset from its module's decisions and the user's common options: the user's endpoint settings win
 * over the recommendations; GPU pools are chosen by model size when it is known, and checked against it when the
 * user chose them.
 */
export function buildPreset(spec: PresetSpec, options: CommonOptions): QuickDeployPreset {
  const fail = (field: string, rule: string) => new QuickDeployOptionsError(spec.kind, field, rule);
  if (options.modelSizeGb !== undefined && options.parameters !== undefined) {
    throw fail("modelSizeGb", "give either modelSizeGb or parameters (with dtype), not both");
  }
  if (options.dtype !== undefined && options.parameters === undefined) {
    throw fail("dtype", "sizes the model only with parameters; give parameters too, or modelSizeGb instead");
  }
  const mountPath = DEFAULT_VOLUME_MOUNT_PATH;
  const ownedEnv: Record<string, string> = {
    ...Object.fromEntries(Object.entries(spec.env).map(([key, [option]]) => [key, option])),
    ...Object.fromEntries(Object.keys(spec.cacheEnv?.(mountPath) ?? {}).map((key) => [key, "modelCacheGb"])),
  };
  for (const key of Object.keys(options.env ?? {})) {
    if (key in ownedEnv) throw fail(`env.${key}`, `is set by the ${spec.kind} preset from its ${ownedEnv[key]} option; use that`);
  }

  const gpuCount = options.gpuCount ?? 1;
  const size = modelSize(options);
  if (size && options.gpuTypeIds) {
    const problem = checkFit(size, options.gpuTypeIds, gpuCount, spec.memoryFraction);
    if (problem) throw fail(problem.field, problem.message);
  }
  let gpuTypeIds = options.gpuTypeIds ?? spec.defaultGpuTypeIds;
  if (size && !options.gpuTypeIds) {
    const problem = checkFit(size, [], gpuCount, spec.memoryFraction);
    if (problem) throw fail(problem.field, problem.message);
    gpuTypeIds = recommendPools(size, gpuCount, spec.memoryFraction);
  }

  const modelCacheGb =
    options.modelCacheGb === false ? undefined : (options.modelCacheGb ?? (spec.defaultModelCacheGb === undefined ? undefined : cacheSizeFor(size?.weightsGb, spec.defaultModelCacheGb)));
  const env = {
    ...envOf(Object.fromEntries(Object.entries(spec.env).map(([key, [, value]]) => [key, value]))),
    ...(modelCacheGb !== undefined && spec.cacheEnv ? spec.cacheEnv(mountPath) : {}),
    ...(options.env ?? {}),
  };

  return {
    kind: spec.kind,
    template: {
      imageName: options.image ?? spec.image,
      env,
      containerDiskInGb: options.containerDiskInGb ?? spec.containerDiskInGb,
      volumeMountPath: mountPath,
    },
    endpoint: {
      gpuTypeIds,
      gpuCount,
      workersMin: options.workersMin ?? 0,
      workersMax: options.workersMax ?? 3,
      idleTimeout: options.idleTimeout ?? spec.idleTimeout,
      flashboot: options.flashboot ?? true,
      ...(options.executionTimeoutMs !== undefined ? { executionTimeoutMs: options.executionTimeoutMs } : {}),
    },
    ...(modelCacheGb !== undefined ? { modelCacheGb } : {}),
    openAi: spec.openAi,
  };
}
