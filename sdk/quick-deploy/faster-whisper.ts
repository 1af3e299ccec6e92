import { z } from "zod";
import { endpointOptions, parseOptions, templateOptions } from "./options";
import { buildPreset, type QuickDeployPreset } from "./preset";

/** RunPod's Faster Whisper worker (runpod-workers/worker-faster_whisper), as its quick deploy runs it; pinned. */
export const FASTER_WHISPER_IMAGE = "runpod/ai-api-faster-whisper:1.0.10";

const fasterWhisperOptions = z.object({ ...endpointOptions, ...templateOptions }).strict();

export type FasterWhisperOptions = z.input<typeof fasterWhisperOptions>;

/**
 * Speech to text with Faster Whisper. The image carries its Whisper models and each job names one (`model`:
 * "base", "large-v3"...), so the preset sets no env and no cache volume; the largest model needs about 5 GB of GPU
 * memory, so 16 GB cards come first, 24 GB as the fallback.
 */
export function fasterWhisper(options: FasterWhisperOptions = {}): QuickDeployPreset {
  const o = parseOptions("fasterWhisper", fasterWhisperOptions, options);
  return buildPreset(
    {
      kind: "fasterWhisper",
      image: FASTER_WHISPER_IMAGE,
      env: {},
      containerDiskInGb: 20,
      defaultGpuTypeIds: ["AMPERE_16", "ADA_24"],
      idleTimeout: 10,
      memoryFraction: 1,
      openAi: false,
    },
    o,
  );
}
