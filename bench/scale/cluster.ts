/**
 * The Kubernetes runtime as the cluster grows, on the test bed's cluster (real kube-apiserver, controller manager
 * and scheduler; kwok nodes, which mark pods Running at once and run nothing): NODES fake GPU nodes of 8 GPUs are
 * added, then one endpoint of PODS_PER_ENDPOINT pods (the small case) and ENDPOINTS of them (the large case). For
 * each: a reconcile pass's mean time and the API requests it sends (from the control plane's own metrics over
 * MEASURE_S seconds, passes once a second as in production), the control plane's CPU, and burst reaction (a burst
 * of jobs on an endpoint at zero to the Deployment's replicas raised, in a watch event) against a scale call of the
 * benchmark's own. Then, with the large fleet in place, a ROLLOUT_WORKERS-worker rollout against a plain Deployment
 * with the same pod template and strategy.
 */
import { CoreV1Api, type V1Deployment, type V1Pod } from "@kubernetes/client-node";
import { eventually } from "../../test/helpers/endpoint";
import { KubeRuntime } from "../../test/helpers/kube-runtime";
import { parseMetrics, sumOf } from "../../test/helpers/metrics";
import { flag } from "../args";
import { cpuMs } from "../children";
import { createBaseline, mergePatch, rolledOut, watchDeployment } from "../deployments";
import { fmt, summarize } from "../stats";
import { header, ratio } from "./common";

const NODES = Number(flag("nodes") ?? 200);
const ENDPOINTS = Number(flag("endpoints") ?? 100);
const ROLLOUT_WORKERS = Number(flag("rollout-workers") ?? 200);
const PODS_PER_ENDPOINT = 10;
const MEASURE_S = 15;
const BURST = 5;
const BURST_SAMPLES = 5;
const GPU = { typeId: "NVIDIA H100 80GB HBM3", product: "NVIDIA-H100-80GB-HBM3", perNode: 8 };

interface PassCost {
  passes: number;
  meanMs: number;
  requestsPerPass: number;
  /** The requests sent over the window, by verb and resource. */
  requests: string;
  cpuShare: number;
}

interface FleetCase {
  label: string;
  pods: number;
  pass: PassCost;
  burst: number[];
  baseline: number[];
}

/** Fake GPU nodes that kwok keeps Ready (it manages nodes annotated kwok.x-k8s.io/node=fake). */
async function addNodes(core: CoreV1Api, count: number): Promise<string[]> {
  const names: string[] = [];
  const resources = { cpu: "64", memory: "512Gi", pods: "110", "nvidia.com/gpu": String(GPU.perNode) };
  for (let i = 0; i < count; i++) {
    const name = `bench-gpu-${i}`;
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: { "kwok.x-k8s.io/node": "fake" },
          labels: { type: "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "nvidia.com/gpu.product": GPU.product },
        },
      },
    });
    await core.patchNodeStatus({ name, body: { status: { capacity: resources, allocatable: resources } } }, mergePatch);
    names.push(name);
  }
  return names;
}

/** What the control plane's passes cost over MEASURE_S seconds, from its own metrics and the kernel's CPU count. */
async function passCost(runtime: KubeRuntime): Promise<PassCost> {
  const scrape = async () => parseMetrics((await runtime.api.get("/metrics")).data);
  const before = await scrape();
  const cpuBefore = cpuMs(runtime.cp.child.pid!);
  await new Promise((resolve) => setTimeout(resolve, MEASURE_S * 1000));
  const after = await scrape();
  const cpu = cpuMs(runtime.cp.child.pid!) - cpuBefore;
  const delta = (name: string) => sumOf(after, name) - sumOf(before, name);
  const passes = delta("berth_reconcile_seconds_count");
  const kinds = after.filter((s) => s.name === "berth_kubernetes_requests_total");
  const requests = kinds
    .map((s) => ({ what: `${s.labels.verb} ${s.labels.resource}`, n: s.value - sumOf(before, s.name, s.labels) }))
    .filter((r) => r.n > 0)
    .map((r) => `${r.n} ${r.what}`);
  return {
    passes,
    meanMs: (delta("berth_reconcile_seconds_sum") * 1000) / passes,
    requestsPerPass: delta("berth_kubernetes_requests_total") / passes,
    requests: requests.join(", ") || "none",
    cpuShare: cpu / (MEASURE_S * 1000),
  };
}

