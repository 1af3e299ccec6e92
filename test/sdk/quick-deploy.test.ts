// The quick-deploy presets' pure parts: the Template and Endpoint arguments each builds from its options, the GPU
// fit check, and options refused with the field and the rule. The Pulumi CLI side is test/provider/quick-deploy.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { QuickDeployOptionsError, quickDeploy } from "../../sdk";
import { checkFit, modelSize, recommendPools } from "../../sdk/quick-deploy/model-fit";

const refused = (build: () => unknown, message: RegExp) =>
  assert.throws(build, (err: unknown) => {
    assert.ok(err instanceof QuickDeployOptionsError, `a QuickDeployOptionsError, not ${String(err)}`);
    assert.ok(pulumi.RunError.isInstance(err), "a RunError, so `pulumi preview` prints the message without a stack trace");
    assert.match(err.message, message);
    return true;
  });

describe("quick-deploy presets: what they deploy", () => {
  test("vllm: the image, its env from the options, the cache on the volume, pools by model size", () => {
    const preset = quickDeploy.vllm({ model: "meta-llama/Llama-3.1-8B-Instruct", parameters: 8, dtype: "bf16", maxModelLen: 8192, servedModelName: "llama", gpuMemoryUtilization: 0.95 });
    assert.equal(preset.template.imageName, "runpod/worker-v1-vllm:v2.18.1");
    assert.deepEqual(preset.template.env, {
      MODEL_NAME: "meta-llama/Llama-3.1-8B-Instruct",
      MAX_MODEL_LEN: "8192",
      GPU_MEMORY_UTILIZATION: "0.95",
      OPENAI_SERVED_MODEL_NAME_OVERRIDE: "llama",
      DTYPE: "bfloat16",
      BASE_PATH: "/runpod-volume",
    });
    assert.equal(preset.template.volumeMountPath, "/runpod-volume");
    assert.equal(preset.modelCacheGb, 24, "16 GB of weights with room to spare");
    // 16 GB x 1.2 / 0.95 = 20.2 GB: the 24 GB pools, then the 32 GB one; never the 16 GB pool.
    assert.deepEqual(preset.endpoint.gpuTypeIds, ["AMPERE_24", "ADA_24", "ADA_32_PRO"]);
    assert.equal(preset.endpoint.idleTimeout, 60);
    assert.equal(preset.endpoint.flashboot, true);
    assert.equal(preset.openAi, true);
  });

  test("vllm: the HF token is a Pulumi secret, however it was given", async () => {
    const preset = quickDeploy.vllm({ model: "org/model", hfToken: "hf_plain" });
    const token = preset.template.env!.HF_TOKEN as pulumi.Output<string>;
    assert.ok(pulumi.Output.isInstance(token));
    assert.equal(await pulumi.isSecret(token), true);
  });

  test("vllm: several GPUs per worker split the model (TENSOR_PARALLEL_SIZE); user settings win over the recommendations", () => {
    const preset = quickDeploy.vllm({ model: "org/model", parameters: 70, dtype: "fp16", gpuCount: 2, idleTimeout: 300, workersMax: 1, modelCacheGb: false });
    assert.equal(preset.template.env!.TENSOR_PARALLEL_SIZE, "2");
    assert.deepEqual(preset.endpoint.gpuTypeIds, ["HOPPER_141"]);
    assert.equal(preset.endpoint.idleTimeout, 300);
    assert.equal(preset.endpoint.workersMax, 1);
    assert.equal(preset.modelCacheGb, undefined);
    assert.equal(preset.template.env!.BASE_PATH, undefined, "no volume, no cache path on it");
  });

  test("sglang, fasterWhisper, infinityEmbedding, comfyui: their images and env", () => {
    const sglang = quickDeploy.sglang({ model: "Qwen/Qwen2.5-7B-Instruct", contextLength: 8192 });
    assert.equal(sglang.template.imageName, "runpod/worker-sglang:2.0.2");
    assert.deepEqual(sglang.template.env, { MODEL_NAME: "Qwen/Qwen2.5-7B-Instruct", CONTEXT_LENGTH: "8192", HF_HOME: "/runpod-volume/huggingface-cache/hub" });
    assert.deepEqual(sglang.endpoint.gpuTypeIds, ["ADA_24", "AMPERE_24"], "size unknown: the preset's pools");

    const whisper = quickDeploy.fasterWhisper();
    assert.equal(whisper.template.imageName, "runpod/ai-api-faster-whisper:1.0.10");
    assert.deepEqual(whisper.template.env, {});
    assert.equal(whisper.modelCacheGb, undefined);
    assert.equal(whisper.openAi, false);

    const infinity = quickDeploy.infinityEmbedding({ models: ["BAAI/bge-small-en-v1.5", "BAAI/bge-reranker-base"], batchSizes: [64, 16], backend: "torch" });
    assert.equal(infinity.template.imageName, "runpod/worker-infinity-embedding:1.1.4");
    assert.deepEqual(infinity.template.env, {
      MODEL_NAMES: "BAAI/bge-small-en-v1.5;BAAI/bge-reranker-base",
      BATCH_SIZES: "64;16",
      BACKEND: "torch",
      HF_HOME: "/runpod-volume/huggingface-cache",
    });

    const comfy = quickDeploy.comfyui({ variant: "flux1-dev" });
    assert.equal(comfy.template.imageName, "runpod/worker-comfyui:5.8.6-flux1-dev");
    assert.deepEqual(comfy.endpoint.gpuTypeIds, ["AMPERE_48", "ADA_48_PRO"]);
    assert.equal(quickDeploy.comfyui().template.imageName, "runpod/worker-comfyui:5.8.6-flux1-dev-fp8");
  });

  test("image and extra env: another tag, and env beside the preset's", () => {
    const preset = quickDeploy.vllm({ model: "org/model", image: "registry.local:5000/vllm:next", env: { ENABLE_PREFIX_CACHING: "true" } });
    assert.equal(preset.template.imageName, "registry.local:5000/vllm:next");
    assert.equal(preset.template.env!.ENABLE_PREFIX_CACHING, "true");
  });
});

