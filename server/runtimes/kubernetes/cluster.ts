import fs from "node:fs";
import type { Writable } from "node:stream";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  Log,
  PatchStrategy,
  VersionApi,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubernetesListObject,
  type ObjectCache,
  type V1Deployment,
  type V1Node,
  type V1PersistentVolumeClaim,
  type V1Pod,
  type V1PodCondition,
  type V1Secret,
} from "@kubernetes/client-node";
import { mustHoldLease, soleLeader, type Fence } from "../../cluster/fence";

/** Where a pod learns its own namespace when it runs in a cluster. */
const IN_CLUSTER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export interface ClusterOptions {
  /** A kubeconfig file; absent: KUBECONFIG, ~/.kube/config, or the pod's service account, as kubectl finds them. */
  kubeconfig?: string;
  /** Absent: the pod's own namespace in a cluster, else the kubeconfig context's, else "default". */
  namespace?: string;
  /** Asked before every change to the cluster: a control plane that lost the lease changes nothing. */
  fence?: Fence;
  /** Told of every request sent to the API server (watches included), by verb and resource: what Berth costs it. */
  onRequest?: (verb: string, resource: string) => void;
}

/** A Kubernetes API error in words: which call on which object, the HTTP status, and the API server's message. */
export class KubernetesApiError extends Error {
  constructor(
    readonly action: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`kubernetes: ${action} failed${status ? ` (${status})` : ""}: ${detail}`);
    this.name = "KubernetesApiError";
  }
}

function apiError(action: string, err: unknown): KubernetesApiError {
  if (err instanceof ApiException) {
    let detail = String(err.body);
    try {
      detail = (JSON.parse(String(err.body)) as { message?: string }).message ?? detail;
    } catch {
      // not JSON: keep the body as it came
    }
    return new KubernetesApiError(action, err.code, detail);
  }
  return new KubernetesApiError(action, undefined, (err as Error).message);
}

const NOT_FOUND = 404;
const ALREADY_EXISTS = 409;

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const SUFFIXES: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** A Kubernetes quantity ("250m", "1.5", "128Mi", "12345n") as a plain number. */
export function quantity(value: string): number {
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(value.trim());
  if (!match) return NaN;
  return Number(match[1]) * (match[2] ? (SUFFIXES[match[2]] ?? NaN) : 1);
}

/**
 * The few Kubernetes API calls the runtime makes, in one namespace, through @kubernetes/client-node (which does
 * kubeconfig loading and every auth method). Each failure names the call and the object.
 */
export class KubeCluster {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;
  readonly location: string;

  private constructor(
    private readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    private readonly fence: Fence,
    private readonly onRequest: (verb: string, resource: string) => void,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.location = `${kubeConfig.getCurrentCluster()?.server ?? "?"} namespace ${namespace}`;
  }

  static connect(options: ClusterOptions = {}): KubeCluster {
    const kubeConfig = new KubeConfig();
    try {
      if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
      else kubeConfig.loadFromDefault();
    } catch (err) {
      throw new Error(`cannot load the kubeconfig ${options.kubeconfig ?? "(KUBECONFIG, ~/.kube/config or in-cluster)"}: ${(err as Error).message}`);
    }
    const inCluster = fs.existsSync(IN_CLUSTER_NAMESPACE_FILE) ? fs.readFileSync(IN_CLUSTER_NAMESPACE_FILE, "utf8").trim() : undefined;
    const namespace = options.namespace ?? inCluster ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? "default";
    return new KubeCluster(kubeConfig, namespace, options.fence ?? soleLeader, options.onRequest ?? (() => undefined));
  }

  /** The API server's version; throws when it does not answer or refuses the credentials. */
  async version(): Promise<string> {
    return this.call("get", "version", "ask the API server for its version", async () => (await this.kubeConfig.makeApiClient(VersionApi).getCode()).gitVersion);
  }