/** Endpoints of PODS_PER_ENDPOINT pods each, waited for until every pod runs. */
async function addEndpoints(runtime: KubeRuntime, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await runtime.createEndpoint({ workersMin: PODS_PER_ENDPOINT, workersMax: PODS_PER_ENDPOINT })).id);
  }
  return ids;
}

/** Until `pods` pods run and are ready, and every Deployment counts them available: the fleet has settled. */
async function allRunning(runtime: KubeRuntime, pods: number): Promise<void> {
  const ready = (p: V1Pod) =>
    p.status?.phase === "Running" && !p.metadata?.deletionTimestamp && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  await eventually(
    `${pods} pods running and ready`,
    async () => {
      if ((await runtime.pods()).filter(ready).length < pods) return undefined;
      const deployments = (await runtime.apps.listNamespacedDeployment({ namespace: runtime.namespace })).items;
      return deployments.every(rolledOut) ? true : undefined;
    },
    600_000,
  );
}

/** From a burst of jobs on an endpoint at zero to its Deployment scaled up; and the same for a scale call of our own. */
async function burstReaction(runtime: KubeRuntime): Promise<{ berth: number[]; direct: number[] }> {
  const berth: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < BURST_SAMPLES; i++) {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: BURST, scalerType: "REQUEST_COUNT", scalerValue: 1 });
    const deployment = await eventually("the endpoint's deployment", () => runtime.deployment(ep.id).catch(() => undefined), 60_000);
    let watch = await watchDeployment(runtime, `berth-${ep.id}`, (d) => (d.spec?.replicas ?? 0) > 0);
    let t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, () => runtime.submit(ep.id, {})));
    berth.push((await watch.seen) - t0);
    watch.stop();
    await runtime.api.delete(`/admin/endpoints/${ep.id}`);

    const baseline = await createBaseline(runtime, deployment.spec!, `burst-baseline-${Date.now()}`, 0);
    watch = await watchDeployment(runtime, baseline, (d) => (d.spec?.replicas ?? 0) > 0);
    t0 = performance.now();
    await runtime.apps.patchNamespacedDeploymentScale({ namespace: runtime.namespace, name: baseline, body: { spec: { replicas: BURST } } }, mergePatch);
    direct.push((await watch.seen) - t0);
    watch.stop();
    await runtime.apps.deleteNamespacedDeployment({ namespace: runtime.namespace, name: baseline });
  }
  return { berth, direct };
}

/** A template change on a ROLLOUT_WORKERS-worker endpoint to Berth reporting it done, then a plain Deployment's. */
async function rollout(runtime: KubeRuntime, alreadyRunning: number): Promise<{ berthMs: number; directMs: number }> {
  const ep = await runtime.createEndpoint({ workersMin: ROLLOUT_WORKERS, workersMax: ROLLOUT_WORKERS }, { env: { RELEASE: "0" } });
  await eventually(
    `${ROLLOUT_WORKERS} pods up`,
    async () => (rolledOut(await runtime.deployment(ep.id).catch(() => ({}) as V1Deployment)) ? true : undefined),
    600_000,
  );
  const template = (await runtime.deployment(ep.id)).spec!;
  let t0 = performance.now();
  await runtime.api.patch(`/admin/templates/${ep.templateId}`, { env: { RELEASE: "1" } });
  await runtime.until(
    "the rollout done",
    ep.id,
    (w) => (w.rollout.state === "done" && w.revision === 2 && w.workers.length === ROLLOUT_WORKERS && w.workers.every((x) => x.revision === 2) ? true : undefined),
    900_000,
  );
  await eventually("the deployment complete", async () => (rolledOut(await runtime.deployment(ep.id)) ? true : undefined), 900_000);
  const berthMs = performance.now() - t0;
  await runtime.api.delete(`/admin/endpoints/${ep.id}`);
  await eventually("the endpoint's pods gone", async () => ((await runtime.pods(ep.id)).length === 0 ? true : undefined), 600_000);

  const baseline = await createBaseline(runtime, template, "rollout-baseline", ROLLOUT_WORKERS);
  const read = () => runtime.apps.readNamespacedDeployment({ namespace: runtime.namespace, name: baseline });
  await eventually("the baseline's pods up", async () => (rolledOut(await read()) ? true : undefined), 600_000);
  await allRunning(runtime, alreadyRunning + ROLLOUT_WORKERS);
  t0 = performance.now();
  const watch = await watchDeployment(runtime, baseline, (d) => d.metadata?.annotations?.["deployment.kubernetes.io/revision"] === "2" && rolledOut(d));
  await runtime.apps.patchNamespacedDeployment(
    { namespace: runtime.namespace, name: baseline, body: { spec: { template: { metadata: { annotations: { release: "1" } } } } } },
    mergePatch,
  );
  const directMs = (await watch.seen) - t0;
  watch.stop();
  await runtime.apps.deleteNamespacedDeployment({ namespace: runtime.namespace, name: baseline });
  return { berthMs, directMs };
}

