import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { endpointOptions, inputString, modelId, modelSizeOptions, parseOptions, templateOptions } from "./options";
import { buildPreset, type QuickDeployPreset } from "./preset";

/** RunPod's SGLang worker (runpod-workers/worker-sglang), pinned; `image` takes another tag. */
export const SGLANG_IMAGE = "runpod/worker-sglang:2.0.2";

/** The share of GPU memory assumed for the fit check when memFractionStatic is not given (SGLang sizes it itself). */
const SGLANG_MEMORY_FRACTION = 0.9;

const sglangOptions = z
  .object({
    /** The model: a Hugging Face repo id (MODEL_NAME). */
    model: modelId,
    /** A Hugging Face token for gated or private models (HF_TOKEN); always kept a Pulumi secret. */
    hfToken: inputString.optional(),
    /** Context length (CONTEXT_LENGTH); default the model's own. */
    contextLength: z.number().int("must be a positive integer").positive("must be a positive integer").optional(),
    /** Share of GPU memory for weights and KV cache (MEM_FRACTION_STATIC), over 0 and at most 1. */
    memFractionStatic: z.number().gt(0, "must be over 0 and at most 1").max(1, "must be over 0 and at most 1").optional(),
    /** The model's name in OpenAI requests (SERVED_MODEL_NAME); default `model`. */
    servedModelName: z.string().min(1).optional(),
    /** The quantization of the checkpoint (QUANTIZATION): awq, fp8, gptq... */
    quantization: z.string().regex(/^[a-z0-9_-]+$/, "must be an SGLang quantization method, e.g. awq, fp8, gptq").optional(),
    /** The tool-call parser (TOOL_CALL_PARSER): llama3, mistral, qwen25... */
    toolCallParser: z.string().min(1).optional(),
    trustRemoteCode: z.boolean().optional(),
    ...modelSizeOptions,
    ...endpointOptions,
    ...templateOptions,
  })
  .strict();

export type SglangOptions = z.input<typeof sglangOptions>;

/**
 * SGLang behind RunPod's worker: an OpenAI-compatible LLM endpoint. The worker's Hugging Face cache (HF_HOME)
 * lives on the model cache volume, so the weights download once per endpoint, not once per worker.
 */
export function sglang(options: SglangOptions): QuickDeployPreset {
  const o = parseOptions("sglang", sglangOptions, options);
  const gpuCount = o.gpuCount ?? 1;
  return buildPreset(
    {
      kind: "sglang",
      image: SGLANG_IMAGE,
      env: {
        MODEL_NAME: ["model", o.model],
        HF_TOKEN: ["hfToken", o.hfToken === undefined ? undefined : pulumi.secret(o.hfToken)],
        CONTEXT_LENGTH: ["contextLength", o.contextLength],
        MEM_FRACTION_STATIC: ["memFractionStatic", o.memFractionStatic],
        SERVED_MODEL_NAME: ["servedModelName", o.servedModelName],
        QUANTIZATION: ["quantization", o.quantization],
        TOOL_CALL_PARSER: ["toolCallParser", o.toolCallParser],
        TRUST_REMOTE_CODE: ["trustRemoteCode", o.trustRemoteCode],
        TENSOR_PARALLEL_SIZE: ["gpuCount", gpuCount > 1 ? gpuCount : undefined],
      },
      // The image's build sets HF_HOME under BASE_PATH; named here so the cache follows the volume whatever the tag.
      cacheEnv: (mountPath) => ({ HF_HOME: `${mountPath}/huggingface-cache/hub` }),
      containerDiskInGb: 100,
      defaultGpuTypeIds: ["ADA_24", "AMPERE_24"],
      idleTimeout: 60,
      defaultModelCacheGb: 100,
      memoryFraction: o.memFractionStatic ?? SGLANG_MEMORY_FRACTION,
      openAi: true,
    },
    o,
  );
}
