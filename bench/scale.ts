/**
 * Fleet-scale benchmark (issue 16): what the control plane costs as the fleet grows, each large case beside the
 * small one measured in the same run, with ratios. Dimensions (bench/scale/):
 * - workers: 2,000 connected idle workers on 100 endpoints against none (idle CPU, RSS, runsync latency);
 * - backlog: 1,000,000 queued jobs on one endpoint against 1,000 (start-up, take, /health, /status, runsync, store
 *   size; drain, retention and the store's size after);
 * - cluster: on the test bed's cluster, 200 kwok GPU nodes and 100 endpoints of 10 pods against 1 endpoint (a
 *   reconcile pass's time and API requests, burst reaction), and a 200-worker rollout against a plain Deployment.
 * The workers and backlog dimensions run the control plane with the Docker runtime (simulated GPUs, every endpoint at
 * workersMax 0, so no container starts): its reconcile pass over every endpoint each second is part of the cost.
 *
 * Run after the test bed is up: node --import tsx bench/scale.ts [--only workers|backlog|cluster] [--workers 2000]
 *   [--endpoints 100] [--backlog 1000000] [--samples 500] [--database-url URL]
 * (with --database-url, a PostgreSQL server the benchmark may create a database on).
 */
import type { ChildProcess } from "node:child_process";
import { ControlPlaneProcess } from "../test/helpers/control-plane";
import { createEndpoint } from "../test/helpers/endpoint";
import { freshDatabase } from "../test/helpers/postgres";
import { flag } from "./args";
import { JsonClient } from "./http-client";
import { backlog } from "./scale/backlog";
import { clusterScale } from "./scale/cluster";
import { DATABASE_URL } from "./scale/common";
import { connectedWorkers } from "./scale/workers";

const ONLY = flag("only");
const wanted = (dimension: string) => ONLY === undefined || ONLY === dimension;

async function controlPlaneDimensions(): Promise<void> {
  // On PostgreSQL, a fresh database of its own on the server --database-url names.
  const database = DATABASE_URL ? await freshDatabase("scale", DATABASE_URL) : undefined;
  let cp = await ControlPlaneProcess.start({ database, env: { BERTH_RUNTIME: "docker", BERTH_SIMULATED_GPUS: "NVIDIA GeForce RTX 4090=8" } });
  const api = new JsonClient(cp.url, { Authorization: `Bearer ${cp.apiKey}` }, 4);
  const children: ChildProcess[] = [];
  try {
    const target = await createEndpoint(cp, { workersMax: 0 });
    const backlogged = await createEndpoint(cp, { workersMax: 0 });
    if (wanted("workers")) await connectedWorkers(cp, api, target, children);
    for (const child of children.splice(0)) child.kill();
    if (wanted("backlog")) cp = await backlog(cp, target, backlogged);
  } finally {
    for (const child of children) child.kill();
    api.close();
    await cp.stop();
    await cp.removeData();
  }
}

async function main(): Promise<void> {
  if (wanted("workers") || wanted("backlog")) await controlPlaneDimensions();
  if (wanted("cluster")) await clusterScale();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
