// Berth's Pulumi resources through the real Pulumi CLI (file backend) against a real control plane running
// workers on the real Docker engine: preview, up, a job, a no-op up, a template change rolled under load, bad
// inputs refused at preview, drift found by refresh, two stacks side by side, and a destroy that leaves nothing.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import axios from "axios";
import { missingImage } from "../helpers/env";
import { DockerRuntime } from "../helpers/docker-runtime";
import { eventually } from "../helpers/endpoint";
import { PulumiWorkspace } from "../helpers/pulumi-cli";

const PROGRAM = path.resolve(__dirname, "../fixtures/pulumi-berth");
const HF_TOKEN = "hf_" + "Sx7q".repeat(8);

async function stackOutputs(ws: PulumiWorkspace): Promise<Record<string, any>> {
  return JSON.parse((await ws.mustRun("stack", "output", "--json")).stdout);
}

async function workspace(runtime: DockerRuntime, stack: string, config: Record<string, string>): Promise<PulumiWorkspace> {
  const ws = await PulumiWorkspace.create(PROGRAM, stack);
  await ws.mustRun("config", "set", "berth:url", runtime.cp.url);
  await ws.mustRun("config", "set", "--secret", "berth:apiKey", runtime.cp.apiKey);
  await ws.mustRun("config", "set", "--secret", "hfToken", HF_TOKEN);
  await ws.mustRun("config", "set", "image", runtime.image);
  for (const [key, value] of Object.entries(config)) await ws.mustRun("config", "set", key, value);
  return ws;
}

/** Runs a job through the endpoint as a RunPod client would, with the client base URL the stack exports. */
async function runsync(runtime: DockerRuntime, outputs: Record<string, any>, input: unknown) {
  const res = await axios.post(`${outputs.clientBaseUrl}/${outputs.endpointId}/runsync`, { input }, {
    headers: { Authorization: `Bearer ${runtime.cp.apiKey}` },
    params: { wait: 60_000 },
  });
  return res.data;
}

