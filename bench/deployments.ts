/** Watching and rolling Deployments, for the Kubernetes benchmarks (bench/kubernetes.ts, bench/scale/cluster.ts). */
import { PatchStrategy, Watch, setHeaderOptions, type V1Deployment, type V1DeploymentSpec } from "@kubernetes/client-node";
import type { KubeRuntime } from "../test/helpers/kube-runtime";

export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Resolves with the time of the first watch event in which `accept` holds for the named Deployment. */
export async function watchDeployment(runtime: KubeRuntime, name: string, accept: (d: V1Deployment) => boolean) {
  let resolve!: (at: number) => void;
  const seen = new Promise<number>((r) => (resolve = r));
  const watch = await new Watch(runtime.kubeConfig).watch(
    `/apis/apps/v1/namespaces/${runtime.namespace}/deployments`,
    { fieldSelector: `metadata.name=${name}` },
    (_type: string, d: V1Deployment) => {
      if (accept(d)) resolve(performance.now());
    },
    () => undefined,
  );
  return { seen, stop: () => watch.abort() };
}

/** The Deployment's rollout is complete: every replica updated and available, none of an older template left. */
export const rolledOut = (d: V1Deployment) =>
  (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
  d.status?.updatedReplicas === d.spec?.replicas &&
  d.status?.replicas === d.spec?.replicas &&
  d.status?.availableReplicas === d.spec?.replicas;

/** A plain Deployment, not Berth's, with the pod template and strategy of one of Berth's. */
export async function createBaseline(runtime: KubeRuntime, spec: V1DeploymentSpec, name: string, replicas: number): Promise<string> {
  const labels = { app: name };
  await runtime.apps.createNamespacedDeployment({
    namespace: runtime.namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        strategy: spec.strategy,
        template: { metadata: { labels }, spec: { ...spec.template.spec!, readinessGates: [] } },
      },
    },
  });
  return name;
}

