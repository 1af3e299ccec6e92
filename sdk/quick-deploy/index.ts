/**
 * Quick deploys: RunPod's public worker images as typed presets. `quickDeploy.vllm({ model })` returns plain
 * Template, Endpoint and model-cache arguments; `new QuickDeploy(name, { preset })` deploys them together.
 */
import { comfyui } from "./comfyui";
import { fasterWhisper } from "./faster-whisper";
import { infinityEmbedding } from "./infinity-embedding";
import { sglang } from "./sglang";
import { vllm } from "./vllm";

export const quickDeploy = { vllm, sglang, fasterWhisper, infinityEmbedding, comfyui };

export { QuickDeploy, type QuickDeployArgs } from "./component";
export { QuickDeployOptionsError } from "./options";
export type { QuickDeployPreset, PresetKind } from "./preset";
export type { VllmOptions } from "./vllm";
export type { SglangOptions } from "./sglang";
export type { FasterWhisperOptions } from "./faster-whisper";
export type { InfinityEmbeddingOptions } from "./infinity-embedding";
export type { ComfyuiOptions, ComfyuiVariant } from "./comfyui";
export type { WeightsDtype } from "./model-fit";
