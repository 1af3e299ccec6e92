// Quick deploys: a chat model on vLLM and an embeddings model on Infinity, RunPod's own worker images, each with
// its Template, model-cache NetworkVolume and Endpoint from one QuickDeploy. Point any OpenAI client at the
// exported base URLs with a Berth API key.
//
//   pulumi config set berth:url http://127.0.0.1:8910
//   pulumi config set --secret berth:apiKey <admin key>
//   pulumi config set --secret hfToken hf_...          # only for gated models (Llama...)
//   pulumi up
import * as pulumi from "@pulumi/pulumi";
import { QuickDeploy, quickDeploy } from "berth";

const config = new pulumi.Config();

const llm = new QuickDeploy("llm", {
  preset: quickDeploy.vllm({
    model: config.get("model") ?? "meta-llama/Llama-3.1-8B-Instruct",
    // The size picks the GPU pools (and refuses ones too small): 8B parameters in bf16 are 16 GB of weights.
    parameters: config.getNumber("parameters") ?? 8,
    dtype: "bf16",
    maxModelLen: 8192,
    hfToken: config.getSecret("hfToken"),
    servedModelName: "llama-3.1-8b",
    workersMax: 2,
  }),
});

const embeddings = new QuickDeploy("embeddings", {
  preset: quickDeploy.infinityEmbedding({ models: "BAAI/bge-small-en-v1.5", idleTimeout: 60 }),
});

export const llmEndpointId = llm.endpointId;
/** OpenAI({ baseURL: llmBaseUrl, apiKey: <a Berth key> }).chat.completions.create({ model: "llama-3.1-8b", ... }) */
export const llmBaseUrl = llm.openAiBaseUrl;
export const embeddingsBaseUrl = embeddings.openAiBaseUrl;
/** RunPod clients: POST {clientBaseUrl}/{endpointId}/runsync */
export const clientBaseUrl = llm.clientBaseUrl;
