/**
 * Rollout on the Docker runtime: how long replacing 10 workers takes (a template change, so a new revision;
 * RunPod's pace of 10% of max workers at a time, i.e. one by one here) while jobs keep arriving, and how many of
 * those jobs fail (the target is none). Baseline in the same run: starting the same 10 workers from nothing
 * (workersMin raised from 0 to 10), the time the runtime needs just to bring 10 workers up.
 *
 * Run after the test bed is up: eval "$(bash testbed/up.sh)"; node --import tsx bench/rollout.ts
 */
import os from "node:os";
import { DockerRuntime } from "../test/helpers/docker-runtime";

const WORKERS = 10;
const LOAD_EVERY_MS = 50;

async function main(): Promise<void> {
  const runtime = await DockerRuntime.start({ BERTH_SIMULATED_GPUS: "NVIDIA GeForce RTX 4090=24" });
  try {
    const ep = await runtime.createEndpoint({ workersMin: 0, workersMax: WORKERS }, { env: { TEMPLATE_MARKER: "v1" } });
    const allIdle = (revision: number) => (w: Awaited<ReturnType<DockerRuntime["workers"]>>) =>
      w.rollout.state === "done" && w.workers.length === WORKERS && w.workers.every((x) => x.revision === revision && x.state === "Idle")
        ? true
        : undefined;

    let t = performance.now();
    await runtime.api.patch(`/admin/endpoints/${ep.id}`, { workersMin: WORKERS });
    await runtime.until("10 idle workers", ep.id, allIdle(1), 300_000);
    const startMs = performance.now() - t;

    const ids: string[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        ids.push(await runtime.submit(ep.id, { sleepMs: 200 }));
        await new Promise((resolve) => setTimeout(resolve, LOAD_EVERY_MS));
      }
    })();
    t = performance.now();
    await runtime.api.patch(`/admin/templates/${ep.templateId}`, { env: { TEMPLATE_MARKER: "v2" } });
    await runtime.until("the rollout to finish", ep.id, (w) => {
      const done = w.rollout.state === "done" && w.workers.length === WORKERS && w.workers.every((x) => x.revision === 2);
      return done ? true : undefined;
    }, 600_000);
    const rolloutMs = performance.now() - t;
    loading = false;
    await load;
    const results = await Promise.all(ids.map((id) => runtime.ended(ep.id, id, 120_000)));
    const failed = results.filter((r) => r.status !== "COMPLETED").length;

    const cpu = os.cpus();
    console.log(`# Berth rollout benchmark, ${new Date().toISOString()}, ${cpu.length} x ${cpu[0]?.model}, Node ${process.version}`);
    console.log(`\n${WORKERS} workers, batch size 1 (10% of workersMax), a job every ${LOAD_EVERY_MS} ms during the rollout`);
    console.log(`| | duration | per worker | ratio |\n|---|---|---|---|`);
    console.log(`| baseline: start ${WORKERS} workers from nothing | ${(startMs / 1000).toFixed(2)} s | ${(startMs / WORKERS).toFixed(0)} ms | 1.00x |`);
    console.log(`| rollout: replace ${WORKERS} workers under load | ${(rolloutMs / 1000).toFixed(2)} s | ${(rolloutMs / WORKERS).toFixed(0)} ms | ${(rolloutMs / startMs).toFixed(2)}x |`);
    console.log(`\njobs during the rollout: ${results.length} submitted, ${results.length - failed} COMPLETED, **${failed} failed or lost**`);
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