describe("quick-deploy presets: bad options name the field and the rule", () => {
  test("a model that cannot fit the chosen pools", () => {
    refused(
      () => quickDeploy.vllm({ model: "meta-llama/Llama-3.1-70B-Instruct", parameters: 70, dtype: "fp16", gpuTypeIds: ["ADA_24"] }),
      /^quickDeploy\.vllm: gpuTypeIds: "ADA_24" gives a worker 24 GB \(1 x 24 GB\), but the model needs 186\.7 GB .*70B parameters in fp16: 140 GB of weights.*HOPPER_141 needs gpuCount 2$/,
    );
    // A pool beside one that fits is still refused: the scheduler may hand out either.
    refused(() => quickDeploy.sglang({ model: "org/m", modelSizeGb: 30, gpuTypeIds: ["AMPERE_80", "ADA_24"] }), /sglang: gpuTypeIds: "ADA_24" gives a worker 24 GB/);
    // An excluded member no longer counts: AMPERE_16 without its 16 GB cards has 20 GB ones.
    assert.doesNotThrow(() => quickDeploy.infinityEmbedding({ models: "a/b", modelSizeGb: 14, gpuTypeIds: ["AMPERE_16", "-NVIDIA RTX A4000", "-NVIDIA RTX 2000 Ada Generation"] }));
  });

  test("a model no pool holds with the GPUs per worker given", () => {
    refused(() => quickDeploy.vllm({ model: "org/m", parameters: 405, dtype: "bf16", gpuCount: 2 }), /^quickDeploy\.vllm: gpuCount: 2 GPU\(s\) per worker are too few: .*HOPPER_141 needs gpuCount 8$/);
  });

  test("an unknown option, with the likely one", () => {
    refused(() => quickDeploy.vllm({ model: "org/m", maxModelLength: 4096 } as never), /^quickDeploy\.vllm: maxModelLength: is not an option of this preset; did you mean "maxModelLen"\?$/);
    refused(() => quickDeploy.fasterWhisper({ model: "large-v3" } as never), /^quickDeploy\.fasterWhisper: model: is not an option of this preset$/);
  });

  test("values out of their rules", () => {
    refused(() => quickDeploy.vllm({ model: "org/m", maxModelLen: 0 }), /^quickDeploy\.vllm: maxModelLen: must be a positive integer$/);
    refused(() => quickDeploy.vllm({ model: "org/m", maxModelLen: 4096.5 }), /maxModelLen: must be a positive integer$/);
    refused(() => quickDeploy.vllm({ model: "org/m", gpuMemoryUtilization: 1.2 }), /gpuMemoryUtilization: must be over 0 and at most 1$/);
    refused(() => quickDeploy.vllm({} as never), /^quickDeploy\.vllm: model: is required$/);
    refused(() => quickDeploy.vllm({ model: "not a repo" }), /model: must be a Hugging Face repo id/);
    refused(() => quickDeploy.vllm({ model: "org/m", gpuTypeIds: ["ADA24"] }), /gpuTypeIds\.0: unknown GPU type or pool id "ADA24"; did you mean "ADA_24"\?/);
    refused(() => quickDeploy.vllm({ model: "org/m", idleTimeout: 0 }), /^quickDeploy\.vllm: idleTimeout: /);
    refused(() => quickDeploy.comfyui({ variant: "flux2" as never }), /^quickDeploy\.comfyui: variant: /);
  });

  test("combinations", () => {
    refused(() => quickDeploy.vllm({ model: "org/m", modelSizeGb: 10, parameters: 5 }), /vllm: modelSizeGb: give either modelSizeGb or parameters/);
    refused(() => quickDeploy.vllm({ model: "org/m", dtype: "fp16" }), /vllm: dtype: sizes the model only with parameters/);
    refused(() => quickDeploy.vllm({ model: "org/m", env: { MAX_MODEL_LEN: "4096" } }), /vllm: env\.MAX_MODEL_LEN: is set by the vllm preset from its maxModelLen option; use that$/);
    refused(() => quickDeploy.vllm({ model: "org/m", env: { BASE_PATH: "/models" } }), /vllm: env\.BASE_PATH: is set by the vllm preset from its modelCacheGb option; use that$/);
    refused(() => quickDeploy.infinityEmbedding({ models: ["a/b", "c/d"], batchSizes: [32] }), /infinityEmbedding: batchSizes: must give one value per model \(2 model\(s\), 1 value\(s\)\)$/);
  });
});

describe("the fit estimate", () => {
  test("sizes from parameters and precision", () => {
    assert.equal(modelSize({ parameters: 70, dtype: "fp16" })!.weightsGb, 140);
    assert.equal(modelSize({ parameters: 70, dtype: "int4" })!.weightsGb, 35);
    assert.equal(modelSize({ parameters: 7 })!.weightsGb, 14, "bf16 when no precision is given");
    assert.equal(modelSize({}), undefined);
  });

  test("pools by size: the smallest tier that holds the model and the next", () => {
    assert.deepEqual(recommendPools(modelSize({ parameters: 1 })!, 1, 0.9), ["AMPERE_16", "AMPERE_24", "ADA_24"]);
    assert.deepEqual(recommendPools(modelSize({ parameters: 70, dtype: "int4" })!, 1, 0.9), ["AMPERE_48", "ADA_48_PRO", "AMPERE_80", "ADA_80_PRO"]);
    assert.equal(checkFit(modelSize({ parameters: 70, dtype: "fp16" })!, ["AMPERE_80"], 3, 0.9), undefined, "3 x 80 GB hold 187 GB");
  });
});
