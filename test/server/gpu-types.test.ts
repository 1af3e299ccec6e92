import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  GPU_POOLS,
  GPU_TYPES,
  gpuType,
  isKnownGpuTypeOrPool,
  kubernetesProductLabel,
  resolveGpuTypeIds,
  suggestGpuId,
} from "../../server/resources/gpu-types";

describe("GPU type table", () => {
  test("has RunPod's pools with their members", () => {
    assert.deepEqual(
      [...GPU_POOLS.keys()].sort(),
      ["ADA_24", "ADA_32_PRO", "ADA_48_PRO", "ADA_80_PRO", "AMPERE_16", "AMPERE_24", "AMPERE_48", "AMPERE_80", "HOPPER_141"],
    );
    assert.deepEqual(GPU_POOLS.get("AMPERE_80"), ["NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB"]);
    assert.deepEqual(GPU_POOLS.get("ADA_24"), ["NVIDIA GeForce RTX 4090"]);
    assert.deepEqual(GPU_POOLS.get("HOPPER_141"), ["NVIDIA H200"]);
    assert.ok(GPU_POOLS.get("ADA_80_PRO")!.includes("NVIDIA H100 80GB HBM3"));
    assert.ok(GPU_POOLS.get("ADA_48_PRO")!.includes("NVIDIA L40S"));
  });

  test("ids are unique and every pool member has the pool's memory or more", () => {
    assert.equal(new Set(GPU_TYPES.map((t) => t.id)).size, GPU_TYPES.length);
    const poolMemory: Record<string, number> = { AMPERE_16: 16, AMPERE_24: 24, ADA_24: 24, ADA_32_PRO: 32, AMPERE_48: 48, ADA_48_PRO: 48, AMPERE_80: 80, ADA_80_PRO: 80, HOPPER_141: 141 };
    for (const type of GPU_TYPES) {
      if (type.pool) assert.ok(type.memoryGb >= poolMemory[type.pool]!, `${type.id} in ${type.pool}`);
    }
  });

  test("product names as nvidia-smi and the Kubernetes label report them", () => {
    const h100 = gpuType("NVIDIA H100 80GB HBM3")!;
    assert.equal(h100.smiName, "NVIDIA H100 80GB HBM3");
    assert.equal(kubernetesProductLabel(h100), "NVIDIA-H100-80GB-HBM3");
    assert.equal(kubernetesProductLabel(gpuType("NVIDIA GeForce RTX 4090")!), "NVIDIA-GeForce-RTX-4090");
    assert.equal(kubernetesProductLabel(gpuType("NVIDIA A100-SXM4-80GB")!), "NVIDIA-A100-SXM4-80GB");
    assert.equal(gpuType("NVIDIA H200")!.memoryGb, 141);
  });
});

describe("known ids", () => {
  test("type ids and pool ids, with or without '-'", () => {
    for (const id of ["NVIDIA L4", "-NVIDIA L4", "AMPERE_24", "-ADA_80_PRO", "NVIDIA A100-SXM4-40GB"]) assert.ok(isKnownGpuTypeOrPool(id), id);
    for (const id of ["", "-", "nvidia l4", "ADA_24 ", "--NVIDIA L4", "AMPERE_99", "H100"]) assert.ok(!isKnownGpuTypeOrPool(id), id);
  });

  test("near misses get a suggestion", () => {
    assert.equal(suggestGpuId("ada_24"), "ADA_24");
    assert.equal(suggestGpuId("nvidia geforce rtx 4090"), "NVIDIA GeForce RTX 4090");
    assert.equal(suggestGpuId("NVIDIA RTX 9999"), undefined);
  });
});

describe("resolveGpuTypeIds", () => {
  test("keeps priority order, expands pools in table order, drops duplicates", () => {
    assert.deepEqual(resolveGpuTypeIds(["NVIDIA H200", "AMPERE_80", "NVIDIA A100-SXM4-80GB", "ADA_24"]), [
      "NVIDIA H200",
      "NVIDIA A100 80GB PCIe",
      "NVIDIA A100-SXM4-80GB",
      "NVIDIA GeForce RTX 4090",
    ]);
  });

  test("'-' excludes a type or a whole pool wherever it appears", () => {
    assert.deepEqual(resolveGpuTypeIds(["-NVIDIA A100 80GB PCIe", "AMPERE_80", "ADA_24"]), ["NVIDIA A100-SXM4-80GB", "NVIDIA GeForce RTX 4090"]);
    assert.deepEqual(resolveGpuTypeIds(["AMPERE_24", "ADA_24", "-AMPERE_24"]), ["NVIDIA GeForce RTX 4090"]);
  });

  test("no inclusions means every known type, less the exclusions", () => {
    assert.deepEqual(resolveGpuTypeIds([]), GPU_TYPES.map((t) => t.id));
    const withoutHopper = resolveGpuTypeIds(["-HOPPER_141"]);
    assert.equal(withoutHopper.length, GPU_TYPES.length - 1);
    assert.ok(!withoutHopper.includes("NVIDIA H200"));
  });

  test("excluding everything included leaves nothing", () => {
    assert.deepEqual(resolveGpuTypeIds(["ADA_24", "-NVIDIA GeForce RTX 4090"]), []);
  });
});
