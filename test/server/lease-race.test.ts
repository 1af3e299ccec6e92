// Two control planes on one database racing for the lease, with a real Docker runtime: the leader is frozen
// (SIGSTOP) past its lease while the other takes over and starts a worker the frozen one never heard of. When the
// frozen one wakes (SIGCONT), its timers and its reconcile pass are all overdue at once; it must step down
// without acting on its stale view, here: without removing the new leader's worker as one it has no record of.
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { LABELS } from "../../docker-engine/labels";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { FAST_FLEET } from "../helpers/docker-runtime";
import { TestDockerEngine } from "../helpers/docker-engine";
import { eventually } from "../helpers/endpoint";
import { RuntimeHarness } from "../helpers/runtime-harness";
import { ensureWorkerImage } from "../helpers/worker-image";

const GPU = "NVIDIA GeForce RTX 4090";

describe("a leader frozen past its lease", () => {
  const engine = TestDockerEngine.fromEnv();
  const planes: ControlPlaneProcess[] = [];
  let controlPlaneId = "";

  before(async () => {
    const env = { ...FAST_FLEET, BERTH_SIMULATED_GPUS: `${GPU}=4`, BERTH_LEASE_TTL_MS: "1000", BERTH_LEASE_RENEW_MS: "300" };
    planes.push(await ControlPlaneProcess.start({ store: "postgres", env }));
    planes.push(await ControlPlaneProcess.start({ database: planes[0]!.database, apiKey: planes[0]!.apiKey, env }));
    controlPlaneId = String((await planes[0]!.query("SELECT value FROM settings WHERE name = 'control-plane-id'"))[0]?.value ?? "");
  });
  after(async () => {
    for (const cp of planes) {
      cp.child.kill("SIGCONT");
      await cp.stop();
    }
    if (controlPlaneId) for (const c of await engine.listContainers({ [LABELS.controlPlane]: controlPlaneId })) await engine.removeContainer(c.Id);
    fs.rmSync(planes[1]!.dataDir, { recursive: true, force: true });
    await planes[0]?.removeData();
  });

  test("steps down on waking without touching what the new leader did", async () => {
    const messages = (cp: ControlPlaneProcess) => cp.entries().map((e) => String(e.msg));
    const leads = (cp: ControlPlaneProcess) => messages(cp).filter((m) => m.startsWith("leading:")).length;
    const old = await eventually("a leader", () => planes.find((cp) => leads(cp) > 0), 10_000);
    const next = planes.find((cp) => cp !== old)!;
    const image = await ensureWorkerImage();
    const oldApi = new RuntimeHarness(old, image, [GPU]);
    const nextApi = new RuntimeHarness(next, image, [GPU]);
    const ep = await oldApi.createEndpoint({ workersMin: 1, workersMax: 2 });
    await oldApi.until("the leader's active worker", ep.id, (w) => (w.workers.some((x) => x.type === "active" && x.state === "Idle") ? true : undefined));
    const containers = async () => (await engine.listContainers({ [LABELS.endpoint]: ep.id })).map((c) => c.Id).sort();
    const first = await containers();
    assert.equal(first.length, 1);

    old.child.kill("SIGSTOP");
    await eventually("the other to lead", () => (leads(next) > 0 ? true : undefined), 10_000);
    const raised = await nextApi.api.patch(`/admin/endpoints/${ep.id}`, { workersMin: 2 });
    assert.equal(raised.status, 200, JSON.stringify(raised.data));
    const both = await eventually("the new leader's second worker", async () => {
      const ids = await containers();
      return ids.length === 2 ? ids : undefined;
    }, 30_000);

    const before = messages(old).length;
    old.child.kill("SIGCONT");
    await eventually("the woken one to step down", () => (messages(old).slice(before).some((m) => m.startsWith("no longer leading:")) ? true : undefined), 10_000);
    // It may still decide on its stale view (and log the intent), but every change it tries is refused.
    const woken = messages(old).slice(before);
    assert.ok(!woken.some((m) => m === "worker started" || m === "worker stopped"), `the woken one acted:\n${woken.join("\n")}`);
    assert.deepEqual(await containers(), both, "both workers are still there");
    const running = await nextApi.until("the new leader to show both workers serving", ep.id, (w) =>
      w.workers.filter((x) => x.state === "Idle" || x.state === "Running").length === 2 ? w : undefined,
    );
    assert.equal(running.workers.length, 2);
  });
});
