const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration written the way the CLI and the API take it (30s, 10m, 2h, 1d), in milliseconds; undefined otherwise. */
export function durationMs(text: string): number | undefined {
  const duration = DURATION.exec(text);
  return duration ? Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS] : undefined;
}
