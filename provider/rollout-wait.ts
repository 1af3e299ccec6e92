import type { adminApi } from "./admin-api";
import { realClock, type Clock } from "./clock";

/** The one admin API call the waiters make, so tests can answer it without a control plane. */
type WorkersReader = Pick<ReturnType<typeof adminApi>, "get">;

interface WorkersView {
  revision: number;
  workers: Array<{ revision: number; state: string }>;
  rollout: { revision: number; state: "done" | "rolling" | "halted"; outdated: number; batchSize: number; reason?: string };
}

const POLL_MS = 500;

/**
 * Waits until the endpoint's workers all run `revision`, printing progress (the dynamic provider host shows
 * the provider's output as diagnostics). Throws with the control plane's reason when the rollout halts, and at
 * the deadline: Pulumi ignores customTimeouts for dynamic resources, so the deadline is Berth's own. The
 * control plane goes on rolling either way, so the next `pulumi up` continues where this one stopped.
 */
export async function waitForRollout(
  api: WorkersReader,
  endpointId: string,
  revision: number,
  timeoutSeconds: number,
  clock: Clock = realClock,
): Promise<void> {
  const deadline = clock.now() + timeoutSeconds * 1000;
  let toReplace: number | undefined;
  let lastLine = "";
  for (;;) {
    const view = await api.get<WorkersView>(`/endpoints/${endpointId}/workers`);
    if (!view) throw new Error(`endpoint ${endpointId} disappeared during its rollout to revision ${revision}`);
    const rollout = view.rollout;
    // Counted from the workers themselves: the control plane reports a new revision's rollout from its next pass on.
    const outdated = view.workers.filter((w) => w.revision < revision).length;
    toReplace ??= outdated;
    if (toReplace > 0) {
      const replaced = Math.max(0, toReplace - outdated);
      const batches = Math.ceil(toReplace / rollout.batchSize);
      const batch = Math.min(batches, Math.floor(replaced / rollout.batchSize) + 1);
      const line = `endpoint ${endpointId}: rolling to revision ${revision}: batch ${batch} of ${batches}, ${replaced} of ${toReplace} workers replaced`;
      if (line !== lastLine && outdated > 0) console.log(line);
      lastLine = line;
    }
    if (rollout.revision >= revision && rollout.state === "halted") {
      throw new Error(`endpoint ${endpointId}: rollout to revision ${revision} halted: ${rollout.reason ?? "no reason given"}`);
    }
    if (rollout.revision >= revision && rollout.state === "done" && outdated === 0) {
      if (toReplace > 0) console.log(`endpoint ${endpointId}: rollout to revision ${revision} done, ${toReplace} workers replaced`);
      return;
    }
    if (clock.now() > deadline) {
      throw new Error(
        `endpoint ${endpointId}: rollout to revision ${revision} not finished after ${timeoutSeconds} s ` +
          `(${outdated} outdated workers left; the control plane keeps rolling, run pulumi up again to wait)`,
      );
    }
    await clock.sleep(POLL_MS);
  }
}

/** Waits until the endpoint has no worker left (it was scaled to zero before its deletion), or the deadline. */
export async function waitForNoWorkers(api: WorkersReader, endpointId: string, timeoutSeconds: number, clock: Clock = realClock): Promise<void> {
  const deadline = clock.now() + timeoutSeconds * 1000;
  for (;;) {
    const view = await api.get<WorkersView>(`/endpoints/${endpointId}/workers`);
    if (!view || view.workers.length === 0) return;
    if (clock.now() > deadline) {
      throw new Error(`endpoint ${endpointId}: ${view.workers.length} workers still draining after ${timeoutSeconds} s`);
    }
    await clock.sleep(POLL_MS);
  }
}
