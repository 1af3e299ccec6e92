// One program for every environment: the stack's config (Pulumi.dev.yaml, Pulumi.prod.yaml) says which control
// plane (berth:url, and berth:apiKey set with --secret) and how big the endpoint is. `pulumi up -s dev` and
// `pulumi up -s prod` then give two environments that differ only where their config says so.
import * as pulumi from "@pulumi/pulumi";
import { Endpoint, NetworkVolume, Template } from "berth";

const config = new pulumi.Config();
const stack = pulumi.getStack();

const template = new Template("inference", {
  imageName: config.require("image"),
  env: {
    STAGE: stack,
    LOG_LEVEL: config.get("logLevel") ?? "info",
    // A secret per stack (pulumi config set --secret modelToken ...): never shown, logged or stored in plaintext.
    MODEL_TOKEN: config.requireSecret("modelToken"),
  },
  memoryInGb: config.getNumber("memoryInGb"),
});

const volume = new NetworkVolume("models", { size: config.requireNumber("volumeSizeGb") });

const endpoint = new Endpoint("inference", {
  template,
  networkVolume: volume,
  gpuTypeIds: config.requireObject<string[]>("gpuTypeIds"),
  gpuCount: config.getNumber("gpuCount") ?? 1,
  workersMin: config.requireNumber("workersMin"),
  workersMax: config.requireNumber("workersMax"),
  idleTimeout: config.getNumber("idleTimeout") ?? 5,
  scalerType: config.get("scalerType") === "REQUEST_COUNT" ? "REQUEST_COUNT" : "QUEUE_DELAY",
  scalerValue: config.getNumber("scalerValue") ?? 4,
});

export const endpointId = endpoint.id;
export const clientBaseUrl = endpoint.clientBaseUrl;
export const revision = endpoint.revision;
