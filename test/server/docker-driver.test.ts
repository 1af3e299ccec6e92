import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, describe, test } from "node:test";
import { ImageUnavailableError, type WorkerSpec } from "../../server/runtimes/docker/container-driver";
import type { GpuDevice } from "../../server/policy/worker-model";
import { containerName, DockerDriver, workerContainerSpec } from "../../server/runtimes/docker/docker-driver";
import { DockerEngineError, splitImageReference } from "../../docker-engine/engine";
import { LABELS } from "../../docker-engine/labels";
import { TestDockerEngine } from "../helpers/docker-engine";
import { eventually } from "../helpers/endpoint";
import { missingImage, testbedEnv } from "../helpers/env";

const engine = TestDockerEngine.fromEnv();
const MiB = 1024 * 1024;

const drivers: DockerDriver[] = [];
const volumes = new Set<string>();

/** A driver for a control plane of its own, whose workers and volumes are removed after the file's tests. */
function newDriver(): DockerDriver {
  const driver = new DockerDriver({ engine, controlPlaneId: `test-${crypto.randomUUID()}` });
  drivers.push(driver);
  return driver;
}

function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A worker of the test bed's Node image running `script` with `node -e`. */
function nodeWorker(script: string, spec: Partial<WorkerSpec> = {}): WorkerSpec {
  return {
    workerId: newId("w"),
    endpointId: "ep-a",
    revision: 1,
    image: testbedEnv("BERTH_NODE_IMAGE"),
    command: ["node", "-e", script],
    env: {},
    gpus: [],
    ...spec,
  };
}

async function logs(workerId: string): Promise<string> {
  return (await engine.containerLogs(containerName(workerId))).stdout;
}

/** Waits until the worker has printed `line`: the script prints it once its signal handlers are in place. */
async function printed(workerId: string, line: string): Promise<void> {
  await eventually(`worker ${workerId} to print ${line}`, async () => ((await logs(workerId)).includes(line) ? true : undefined));
}

/** Runs a worker that prints a file of the volume and exits, and returns what it printed. */
async function readFromVolume(driver: DockerDriver, volumeId: string, file: string): Promise<string> {
  const reader = nodeWorker(`const fs = require("fs"); process.stdout.write(fs.existsSync("${file}") ? fs.readFileSync("${file}", "utf8") : "<none>")`, {
    endpointId: "ep-reader",
    volume: { volumeId, mountPath: "/data" },
  });
  await driver.startWorker(reader);
  assert.equal(await engine.waitContainer(containerName(reader.workerId)), 0);
  const output = await logs(reader.workerId);
  await driver.stopWorker(reader.workerId, 0);
  return output;
}

async function phaseOf(driver: DockerDriver, workerId: string) {
  return (await driver.listWorkers()).find((worker) => worker.workerId === workerId);
}

after(async () => {
  for (const driver of drivers) {
    for (const worker of await driver.listWorkers()) await driver.stopWorker(worker.workerId, 0);
  }
  const cleaner = drivers[0] ?? newDriver();
  for (const volumeId of volumes) await cleaner.removeVolume(volumeId);
});

