// examples/multi-stack: one program, its Pulumi.dev.yaml and Pulumi.prod.yaml, deployed as two stacks side by
// side through the real CLI against a real control plane; each endpoint gets its own stack's settings.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import { DockerRuntime } from "../helpers/docker-runtime";
import { PulumiWorkspace } from "../helpers/pulumi-cli";

const PROGRAM = path.resolve(__dirname, "../../examples/multi-stack");

let runtime: DockerRuntime;
const stacks: PulumiWorkspace[] = [];

before(async () => {
  runtime = await DockerRuntime.start();
});
after(async () => {
  for (const ws of stacks) ws.remove();
  await runtime?.close();
});

test("dev and prod stacks of one program differ exactly as their stack files say", async () => {
  const endpoints: Record<string, any> = {};
  for (const stack of ["dev", "prod"]) {
    const ws = await PulumiWorkspace.create(PROGRAM, stack);
    stacks.push(ws);
    // The stack files name real hosts; here both point at the test's control plane and image.
    await ws.mustRun("config", "set", "berth:url", runtime.cp.url);
    await ws.mustRun("config", "set", "--secret", "berth:apiKey", runtime.cp.apiKey);
    await ws.mustRun("config", "set", "--secret", "modelToken", `token-for-${stack}`);
    await ws.mustRun("config", "set", "image", runtime.image);
    if (stack === "prod") await ws.mustRun("config", "set", "memoryInGb", "1"); // the test machine is smaller than prod
    await ws.mustRun("up", "--yes");
    const outputs = JSON.parse((await ws.mustRun("stack", "output", "--json")).stdout);
    endpoints[stack] = (await runtime.api.get(`/admin/endpoints/${outputs.endpointId}`)).data;
  }
  const { dev, prod } = endpoints;
  assert.notEqual(dev.id, prod.id);
  assert.deepEqual(
    [dev.workersMin, dev.workersMax, dev.idleTimeout, dev.scalerType, dev.gpuTypeIds],
    [0, 2, 5, "QUEUE_DELAY", ["ADA_24", "AMPERE_24"]],
  );
  assert.deepEqual(
    [prod.workersMin, prod.workersMax, prod.idleTimeout, prod.scalerType, prod.scalerValue, prod.gpuTypeIds],
    [2, 6, 60, "REQUEST_COUNT", 2, ["NVIDIA H100 80GB HBM3", "ADA_24"]],
  );
  const volumes = await Promise.all([dev, prod].map(async (e) => (await runtime.api.get(`/admin/network-volumes/${e.networkVolumeId}`)).data.size));
  assert.deepEqual(volumes, [20, 200]);
  await runtime.until("prod's two active workers", prod.id, (w) => (w.workers.filter((x) => x.type === "active" && x.state === "Idle").length === 2 ? true : undefined));
  assert.equal((await runtime.workers(dev.id)).workers.length, 0, "dev scales to zero");

  for (const ws of stacks) await ws.mustRun("destroy", "--yes");
  for (const e of [dev, prod]) assert.equal((await runtime.api.get(`/admin/endpoints/${e.id}`)).status, 404);
});
