import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { endpointOptions, inputString, modelId, modelSizeOptions, parseOptions, templateOptions } from "./options";
import { buildPreset, type QuickDeployPreset } from "./preset";

/** RunPod's vLLM worker (runpod-workers/worker-vllm), pinned; `image` takes another tag. */
export const VLLM_IMAGE = "runpod/worker-v1-vllm:v2.18.1";

/** vLLM's own default share of GPU memory (--gpu-memory-utilization). */
const VLLM_MEMORY_FRACTION = 0.9;

const vllmOptions = z
  .object({
    /** The model: a Hugging Face repo id (MODEL_NAME). */
    model: modelId,
    /** A branch, tag or commit of the model (MODEL_REVISION). */
    revision: z.string().min(1).optional(),
    /** A Hugging Face token for gated or private models (HF_TOKEN); always kept a Pulumi secret. */
    hfToken: inputString.optional(),
    /** Context length (MAX_MODEL_LEN); default the model's own. */
    maxModelLen: z.number().int("must be a positive integer").positive("must be a positive integer").optional(),
    /** Share of each GPU's memory vLLM takes (GPU_MEMORY_UTILIZATION), over 0 and at most 1; default 0.9. */
    gpuMemoryUtilization: z.number().gt(0, "must be over 0 and at most 1").max(1, "must be over 0 and at most 1").optional(),
    /** The model's name in OpenAI requests and /models (OPENAI_SERVED_MODEL_NAME_OVERRIDE); default `model`. */
    servedModelName: z.string().min(1).optional(),
    /** Jobs one worker takes at once (MAX_CONCURRENCY); default 30, the worker's. */
    maxConcurrency: z.number().int("must be a positive integer").positive("must be a positive integer").optional(),
    /** The quantization of the checkpoint (QUANTIZATION): awq, gptq, fp8, bitsandbytes... */
    quantization: z.string().regex(/^[a-z0-9_-]+$/, "must be a vLLM quantization method, e.g. awq, gptq, fp8").optional(),
    /** Run the model's own code from the Hub (TRUST_REMOTE_CODE). */
    trustRemoteCode: z.boolean().optional(),
    ...modelSizeOptions,
    ...endpointOptions,
    ...templateOptions,
  })
  .strict();

export type VllmOptions = z.input<typeof vllmOptions>;

/** vLLM's --dtype for the precisions it takes as one; quantized precisions come from the checkpoint instead. */
const VLLM_DTYPE = { fp32: "float32", fp16: "float16", bf16: "bfloat16" } as const;

/**
 * vLLM behind RunPod's worker: an OpenAI-compatible LLM endpoint. The model downloads once into a network
 * volume (BASE_PATH, the worker's Hugging Face cache), so a cold worker loads it from there instead of the Hub.
 * Idle workers stay a minute by default: a cold start re-loads the weights, far slower than the 5 s default waits.
 */
export function vllm(options: VllmOptions): QuickDeployPreset {
  const o = parseOptions("vllm", vllmOptions, options);
  const gpuCount = o.gpuCount ?? 1;
  return buildPreset(
    {
      kind: "vllm",
      image: VLLM_IMAGE,
      env: {
        MODEL_NAME: ["model", o.model],
        MODEL_REVISION: ["revision", o.revision],
        HF_TOKEN: ["hfToken", o.hfToken === undefined ? undefined : pulumi.secret(o.hfToken)],
        MAX_MODEL_LEN: ["maxModelLen", o.maxModelLen],
        GPU_MEMORY_UTILIZATION: ["gpuMemoryUtilization", o.gpuMemoryUtilization],
        OPENAI_SERVED_MODEL_NAME_OVERRIDE: ["servedModelName", o.servedModelName],
        MAX_CONCURRENCY: ["maxConcurrency", o.maxConcurrency],
        QUANTIZATION: ["quantization", o.quantization],
        TRUST_REMOTE_CODE: ["trustRemoteCode", o.trustRemoteCode],
        DTYPE: ["dtype", o.dtype && o.dtype in VLLM_DTYPE ? VLLM_DTYPE[o.dtype as keyof typeof VLLM_DTYPE] : undefined],
        // One worker's GPUs serve one model: vLLM splits it across them.
        TENSOR_PARALLEL_SIZE: ["gpuCount", gpuCount > 1 ? gpuCount : undefined],
      },
      cacheEnv: (mountPath) => ({ BASE_PATH: mountPath }),
      // hub.json's 200 GB holds the model on container disk; with the cache volume far less would do, but a
      // user who turns the volume off still gets a disk that holds a large model.
      containerDiskInGb: 200,
      defaultGpuTypeIds: ["ADA_24", "AMPERE_24"],
      idleTimeout: 60,
      defaultModelCacheGb: 100,
      memoryFraction: o.gpuMemoryUtilization ?? VLLM_MEMORY_FRACTION,
      openAi: true,
    },
    o,
  );
}