describe("workerContainerSpec", () => {
  const base = nodeWorker("", { workerId: "w1", endpointId: "ep1", revision: 7, env: { A: "1" } });
  const options = { controlPlaneId: "cp1", networkMode: "host" };
  const gpu = (id: string, simulated: boolean): GpuDevice => ({ id, typeId: "ADA_24", simulated });

  test("real GPUs are requested by device id from the nvidia driver", () => {
    const spec = workerContainerSpec({ ...base, gpus: [gpu("0", false), gpu("GPU-8f", false)] }, options);
    assert.deepEqual(spec.hostConfig?.DeviceRequests, [{ Driver: "nvidia", DeviceIDs: ["0", "GPU-8f"], Capabilities: [["gpu"]] }]);
    assert.deepEqual(spec.env, { A: "1" });
    assert.equal(spec.labels?.[LABELS.gpuSimulated], undefined);
  });

  test("simulated GPUs request no device, and are named in the environment and a label", () => {
    const spec = workerContainerSpec({ ...base, gpus: [gpu("sim-0", true), gpu("sim-1", true)] }, options);
    assert.equal(spec.hostConfig?.DeviceRequests, undefined);
    assert.deepEqual(spec.env, { A: "1", BERTH_SIMULATED_GPUS: "sim-0,sim-1" });
    assert.equal(spec.labels?.[LABELS.gpuSimulated], "true");
  });

  test("no GPUs, no volume, no memory: none of them is set; an init process always is", () => {
    const spec = workerContainerSpec(base, options);
    assert.deepEqual(spec.hostConfig, { NetworkMode: "host", Init: true });
    assert.deepEqual(spec.labels, { [LABELS.controlPlane]: "cp1", [LABELS.endpoint]: "ep1", [LABELS.revision]: "7", [LABELS.worker]: "w1" });
    assert.equal(spec.name, "berth-w1");
  });

  test("the volume is mounted by name and memory is capped without swap", () => {
    const spec = workerContainerSpec({ ...base, memoryBytes: 256 * MiB, volume: { volumeId: "v1", mountPath: "/runpod-volume" } }, options);
    assert.deepEqual(spec.hostConfig?.Mounts, [{ Type: "volume", Source: "berth-vol-v1", Target: "/runpod-volume" }]);
    assert.equal(spec.hostConfig?.Memory, 256 * MiB);
    assert.equal(spec.hostConfig?.MemorySwap, 256 * MiB);
  });
});

test("image references split into repository, tag and registry as the docker CLI reads them", () => {
  assert.deepEqual(splitImageReference("berth/node"), { name: "berth/node", tag: "latest", registry: "docker.io" });
  assert.deepEqual(splitImageReference("berth/node:20"), { name: "berth/node", tag: "20", registry: "docker.io" });
  assert.deepEqual(splitImageReference("reg.example:5000/a/b"), { name: "reg.example:5000/a/b", tag: "latest", registry: "reg.example:5000" });
  assert.deepEqual(splitImageReference("localhost/a@sha256:abc"), { name: "localhost/a", tag: "sha256:abc", registry: "localhost" });
});

