// The quickstart: a worker template, a network volume and an endpoint that scales from zero, on the control plane
// named by the stack config (berth:url, berth:apiKey). `bash scripts/demo.sh` deploys it and sends it a job.
import * as pulumi from "@pulumi/pulumi";
import { Endpoint, NetworkVolume, Template } from "berth";

const config = new pulumi.Config();

const template = new Template("hello-worker", {
  imageName: config.get("image") ?? "berth-quickstart/worker:latest",
  env: { GREETING: config.get("greeting") ?? "Hello" },
});

const volume = new NetworkVolume("models", { size: 20 });

const endpoint = new Endpoint("hello", {
  template,
  networkVolume: volume,
  gpuTypeIds: ["ADA_24", "AMPERE_24"],
  workersMin: 0,
  workersMax: 2,
  idleTimeout: 5,
});

export const endpointId = endpoint.id;
/** RunPod clients take this as their base URL: POST {clientBaseUrl}/{endpointId}/runsync */
export const clientBaseUrl = endpoint.clientBaseUrl;
