import { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { V1Pod } from "@kubernetes/client-node";
import type { FastifyBaseLogger } from "fastify";
import { TimestampedLines, type CollectedLine } from "../../logs/log-line";
import type { LogStore } from "../../logs/log-store";
import type { KubeCluster } from "./cluster";
import { LABEL, WORKER_CONTAINER } from "./manifests";

/** Between a followed log that ended while its container still runs (a broken connection) and the next try. */
const REFOLLOW_DELAY_MS = 250;
/** After a log that could not be read (a node that serves none), the next try waits this long, doubling to a minute. */
const RETRY_AFTER_FAILURE_MS = 1_000;
const RETRY_AFTER_FAILURE_MAX_MS = 60_000;

interface Reading {
  endpointId: string;
  containerId: string;
  abort?: AbortController;
}

/**
 * Reads every worker pod's log into the log store as it is written: pods/log, followed, with timestamps. The
 * Kubernetes logs API merges a container's stdout and stderr, so every line is stream "output". A pod is read
 * from each start of its container (a crash-looping one, from where the last reading ended) to the end; the worker
 * is marked stopped once its pod is gone. Told of pods by the runtime's watch (`podChanged`).
 */
export class PodLogCollector {
  private readonly following = new Map<string, Reading>();
  /** Each pod as last seen; absent once deleted. */
  private readonly latest = new Map<string, V1Pod>();
  /** The container (by its runtime id) of each pod whose log was read to its end. */
  private readonly finished = new Map<string, string>();
  private readonly done = new Set<Promise<void>>();
  /** Pods whose log could not be read, with how many times in a row. */
  private readonly failures = new Map<string, number>();
  private stopping = false;
  /** Aborted at stop: ends the waits between tries at once. */
  private readonly stopped = new AbortController();

  constructor(
    private readonly cluster: KubeCluster,
    private readonly store: LogStore,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  podChanged(pod: V1Pod, gone: boolean): void {
    const name = pod.metadata?.name;
    const endpointId = pod.metadata?.labels?.[LABEL.endpoint];
    if (!name || !endpointId || this.stopping) return;
    if (gone) {
      this.latest.delete(name);
      this.finished.delete(name);
      this.failures.delete(name);
      if (!this.following.has(name) && this.store.hasWorker(endpointId, name)) this.store.workerStopped(endpointId, name);
      return;
    }
    this.latest.set(name, pod);
    this.followIfStarted(name, endpointId);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    for (const reading of this.following.values()) reading.abort?.abort();
    await Promise.all([...this.done]);
  }

  private followIfStarted(name: string, endpointId: string): void {
    const container = started(this.latest.get(name));
    if (!container || this.following.has(name) || this.finished.get(name) === container.id) return;
    const reading: Reading = { endpointId, containerId: container.id };
    this.following.set(name, reading);
    const done = this.read(name, reading)
      .then(
        () => this.failures.delete(name),
        (err: Error) => {
          const failures = (this.failures.get(name) ?? 0) + 1;
          this.failures.set(name, failures);
          if (!this.stopping && failures === 1) this.log.warn({ workerId: name, err: err.message }, "reading a worker pod's log failed: trying again, less and less often");
        },
      )
      .then(() => this.ended(name, reading))
      .finally(() => this.done.delete(done));
    this.done.add(done);
  }

  private async read(name: string, reading: Reading): Promise<void> {
    const { endpointId } = reading;
    this.store.workerStarted(endpointId, name);
    const after = this.store.lastTime(endpointId, name);
    const lines = new TimestampedLines("output", this.now);
    const text = new StringDecoder("utf8");
    const keep = (taken: CollectedLine[]) => this.store.append(endpointId, name, after === undefined ? taken : taken.filter((l) => l.time > after));
    let ended!: () => void;
    const finished = new Promise<void>((resolve) => (ended = resolve));
    const out = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        keep(lines.push(text.write(chunk)));
        callback();
      },
      final(callback) {
        ended();
        callback();
      },
    });
    out.on("close", ended);
    // The client pipes the response into `out` without listening for its errors, and an abort (or a broken
    // connection) emits one on it: unheard, that would throw out of the event loop.
    out.on("pipe", (response: NodeJS.ReadableStream) => response.on("error", ended));
    // pods/log takes whole seconds: the lines of that second read before are skipped by time.
    reading.abort = await this.cluster.followPodLog(name, WORKER_CONTAINER, out, after && `${after.slice(0, 19)}Z`);
    if (this.stopping) reading.abort.abort();
    reading.abort.signal.addEventListener("abort", ended);
    await finished;
    keep(lines.push(text.end()).concat(lines.end()));
  }

  /** A reading ended: the pod is gone (stopped), its container ended (read to the end), or the connection broke. */
  private async ended(name: string, reading: Reading): Promise<void> {
    this.following.delete(name);
    if (this.stopping) return this.store.workerStopped(reading.endpointId, name);
    const pod = this.latest.get(name);
    if (!pod) return this.store.workerStopped(reading.endpointId, name);
    const container = started(pod);
    if (container?.id === reading.containerId && container.terminated) {
      this.finished.set(name, reading.containerId);
      return;
    }
    const failures = this.failures.get(name) ?? 0;
    const delay = failures === 0 ? REFOLLOW_DELAY_MS : Math.min(RETRY_AFTER_FAILURE_MS * 2 ** (failures - 1), RETRY_AFTER_FAILURE_MAX_MS);
    await new Promise<void>((resolve) => {
      const early = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.stopped.signal.removeEventListener("abort", early);
        resolve();
      }, delay);
      this.stopped.signal.addEventListener("abort", early, { once: true });
    });
    if (this.stopping) this.store.workerStopped(reading.endpointId, name);
    else this.followIfStarted(name, reading.endpointId);
  }
}

/** The worker container of a pod once it has started (running, or ended since), by its runtime id. */
function started(pod: V1Pod | undefined): { id: string; terminated: boolean } | undefined {
  const status = pod?.status?.containerStatuses?.find((c) => c.name === WORKER_CONTAINER);
  if (!status?.containerID || !(status.state?.running || status.state?.terminated)) return undefined;
  return { id: status.containerID, terminated: status.state.terminated !== undefined };
}
