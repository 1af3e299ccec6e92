// The quickstart: a whole environment in one program. Berth's control plane itself (a container on the local
// Docker engine), a worker template, a network volume and an endpoint that scales from zero on it.
// `bash scripts/demo.sh` builds the two images, deploys it, sends the endpoint a job and destroys it again.
import * as pulumi from "@pulumi/pulumi";
import { ControlPlane, Endpoint, NetworkVolume, Template } from "berth";

const config = new pulumi.Config();

const controlPlane = new ControlPlane("local", {
  image: config.get("controlPlaneImage") ?? "berth/control-plane:0.1.0",
  apiKey: config.requireSecret("apiKey"),
  port: config.getNumber("port") ?? 8910,
  // A machine without GPUs declares a simulated inventory, e.g. "NVIDIA GeForce RTX 4090=2"; it says so everywhere.
  simulatedGpus: config.get("simulatedGpus"),
  extraWorkers: 1,
});

const template = new Template("hello-worker", {
  controlPlane,
  imageName: config.get("image") ?? "berth-quickstart/worker:latest",
  env: { GREETING: config.get("greeting") ?? "Hello" },
});

const volume = new NetworkVolume("models", { controlPlane, size: 20 });

const endpoint = new Endpoint("hello", {
  controlPlane,
  template,
  networkVolume: volume,
  gpuTypeIds: ["ADA_24", "AMPERE_24"],
  workersMin: 0,
  workersMax: 2,
  idleTimeout: 5,
});

export const controlPlaneUrl = controlPlane.url;
export const endpointId = endpoint.id;
/** RunPod clients take this as their base URL: POST {clientBaseUrl}/{endpointId}/runsync */
export const clientBaseUrl = endpoint.clientBaseUrl;
