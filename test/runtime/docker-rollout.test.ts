// Rolling updates and restarts of the control plane on the real Docker engine.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DockerDriver } from "../../server/runtimes/docker/docker-driver";
import { missingImage } from "../helpers/env";
import { DockerRuntime } from "../helpers/docker-runtime";
import type { EndpointWorkers } from "../helpers/runtime-harness";

/** Submits a short job every `everyMs` until stopped; returns the ids it submitted. */
function steadyLoad(runtime: DockerRuntime, endpointId: string, everyMs: number) {
  const ids: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      ids.push(await runtime.submit(endpointId, { sleepMs: 300 }));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    ids,
    stop: async () => {
      running = false;
      await loop;
      return ids;
    },
  };
}

describe("rolling updates on the Docker runtime", () => {
  let runtime: DockerRuntime;

  before(async () => {
    runtime = await DockerRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("a template change rolls every worker, one at a time, under steady load, with no failed or lost job", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 3, workersMax: 3 }, { env: { TEMPLATE_MARKER: "v1" } });
    await runtime.until("three idle workers", ep.id, (w) => (w.workers.filter((x) => x.state === "Idle").length === 3 ? true : undefined));
    const load = steadyLoad(runtime, ep.id, 100);

    const changed = await runtime.api.patch(`/admin/templates/${ep.templateId}`, { env: { TEMPLATE_MARKER: "v2" } });
    assert.equal(changed.status, 200, JSON.stringify(changed.data));
    assert.deepEqual(changed.data.rolledOut.map((e: { id: string }) => e.id), [ep.id]);

    let mostRetiring = 0;
    let sawRolling = false;
    const done = await runtime.until(
      "the rollout to finish",
      ep.id,
      (w: EndpointWorkers) => {
        const retiring = w.workers.filter((x) => x.revision < 2 && x.draining).length;
        mostRetiring = Math.max(mostRetiring, retiring);
        sawRolling ||= w.rollout.state === "rolling";
        const settled = w.workers.length === 3 && w.workers.every((x) => x.revision === 2 && (x.state === "Idle" || x.state === "Running"));
        return w.rollout.state === "done" && settled ? w : undefined;
      },
      120_000,
    );
    assert.ok(sawRolling, "the rollout was seen in progress");
    assert.equal(done.rollout.batchSize, 1, "10% of 3 workers, at least one");
    assert.ok(mostRetiring <= 1, `never more than one outdated worker draining at once (saw ${mostRetiring})`);

    const ids = await load.stop();
    const results = await Promise.all(ids.map((id) => runtime.ended(ep.id, id, 90_000)));
    const failed = results.filter((r) => r.status !== "COMPLETED");
    assert.deepEqual(failed, [], "every job submitted during the rollout completed");
    const markers = new Set(results.map((r) => r.output.templateEnv));
    assert.ok(markers.has("v2"), "jobs were served by the new revision");
    const after = await runtime.submit(ep.id, { n: "after" });
    assert.equal((await runtime.ended(ep.id, after)).output.templateEnv, "v2");
  });

  test("a revision that cannot become healthy halts the rollout with the reason; the old workers keep serving", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 2, workersMax: 2 }, { env: { TEMPLATE_MARKER: "v1" } });
    await runtime.until("two idle workers", ep.id, (w) => (w.workers.filter((x) => x.state === "Idle").length === 2 ? true : undefined));
    const broken = await runtime.api.patch(`/admin/templates/${ep.templateId}`, { imageName: missingImage("2") });
    assert.equal(broken.status, 200);

    const halted = await runtime.until("the rollout to halt", ep.id, (w) => (w.rollout.state === "halted" ? w : undefined));
    assert.match(halted.rollout.reason ?? "", /revision 2 does not become healthy: .*berth\/does-not-exist:2 is not available/);
    assert.ok(halted.workers.some((x) => x.revision === 1 && x.state === "Outdated"), "an old worker still serves");
    const served = await runtime.submit(ep.id, { n: "during the halt" });
    assert.equal((await runtime.ended(ep.id, served)).output.templateEnv, "v1");

    // Fixing the template (a new revision) lets the next rollout finish.
    const fixed = await runtime.api.patch(`/admin/templates/${ep.templateId}`, { imageName: runtime.image, env: { TEMPLATE_MARKER: "v3" } });
    assert.equal(fixed.status, 200);
    await runtime.until(
      "the rollout to revision 3 to finish",
      ep.id,
      (w) => (w.rollout.state === "done" && w.workers.length === 2 && w.workers.every((x) => x.revision === 3 && x.state === "Idle") ? true : undefined),
      120_000,
    );
  });
});

describe("a control plane restart on the Docker runtime", () => {
  let runtime: DockerRuntime;

  before(async () => {
    runtime = await DockerRuntime.start();
  });
  after(async () => {
    await runtime?.close();
  });

  test("adopts the workers it left running (same containers) and removes containers it has no record of", async () => {
    const ep = await runtime.createEndpoint({ workersMin: 2, workersMax: 2 });
    const before = await runtime.until("two idle workers", ep.id, (w) => (w.workers.filter((x) => x.state === "Idle").length === 2 ? w : undefined));
    const containersBefore = (await runtime.containers(ep.id)).map((c) => c.Id).sort();

    await runtime.cp.stop();
    assert.deepEqual((await runtime.containers(ep.id)).map((c) => c.Id).sort(), containersBefore, "workers outlive their control plane");
    // A container labelled for this control plane that its store never decided on, e.g. from a crash mid-start.
    const stray = new DockerDriver({ engine: runtime.engine, controlPlaneId: runtime.controlPlaneId });
    await stray.startWorker({ workerId: "orphan-1", endpointId: ep.id, revision: 1, image: runtime.image, env: {}, gpus: [] });

    runtime.cp = await runtime.cp.restart();
    const adopted = await runtime.until("the orphan gone and the two workers Idle", ep.id, async (w) => {
      const containers = await runtime.containers(ep.id);
      return containers.length === 2 && w.workers.filter((x) => x.state === "Idle").length === 2 ? w : undefined;
    });
    assert.deepEqual(adopted.workers.map((x) => x.id).sort(), before.workers.map((x) => x.id).sort(), "the same workers");
    assert.deepEqual((await runtime.containers(ep.id)).map((c) => c.Id).sort(), containersBefore, "in the same containers");
    const job = await runtime.submit(ep.id, { n: "after restart" });
    assert.equal((await runtime.ended(ep.id, job)).status, "COMPLETED");
  });
});
