// Two control planes on one PostgreSQL database with a real Docker runtime: only the leader runs the fleet, yet
// the follower answers the workers' view, /health and the rollout status (what `pulumi up` waits on) from what the
// leader publishes.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { LABELS } from "../../docker-engine/labels";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { FAST_FLEET } from "../helpers/docker-runtime";
import { TestDockerEngine } from "../helpers/docker-engine";
import { apiClient, eventually } from "../helpers/endpoint";
import { RuntimeHarness } from "../helpers/runtime-harness";
import { ensureWorkerImage } from "../helpers/worker-image";

const GPU = "NVIDIA GeForce RTX 4090";

describe("two control planes on one PostgreSQL database running Docker workers", () => {
  const engine = TestDockerEngine.fromEnv();
  let a: ControlPlaneProcess;
  let b: ControlPlaneProcess;
  let leader: RuntimeHarness;
  let follower: RuntimeHarness;
  let controlPlaneId = "";

  before(async () => {
    const image = await ensureWorkerImage();
    const env = { ...FAST_FLEET, BERTH_SIMULATED_GPUS: `${GPU}=4` };
    a = await ControlPlaneProcess.start({ store: "postgres", env });
    b = await ControlPlaneProcess.start({ database: a.database, apiKey: a.apiKey, env });
    const leads = (cp: ControlPlaneProcess) => cp.entries().some((e) => String(e.msg).startsWith("leading:"));
    const first = await eventually("a leader", () => (leads(a) ? a : leads(b) ? b : undefined), 10_000);
    leader = new RuntimeHarness(first, image, [GPU]);
    follower = new RuntimeHarness(first === a ? b : a, image, [GPU]);
    controlPlaneId = String((await a.query("SELECT value FROM settings WHERE name = 'control-plane-id'"))[0]?.value ?? "");
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    if (controlPlaneId) for (const c of await engine.listContainers({ [LABELS.controlPlane]: controlPlaneId })) await engine.removeContainer(c.Id);
    fs.rmSync(b.dataDir, { recursive: true, force: true });
    await a?.removeData();
  });

  test("the follower shows the leader's workers and rollout, and its /health counts them", async () => {
    const ep = await follower.createEndpoint({ workersMin: 1, workersMax: 2 });
    const seen = await follower.until("the follower to show the leader's active worker serving", ep.id, (w) =>
      w.workers.some((x) => x.type === "active" && x.state === "Idle") && w.rollout.state === "done" ? w : undefined,
    );
    assert.equal(seen.revision, 1);
    assert.equal(seen.rollout.revision, 1);
    const fromLeader = await leader.workers(ep.id);
    assert.deepEqual(
      seen.workers.map((w) => [w.id, w.type]).sort(),
      fromLeader.workers.map((w) => [w.id, w.type]).sort(),
      "the same workers on both",
    );
    const health = await apiClient(follower.cp).get(`/v2/${ep.id}/health`);
    assert.ok(health.data.workers.idle >= 1, `follower's /health: ${JSON.stringify(health.data)}`);

    // A new revision: the follower reports the old rollout until the leader has rolled and published the new one.
    const updated = await follower.api.patch(`/admin/templates/${ep.templateId}`, { env: { ROUND: "2" } });
    assert.equal(updated.status, 200, JSON.stringify(updated.data));
    const rolled = await follower.until("the follower to report the rollout to revision 2 done", ep.id, (w) =>
      w.rollout.revision === 2 && w.rollout.state === "done" && w.workers.every((x) => x.revision === 2) ? w : undefined,
    );
    assert.ok(rolled.workers.length >= 1);
  });
});