  /**
   * The namespace's objects of one kind that carry the label selector, listed once and then kept current by a
   * watch (an informer of @kubernetes/client-node): see ClusterCache.
   */
  informer<K extends keyof WatchedKinds>(kind: K, labelSelector: string): Informer<WatchedKinds[K]> & ObjectCache<WatchedKinds[K]> {
    const namespace = this.namespace;
    const lists: { [P in keyof WatchedKinds]: () => Promise<KubernetesListObject<WatchedKinds[P]>> } = {
      deployments: () => this.apps.listNamespacedDeployment({ namespace, labelSelector }),
      pods: () => this.core.listNamespacedPod({ namespace, labelSelector }),
      secrets: () => this.core.listNamespacedSecret({ namespace, labelSelector }),
      persistentvolumeclaims: () => this.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
    };
    const list = lists[kind] as () => Promise<KubernetesListObject<WatchedKinds[K]>>;
    const group = kind === "deployments" ? "/apis/apps/v1" : "/api/v1";
    const informer = makeInformer(this.kubeConfig, `${group}/namespaces/${namespace}/${kind}`, () => this.call("list", kind, `list ${kind}`, list), labelSelector);
    informer.on("connect", () => this.onRequest("watch", kind));
    return informer;
  }

  /** Nodes are cluster-scoped: listing them needs a ClusterRole. Without one the GPU summary says so. */
  listNodes(): Promise<V1Node[]> {
    return this.call("list", "nodes", "list nodes", async () => (await this.core.listNode()).items);
  }