export async function clusterScale(): Promise<void> {
  // Passes once a second, as in production (the test helper's default is faster).
  const runtime = await KubeRuntime.start({ BERTH_RECONCILE_INTERVAL_MS: "1000" }, { runWorkers: false, gpuTypeIds: [GPU.typeId] });
  const core = runtime.kubeConfig.makeApiClient(CoreV1Api);
  let nodes: string[] = [];
  try {
    nodes = await addNodes(core, NODES);
    const cases: FleetCase[] = [];
    const measure = async (label: string, pods: number) => {
      await allRunning(runtime, pods);
      const pass = await passCost(runtime);
      const reaction = await burstReaction(runtime);
      cases.push({ label, pods, pass, burst: reaction.berth, baseline: reaction.direct });
    };
    await addEndpoints(runtime, 1);
    await measure(`1 endpoint, ${PODS_PER_ENDPOINT} pods`, PODS_PER_ENDPOINT);
    await addEndpoints(runtime, ENDPOINTS - 1);
    await measure(`${ENDPOINTS} endpoints, ${ENDPOINTS * PODS_PER_ENDPOINT} pods`, ENDPOINTS * PODS_PER_ENDPOINT);
    const rolled = await rollout(runtime, ENDPOINTS * PODS_PER_ENDPOINT);

    header(`A cluster of ${NODES} kwok GPU nodes`);
    console.log(`passes once a second, measured over ${MEASURE_S} s from the control plane's metrics; burst: ${BURST} jobs at 0 workers, ${BURST_SAMPLES} samples\n`);
    console.log("| case | reconcile pass (mean) | API requests a pass | control plane CPU | burst reaction p50 / p99 | baseline: a scale call p50 |");
    console.log("|---|---|---|---|---|---|");
    for (const c of cases) {
      const burst = summarize(c.burst);
      console.log(
        `| ${c.label} | ${fmt(c.pass.meanMs)} | ${c.pass.requestsPerPass.toFixed(2)} | ${(c.pass.cpuShare * 100).toFixed(1)}% | ` +
          `${fmt(burst.p50)} / ${fmt(burst.p99)} | ${fmt(summarize(c.baseline).p50)} |`,
      );
    }
    const [small, large] = cases as [FleetCase, FleetCase];
    console.log(
      `| ratio | ${ratio(large.pass.meanMs, small.pass.meanMs)} | ${ratio(large.pass.requestsPerPass, small.pass.requestsPerPass)} | ` +
        `+${((large.pass.cpuShare - small.pass.cpuShare) * 100).toFixed(1)} points | ${ratio(summarize(large.burst).p50, summarize(small.burst).p50)} | |`,
    );
    for (const c of cases) console.log(`\n${c.label}: ${c.pass.passes} passes sent ${c.pass.requests}`);
    console.log(`\n| ${ROLLOUT_WORKERS}-worker rollout beside ${ENDPOINTS * PODS_PER_ENDPOINT} pods | time | ratio |\n|---|---|---|`);
    console.log(`| baseline: a plain Deployment, same template and strategy | ${(rolled.directMs / 1000).toFixed(1)} s | 1.00x |`);
    console.log(`| Berth: template change to the rollout done | ${(rolled.berthMs / 1000).toFixed(1)} s | ${ratio(rolled.berthMs, rolled.directMs)} |`);
  } finally {
    await runtime.close();
    for (const name of nodes) await core.deleteNode({ name }).catch(() => undefined);
  }
}
