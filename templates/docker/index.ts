// A Berth environment on this Docker host: the control plane (a container), the worker template built from
// worker/, and an endpoint that scales from zero. Config: Pulumi.<stack>.yaml (`pulumi config`).
import * as pulumi from "@pulumi/pulumi";
import { ControlPlane, Endpoint, Template } from "berth";

const config = new pulumi.Config();
// `pulumi new` wrote every default below into the stack's config; these keep another stack working without them.
const gpuTypeIds = (config.get("gpuTypeIds") ?? "ADA_24").split(",").map((id) => id.trim()).filter((id) => id !== "");

const controlPlane = new ControlPlane("control-plane", {
  image: config.get("controlPlaneImage") ?? "berth/control-plane:0.1.0",
  apiKey: config.requireSecret("apiKey"),
  port: config.getNumber("port") ?? 8910,
  // Empty means none: the control plane then finds the host's GPUs with nvidia-smi.
  simulatedGpus: config.get("simulatedGpus") || undefined,
});

const template = new Template("worker", {
  controlPlane,
  // Pulumi puts no project name into a template's config defaults, so the default is made here.
  imageName: config.get("workerImage") || `${pulumi.getProject()}-worker:latest`,
});

const endpoint = new Endpoint("hello", {
  controlPlane,
  template,
  gpuTypeIds,
  workersMin: 0,
  workersMax: 2,
  idleTimeout: 5,
});

export const controlPlaneUrl = controlPlane.url;
export const endpointId = endpoint.id;
/** RunPod clients take this as their base URL: POST {clientBaseUrl}/{endpointId}/runsync */
export const clientBaseUrl = endpoint.clientBaseUrl;