  async createDeployment(body: V1Deployment): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(ALREADY_EXISTS, "create", "deployments", `create deployment ${body.metadata?.name}`, () => this.apps.createNamespacedDeployment({ namespace, body }));
  }

  /** Applies a JSON patch (RFC 6902) to the Deployment. */
  async patchDeployment(name: string, operations: Array<{ op: "replace" | "add"; path: string; value: unknown }>): Promise<void> {
    const namespace = this.namespace;
    await this.change("patch", "deployments", `patch deployment ${name}`, () =>
      this.apps.patchNamespacedDeployment({ namespace, name, body: operations }, setHeaderOptions("Content-Type", PatchStrategy.JsonPatch)),
    );
  }

  /** Sets the Deployment's replicas through its scale subresource, the way an autoscaler does. */
  async scaleDeployment(name: string, replicas: number): Promise<void> {
    const namespace = this.namespace;
    await this.change("patch", "deployments/scale", `scale deployment ${name} to ${replicas}`, () =>
      this.apps.patchNamespacedDeploymentScale({ namespace, name, body: { spec: { replicas } } }, mergePatch),
    );
  }

  async deleteDeployment(name: string): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(NOT_FOUND, "delete", "deployments", `delete deployment ${name}`, () =>
      this.apps.deleteNamespacedDeployment({ namespace, name, propagationPolicy: "Background" }),
    );
  }

  async createSecret(body: V1Secret): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(ALREADY_EXISTS, "create", "secrets", `create secret ${body.metadata?.name}`, () => this.core.createNamespacedSecret({ namespace, body }));
  }

  async deleteSecret(name: string): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(NOT_FOUND, "delete", "secrets", `delete secret ${name}`, () => this.core.deleteNamespacedSecret({ namespace, name }));
  }

  async createClaim(body: V1PersistentVolumeClaim): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(ALREADY_EXISTS, "create", "persistentvolumeclaims", `create persistentvolumeclaim ${body.metadata?.name}`, () =>
      this.core.createNamespacedPersistentVolumeClaim({ namespace, body }),
    );
  }

  /** Asks for more storage: the volume expansion of the claim's storage class does the rest. */
  async resizeClaim(name: string, storage: string): Promise<void> {
    const namespace = this.namespace;
    await this.change("patch", "persistentvolumeclaims", `resize persistentvolumeclaim ${name} to ${storage}`, () =>
      this.core.patchNamespacedPersistentVolumeClaim({ namespace, name, body: { spec: { resources: { requests: { storage } } } } }, mergePatch),
    );
  }

  async deleteClaim(name: string): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(NOT_FOUND, "delete", "persistentvolumeclaims", `delete persistentvolumeclaim ${name}`, () => this.core.deleteNamespacedPersistentVolumeClaim({ namespace, name }));
  }

  async annotatePod(name: string, annotations: Record<string, string>): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(NOT_FOUND, "patch", "pods", `annotate pod ${name}`, () =>
      this.core.patchNamespacedPod({ namespace, name, body: { metadata: { annotations } } }, mergePatch),
    );
  }

  /** Sets one condition in the pod's status (a strategic merge keyed by type keeps the kubelet's own). */
  async setPodCondition(name: string, condition: V1PodCondition): Promise<void> {
    const namespace = this.namespace;
    await this.changeIgnoring(NOT_FOUND, "patch", "pods/status", `set condition ${condition.type} of pod ${name}`, () =>
      this.core.patchNamespacedPodStatus(
        { namespace, name, body: { status: { conditions: [condition] } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      ),
    );
  }

  /**
   * Pods' CPU (cores) and memory (bytes) from the metrics API (metrics-server); undefined when the cluster has
   * none (404) or the control plane may not read it (403).
   */
  async podMetrics(): Promise<Map<string, { cpuCores: number; memoryBytes: number }> | undefined> {
    const namespace = this.namespace;
    let list: { items?: Array<{ metadata: { name: string }; containers: Array<{ usage: { cpu: string; memory: string } }> }> };
    try {
      this.onRequest("list", "pods.metrics.k8s.io");
      list = (await this.custom.listNamespacedCustomObject({ group: "metrics.k8s.io", version: "v1beta1", namespace, plural: "pods" })) as typeof list;
    } catch (err) {
      if (err instanceof ApiException && (err.code === 404 || err.code === 403)) return undefined;
      throw apiError("read pod metrics", err);
    }
    return new Map(
      (list.items ?? []).map((pod) => [
        pod.metadata.name,
        {
          cpuCores: pod.containers.reduce((sum, c) => sum + quantity(c.usage.cpu), 0),
          memoryBytes: pod.containers.reduce((sum, c) => sum + quantity(c.usage.memory), 0),
        },
      ]),
    );
  }

  /**
   * A pod's container log, each line prefixed with its RFC 3339 time, written into `out` as it comes (pods/log with
   * follow); `out` ends when the container does. `sinceTime` is whole seconds: the caller skips lines it has.
   * Resolves once the log has begun; aborting the controller it gives stops it.
   */
  followPodLog(pod: string, container: string, out: Writable, sinceTime?: string): Promise<AbortController> {
    const namespace = this.namespace;
    return this.call("get", "pods/log", `follow the log of pod ${pod}`, () =>
      new Log(this.kubeConfig).log(namespace, pod, container, out, { follow: true, timestamps: true, ...(sinceTime && { sinceTime }) }),
    );
  }

  /** A change to the cluster, made only while this control plane holds the lease. */
  private change<T>(verb: string, resource: string, action: string, request: () => Promise<T>): Promise<T> {
    mustHoldLease(this.fence, action);
    return this.call(verb, resource, action, request);
  }

  /**
   * A change whose refusal with `status` is the outcome wanted: a 404 for deletes and patches of objects the cluster
   * may already have removed; a 409 for creates of objects that exist, made by a pass whose cache has not yet had
   * the watch event of an earlier pass's create.
   */
  private async changeIgnoring(status: number, verb: string, resource: string, action: string, request: () => Promise<unknown>): Promise<void> {
    mustHoldLease(this.fence, action);
    try {
      await this.call(verb, resource, action, request);
    } catch (err) {
      if (err instanceof KubernetesApiError && err.status === status) return;
      throw err;
    }
  }

  private async call<T>(verb: string, resource: string, action: string, request: () => Promise<T>): Promise<T> {
    this.onRequest(verb, resource);
    try {
      return await request();
    } catch (err) {
      throw apiError(action, err);
    }
  }
}

/** The kinds of object a reconcile pass reads from informers, by their resource name. */
export interface WatchedKinds {
  deployments: V1Deployment;
  pods: V1Pod;
  secrets: V1Secret;
  persistentvolumeclaims: V1PersistentVolumeClaim;
}