describe("DockerDriver on the test bed's engine", () => {
  test("startWorker creates a labelled, named container with the spec's env, command, memory and host network", async () => {
    const driver = newDriver();
    const spec = nodeWorker("setInterval(() => {}, 1000)", { env: { GREETING: "ahoy" }, memoryBytes: 128 * MiB, revision: 4 });
    await driver.startWorker(spec);

    const inspected = await engine.inspectContainer(containerName(spec.workerId));
    assert.ok(inspected);
    assert.equal(inspected.Name, `/berth-${spec.workerId}`);
    assert.deepEqual(inspected.Config.Labels, {
      [LABELS.controlPlane]: driver.controlPlaneId,
      [LABELS.endpoint]: "ep-a",
      [LABELS.revision]: "4",
      [LABELS.worker]: spec.workerId,
    });
    assert.ok(inspected.Config.Env.includes("GREETING=ahoy"));
    assert.deepEqual(inspected.Config.Cmd, spec.command);
    assert.equal(inspected.HostConfig.Memory, 128 * MiB);
    assert.equal(inspected.HostConfig.NetworkMode, "host");

    assert.deepEqual(await driver.listWorkers(), [{ workerId: spec.workerId, endpointId: "ep-a", revision: 4, phase: "running" }]);
    assert.equal(driver.kind, "docker");
    assert.equal(driver.location, engine.host);
    assert.equal(await driver.memoryCapacity(), (await engine.info()).MemTotal);
  });

  test("a control plane neither lists nor touches another's workers", async () => {
    const first = newDriver();
    const second = newDriver();
    const spec = nodeWorker("setInterval(() => {}, 1000)");
    await first.startWorker(spec);

    assert.deepEqual(await second.listWorkers(), []);
    await assert.rejects(second.stopWorker(spec.workerId, 0), /belongs to control plane test-/);
    await assert.rejects(second.startWorker(spec), /belongs to control plane test-/);
    assert.equal((await phaseOf(first, spec.workerId))?.phase, "running");
  });

  test("freeze stops the process in place and resume continues it; both are idempotent", async () => {
    const driver = newDriver();
    const spec = nodeWorker("let n = 0; setInterval(() => console.log(++n), 50)");
    await driver.startWorker(spec);
    await printed(spec.workerId, "3\n");

    await driver.freezeWorker(spec.workerId);
    await driver.freezeWorker(spec.workerId);
    assert.equal((await phaseOf(driver, spec.workerId))?.phase, "paused");
    assert.equal((await engine.inspectContainer(containerName(spec.workerId)))?.State.Paused, true);
    // Frozen, the counter cannot move: wait several of its ticks and check that none came out.
    const frozenAt = await logs(spec.workerId);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await logs(spec.workerId), frozenAt);

    await driver.resumeWorker(spec.workerId);
    await driver.resumeWorker(spec.workerId);
    assert.equal((await phaseOf(driver, spec.workerId))?.phase, "running");
    await eventually("the counter to move on", async () => ((await logs(spec.workerId)).length > frozenAt.length ? true : undefined));
  });

  test("stopWorker lets a process that handles SIGTERM finish, then removes it", async () => {
    const driver = newDriver();
    const volumeId = newId("vol");
    volumes.add(volumeId);
    await driver.ensureVolume({ volumeId, sizeGb: 1 });
    const spec = nodeWorker(
      `process.on("SIGTERM", () => { require("fs").writeFileSync("/data/marker", "terminated cleanly"); process.exit(0); });
       console.log("ready"); setInterval(() => {}, 1000);`,
      { volume: { volumeId, mountPath: "/data" } },
    );
    await driver.startWorker(spec);
    await printed(spec.workerId, "ready");

    const started = Date.now();
    await driver.stopWorker(spec.workerId, 20_000);
    assert.ok(Date.now() - started < 10_000, "it exited on SIGTERM, long before the grace period ended");
    assert.equal(await engine.inspectContainer(containerName(spec.workerId)), undefined);
    assert.equal(await phaseOf(driver, spec.workerId), undefined);
    assert.equal(await readFromVolume(driver, volumeId, "/data/marker"), "terminated cleanly");
  });

  test("stopWorker kills a process that ignores SIGTERM once the grace period is over, also when frozen", async () => {
    const driver = newDriver();
    const spec = nodeWorker(`process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000);`);
    await driver.startWorker(spec);
    await printed(spec.workerId, "ready");
    await driver.freezeWorker(spec.workerId);

    const started = Date.now();
    await driver.stopWorker(spec.workerId, 1000);
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 10_000, `stopped after ${took} ms, expected the 1 s grace period`);
    assert.equal(await engine.inspectContainer(containerName(spec.workerId)), undefined);
  });

  test("stopWorker on a worker that does not exist does nothing", async () => {
    await newDriver().stopWorker(newId("gone"), 1000);
  });

  test("a volume is shared across endpoints by id, refused removal while in use, and removed after", async () => {
    const driver = newDriver();
    const volumeId = newId("vol");
    volumes.add(volumeId);
    await driver.ensureVolume({ volumeId, sizeGb: 5 });
    await driver.ensureVolume({ volumeId, sizeGb: 5 });
    const writer = nodeWorker(`require("fs").writeFileSync("/runpod-volume/shared.txt", "from endpoint a")`, {
      volume: { volumeId, mountPath: "/runpod-volume" },
    });
    await driver.startWorker(writer);
    assert.equal(await engine.waitContainer(containerName(writer.workerId)), 0);

    assert.equal(await readFromVolume(driver, volumeId, "/data/shared.txt"), "from endpoint a");
    await assert.rejects(driver.removeVolume(volumeId), (err: unknown) => err instanceof DockerEngineError && err.message.includes(`berth-vol-${volumeId}`) && /in use/.test(err.message));

    await driver.stopWorker(writer.workerId, 0);
    await driver.removeVolume(volumeId);
    await driver.removeVolume(volumeId);
    // Mounting the id again gets a new, empty volume.
    assert.equal(await readFromVolume(driver, volumeId, "/data/shared.txt"), "<none>");
  });

  test("a command that does not exist: the worker is listed exited 127 with what the init process said", async () => {
    const driver = newDriver();
    const spec = nodeWorker("", { command: ["no-such-binary"] });
    // Docker's init (tini) is PID 1, so the start succeeds and the exec inside fails.
    await driver.startWorker(spec);
    const observed = await eventually("the worker to exit", async () => {
      const worker = await phaseOf(driver, spec.workerId);
      return worker?.phase === "exited" ? worker : undefined;
    });
    assert.equal(observed.exitCode, 127);
    assert.match(observed.reason ?? "", /last output: .*no-such-binary/);

    // A retry with the same worker id replaces the failed container.
    await driver.startWorker({ ...spec, command: ["node", "-e", "setInterval(() => {}, 1000)"] });
    assert.equal((await phaseOf(driver, spec.workerId))?.phase, "running");
  });

  test("a process that exits 3 is listed exited with exit code 3", async () => {
    const driver = newDriver();
    const spec = nodeWorker("process.exit(3)");
    await driver.startWorker(spec);
    const observed = await eventually("the worker to exit", async () => {
      const worker = await phaseOf(driver, spec.workerId);
      return worker?.phase === "exited" ? worker : undefined;
    });
    assert.deepEqual(observed, { workerId: spec.workerId, endpointId: "ep-a", revision: 1, phase: "exited", exitCode: 3 });
  });

  test("a process killed at its memory limit is listed exited, OOM killed", async () => {
    const driver = newDriver();
    // Buffers live outside V8's heap, so the process grows until the container's limit stops it.
    const spec = nodeWorker("const kept = []; for (;;) kept.push(Buffer.alloc(1e6, 1))", { memoryBytes: 64 * MiB });
    await driver.startWorker(spec);
    const observed = await eventually("the worker to be killed", async () => {
      const worker = await phaseOf(driver, spec.workerId);
      return worker?.phase === "exited" ? worker : undefined;
    });
    assert.deepEqual(observed, { workerId: spec.workerId, endpointId: "ep-a", revision: 1, phase: "exited", exitCode: 137, reason: "OOM killed" });
  });

  test("ensureImage accepts a local image and names a missing one with the pull's error", async () => {
    const driver = newDriver();
    await driver.ensureImage(testbedEnv("BERTH_NODE_IMAGE"));
    const missing = missingImage("1");
    await assert.rejects(
      driver.ensureImage(missing),
      (err: unknown) =>
        err instanceof ImageUnavailableError &&
        err.image === missing &&
        err.message.startsWith(`image ${missing} is not available: not found locally, and pulling from ${testbedEnv("BERTH_REGISTRY")} failed: `),
    );
  });

  test("ensureImage pulls a missing image from a registry that answers (the test bed's local registry)", async () => {
    const driver = newDriver();
    const image = `${testbedEnv("BERTH_REGISTRY")}/berth/pull-test:${crypto.randomBytes(4).toString("hex")}`;
    await engine.tagImage(testbedEnv("BERTH_NODE_IMAGE"), image);
    await engine.pushImage(image);
    await engine.removeImage(image);
    assert.equal(await engine.imageExists(image), false, "only the registry has it now");
    await driver.ensureImage(image);
    assert.equal(await engine.imageExists(image), true);
    await engine.removeImage(image);
  });
});
