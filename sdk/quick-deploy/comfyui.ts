import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { endpointOptions, inputString, modelSizeOptions, parseOptions, templateOptions } from "./options";
import { buildPreset, type QuickDeployPreset } from "./preset";

/** RunPod's ComfyUI worker (runpod-workers/worker-comfyui): one image per bundled model, `<version>-<variant>`. */
export const COMFYUI_VERSION = "5.8.6";
export const COMFYUI_VARIANTS = ["base", "flux1-dev-fp8", "flux1-dev", "flux1-schnell", "sdxl", "sd3"] as const;
export type ComfyuiVariant = (typeof COMFYUI_VARIANTS)[number];

/**
 * GPU pools per variant: FLUX in full precision (a 23 GB transformer beside its T5 encoder) wants 48 GB cards;
 * the fp8 FLUX, SDXL and SD3 fit 24 GB ones.
 */
const VARIANT_POOLS: Record<ComfyuiVariant, string[]> = {
  base: ["ADA_24", "AMPERE_24"],
  "flux1-dev-fp8": ["ADA_24", "AMPERE_24"],
  "flux1-dev": ["AMPERE_48", "ADA_48_PRO"],
  "flux1-schnell": ["AMPERE_48", "ADA_48_PRO"],
  sdxl: ["ADA_24", "AMPERE_24"],
  sd3: ["ADA_24", "AMPERE_24"],
};

const comfyuiOptions = z
  .object({
    /** Which image: `base` (no models: bring them on the model volume) or one with a model baked in; default flux1-dev-fp8, RunPod's quick deploy. */
    variant: z.enum(COMFYUI_VARIANTS).optional(),
    /** A Comfy.org API key, for API nodes (COMFY_ORG_API_KEY); kept a Pulumi secret. */
    comfyOrgApiKey: inputString.optional(),
    /** Upload images to S3 instead of returning base64 (BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY). */
    s3: z
      .object({
        endpointUrl: z.string().url("must be a URL, e.g. https://<bucket>.s3.<region>.amazonaws.com"),
        accessKeyId: inputString,
        secretAccessKey: inputString,
      })
      .strict()
      .optional(),
    /** Restart the worker after each job for a clean state (REFRESH_WORKER). */
    refreshWorker: z.boolean().optional(),
    logLevel: z.enum(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]).optional(),
    ...modelSizeOptions,
    ...endpointOptions,
    ...templateOptions,
  })
  .strict();

export type ComfyuiOptions = z.input<typeof comfyuiOptions>;

/**
 * ComfyUI workflows as jobs. With `modelCacheGb`, a network volume holds models the worker finds under
 * `/runpod-volume/models/{checkpoints,loras,vae...}` (the image's extra_model_paths.yaml); with `base`, that is
 * where all models come from.
 */
export function comfyui(options: ComfyuiOptions = {}): QuickDeployPreset {
  const o = parseOptions("comfyui", comfyuiOptions, options);
  const variant = o.variant ?? "flux1-dev-fp8";
  return buildPreset(
    {
      kind: "comfyui",
      image: `runpod/worker-comfyui:${COMFYUI_VERSION}-${variant}`,
      env: {
        COMFY_ORG_API_KEY: ["comfyOrgApiKey", o.comfyOrgApiKey === undefined ? undefined : pulumi.secret(o.comfyOrgApiKey)],
        BUCKET_ENDPOINT_URL: ["s3", o.s3?.endpointUrl],
        BUCKET_ACCESS_KEY_ID: ["s3", o.s3?.accessKeyId],
        BUCKET_SECRET_ACCESS_KEY: ["s3", o.s3 === undefined ? undefined : pulumi.secret(o.s3.secretAccessKey)],
        REFRESH_WORKER: ["refreshWorker", o.refreshWorker],
        COMFY_LOG_LEVEL: ["logLevel", o.logLevel],
      },
      containerDiskInGb: 20,
      defaultGpuTypeIds: VARIANT_POOLS[variant],
      idleTimeout: 30,
      memoryFraction: 1,
      openAi: false,
    },
    o,
  );
}
