import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { ControlPlaneProcess } from "./control-plane";
import { eventually } from "./endpoint";
import { testbedEnv } from "./env";
import { LocalKubelet } from "./local-kubelet";
import { RuntimeHarness } from "./runtime-harness";

/** Settings that make the control plane react within a second or two, so tests need not wait out production defaults. */
const FAST_RUNTIME = {
  BERTH_RUNTIME: "kubernetes",
  BERTH_RECONCILE_INTERVAL_MS: "200",
  BERTH_PING_INTERVAL_MS: "1000",
  BERTH_LONG_POLL_MS: "2000",
  BERTH_WORKER_LOST_AFTER_MS: "5000",
  BERTH_SWEEP_INTERVAL_MS: "200",
  BERTH_EXTRA_WORKERS: "0",
  BERTH_KUBE_STORAGE_CLASS: "berth-rwx",
};

/** The image pods name. kwok runs no container, so it is never pulled: the local kubelet runs its handler. */
export const TEST_WORKER_IMAGE = "berth-test/worker:kube";

/** The test bed's kubeconfig (testbed/kubernetes.sh), loaded. */
export function testKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(testbedEnv("BERTH_KUBECONFIG"));
  return kubeConfig;
}

/**
 * The test bed's real node (testbed/kubelet.sh): its name, the address pods and this machine reach it at, and its
 * pod network.
 */
export async function realNode(): Promise<{ name: string; address: string; podCidr: string }> {
  const name = testbedEnv("BERTH_REAL_NODE");
  const node = await testKubeConfig().makeApiClient(CoreV1Api).readNode({ name });
  const address = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
  const podCidr = node.spec?.podCIDR;
  if (!address || !podCidr) throw new Error(`the real node ${name} has no InternalIP or pod network: ${JSON.stringify(node.status?.addresses)}, ${podCidr}`);
  return { name, address, podCidr };
}

/**
 * A real control plane with `--runtime kubernetes` against the test bed's cluster (real kube-apiserver,
 * controller-manager and scheduler; kwok nodes), in a namespace of its own, and a local kubelet that runs its
 * pods' workers as processes. `close` stops both and deletes the namespace.
 */
export class KubeRuntime extends RuntimeHarness {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;

  private constructor(
    cp: ControlPlaneProcess,
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    private readonly localKubelet: LocalKubelet | undefined,
    private readonly volumeRoot: string,
    image: string,
    gpuTypeIds: string[],
  ) {
    super(cp, image, gpuTypeIds);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
  }

  /**
   * `runWorkers: false` leaves pods without processes (kwok still marks them Running): for benchmarks of the
   * control plane and the cluster's controllers alone.
   */
  static async start(
    env: Record<string, string> = {},
    { runWorkers = true, image = TEST_WORKER_IMAGE, gpuTypeIds = ["NVIDIA H100 80GB HBM3"] } = {},
  ): Promise<KubeRuntime> {
    const kubeConfig = testKubeConfig();
    const namespace = `berth-test-${crypto.randomBytes(4).toString("hex")}`;
    await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
    const volumeRoot = fs.mkdtempSync(path.join(os.tmpdir(), "berth-nfs-"));
    const kubelet = runWorkers ? new LocalKubelet(kubeConfig, namespace, volumeRoot) : undefined;
    kubelet?.start();
    const cp = await ControlPlaneProcess.start({
      env: { ...FAST_RUNTIME, BERTH_KUBECONFIG: testbedEnv("BERTH_KUBECONFIG"), BERTH_KUBE_NAMESPACE: namespace, ...env },
    });
    return new KubeRuntime(cp, kubeConfig, namespace, kubelet, volumeRoot, image, gpuTypeIds);
  }

  /**
   * The same with workers on the test bed's real node (testbed/kubelet.sh), whose kubelet really runs them: `image`
   * comes from the test bed's registry, the endpoint asks for the node's GPU type (NVIDIA L4, which no kwok node
   * has), network volumes are its hostPath class, and the control plane listens on the node's address, where pods
   * reach it.
   */
  static async onRealNode(image: string, env: Record<string, string> = {}): Promise<KubeRuntime> {
    const { address } = await realNode();
    return KubeRuntime.start({ BERTH_HOST: address, BERTH_KUBE_STORAGE_CLASS: "berth-local", ...env }, { runWorkers: false, image, gpuTypeIds: ["NVIDIA L4"] });
  }

  get kubelet(): LocalKubelet {
    if (!this.localKubelet) throw new Error("this KubeRuntime runs no workers (runWorkers: false)");
    return this.localKubelet;
  }

  async pods(endpointId?: string): Promise<V1Pod[]> {
    const labelSelector = endpointId ? `berth.dev/endpoint=${endpointId}` : undefined;
    return (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector })).items;
  }

  deployment(endpointId: string) {
    return this.apps.readNamespacedDeployment({ namespace: this.namespace, name: `berth-${endpointId}` });
  }

  /** Waits until the endpoint has `count` pods, all Running and not being deleted, and returns their names. */
  runningPods(endpointId: string, count: number, timeoutMs = 60_000): Promise<string[]> {
    return eventually(
      `${count} running pods of ${endpointId}`,
      async () => {
        const pods = (await this.pods(endpointId)).filter((p) => !p.metadata?.deletionTimestamp);
        const running = pods.filter((p) => p.status?.phase === "Running");
        return pods.length === count && running.length === count ? running.map((p) => p.metadata!.name!) : undefined;
      },
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    await this.cp.stop();
    await this.localKubelet?.stop();
    await this.core.deleteNamespace({ name: this.namespace });
    this.cp.removeData();
    fs.rmSync(this.volumeRoot, { recursive: true, force: true });
  }
}
