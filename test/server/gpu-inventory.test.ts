import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { detectGpuInventory } from "../../server/runtimes/docker/gpu-inventory";

const SIMULATED = "--simulated-gpus / BERTH_SIMULATED_GPUS";
const DECLARED = "--gpus / BERTH_GPUS";

/** Asserts detection fails with a message naming the setting and matching each rule. */
async function rejects(options: Parameters<typeof detectGpuInventory>[0], setting: string, ...rules: RegExp[]) {
  await assert.rejects(detectGpuInventory(options), (err: Error) => {
    assert.ok(err.message.startsWith("invalid server configuration:"), err.message);
    assert.ok(err.message.includes(setting), err.message);
    for (const rule of rules) assert.match(err.message, rule);
    return true;
  });
}

describe("simulated GPUs", () => {
  test("numbers devices sim-0, sim-1, ... in the order given, by type id or nvidia-smi name", async () => {
    const { inventory, warnings } = await detectGpuInventory({ simulated: " NVIDIA GeForce RTX 4090=2 ; NVIDIA H100 80GB HBM3=1;" });
    assert.equal(inventory.source, "simulated");
    assert.deepEqual(inventory.devices, [
      { id: "sim-0", typeId: "NVIDIA GeForce RTX 4090", simulated: true },
      { id: "sim-1", typeId: "NVIDIA GeForce RTX 4090", simulated: true },
      { id: "sim-2", typeId: "NVIDIA H100 80GB HBM3", simulated: true },
    ]);
    assert.deepEqual(warnings, []);
  });

  test("bad settings name the setting and the rule", async () => {
    await rejects({ simulated: "" }, SIMULATED, /is empty; expected "<type>=<count>\[;\.\.\.\]"/);
    await rejects({ simulated: " ; " }, SIMULATED, /is empty/);
    await rejects({ simulated: "NVIDIA L4" }, SIMULATED, /entry "NVIDIA L4" is not "<type>=<count>"/);
    await rejects({ simulated: "NVIDIA L4=0" }, SIMULATED, /entry "NVIDIA L4=0": the count must be a whole number from 1 to 64/);
    await rejects({ simulated: "NVIDIA L4=1.5" }, SIMULATED, /the count must be a whole number/);
    await rejects({ simulated: "NVIDIA L4=-1" }, SIMULATED, /the count must be a whole number/);
    await rejects({ simulated: "NVIDIA L4=many" }, SIMULATED, /the count must be a whole number/);
    await rejects({ simulated: "NVIDIA L4=1000000000000" }, SIMULATED, /the count must be a whole number from 1 to 64/);
    await rejects({ simulated: "NVIDIA L4=1;NVIDIA L4=2" }, SIMULATED, /GPU type "NVIDIA L4" is listed twice/);
    await rejects({ simulated: "RTX 4090=1" }, SIMULATED, /unknown GPU type "RTX 4090"; GET \/admin\/gpu-types lists them/);
    await rejects({ simulated: "nvidia geforce rtx 4090=1" }, SIMULATED, /did you mean "NVIDIA GeForce RTX 4090"\?/);
    await rejects({ simulated: "ADA_24=1" }, SIMULATED, /"ADA_24" is a pool; name one of its GPU types: NVIDIA GeForce RTX 4090/);
  });

  test("every bad entry is reported at once, one line each", async () => {
    await assert.rejects(detectGpuInventory({ simulated: "NVIDIA L4=0;H100=1" }), (err: Error) => {
      const lines = err.message.split("\n").slice(1);
      assert.equal(lines.length, 2, err.message);
      for (const line of lines) assert.ok(line.trim().startsWith(`${SIMULATED}: entry `), line);
      return true;
    });
  });
});

describe("declared GPUs", () => {
  test("keeps the ids and order given", async () => {
    const { inventory } = await detectGpuInventory({
      declared: "1=NVIDIA H100 80GB HBM3; 0 = NVIDIA H100 80GB HBM3;GPU-8f1b2c3d-0000-1111-2222-333344445555=NVIDIA L4",
    });
    assert.equal(inventory.source, "declared");
    assert.deepEqual(inventory.devices, [
      { id: "1", typeId: "NVIDIA H100 80GB HBM3", simulated: false },
      { id: "0", typeId: "NVIDIA H100 80GB HBM3", simulated: false },
      { id: "GPU-8f1b2c3d-0000-1111-2222-333344445555", typeId: "NVIDIA L4", simulated: false },
    ]);
  });

  test("bad settings name the setting and the rule", async () => {
    await rejects({ declared: "" }, DECLARED, /is empty; expected "<device id>=<type>\[;\.\.\.\]"/);
    await rejects({ declared: "0" }, DECLARED, /entry "0" is not "<device id>=<type>"/);
    await rejects({ declared: "0=NVIDIA L4;0=NVIDIA L4" }, DECLARED, /device id "0" is listed twice/);
    await rejects({ declared: "=NVIDIA L4" }, DECLARED, /the device id must be an nvidia-smi index or UUID/);
    await rejects({ declared: "gpu 0=NVIDIA L4" }, DECLARED, /the device id must be an nvidia-smi index or UUID/);
    await rejects({ declared: "0,1=NVIDIA L4" }, DECLARED, /the device id must be an nvidia-smi index or UUID/);
    await rejects({ declared: "0=Tesla T4" }, DECLARED, /entry "0=Tesla T4": unknown GPU type "Tesla T4"/);
    await rejects({ declared: "0=NVIDIA L4=2" }, DECLARED, /unknown GPU type "NVIDIA L4=2"/);
  });
});

