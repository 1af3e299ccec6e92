/**
 * Cold start on the Docker runtime: from a /run on an endpoint with no serving worker to the handler starting,
 * (a) with a frozen standby worker (extra worker, `docker pause`d, resumed on demand) and (b) without (a new
 * container is created and started), next to the baseline measured in the same run: a bare create + start of
 * the same image through the Engine API, timed until its process runs its first statement.
 *
 * The handler's start is the `startedAt` the test worker image reports (same host clock). Each sample waits for
 * the endpoint to be cold again (the served worker stopped after its idle timeout; in (a) a fresh standby frozen).
 *
 * Run after the test bed is up: eval "$(bash testbed/up.sh)"; node --import tsx bench/cold-start.ts [--samples N]
 */
import os from "node:os";
import { LABELS } from "../docker-engine/labels";
import { DockerRuntime } from "../test/helpers/docker-runtime";
import { fmt, summarize } from "./stats";

const i = process.argv.indexOf("--samples");
const SAMPLES = i > 0 ? Number(process.argv[i + 1]) : 10;

/** Time from /run to the handler starting, once the endpoint is cold as `isCold` defines it. */
async function coldStarts(runtime: DockerRuntime, endpointId: string, isCold: (w: Awaited<ReturnType<DockerRuntime["workers"]>>) => boolean) {
  const samples: number[] = [];
  for (let n = 0; n < SAMPLES; n++) {
    await runtime.until("the endpoint to be cold", endpointId, (w) => (isCold(w) ? true : undefined), 120_000);
    const submittedAt = Date.now();
    const job = await runtime.submit(endpointId, { n });
    const result = await runtime.ended(endpointId, job);
    if (result.status !== "COMPLETED") throw new Error(`cold-start job ${job}: ${JSON.stringify(result)}`);
    samples.push(result.output.startedAt - submittedAt);
  }
  return summarize(samples);
}

/** The baseline: create + start of the same image, until its process runs its first statement. */
async function bareStarts(runtime: DockerRuntime) {
  const samples: number[] = [];
  for (let n = 0; n < SAMPLES; n++) {
    const t0 = Date.now();
    const id = await runtime.engine.createContainer({
      image: runtime.image,
      cmd: ["node", "-e", "console.log(Date.now())"],
      labels: { [LABELS.controlPlane]: `bench-${runtime.controlPlaneId}` },
      hostConfig: { NetworkMode: "host", Init: true },
    });
    await runtime.engine.startContainer(id);
    await runtime.engine.waitContainer(id);
    const { stdout } = await runtime.engine.containerLogs(id);
    await runtime.engine.removeContainer(id);
    samples.push(Number(stdout.trim()) - t0);
  }
  return summarize(samples);
}

async function main(): Promise<void> {
  const endpoint = { workersMin: 0, workersMax: 2, idleTimeout: 1 };
  const withStandby = await DockerRuntime.start({ BERTH_EXTRA_WORKERS: "1" });
  const withoutStandby = await DockerRuntime.start({ BERTH_EXTRA_WORKERS: "0" });
  try {
    const bare = await bareStarts(withoutStandby);
    const a = await withStandby.createEndpoint(endpoint);
    const standby = await coldStarts(withStandby, a.id, (w) => w.workers.length === 1 && w.workers[0]!.frozen);
    const b = await withoutStandby.createEndpoint(endpoint);
    const fresh = await coldStarts(withoutStandby, b.id, (w) => w.workers.length === 0);

    const cpu = os.cpus();
    console.log(`# Berth cold-start benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
    console.log(`\n${SAMPLES} samples each; /run to handler start, Docker runtime, test worker image on the Node base image`);
    console.log(`| | p50 | p99 | mean | p50 ratio to bare |\n|---|---|---|---|---|`);
    for (const [label, s] of [["bare create + start (baseline)", bare], ["Berth, frozen standby worker", standby], ["Berth, no standby (new container)", fresh]] as const) {
      console.log(`| ${label} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${(s.p50 / bare.p50).toFixed(2)}x |`);
    }
  } finally {
    await withStandby.close();
    await withoutStandby.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
