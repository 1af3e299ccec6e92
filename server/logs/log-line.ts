/**
 * One line a worker printed, as the log store keeps it and the logs route answers it. `stream` is "stdout" or
 * "stderr" on Docker, which keeps them apart; "output" on Kubernetes, whose pods/log API merges the two.
 */
export type LogStream = "stdout" | "stderr" | "output";

export interface LogLine {
  workerId: string;
  /** RFC 3339 in UTC with nine fraction digits, so that times compare as strings. */
  time: string;
  stream: LogStream;
  line: string;
}

/** A line before it is known whose it is: what a runtime's collector hands the store. */
export type CollectedLine = Omit<LogLine, "workerId">;

/** Longer lines are cut: one runaway line must not fill an endpoint's whole share of the store. */
export const MAX_LINE_CHARS = 16 * 1024;

/**
 * An RFC 3339 time as the runtimes write it (Docker and the kubelet trim trailing zeros of the fraction:
 * "...05.1Z") with exactly nine fraction digits, in UTC; undefined when it is not one.
 */
export function normalizeTime(text: string): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!match) return undefined;
  const fraction = (match[2] ?? "").padEnd(9, "0");
  if (match[3] === "Z") return `${match[1]}.${fraction}Z`;
  const ms = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z`;
}

/** A time in milliseconds since the epoch, in the store's form. */
export function timeOf(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000000Z`;
}

/**
 * Splits a timestamped log's text into lines, each "<RFC 3339 time> <text>" (Docker's `timestamps=1`, the
 * kubelet's `timestamps=true`). Text may arrive cut anywhere: a line is handed on once its newline has come.
 * A line without a readable time (none should come) gets the time of the line before it.
 */
export class TimestampedLines {
  private partial = "";
  private lastTime: string | undefined;

  constructor(
    private readonly stream: LogStream,
    private readonly now: () => number,
  ) {}

  push(text: string): CollectedLine[] {
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    return parts.map((raw) => this.line(raw));
  }

  /** What is left without its newline, once the stream has ended. */
  end(): CollectedLine[] {
    const rest = this.partial;
    this.partial = "";
    return rest === "" ? [] : [this.line(rest)];
  }

  /** The time of the last line read: where a collector that starts again picks up. */
  get last(): string | undefined {
    return this.lastTime;
  }

  private line(raw: string): CollectedLine {
    const space = raw.indexOf(" ");
    const time = space > 0 ? normalizeTime(raw.slice(0, space)) : normalizeTime(raw);
    const text = time === undefined ? raw : space > 0 ? raw.slice(space + 1) : "";
    const at = time ?? this.lastTime ?? timeOf(this.now());
    this.lastTime = at;
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    return { time: at, stream: this.stream, line: line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}...` : line };
  }
}
