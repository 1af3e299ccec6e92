/** An endpoint's scaling settings (its spec's fields of the same names). */
export interface ScalingSpec {
  workersMin: number;
  workersMax: number;
  scalerType: "QUEUE_DELAY" | "REQUEST_COUNT";
  scalerValue: number;
  /** Seconds a flex worker may stay idle before it stops. */
  idleTimeout: number;
}

/** What the autoscaler needs to know about an endpoint's queue. */
export interface QueueStats {
  /** Jobs waiting (low-priority ones not counted). */
  queued: number;
  /** Queued jobs that have waited longer than the endpoint's scalerValue seconds. */
  delayed: number;
  inProgress: number;
}

/** The workers that serve an endpoint now (not frozen, draining or failed), by what they are doing. */
export interface ServingCounts {
  initializing: number;
  idle: number;
  running: number;
}

/**
 * How many serving workers the endpoint should have, by RunPod's rules:
 * - never fewer than workersMin (active workers), never more than workersMax;
 * - REQUEST_COUNT: ceil((queued + in progress) / scalerValue);
 * - QUEUE_DELAY: one more worker for each queued job that has waited longer than scalerValue seconds and that no
 *   idle or starting worker is about to take;
 * - either way, a queued job on an endpoint with no serving worker starts one at once: waiting scalerValue
 *   seconds before the first worker would make every cold start that much slower.
 * Low-priority jobs are not counted in `queue` (see JobStore.queueStats), so they never scale an endpoint up.
 * Scaling down is not decided here: idle flex workers stop after idleTimeout (idleWorkersToStop).
 */
export function desiredServing(spec: ScalingSpec, queue: QueueStats, serving: ServingCounts): number {
  const current = serving.initializing + serving.idle + serving.running;
  let demand: number;
  if (spec.scalerType === "REQUEST_COUNT") {
    demand = Math.ceil((queue.queued + queue.inProgress) / spec.scalerValue);
  } else {
    demand = current + Math.max(0, queue.delayed - serving.idle - serving.initializing);
  }
  if (queue.queued > 0 && current === 0) demand = Math.max(demand, 1);
  return Math.min(spec.workersMax, Math.max(spec.workersMin, demand, Math.min(current, spec.workersMax)));
}

/**
 * How far the autoscaler needs queued and delayed jobs counted: beyond a job for every worker the endpoint may have
 * and every worker it has (times scalerValue for REQUEST_COUNT), no decision above changes. Counting no further keeps
 * an autoscaler pass as cheap with a million queued jobs as with a hundred.
 */
export function queueCountCap(spec: ScalingSpec, workers: number): number {
  return Math.max(1, (spec.workersMax + workers) * Math.max(1, Math.ceil(spec.scalerValue)));
}

/**
 * The workers to stop for having nothing to do: flex workers idle for longer than idleTimeout, longest idle
 * first, as long as the endpoint keeps its floor of serving workers: workersMin, or REQUEST_COUNT's demand.
 */
export function idleWorkersToStop(
  spec: ScalingSpec,
  queue: Pick<QueueStats, "queued" | "inProgress">,
  servingCount: number,
  idleFlex: ReadonlyArray<{ id: string; idleSince: number }>,
  now: number,
): string[] {
  const floor = spec.scalerType === "REQUEST_COUNT" ? Math.ceil((queue.queued + queue.inProgress) / spec.scalerValue) : 0;
  const expired = idleFlex.filter((w) => now - w.idleSince >= spec.idleTimeout * 1000).sort((a, b) => a.idleSince - b.idleSince);
  return expired.slice(0, Math.max(0, servingCount - Math.max(floor, spec.workersMin))).map((w) => w.id);
}
