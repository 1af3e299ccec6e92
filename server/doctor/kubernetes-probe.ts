import { KubeCluster, quantity } from "../runtimes/kubernetes/cluster";
import { GPU_PRODUCT_LABEL, GPU_RESOURCE } from "../runtimes/kubernetes/manifests";
import type { KubeNodeFacts, KubernetesFacts } from "./facts";
import { probe } from "./probe";

/**
 * The cluster as the Kubernetes runtime reads it, through the same client (KubeCluster: kubeconfig loading and
 * every auth method): the API server's version, then each node's nvidia.com/gpu and its product label.
 */
export async function probeKubernetes(kubeconfig: string | undefined, timeoutMs: number): Promise<KubernetesFacts> {
  let cluster: KubeCluster;
  try {
    cluster = KubeCluster.connect({ kubeconfig });
  } catch (err) {
    return { version: { ok: false, error: (err as Error).message } };
  }
  const server = cluster.location;
  const version = await probe(timeoutMs, () => cluster.version());
  if (!version.ok) return { server, version };
  const nodes = await probe(timeoutMs, async () => (await cluster.listNodes()).map(nodeFacts));
  return { server, version, nodes };
}

function nodeFacts(node: Awaited<ReturnType<KubeCluster["listNodes"]>>[number]): KubeNodeFacts {
  const gpus = (counts: Record<string, string> | undefined) => {
    const n = quantity(counts?.[GPU_RESOURCE] ?? "0");
    return Number.isFinite(n) ? n : 0;
  };
  return {
    name: node.metadata?.name ?? "?",
    gpuCapacity: gpus(node.status?.capacity),
    gpuAllocatable: gpus(node.status?.allocatable),
    product: node.metadata?.labels?.[GPU_PRODUCT_LABEL],
  };
}
