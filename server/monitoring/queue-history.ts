/** One sample of an endpoint's queue. */
export interface QueueSample {
  /** ms since the epoch */
  t: number;
  queued: number;
  inProgress: number;
}

/**
 * The last minutes of each endpoint's queue depth and jobs in progress, in memory, for the workers view's chart.
 * Not worth a table: it is a picture of now, and a restart starting it afresh loses nothing anyone relies on.
 */
export class QueueHistory {
  private readonly series = new Map<string, QueueSample[]>();

  constructor(private readonly keepMs: number) {}

  record(endpointId: string, sample: QueueSample): void {
    const samples = this.series.get(endpointId) ?? [];
    samples.push(sample);
    const cutoff = sample.t - this.keepMs;
    while (samples.length > 0 && samples[0]!.t < cutoff) samples.shift();
    this.series.set(endpointId, samples);
  }

  of(endpointId: string): QueueSample[] {
    return this.series.get(endpointId) ?? [];
  }

  /** Drops the endpoints not in `keep` (deleted ones). */
  retain(keep: ReadonlySet<string>): void {
    for (const id of this.series.keys()) if (!keep.has(id)) this.series.delete(id);
  }
}
