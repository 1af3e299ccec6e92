import type { adminApi } from "./admin-api";

type AdminApi = ReturnType<typeof adminApi>;

interface WorkersView {
  revision: number;
  workers: Array<{ revision: number; state: string }>;
  rollout: { revision: number; state: "done" | "rolling" | "halted"; outdated: number; batchSize: number; reason?: string };
}

const POLL_MS = 1_000;

/**
 * Waits until the endpoint's workers all run `revision`, printing progress (the dynamic provider host shows
 * the provider's output as diagnostics). Throws with the control plane's reason when the rollout halts, and at
 * the deadline: Pulumi ignores customTimeouts for dynamic resources, so the deadline is Berth's own. The
 * control plane goes on rolling either way, so the next `pulumi up` continues where this one stopped.
 */
export async function waitForRollout(api: AdminApi, endpointId: string, revision: number, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let firstOutdated: number | undefined;
  let lastLine = "";
  for (;;) {
    const view = await api.get<WorkersView>(`/endpoints/${endpointId}/workers`);
    if (!view) throw new Error(`endpoint ${endpointId} disappeared during its rollout to revision ${revision}`);
    const rollout = view.rollout;
    // The control plane reports a new revision's rollout from its next pass on; until then it is not started.
    if (rollout.revision >= revision) {
      if (rollout.state === "done") {
        if (firstOutdated) console.log(`endpoint ${endpointId}: rollout to revision ${revision} done, ${firstOutdated} workers replaced`);
        return;
      }
      if (rollout.state === "halted") {
        throw new Error(`endpoint ${endpointId}: rollout to revision ${revision} halted: ${rollout.reason ?? "no reason given"}`);
      }
      firstOutdated ??= rollout.outdated;
      const replaced = firstOutdated - rollout.outdated;
      const batches = Math.ceil(firstOutdated / rollout.batchSize);
      const batch = Math.min(batches, Math.floor(replaced / rollout.batchSize) + 1);
      const line = `endpoint ${endpointId}: rolling to revision ${revision}: batch ${batch} of ${batches}, ${replaced} of ${firstOutdated} workers replaced`;
      if (line !== lastLine) console.log(line);
      lastLine = line;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `endpoint ${endpointId}: rollout to revision ${revision} not finished after ${timeoutSeconds} s ` +
          `(${rollout.outdated} outdated workers left; the control plane keeps rolling, run pulumi up again to wait)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Waits until the endpoint has no worker left (it was scaled to zero before its deletion), or the deadline. */
export async function waitForNoWorkers(api: AdminApi, endpointId: string, timeoutSeconds: number): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const view = await api.get<WorkersView>(`/endpoints/${endpointId}/workers`);
    if (!view || view.workers.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`endpoint ${endpointId}: ${view.workers.length} workers still draining after ${timeoutSeconds} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
