import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { GpuDevice, GpuInventory, GpuInventorySource } from "../../server/policy/worker-model";
import { describeInventory, placeWorker, type HostCapacity, type Placement } from "../../server/runtimes/docker/placement";

const RTX_4090 = "NVIDIA GeForce RTX 4090";
const L4 = "NVIDIA L4";
const A100_PCIE = "NVIDIA A100 80GB PCIe";
const A100_SXM = "NVIDIA A100-SXM4-80GB";
const H100 = "NVIDIA H100 80GB HBM3";
const GiB = 2 ** 30;

/** An inventory of `[typeId, count]` groups, devices numbered "0", "1", ... across groups (or sim-N). */
function inventory(source: GpuInventorySource, ...groups: Array<[string, number]>): GpuInventory {
  const devices: GpuDevice[] = [];
  for (const [typeId, count] of groups) {
    for (let i = 0; i < count; i++) {
      const n = devices.length;
      devices.push({ id: source === "simulated" ? `sim-${n}` : String(n), typeId, simulated: source === "simulated" });
    }
  }
  return { source, devices };
}

const host = (inv: GpuInventory, inUse: Iterable<string> = [], memory: Partial<HostCapacity> = {}): HostCapacity => ({
  inventory: inv,
  inUse: new Set(inUse),
  memoryInUse: 0,
  ...memory,
});

function placed(result: Placement): GpuDevice[] {
  assert.ok(result.ok, result.ok ? "" : result.reason);
  return result.gpus;
}

function refused(result: Placement): string {
  assert.ok(!result.ok, "expected a refusal");
  return result.reason;
}