test("simulated and declared GPUs together are refused", async () => {
  await rejects({ simulated: "NVIDIA L4=1", declared: "0=NVIDIA L4" }, DECLARED, /both set/, /never mixed/);
  await rejects({ simulated: "NVIDIA L4=1", declared: "0=NVIDIA L4" }, SIMULATED);
});

describe("nvidia-smi", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-nvidia-smi-"));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** An executable standing in for nvidia-smi; it refuses any query other than the one Berth makes. */
  const fakeSmi = (name: string, body: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      `#!/bin/sh
if [ "$1" != "--query-gpu=index,uuid,name" ] || [ "$2" != "--format=csv,noheader" ] || [ $# -ne 2 ]; then
  echo "unexpected arguments: $*" >&2; exit 2
fi
${body}
`,
      { mode: 0o755 },
    );
    return file;
  };

  test("lists GPUs by UUID in index order, through the GPU table", async () => {
    const smi = fakeSmi(
      "ok",
      `cat <<'EOF'
1, GPU-22222222-aaaa-bbbb-cccc-000000000001, NVIDIA H100 80GB HBM3
0, GPU-8f1b0000-aaaa-bbbb-cccc-000000000000, NVIDIA H100 80GB HBM3
2, GPU-33333333-aaaa-bbbb-cccc-000000000002, NVIDIA L4
EOF`,
    );
    const { inventory, warnings } = await detectGpuInventory({ nvidiaSmi: smi });
    assert.equal(inventory.source, "nvidia-smi");
    assert.deepEqual(inventory.devices, [
      { id: "GPU-8f1b0000-aaaa-bbbb-cccc-000000000000", typeId: "NVIDIA H100 80GB HBM3", simulated: false },
      { id: "GPU-22222222-aaaa-bbbb-cccc-000000000001", typeId: "NVIDIA H100 80GB HBM3", simulated: false },
      { id: "GPU-33333333-aaaa-bbbb-cccc-000000000002", typeId: "NVIDIA L4", simulated: false },
    ]);
    assert.deepEqual(warnings, []);
  });

  test("leaves out a GPU whose name is not in the table, with a warning", async () => {
    const smi = fakeSmi(
      "unknown",
      `echo "0, GPU-aaaaaaaa-0000-0000-0000-000000000000, Tesla T4"
echo "1, GPU-bbbbbbbb-0000-0000-0000-000000000000, NVIDIA GeForce RTX 4090"`,
    );
    const { inventory, warnings } = await detectGpuInventory({ nvidiaSmi: smi });
    assert.deepEqual(inventory.devices, [{ id: "GPU-bbbbbbbb-0000-0000-0000-000000000000", typeId: "NVIDIA GeForce RTX 4090", simulated: false }]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /GPU 0 \(GPU-aaaaaaaa-0000-0000-0000-000000000000\) is a "Tesla T4", which is not in Berth's GPU table/);
  });

  test("a failing nvidia-smi is an error naming the command and what it said", async () => {
    const smi = fakeSmi("failing", `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver" >&2; exit 9`);
    await assert.rejects(detectGpuInventory({ nvidiaSmi: smi }), (err: Error) => {
      assert.ok(err.message.includes(`${smi} --query-gpu=index,uuid,name --format=csv,noheader failed (exit 9)`), err.message);
      assert.ok(err.message.includes("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"), err.message);
      assert.ok(err.message.includes(DECLARED), err.message);
      return true;
    });
  });

  test("real nvidia-smi prints its failure on stdout: that is quoted when stderr is empty", async () => {
    const smi = fakeSmi("failing-stdout", `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver"; exit 9`);
    await assert.rejects(detectGpuInventory({ nvidiaSmi: smi }), /failed \(exit 9\): NVIDIA-SMI has failed because it couldn't communicate/);
  });

  test("output it cannot read is an error quoting the line", async () => {
    const smi = fakeSmi("garbled", `echo "No devices were found, really"`);
    await assert.rejects(detectGpuInventory({ nvidiaSmi: smi }), /unexpected output line "No devices were found, really"/);
  });

  test("no nvidia-smi: no GPUs, not an error", async () => {
    const { inventory, warnings } = await detectGpuInventory({ nvidiaSmi: path.join(dir, "absent") });
    assert.deepEqual(inventory, { source: "none", devices: [] });
    assert.deepEqual(warnings, []);
  });
});
