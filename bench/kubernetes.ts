/**
 * The Kubernetes runtime on the test bed's cluster (real kube-apiserver, controller manager and scheduler; kwok
 * nodes, which mark pods Running and Ready at once and run nothing):
 * 1. Burst reaction: from the first /run of a burst of jobs on an endpoint at zero to the moment the API server
 *    tells a watcher that the Deployment's replicas went up (Berth's first scale-up call). Baseline in the same
 *    run: the same watch, on a scale-up the benchmark sends itself through the scale subresource (the floor: one
 *    API call and its watch event).
 * 2. A 20-worker rollout (workersMax 20: 2 at a time): from the template change to all 20 pods on the new revision
 *    and available. Baseline in the same run: a plain Deployment with the same pod template and strategy, rolled
 *    by patching its template directly (the cluster's own speed at that pace).
 * No worker processes run (they would measure Node start-up on this machine, not orchestration), so pods count
 * as available when kwok marks them ready.
 *
 * Run after the test bed is up: eval "$(bash testbed/up.sh)"; node --import tsx bench/kubernetes.ts
 */
import os from "node:os";
import { VersionApi, type V1Deployment, type V1DeploymentSpec } from "@kubernetes/client-node";
import { eventually } from "../test/helpers/endpoint";
import { KubeRuntime } from "../test/helpers/kube-runtime";
import { createBaseline, mergePatch, rolledOut, watchDeployment } from "./deployments";
import { summarize } from "./stats";

const BURST = 5;
const REACTION_SAMPLES = 10;
const ROLLOUT_WORKERS = 20;
const ROLLOUT_SAMPLES = 3;
/** All 20 fake GPUs of the test bed: 16 H100 and 4 RTX 4090. */
const GPU_TYPES = ["NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 4090"];

async function burstReaction(runtime: KubeRuntime, template: V1DeploymentSpec): Promise<{ berth: number[]; direct: number[] }> {
  const berth: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < REACTION_SAMPLES; i++) {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: BURST, gpuTypeIds: GPU_TYPES, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const name = `berth-${ep.id}`;
    await eventually("the endpoint's deployment", () => runtime.deployment(ep.id).catch(() => undefined), 30_000);

    let watch = await watchDeployment(runtime, name, (d) => (d.spec?.replicas ?? 0) > 0);
    let t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, () => runtime.submit(ep.id, {})));
    berth.push((await watch.seen) - t0);
    watch.stop();

    // The baseline on the same Deployment: back to 0 through Berth (the endpoint disabled), then one scale call.
    await runtime.api.patch(`/admin/endpoints/${ep.id}`, { workersMax: 0 });
    await eventually("the deployment at 0", async () => ((await runtime.deployment(ep.id)).spec?.replicas === 0 ? true : undefined), 30_000);
    await runtime.api.delete(`/admin/endpoints/${ep.id}`);
    await eventually("the deployment gone", () => runtime.deployment(ep.id).then(() => undefined, () => true), 30_000);
    const baseline = await createBaseline(runtime, template, `baseline-${i}`, 0);
    watch = await watchDeployment(runtime, baseline, (d) => (d.spec?.replicas ?? 0) > 0);
    t0 = performance.now();
    await runtime.apps.patchNamespacedDeploymentScale(
      { namespace: runtime.namespace, name: baseline, body: { spec: { replicas: BURST } } },
      mergePatch,
    );
    direct.push((await watch.seen) - t0);
    watch.stop();
    await runtime.apps.deleteNamespacedDeployment({ namespace: runtime.namespace, name: baseline });
  }
  return { berth, direct };
}

