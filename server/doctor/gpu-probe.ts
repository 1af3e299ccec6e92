import { detectGpuInventory } from "../runtimes/docker/gpu-inventory";
import type { GpuFacts } from "./facts";
import { probe } from "./probe";

/**
 * nvidia-smi takes seconds to answer on a host whose driver is not kept loaded (persistence mode off), and
 * detectGpuInventory gives it 30 s for that reason; doctor waits for it a little longer than that, whatever
 * --timeout says, rather than calling a slow but working driver dead.
 */
const NVIDIA_SMI_BOUND_MS = 35_000;

/** The GPUs nvidia-smi lists, asked exactly as the control plane asks it when no GPUs are declared or simulated. */
export async function probeGpus(): Promise<GpuFacts> {
  const driver = await probe(NVIDIA_SMI_BOUND_MS, async () => {
    const { inventory, warnings } = await detectGpuInventory({});
    if (inventory.source === "none") return { installed: false as const };
    // detectGpuInventory leaves a GPU whose name is not in Berth's table out, with a warning that names it.
    return { installed: true as const, devices: inventory.devices.map(({ id, typeId }) => ({ id, typeId })), unknown: warnings };
  });
  return { driver };
}
