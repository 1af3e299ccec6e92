import type { z } from "zod";
import type { endpointHistorySchema, historyEventSchema, historySampleSchema, lastErrorSchema } from "../resources/schemas";

export type HistorySample = z.output<typeof historySampleSchema>;
export type HistoryEvent = z.output<typeof historyEventSchema>;
export type EndpointHistoryView = z.output<typeof endpointHistorySchema>;
export type LastError = z.output<typeof lastErrorSchema>;

/** What is sampled of an endpoint now; the durations of the jobs that ended since the last sample come from `jobEnded`. */
export interface EndpointNow {
  t: number;
  queued: number;
  inProgress: number;
  workers: Record<string, number>;
  rollout: { revision: number; state: string };
}

interface Series {
  samples: HistorySample[];
  events: HistoryEvent[];
  /** Jobs ended since the last sample: their delays and execution times. */
  delays: number[];
  executions: number[];
  lastError: LastError;
  last?: EndpointNow;
}

/**
 * The last hour of each endpoint, in memory, for the workers view's charts: queue depth, workers by state, delay
 * and execution time (p50 and p95 of the jobs that ended in each interval), and the events worth marking on them
 * (the worker count changing, a rollout starting and ending). Not worth a table: a restart starting afresh loses
 * nothing anyone relies on, and with several control planes each shows what it saw.
 */
export class EndpointHistory {
  private readonly series = new Map<string, Series>();

  constructor(private readonly keepMs: number) {}

  jobEnded(endpointId: string, job: { delayMs?: number; executionMs?: number; error?: { at: number; message: string; jobId: string } }): void {
    const series = this.of(endpointId);
    if (job.delayMs !== undefined) series.delays.push(job.delayMs);
    if (job.executionMs !== undefined) series.executions.push(job.executionMs);
    if (job.error) series.lastError = { at: new Date(job.error.at).toISOString(), message: job.error.message, jobId: job.error.jobId };
  }

  /** A worker's own report of why it is unhealthy counts as the endpoint's last error when it is newer. */
  workerFailed(endpointId: string, workerId: string, reason: string, at: number): void {
    const series = this.of(endpointId);
    if (series.lastError?.workerId === workerId && series.lastError.message === reason) return;
    series.lastError = { at: new Date(at).toISOString(), message: reason, workerId };
  }

  record(endpointId: string, now: EndpointNow): void {
    const series = this.of(endpointId);
    series.samples.push({
      t: now.t,
      queued: now.queued,
      inProgress: now.inProgress,
      workers: now.workers,
      jobsEnded: series.executions.length,
      delayMs: percentiles(series.delays),
      executionMs: percentiles(series.executions),
    });
    series.delays = [];
    series.executions = [];
    series.events.push(...eventsBetween(series.last, now));
    series.last = now;
    const cutoff = now.t - this.keepMs;
    while (series.samples.length > 0 && series.samples[0]!.t < cutoff) series.samples.shift();
    while (series.events.length > 0 && series.events[0]!.t < cutoff) series.events.shift();
  }

  view(endpointId: string, sampleMs: number): EndpointHistoryView {
    const series = this.of(endpointId);
    return { endpointId, sampleMs, windowMs: this.keepMs, samples: series.samples, events: series.events };
  }

  lastError(endpointId: string): LastError {
    return this.series.get(endpointId)?.lastError ?? null;
  }

  /** Drops the endpoints not in `keep` (deleted ones). */
  retain(keep: ReadonlySet<string>): void {
    for (const id of this.series.keys()) if (!keep.has(id)) this.series.delete(id);
  }

  private of(endpointId: string): Series {
    let series = this.series.get(endpointId);
    if (!series) {
      series = { samples: [], events: [], delays: [], executions: [], lastError: null };
      this.series.set(endpointId, series);
    }
    return series;
  }
}

/** p50 and p95 (nearest rank) of some durations; null when there are none. */
export function percentiles(values: readonly number[]): { p50: number; p95: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return { p50: rank(0.5), p95: rank(0.95) };
}

/** What changed between two samples that a chart marks: the worker count (a scale event) and the rollout. */
export function eventsBetween(before: EndpointNow | undefined, now: EndpointNow): HistoryEvent[] {
  if (!before) return [];
  const events: HistoryEvent[] = [];
  const count = (n: EndpointNow) => Object.values(n.workers).reduce((sum, k) => sum + k, 0);
  const [from, to] = [count(before), count(now)];
  if (from !== to) events.push({ t: now.t, kind: "scale", text: `${from} → ${to} workers` });
  if (now.rollout.revision !== before.rollout.revision || now.rollout.state !== before.rollout.state) {
    const text =
      now.rollout.state === "done"
        ? `rollout to revision ${now.rollout.revision} done`
        : now.rollout.state === "halted"
          ? `rollout to revision ${now.rollout.revision} halted`
          : `rollout to revision ${now.rollout.revision} started`;
    events.push({ t: now.t, kind: "rollout", text });
  }
  return events;
}
