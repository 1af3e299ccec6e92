/** Restarts of a failing worker: 1 s, 2 s, 4 s ... up to 5 min apart, given up 7 days after the failures began. */
export const RESTART_BACKOFF_BASE_MS = 1_000;
export const RESTART_BACKOFF_MAX_MS = 5 * 60_000;
export const RESTARTS_GIVE_UP_AFTER_MS = 7 * 24 * 60 * 60_000;

export function restartDelayMs(restarts: number, baseMs = RESTART_BACKOFF_BASE_MS, maxMs = RESTART_BACKOFF_MAX_MS): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(restarts, 30));
}
