// One program for every environment: the stack's config (Pulumi.dev.yaml, Pulumi.prod.yaml) says where Berth's
// control plane is and how big the endpoint is. `pulumi up -s dev` and `pulumi up -s prod` then give two
// environments that differ only where their config says so:
// - dev uses the control plane already running on a workstation (berth:url, berth:apiKey set with --secret), which
//   runs workers on the local Docker engine;
// - prod (runtime: kubernetes) installs the control plane into a Kubernetes cluster with @pulumi/kubernetes, and
//   its workers run there as Deployments. The cluster is the one `kubernetes:kubeconfig` names (default ~/.kube/config).
import * as pulumi from "@pulumi/pulumi";
import { Endpoint, NetworkVolume, Template } from "berth";
import { KubernetesControlPlane } from "berth/kubernetes";

const config = new pulumi.Config();
const stack = pulumi.getStack();

const controlPlane =
  config.get("runtime") === "kubernetes"
    ? new KubernetesControlPlane("berth", {
        namespace: config.require("namespace"),
        image: config.require("controlPlaneImage"),
        apiKey: config.requireSecret("controlPlaneApiKey"),
        // Where this program reaches the control plane's API from outside the cluster (an Ingress, or
        // `kubectl port-forward -n <namespace> svc/berth-control-plane <port>:8910`).
        externalUrl: config.get("controlPlaneUrl"),
        storageClass: config.get("storageClass"),
        storageAccessMode: config.get("storageAccessMode"),
        workerStorageClass: config.get("workerStorageClass"),
      })
    : undefined;

const template = new Template("inference", {
  controlPlane,
  imageName: config.require("image"),
  env: {
    STAGE: stack,
    LOG_LEVEL: config.get("logLevel") ?? "info",
    // A secret per stack (pulumi config set --secret modelToken ...): never shown, logged or stored in plaintext.
    MODEL_TOKEN: config.requireSecret("modelToken"),
  },
  memoryInGb: config.getNumber("memoryInGb"),
});

const volume = new NetworkVolume("models", { controlPlane, size: config.requireNumber("volumeSizeGb") });

const endpoint = new Endpoint("inference", {
  controlPlane,
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
export const controlPlaneNamespace = controlPlane?.namespace;