describe("placeWorker", () => {
  const mixed = inventory("declared", [H100, 2], [A100_SXM, 2], [RTX_4090, 4]);

  test("takes the first type in priority order, across types and pools", () => {
    const ids = (gpuTypeIds: string[], gpuCount = 1, inUse: string[] = []) =>
      placed(placeWorker({ gpuTypeIds, gpuCount }, host(mixed, inUse))).map((d) => `${d.id} ${d.typeId}`);
    // ADA_24 is the RTX 4090; AMPERE_80 is both A100s, PCIe first (absent here), then SXM.
    assert.deepEqual(ids(["ADA_24", "AMPERE_80"]), [`4 ${RTX_4090}`]);
    assert.deepEqual(ids(["AMPERE_80", "ADA_24"]), [`2 ${A100_SXM}`]);
    assert.deepEqual(ids([L4, H100, "ADA_24"]), [`0 ${H100}`]);
    // Empty means any type, in table order: the RTX 4090 row comes before the A100s and H100s.
    assert.deepEqual(ids([]), [`4 ${RTX_4090}`]);
    // A type with too few free devices is passed over for the next one.
    assert.deepEqual(ids(["AMPERE_80", "ADA_24"], 2, ["3"]), [`4 ${RTX_4090}`, `5 ${RTX_4090}`]);
  });

  test("hands out the earliest free devices in inventory order", () => {
    const gpus = placed(placeWorker({ gpuTypeIds: ["ADA_24"], gpuCount: 2 }, host(mixed, ["4", "6"])));
    assert.deepEqual(gpus.map((d) => d.id), ["5", "7"]);
  });

  test("never mixes types in one worker", () => {
    const inv = inventory("declared", [RTX_4090, 1], [L4, 1]);
    const reason = refused(placeWorker({ gpuTypeIds: [RTX_4090, L4], gpuCount: 2 }, host(inv)));
    assert.equal(
      reason,
      `too few GPUs of one type for 2 x [${RTX_4090}, ${L4}] (a worker's GPUs are all of one type): this host has 1 x ${RTX_4090}, 1 x ${L4}`,
    );
  });

  test("exclusions apply to the pools and lists they appear in", () => {
    const inv = inventory("declared", [L4, 2], [RTX_4090, 1]);
    assert.equal(placed(placeWorker({ gpuTypeIds: ["AMPERE_24", "ADA_24"], gpuCount: 1 }, host(inv)))[0]!.typeId, L4);
    assert.equal(placed(placeWorker({ gpuTypeIds: ["AMPERE_24", "ADA_24", `-${L4}`], gpuCount: 1 }, host(inv)))[0]!.typeId, RTX_4090);
    assert.equal(placed(placeWorker({ gpuTypeIds: [`-${L4}`], gpuCount: 1 }, host(inv)))[0]!.typeId, RTX_4090);
    const reason = refused(placeWorker({ gpuTypeIds: [`-${RTX_4090}`], gpuCount: 2 }, host(inv, ["0"])));
    assert.equal(reason, `no free GPU for 2 x any GPU type but ${RTX_4090}: 1 of 2 ${L4} free (1 held by other workers)`);
  });

  test("never hands out a device twice: place until refused", () => {
    for (const gpuCount of [1, 2, 3]) {
      const inv = inventory("declared", [RTX_4090, 4], [L4, 3], [H100, 2]);
      const inUse = new Set<string>();
      let result: Placement;
      for (;;) {
        result = placeWorker({ gpuTypeIds: ["ADA_24", "AMPERE_24", H100], gpuCount }, host(inv, inUse));
        if (!result.ok) break;
        assert.equal(result.gpus.length, gpuCount);
        assert.equal(new Set(result.gpus.map((d) => d.typeId)).size, 1, "one type per worker");
        for (const device of result.gpus) {
          assert.ok(!inUse.has(device.id), `device ${device.id} handed out twice (gpuCount ${gpuCount})`);
          inUse.add(device.id);
        }
      }
      // Every type is used down to fewer free devices than a worker needs.
      for (const [typeId, total] of [[RTX_4090, 4], [L4, 3], [H100, 2]] as const) {
        if (total < gpuCount) continue;
        assert.equal(total - inv.devices.filter((d) => d.typeId === typeId && inUse.has(d.id)).length, total % gpuCount, typeId);
      }
      assert.match(result.reason, /^no free GPU for /);
      assert.match(result.reason, /held by other workers/);
    }
  });

  test("a busy host says how many devices are free and held", () => {
    const inv = inventory("declared", [RTX_4090, 4], [L4, 2]);
    const reason = refused(placeWorker({ gpuTypeIds: [RTX_4090, L4], gpuCount: 2 }, host(inv, ["0", "1", "2", "4"])));
    assert.equal(
      reason,
      `no free GPU for 2 x [${RTX_4090}, ${L4}]: 1 of 4 ${RTX_4090} free (3 held by other workers), 1 of 2 ${L4} free (1 held by other workers)`,
    );
  });

  test("no allowed type on the host names what it has", () => {
    const inv = inventory("declared", [H100, 2]);
    assert.equal(
      refused(placeWorker({ gpuTypeIds: ["ADA_24"], gpuCount: 1 }, host(inv))),
      `no GPU of an allowed type on this host for 1 x [${RTX_4090}]; it has 2 x ${H100} (declared)`,
    );
  });

  test("simulated GPUs are called simulated in every refusal", () => {
    const inv = inventory("simulated", [H100, 2]);
    const wrongType = refused(placeWorker({ gpuTypeIds: ["ADA_24"], gpuCount: 1 }, host(inv)));
    assert.equal(wrongType, `no GPU of an allowed type on this host for 1 x [${RTX_4090}]; it has 2 x ${H100} (simulated)`);
    const busy = refused(placeWorker({ gpuTypeIds: [H100], gpuCount: 1 }, host(inv, ["sim-0", "sim-1"])));
    assert.equal(busy, `no free GPU for 1 x [${H100}]: 0 of 2 simulated ${H100} free (2 held by other workers)`);
    const tooFew = refused(placeWorker({ gpuTypeIds: [H100], gpuCount: 4 }, host(inv)));
    assert.match(tooFew, new RegExp(`this host has 2 x simulated ${H100}$`));
    const gpus = placed(placeWorker({ gpuTypeIds: [H100], gpuCount: 2 }, host(inv)));
    assert.deepEqual(gpus.map((d) => [d.id, d.simulated]), [["sim-0", true], ["sim-1", true]]);
  });

  test("a host with no GPUs says how to declare them", () => {
    assert.equal(
      refused(placeWorker({ gpuTypeIds: [], gpuCount: 1 }, host({ source: "none", devices: [] }))),
      "this host has no GPUs (nvidia-smi not found); declare them with --gpus, or --simulated-gpus for development",
    );
    assert.match(
      refused(placeWorker({ gpuTypeIds: [], gpuCount: 1 }, host({ source: "nvidia-smi", devices: [] }))),
      /^this host has no GPUs Berth knows: nvidia-smi listed none of a type in its GPU table/,
    );
  });

  test("memory: refused when the free memory is short, or the whole host is", () => {
    const inv = inventory("declared", [L4, 1]);
    const memory = { memoryCapacity: 64 * GiB, memoryInUse: 56 * GiB };
    assert.equal(
      refused(placeWorker({ gpuTypeIds: [L4], gpuCount: 1, memoryBytes: 16 * GiB }, host(inv, [], memory))),
      "not enough memory: needs 16 GiB, 8 GiB of 64 GiB free",
    );
    assert.equal(
      refused(placeWorker({ gpuTypeIds: [L4], gpuCount: 1, memoryBytes: 100 * GiB }, host(inv, [], memory))),
      "not enough memory: needs 100 GiB, more than the 64 GiB this host has for workers",
    );
    // Rounding never shows "needs" at or below "free" when it does not fit.
    assert.equal(
      refused(placeWorker({ gpuTypeIds: [L4], gpuCount: 1, memoryBytes: 8 * GiB + 1 }, host(inv, [], memory))),
      "not enough memory: needs 8.1 GiB, 8 GiB of 64 GiB free",
    );
    assert.equal(placed(placeWorker({ gpuTypeIds: [L4], gpuCount: 1, memoryBytes: 8 * GiB }, host(inv, [], memory))).length, 1);
    // No bound on either side: memory never refuses.
    assert.ok(placeWorker({ gpuTypeIds: [L4], gpuCount: 1 }, host(inv, [], memory)).ok);
    assert.ok(placeWorker({ gpuTypeIds: [L4], gpuCount: 1, memoryBytes: 1024 * GiB }, host(inv, [], { memoryInUse: 0 })).ok);
  });

  test("short of both GPUs and memory: both are said", () => {
    const inv = inventory("declared", [L4, 1]);
    const reason = refused(placeWorker({ gpuTypeIds: [L4], gpuCount: 1, memoryBytes: 16 * GiB }, host(inv, ["0"], { memoryCapacity: 8 * GiB, memoryInUse: 0 })));
    assert.equal(reason, `no free GPU for 1 x [${L4}]: 0 of 1 ${L4} free (1 held by other workers); not enough memory: needs 16 GiB, more than the 8 GiB this host has for workers`);
  });
});

describe("describeInventory", () => {
  test("counts by type in inventory order, then the source", () => {
    assert.equal(describeInventory(inventory("simulated", [RTX_4090, 4], [H100, 2])), `4 x ${RTX_4090}, 2 x ${H100} (simulated)`);
    assert.equal(describeInventory(inventory("nvidia-smi", [A100_PCIE, 1])), `1 x ${A100_PCIE} (nvidia-smi)`);
    assert.equal(describeInventory(inventory("declared", [L4, 3])), `3 x ${L4} (declared)`);
    assert.equal(describeInventory({ source: "none", devices: [] }), "no GPUs (nvidia-smi not found)");
  });
});
