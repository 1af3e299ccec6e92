// A Berth environment on a Kubernetes cluster (your current kubectl context): the control plane installed in a
// namespace, the worker template built from worker/, and an endpoint whose workers run as Deployments beside it.
// Config: Pulumi.<stack>.yaml (`pulumi config`).
import * as pulumi from "@pulumi/pulumi";
import { Endpoint, Template } from "berth";
import { KubernetesControlPlane } from "berth/kubernetes";
import type { KubernetesControlPlaneArgs } from "berth/kubernetes";

const config = new pulumi.Config();
// `pulumi new` wrote the defaults below into the stack's config; these keep another stack working without them.
const gpuTypeIds = (config.get("gpuTypeIds") ?? "ADA_24").split(",").map((id) => id.trim()).filter((id) => id !== "");

// Where the control plane's pods run and what holds its store, for a cluster whose defaults do not fit (GPU nodes
// only, all tainted; no default StorageClass): `pulumi config set --path controlPlane.storageClass fast-ssd`.
type ControlPlaneOptions = Pick<KubernetesControlPlaneArgs, "nodeSelector" | "tolerations" | "storageClass" | "storageSize" | "storageAccessMode">;
const controlPlaneOptions = config.getObject<ControlPlaneOptions>("controlPlane") ?? {};

const controlPlane = new KubernetesControlPlane("berth", {
  ...controlPlaneOptions,
  namespace: config.get("namespace") ?? "berth",
  image: config.get("controlPlaneImage") ?? "berth/control-plane:0.1.0",
  apiKey: config.requireSecret("apiKey"),
  // Pulumi creates the template and endpoint through the control plane's API, from outside the cluster.
  externalUrl: config.get("controlPlaneUrl") ?? "http://127.0.0.1:8910",
});

const template = new Template("worker", {
  controlPlane,
  // The nodes pull it, so it names a registry (or an image loaded into each node): no local default fits.
  imageName: config.require("workerImage"),
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
/** In-cluster RunPod clients take this as their base URL: POST {clientBaseUrl}/{endpointId}/runsync */
export const clientBaseUrl = endpoint.clientBaseUrl;
