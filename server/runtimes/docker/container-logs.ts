import { StringDecoder } from "node:string_decoder";
import type { FastifyBaseLogger } from "fastify";
import type { DockerEngine } from "../../../docker-engine/engine";
import { LogFrameDecoder, type LogStreamKind } from "../../../docker-engine/log-stream";
import { TimestampedLines, type CollectedLine } from "../../logs/log-line";
import type { LogStore } from "../../logs/log-store";

/** One worker container whose log is read. */
export interface LoggedContainer {
  containerId: string;
  workerId: string;
  endpointId: string;
}

/** How long a removal waits for the log of a stopped container to be read to its end. */
const DRAIN_TIMEOUT_MS = 5_000;
/** Between a followed log that ended while its container still runs (a broken connection) and the next try. */
const REFOLLOW_DELAY_MS = 250;

/** States of a container whose process has ended; a created one that failed to start (its Error set) too. */
const ENDED = new Set(["exited", "dead", "removing"]);

/**
 * Reads every worker container's stdout and stderr into the log store as they are written: the Engine API's log,
 * followed, with timestamps. Each container is read from its start (or from the worker's last stored line, for a
 * worker read before this control plane restarted) to its end; then the worker is marked stopped in the store. The
 * driver tells it of each container it starts and each it sees (`sync`), and waits for a stopped container's log
 * (`drained`) before removing it, so a crashed worker's last lines are kept.
 */
export class DockerLogCollector {
  private readonly following = new Map<string, { done: Promise<void>; abort: AbortController }>();
  /** Containers read to their end: not read again while they exist. */
  private readonly finished = new Set<string>();
  private stopping = false;

  constructor(
    private readonly engine: DockerEngine,
    private readonly store: LogStore,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  follow(container: LoggedContainer): void {
    const { containerId } = container;
    if (this.stopping || this.following.has(containerId) || this.finished.has(containerId)) return;
    const abort = new AbortController();
    const done = this.read(container, abort.signal)
      .catch((err: Error) => {
        // Read again on the driver's next look (sync), from the last line kept.
        if (!abort.signal.aborted) this.log.warn({ workerId: container.workerId, err: err.message }, "reading a worker's log failed");
      })
      .finally(() => this.following.delete(containerId));
    this.following.set(containerId, { done, abort });
  }

  /** Every container the driver sees now: each is read, and what is gone is forgotten. */
  sync(containers: LoggedContainer[]): void {
    const seen = new Set(containers.map((c) => c.containerId));
    for (const id of this.finished) if (!seen.has(id)) this.finished.delete(id);
    for (const container of containers) this.follow(container);
  }

  /** Resolves once the container's log has been read to its end (it has stopped), or after a few seconds. */
  async drained(containerId: string): Promise<void> {
    const reading = this.following.get(containerId);
    if (!reading) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([reading.done, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  /** Stops reading (this control plane no longer runs the workers); what was read is kept. */
  async stop(): Promise<void> {
    this.stopping = true;
    const reading = [...this.following.values()];
    for (const { abort } of reading) abort.abort();
    await Promise.all(reading.map((r) => r.done));
  }

  private async read({ containerId, workerId, endpointId }: LoggedContainer, signal: AbortSignal): Promise<void> {
    this.store.workerStarted(endpointId, workerId);
    try {
      for (;;) {
        const body = await this.engine.followContainerLogs(containerId, { since: dockerSince(this.store.lastTime(endpointId, workerId)), signal });
        if (!body) break;
        const after = this.store.lastTime(endpointId, workerId);
        const keep = (lines: CollectedLine[]) => this.store.append(endpointId, workerId, after === undefined ? lines : lines.filter((l) => l.time > after));
        const streams = {
          stdout: { text: new StringDecoder("utf8"), lines: new TimestampedLines("stdout", this.now) },
          stderr: { text: new StringDecoder("utf8"), lines: new TimestampedLines("stderr", this.now) },
        };
        const frames = new LogFrameDecoder((kind: LogStreamKind, payload) => keep(streams[kind].lines.push(streams[kind].text.write(payload))));
        for await (const chunk of body) frames.push(chunk as Buffer);
        for (const stream of Object.values(streams)) keep(stream.lines.push(stream.text.end()).concat(stream.lines.end()));
        const state = (await this.engine.inspectContainer(containerId))?.State;
        if (!state || ENDED.has(state.Status) || (state.Status === "created" && state.Error)) break;
        await new Promise((resolve) => setTimeout(resolve, REFOLLOW_DELAY_MS));
        if (signal.aborted) return this.store.workerStopped(endpointId, workerId);
      }
      this.finished.add(containerId);
      this.store.workerStopped(endpointId, workerId);
    } catch (err) {
      if (signal.aborted) this.store.workerStopped(endpointId, workerId);
      throw err;
    }
  }
}

/** The store's last time as the Engine API's `since` (seconds, with the fraction): undefined reads from the start. */
function dockerSince(time: string | undefined): string | undefined {
  if (time === undefined) return undefined;
  const seconds = Math.floor(Date.parse(time) / 1000);
  return `${seconds}.${time.slice(20, 29)}`;
}