describe("the Pulumi provider through the real CLI", () => {
  let runtime: DockerRuntime;
  let dev: PulumiWorkspace;

  before(async () => {
    runtime = await DockerRuntime.start();
    dev = await workspace(runtime, "dev", { workersMin: "2", workersMax: "2" });
  });
  after(async () => {
    dev?.remove();
    await runtime?.close();
  });

  const secretsNowhere = async (where: string, text: string) => {
    assert.ok(!text.includes(HF_TOKEN), `the template's secret env value is in ${where}`);
    assert.ok(!text.includes(runtime.cp.apiKey), `the API key is in ${where}`);
  };

  test("preview of a new stack lists the creates", async () => {
    const preview = await dev.mustRun("preview", "--diff");
    for (const [type, name] of [["Template", "worker"], ["NetworkVolume", "data"], ["Endpoint", "api"]]) {
      const create = new RegExp(`\\+ pulumi-nodejs:dynamic/berth:${type}: \\(create\\)\\s+\\[urn=[^\\]]*::${name}\\]`);
      assert.match(preview.stdout, create, `preview lists the ${type} to create`);
    }
    assert.match(preview.stdout, /HF_TOKEN\s*: \[secret\]/, "a secret env value shows as [secret]");
    await secretsNowhere("the preview", preview.stdout + preview.stderr);
  });

  test("up creates them, and the endpoint serves a job at the client base URL it exports", async () => {
    await dev.mustRun("up", "--yes");
    const outputs = await stackOutputs(dev);
    assert.equal(outputs.revision, 1);
    const result = await runsync(runtime, outputs, { hello: "pulumi" });
    assert.equal(result.status, "COMPLETED", JSON.stringify(result));
    assert.equal(result.output.templateEnv, "v1");
    await secretsNowhere("the stack's state", JSON.stringify(await dev.stackState()));
    await secretsNowhere("the control plane's logs", runtime.cp.logs.join("\n"));
  });

  test("a second up changes nothing", async () => {
    const again = await dev.run("up", "--yes", "--expect-no-changes");
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test("a template change: preview shows the template update and the endpoint that rolls; up rolls it under load with no failed job", async () => {
    const v2 = `${runtime.image.split(":")[0]}:v2-${Date.now()}`;
    await runtime.engine.tagImage(runtime.image, v2);
    await dev.mustRun("config", "set", "image", v2);
    await dev.mustRun("config", "set", "marker", "v2");
    const preview = await dev.mustRun("preview", "--diff");
    assert.match(preview.stdout, /~ pulumi-nodejs:dynamic\/berth:Template: \(update\)[^+]*~ imageName\s*: "[^"]+" => "[^"]+:v2-/);
    // The endpoint's only changed input is the template's rollout key (shown as [secret]: the template's env has a
    // secret, so a digest of it is kept secret too).
    assert.match(preview.stdout, /~ pulumi-nodejs:dynamic\/berth:Endpoint: \(update\)[^+]*templateRolloutKey: \[secret\]/, "the endpoint rolls because of the template");
    assert.match(preview.stdout, /~ 2 to update/);
    assert.doesNotMatch(preview.stdout, /\(replace\)|\(create-replacement\)/, "nothing is replaced");
    await secretsNowhere("the preview", preview.stdout);

    const outputs = await stackOutputs(dev);
    // The rollout replaces the workers there when it starts: both of workersMin's, once they have started.
    await runtime.until("both workers Idle", outputs.endpointId, (w) => (w.workers.filter((x) => x.state === "Idle").length === 2 ? true : undefined));
    const submitted: string[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        submitted.push(await runtime.submit(outputs.endpointId, { sleepMs: 200 }));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const up = await dev.run("up", "--yes");
    loading = false;
    await load;
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /rolling to revision 2: batch \d of 2/, "up printed the rollout's progress");
    assert.match(up.stdout, /rollout to revision 2 done, 2 workers replaced/);
    const results = await Promise.all(submitted.map((id) => runtime.ended(outputs.endpointId, id, 90_000)));
    assert.deepEqual(results.filter((r) => r.status !== "COMPLETED"), [], "no job failed during the rollout");
    const workers = await runtime.workers(outputs.endpointId);
    assert.ok(workers.workers.every((w) => w.revision === 2), "every worker runs the new revision");
    assert.equal((await stackOutputs(dev)).revision, 2);
    assert.equal((await runsync(runtime, outputs, {})).output.templateEnv, "v2");
  });

  test("a revision that cannot become healthy fails up with the reason; the next up continues once it is fixed", async () => {
    const { endpointId } = await stackOutputs(dev);
    const good = JSON.parse((await dev.mustRun("config", "get", "image", "--json")).stdout).value as string;
    await dev.mustRun("config", "set", "image", missingImage("9"));
    const broken = await dev.run("up", "--yes");
    assert.notEqual(broken.code, 0);
    assert.match(broken.stdout + broken.stderr, /rollout to revision 3 halted: revision 3 does not become healthy: .*berth\/does-not-exist:9 is not available/);
    const served = await runsync(runtime, await stackOutputs(dev), {});
    assert.equal(served.status, "COMPLETED", "the old revision keeps serving");

    await dev.mustRun("config", "set", "image", good);
    await dev.mustRun("up", "--yes");
    const workers = await runtime.workers(endpointId);
    assert.equal(workers.rollout.state, "done");
    assert.ok(workers.workers.every((w) => w.revision === 4), `every worker runs revision 4: ${JSON.stringify(workers.workers)}`);
  });

  test("bad inputs fail at preview, naming the property and the rule", async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ workersMin: "5", workersMax: "2" }, /workersMin: must not exceed workersMax \(5 > 2\)/],
      [{ idleTimeout: "0" }, /idleTimeout: .*>=1/],
      [{ scalerValue: "5000" }, /scalerValue: .*<=1000/],
      [{ gpuTypeIds: '["NVIDIA RTX 9999"]' }, /gpuTypeIds\.0: unknown GPU type or pool id "NVIDIA RTX 9999"/],
      [{ image: "Not An Image" }, /imageName: image reference must not contain whitespace/],
      [{ volumeSize: "5" }, /size: a network volume may only grow \(from 10 GB to 5 GB\)/],
      [{ templateId: "nosuchtemplate" }, /templateId: template nosuchtemplate does not exist/],
    ];
    const settings = await dev.mustRun("config", "--json", "--show-secrets");
    const saved = JSON.parse(settings.stdout) as Record<string, { value: string }>;
    for (const [config, rule] of cases) {
      for (const [key, value] of Object.entries(config)) await dev.mustRun("config", "set", key, value);
      const preview = await dev.run("preview", "--diff");
      assert.notEqual(preview.code, 0, `preview with ${JSON.stringify(config)} should fail`);
      assert.match(preview.stdout + preview.stderr, rule);
      for (const key of Object.keys(config)) {
        const previous = saved[`berth-provider-test:${key}`];
        if (previous) await dev.mustRun("config", "set", key, previous.value);
        else await dev.mustRun("config", "rm", key);
      }
    }
    const clean = await dev.run("preview", "--expect-no-changes");
    assert.equal(clean.code, 0, "with the config restored nothing changes");
  });

  test("refresh shows an endpoint changed outside Pulumi, and the next up puts it back", async () => {
    const { endpointId } = await stackOutputs(dev);
    const patched = await runtime.api.patch(`/admin/endpoints/${endpointId}`, { idleTimeout: 42 });
    assert.equal(patched.status, 200);
    const refresh = await dev.mustRun("refresh", "--yes", "--diff");
    assert.match(refresh.stdout, /~ pulumi-nodejs:dynamic\/berth:Endpoint: \(update\)[^+]*~ idleTimeout\s*: 5 => 42/);
    await dev.mustRun("up", "--yes");
    assert.equal((await runtime.api.get(`/admin/endpoints/${endpointId}`)).data.idleTimeout, 5);
  });

  test("refresh drops an endpoint deleted outside Pulumi, and the next up creates it again", async () => {
    const before = await stackOutputs(dev);
    assert.equal((await runtime.api.delete(`/admin/endpoints/${before.endpointId}`)).status, 204);
    const refresh = await dev.mustRun("refresh", "--yes", "--diff");
    assert.match(refresh.stdout, /- pulumi-nodejs:dynamic\/berth:Endpoint: \(delete\)/);
    const preview = await dev.mustRun("preview", "--diff");
    assert.match(preview.stdout, /\+ pulumi-nodejs:dynamic\/berth:Endpoint: \(create\)/);
    await dev.mustRun("up", "--yes");
    const after = await stackOutputs(dev);
    assert.notEqual(after.endpointId, before.endpointId);
    assert.equal((await runsync(runtime, after, {})).status, "COMPLETED");
  });

  test("renames: a new display name updates in place; a renamed resource with an alias keeps its endpoint", async () => {
    const { endpointId } = await stackOutputs(dev);
    await dev.mustRun("config", "set", "endpointName", "inference-api");
    const display = await dev.mustRun("preview", "--diff");
    assert.match(display.stdout, /~ pulumi-nodejs:dynamic\/berth:Endpoint: \(update\)[^+]*~ name\s*: "api" => "inference-api"/);
    await dev.mustRun("up", "--yes");
    assert.equal((await runtime.api.get(`/admin/endpoints/${endpointId}`)).data.name, "inference-api");

    await dev.mustRun("config", "set", "endpointResourceName", "inference");
    await dev.mustRun("config", "set", "endpointAlias", "api");
    const renamed = await dev.mustRun("preview", "--diff");
    assert.doesNotMatch(renamed.stdout, /\((create|delete|replace)\)/, "nothing is created or deleted");
    await dev.mustRun("up", "--yes");
    assert.equal((await stackOutputs(dev)).endpointId, endpointId, "the same endpoint, the same client URL");
  });

  test("two stacks of one program live side by side, and destroy leaves no container, volume or record", async () => {
    const prod = await workspace(runtime, "prod", { workersMin: "1", workersMax: "1" });
    try {
      await prod.mustRun("up", "--yes");
      const [d, p] = [await stackOutputs(dev), await stackOutputs(prod)];
      assert.notEqual(d.endpointId, p.endpointId);
      assert.equal((await runsync(runtime, p, { stack: "prod" })).status, "COMPLETED");

      await prod.mustRun("destroy", "--yes");
      assert.equal((await runtime.api.get(`/admin/endpoints/${p.endpointId}`)).status, 404);
      assert.equal((await runsync(runtime, d, { stack: "dev" })).status, "COMPLETED", "dev is untouched by prod's destroy");

      await dev.mustRun("destroy", "--yes");
      for (const [kind, id] of [["endpoints", d.endpointId], ["templates", d.templateId], ["network-volumes", d.volumeId]]) {
        assert.equal((await runtime.api.get(`/admin/${kind}/${id}`)).status, 404, `${kind}/${id} is gone`);
      }
      assert.deepEqual(await runtime.containers(d.endpointId), [], "no container is left");
      await eventually("the volume's Docker volume to be removed", async () =>
        (await runtime.engine.volumeExists(`berth-vol-${d.volumeId}`)) ? undefined : true,
      );
    } finally {
      prod.remove();
    }
  });
});
