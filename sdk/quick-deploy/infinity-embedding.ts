import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { endpointOptions, inputString, modelId, modelSizeOptions, parseOptions, templateOptions } from "./options";
import { buildPreset, type QuickDeployPreset } from "./preset";

/** RunPod's Infinity embeddings worker (runpod-workers/worker-infinity-embedding), pinned. */
export const INFINITY_EMBEDDING_IMAGE = "runpod/worker-infinity-embedding:1.1.4";

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1, "must name at least one")]);

const infinityOptions = z
  .object({
    /** One model or several (MODEL_NAMES, `;`-separated): embedding or reranker models from the Hub. */
    models: oneOrMany(modelId),
    /** Batch size per model (BATCH_SIZES), one for each of `models`; default 32 each. */
    batchSizes: oneOrMany(z.number().int("must be a positive integer").positive("must be a positive integer")).optional(),
    /** The engine for all models (BACKEND); default torch. */
    backend: z.enum(["torch", "optimum", "ctranslate2"]).optional(),
    /** Precision per model (DTYPES), one for each of `models`; default auto. */
    dtypes: oneOrMany(z.enum(["auto", "fp16", "fp8"])).optional(),
    /** Requests one worker takes at once (RUNPOD_MAX_CONCURRENCY); default 300, the worker's. */
    maxConcurrency: z.number().int("must be a positive integer").positive("must be a positive integer").optional(),
    hfToken: inputString.optional(),
    ...modelSizeOptions,
    ...endpointOptions,
    ...templateOptions,
  })
  .strict()
  .superRefine((o, ctx) => {
    const count = Array.isArray(o.models) ? o.models.length : 1;
    for (const field of ["batchSizes", "dtypes"] as const) {
      const value = o[field];
      const given = value === undefined ? count : Array.isArray(value) ? value.length : 1;
      if (given !== count) {
        ctx.addIssue({ code: "custom", path: [field], message: `must give one value per model (${count} model(s), ${given} value(s))` });
      }
    }
  });

export type InfinityEmbeddingOptions = z.input<typeof infinityOptions>;

const list = <T>(value: T | T[] | undefined) => (value === undefined ? undefined : (Array.isArray(value) ? value : [value]).join(";"));

/**
 * Embeddings and reranking with Infinity, OpenAI-compatible (`/openai/v1/embeddings`). Embedding models are small:
 * 16 GB cards first. The Hugging Face cache is on the model cache volume (HF_HOME).
 */
export function infinityEmbedding(options: InfinityEmbeddingOptions): QuickDeployPreset {
  const o = parseOptions("infinityEmbedding", infinityOptions, options);
  return buildPreset(
    {
      kind: "infinityEmbedding",
      image: INFINITY_EMBEDDING_IMAGE,
      env: {
        MODEL_NAMES: ["models", list(o.models)],
        BATCH_SIZES: ["batchSizes", list(o.batchSizes)],
        BACKEND: ["backend", o.backend],
        DTYPES: ["dtypes", list(o.dtypes)],
        RUNPOD_MAX_CONCURRENCY: ["maxConcurrency", o.maxConcurrency],
        HF_TOKEN: ["hfToken", o.hfToken === undefined ? undefined : pulumi.secret(o.hfToken)],
      },
      cacheEnv: (mountPath) => ({ HF_HOME: `${mountPath}/huggingface-cache` }),
      containerDiskInGb: 20,
      defaultGpuTypeIds: ["AMPERE_16", "ADA_24"],
      idleTimeout: 30,
      defaultModelCacheGb: 20,
      memoryFraction: 1,
      openAi: true,
    },
    o,
  );
}
