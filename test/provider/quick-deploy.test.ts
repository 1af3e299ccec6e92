// Quick deploys through the real Pulumi CLI against a real control plane: every preset previews as a QuickDeploy
// with its image and env, the HF token shown only as [secret]; bad options fail the preview naming the field and
// the rule; one preset deployed keeps the token out of the state and exports its OpenAI base URL.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient } from "../helpers/endpoint";
import { PulumiWorkspace } from "../helpers/pulumi-cli";

const PROGRAM = path.resolve(__dirname, "../fixtures/pulumi-quick-deploy");
const EXAMPLE = path.resolve(__dirname, "../../examples/quick-deploy");
const HF_TOKEN = "hf_" + "Qd9z".repeat(8);

/** The preview's lines for one resource: from its `(create)` line to the next resource's. */
function resourceBlock(preview: string, type: string, name: string): string {
  const blocks = preview.split(/\n(?=\s*[+~-]{1,2} \S+: \()/);
  const block = blocks.find((b) => b.includes(`berth:${type}: (create)`) && new RegExp(`::${name}\\]`).test(b));
  assert.ok(block, `no ${type} ${name} in the preview:\n${preview}`);
  return block;
}

const EXPECTED: Array<{ preset: string; image: string; env: Record<string, string>; secret?: string[]; volume: boolean }> = [
  {
    preset: "vllm",
    image: "runpod/worker-v1-vllm:v2.18.1",
    env: { MODEL_NAME: "Qwen/Qwen2.5-0.5B-Instruct", MAX_MODEL_LEN: "4096", BASE_PATH: "/runpod-volume" },
    secret: ["HF_TOKEN"],
    volume: true,
  },
  {
    preset: "sglang",
    image: "runpod/worker-sglang:2.0.2",
    env: { MODEL_NAME: "Qwen/Qwen2.5-7B-Instruct", CONTEXT_LENGTH: "8192", HF_HOME: "/runpod-volume/huggingface-cache/hub" },
    secret: ["HF_TOKEN"],
    volume: true,
  },
  { preset: "fasterWhisper", image: "runpod/ai-api-faster-whisper:1.0.10", env: {}, volume: false },
  {
    preset: "infinityEmbedding",
    image: "runpod/worker-infinity-embedding:1.1.4",
    env: { MODEL_NAMES: "BAAI/bge-small-en-v1.5", BATCH_SIZES: "64", HF_HOME: "/runpod-volume/huggingface-cache" },
    volume: true,
  },
  { preset: "comfyui", image: "runpod/worker-comfyui:5.8.6-sdxl", env: {}, volume: false },
];

describe("quick deploys through the real Pulumi CLI", () => {
  let cp: ControlPlaneProcess;
  let ws: PulumiWorkspace;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

  before(async () => {
    cp = await ControlPlaneProcess.start();
    ws = await PulumiWorkspace.create(PROGRAM, "dev");
    await ws.mustRun("config", "set", "berth:url", cp.url);
    await ws.mustRun("config", "set", "--secret", "berth:apiKey", cp.apiKey);
    await ws.mustRun("config", "set", "--secret", "hfToken", HF_TOKEN);
  });
  after(async () => {
    ws?.remove();
    await cp?.stop();
    await cp?.removeData();
  });

  test("each preset previews with its image, its env and its GPU pools; the HF token only as [secret]", async () => {
    const preview = await ws.mustRun("preview", "--diff");
    for (const { preset, image, env, secret, volume } of EXPECTED) {
      const name = `qd-${preset}`;
      assert.match(preview.stdout, new RegExp(`berth:index:QuickDeploy: \\(create\\)\\s+\\[urn=[^\\]]*::${name}\\]`), `${preset}: the component`);
      const template = resourceBlock(preview.stdout, "Template", name);
      assert.match(template, new RegExp(`imageName\\s*: "${escape(image)}"`), `${preset}: image`);
      for (const [key, value] of Object.entries(env)) assert.match(template, new RegExp(`${key}\\s*: "${escape(value)}"`), `${preset}: ${key}`);
      for (const key of secret ?? []) assert.match(template, new RegExp(`${key}\\s*: \\[secret\\]`), `${preset}: ${key} masked`);
      assert.match(resourceBlock(preview.stdout, "Endpoint", name), /gpuTypeIds\s*: \[/, `${preset}: GPU pools`);
      assert.equal(/berth:NetworkVolume: \(create\)\s+\[urn=[^\]]*::/.test(preview.stdout) && preview.stdout.includes(`::${name}-models]`), volume, `${preset}: cache volume`);
    }
    // The vLLM preset picked its pools by the model's size (0.5B parameters: the 16 GB pool first).
    assert.match(resourceBlock(preview.stdout, "Endpoint", "qd-vllm"), /gpuTypeIds\s*: \[\s*\[0\]: "AMPERE_16"/);
    assert.ok(!(preview.stdout + preview.stderr).includes(HF_TOKEN), "the HF token is nowhere in the preview");
  });

  test("bad options fail the preview, naming the field and the rule", async () => {
    const cases: Array<[string, object, RegExp]> = [
      ["vllm", { parameters: 70, dtype: "fp16", gpuTypeIds: ["ADA_24"] }, /quickDeploy\.vllm: gpuTypeIds: "ADA_24" gives a worker 24 GB \(1 x 24 GB\), but the model needs 186\.7 GB/],
      ["vllm", { modle: "Qwen/Qwen2.5-0.5B" }, /quickDeploy\.vllm: modle: is not an option of this preset; did you mean "model"\?/],
      ["vllm", { maxModelLen: 0 }, /quickDeploy\.vllm: maxModelLen: must be a positive integer/],
      ["infinityEmbedding", { batchSizes: [64, 32] }, /quickDeploy\.infinityEmbedding: batchSizes: must give one value per model/],
    ];
    for (const [preset, options, message] of cases) {
      await ws.mustRun("config", "set", preset, JSON.stringify(options));
      const preview = await ws.run("preview", "--diff");
      const output = preview.stdout + preview.stderr;
      assert.notEqual(preview.code, 0, `${JSON.stringify(options)} previews`);
      assert.match(output, message);
      assert.ok(!/\n\s+at .*\.(js|ts):\d+/.test(output), `no stack trace:\n${output}`);
      await ws.mustRun("config", "rm", preset);
    }
  });

  test("up of one preset: the token stays secret in state and on the control plane; the OpenAI base URL is exported", async () => {
    await ws.mustRun("config", "set", "presets", "vllm");
    const up = await ws.mustRun("up", "--yes");
    assert.ok(!(up.stdout + up.stderr).includes(HF_TOKEN), "up prints no token");
    const state = JSON.stringify(await ws.stackState());
    assert.ok(!state.includes(HF_TOKEN), "no token in plain text in the state");

    const outputs = JSON.parse((await ws.mustRun("stack", "output", "--json")).stdout);
    const id = outputs.endpointIds.vllm as string;
    assert.equal(outputs.openAiBaseUrls.vllm, `${outputs.clientBaseUrls.vllm}/${id}/openai/v1`);
    assert.match(outputs.openAiBaseUrls.vllm, new RegExp(`^${escape(cp.url)}/v2/${id}/openai/v1$`));

    const admin = apiClient(cp);
    const endpoint = (await admin.get(`/admin/endpoints/${id}`)).data;
    const template = (await admin.get(`/admin/templates/${endpoint.templateId}`)).data;
    assert.equal(template.imageName, "runpod/worker-v1-vllm:v2.18.1");
    assert.deepEqual(template.secretEnvKeys, ["HF_TOKEN"]);
    assert.equal(template.env.HF_TOKEN, "********");
    assert.ok(endpoint.networkVolumeId, "the model cache volume is attached");
    assert.ok(!cp.logs.join("\n").includes(HF_TOKEN), "the control plane logs no token");
    await ws.mustRun("preview", "--diff", "--expect-no-changes");
  });

  test("examples/quick-deploy previews: a vLLM chat model and Infinity embeddings, each with its cache volume", async () => {
    const example = await PulumiWorkspace.create(EXAMPLE, "dev");
    try {
      await example.mustRun("config", "set", "berth:url", cp.url);
      await example.mustRun("config", "set", "--secret", "berth:apiKey", cp.apiKey);
      await example.mustRun("config", "set", "--secret", "hfToken", HF_TOKEN);
      const preview = await example.mustRun("preview", "--diff");
      const llm = resourceBlock(preview.stdout, "Template", "llm");
      assert.match(llm, /imageName\s*: "runpod\/worker-v1-vllm:v2\.18\.1"/);
      assert.match(llm, /MODEL_NAME\s*: "meta-llama\/Llama-3\.1-8B-Instruct"/);
      assert.match(llm, /HF_TOKEN\s*: \[secret\]/);
      assert.match(resourceBlock(preview.stdout, "Template", "embeddings"), /MODEL_NAMES\s*: "BAAI\/bge-small-en-v1\.5"/);
      resourceBlock(preview.stdout, "NetworkVolume", "llm-models");
      resourceBlock(preview.stdout, "NetworkVolume", "embeddings-models");
      assert.ok(!(preview.stdout + preview.stderr).includes(HF_TOKEN));
    } finally {
      example.remove();
    }
  });
});
