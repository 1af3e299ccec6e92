import assert from "node:assert/strict";
import { test } from "node:test";
import { LABELS } from "../../docker-engine/labels";

// The one place the label values are spelled out in tests, every other test going through LABELS: containers and
// volumes already running carry these, so a rename must be a deliberate change of this contract (with a migration).
test("Berth's Docker labels keep the values running installations carry", () => {
  assert.deepEqual(LABELS, {
    controlPlane: "berth.control-plane",
    endpoint: "berth.endpoint",
    revision: "berth.revision",
    worker: "berth.worker",
    gpuSimulated: "berth.gpu.simulated",
    volume: "berth.volume",
    sizeGb: "berth.size-gb",
    controlPlaneContainer: "berth.control-plane-container",
    controlPlaneData: "berth.control-plane-data",
  });
});