async function rollouts(runtime: KubeRuntime): Promise<{ berth: number[]; direct: number[]; template: V1DeploymentSpec }> {
  const berth: number[] = [];
  const direct: number[] = [];
  const ep = await runtime.createEndpoint({ workersMin: ROLLOUT_WORKERS, workersMax: ROLLOUT_WORKERS, gpuTypeIds: GPU_TYPES }, { env: { RELEASE: "0" } });
  await eventually("20 pods up", async () => (rolledOut(await runtime.deployment(ep.id).catch(() => ({}) as V1Deployment)) && (await runtime.pods(ep.id)).length === ROLLOUT_WORKERS ? true : undefined), 120_000);
  const template = (await runtime.deployment(ep.id)).spec!;

  for (let i = 1; i <= ROLLOUT_SAMPLES; i++) {
    const t0 = performance.now();
    await runtime.api.patch(`/admin/templates/${ep.templateId}`, { env: { RELEASE: String(i) } });
    await runtime.until(
      `rollout ${i} done`,
      ep.id,
      (w) => (w.rollout.state === "done" && w.revision === i + 1 && w.workers.length === ROLLOUT_WORKERS && w.workers.every((x) => x.revision === i + 1) ? true : undefined),
      300_000,
    );
    await eventually("the deployment complete", async () => (rolledOut(await runtime.deployment(ep.id)) ? true : undefined), 300_000);
    berth.push(performance.now() - t0);
  }
  // The GPUs go back before the baseline needs them.
  await runtime.api.delete(`/admin/endpoints/${ep.id}`);
  await eventually("the endpoint's pods gone", async () => ((await runtime.pods(ep.id)).length === 0 ? true : undefined), 120_000);

  const baseline = await createBaseline(runtime, template, "baseline-rollout", ROLLOUT_WORKERS);
  const read = () => runtime.apps.readNamespacedDeployment({ namespace: runtime.namespace, name: baseline });
  await eventually("the baseline's 20 pods up", async () => (rolledOut(await read()) ? true : undefined), 120_000);
  for (let i = 1; i <= ROLLOUT_SAMPLES; i++) {
    const t0 = performance.now();
    const watch = await watchDeployment(runtime, baseline, (d) => d.metadata?.annotations?.["deployment.kubernetes.io/revision"] === String(i + 1) && rolledOut(d));
    await runtime.apps.patchNamespacedDeployment(
      { namespace: runtime.namespace, name: baseline, body: { spec: { template: { metadata: { annotations: { release: String(i) } } } } } },
      mergePatch,
    );
    direct.push((await watch.seen) - t0);
    watch.stop();
  }
  await runtime.apps.deleteNamespacedDeployment({ namespace: runtime.namespace, name: baseline });
  return { berth, direct, template };
}

function row(label: string, samples: number[], baselineP50: number, unit: "ms" | "s") {
  const s = summarize(samples);
  const f = (ms: number) => (unit === "s" ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
  return `| ${label} | ${s.n} | ${f(s.p50)} | ${f(s.p99)} | ${(s.p50 / baselineP50).toFixed(2)}x |`;
}

async function main(): Promise<void> {
  const runtime = await KubeRuntime.start({}, { runWorkers: false });
  try {
    const rollout = await rollouts(runtime);
    const reaction = await burstReaction(runtime, rollout.template);
    const cpu = os.cpus();
    const version = (await runtime.kubeConfig.makeApiClient(VersionApi).getCode()).gitVersion;
    console.log(`# Berth Kubernetes benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}, Kubernetes ${version} (kwok nodes)`);
    console.log(`\n| | samples | p50 | p99 | ratio (p50) |\n|---|---|---|---|---|`);
    const reactionBase = summarize(reaction.direct).p50;
    console.log(row("baseline: a scale call of our own, to its watch event", reaction.direct, reactionBase, "ms"));
    console.log(row(`burst of ${BURST} jobs at 0 workers, to Berth's scale-up in a watch event`, reaction.berth, reactionBase, "ms"));
    const rolloutBase = summarize(rollout.direct).p50;
    console.log(row(`baseline: a plain Deployment of ${ROLLOUT_WORKERS} rolled 2 at a time`, rollout.direct, rolloutBase, "s"));
    console.log(row(`template change on a ${ROLLOUT_WORKERS}-worker endpoint, to Berth reporting done`, rollout.berth, rolloutBase, "s"));
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
