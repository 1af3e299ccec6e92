/** RunPod's pace: a rolling update replaces 10% of the endpoint's max workers at a time, at least one. */
export function rolloutBatchSize(workersMax: number): number {
  return Math.max(1, Math.ceil(workersMax * 0.1));
}

export interface OutdatedWorker {
  id: string;
  /** Jobs it has in progress now. */
  jobs: number;
  /** Already draining or stopping for this rollout. */
  retiring: boolean;
}

/**
 * Which outdated workers to retire now: at most `batch` replacements in flight at once, idle ones first (they go
 * at once), then running ones (they drain: no new jobs, their current job finishes, then they stop). A replacement
 * is in flight from its outdated worker's retirement until its new-revision worker is up (`starting` counts
 * those still initializing), so the next batch waits for the new revision to prove healthy.
 */
export function pickRetirees(outdated: readonly OutdatedWorker[], batch: number, starting = 0): string[] {
  const inFlight = outdated.filter((w) => w.retiring).length + starting;
  const candidates = outdated.filter((w) => !w.retiring).sort((a, b) => a.jobs - b.jobs);
  return candidates.slice(0, Math.max(0, batch - inFlight)).map((w) => w.id);
}
