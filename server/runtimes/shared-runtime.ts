import { readAfterChanges, type SharedStore } from "../cluster/signals";
import type { JobService } from "../jobs/service";
import type { ResourceStore } from "../store/resources";
import type { RuntimeViewRows } from "../store/runtime-views";
import {
  runtimeHealth,
  type EndpointHealth,
  type EndpointWorkersView,
  type ResourceUse,
  type RuntimeDescription,
  type WorkerInfo,
  type WorkerRuntime,
} from "./worker-runtime";

const VIEW_SIGNALS = "berth_runtime_views";
/** How often the leader publishes what its runtime shows: a follower's figures are at most this much older. */
const PUBLISH_EVERY_MS = 1000;

/** One endpoint's view with its workers' latest resource use (the workers view shows both). */
interface Published {
  view: EndpointWorkersView;
  use: Record<string, ResourceUse>;
}

type ViewSignal = { published: true } | { removeVolume: string };

/**
 * What the runtime shows, on every control plane sharing a database, though only the leader runs it: the leader
 * publishes its endpoints' views every second (the ones that changed, in the runtime_views table, then a signal),
 * and the others answer /health, the admin API's worker status (which `pulumi up` waits on) and the workers view
 * from the latest of them. A network volume deleted on a follower is passed to the leader's runtime.
 */
export class SharedRuntime {
  private views = new Map<string, Published>();
  private leading?: { runtime: WorkerRuntime; timer: NodeJS.Timeout; written: Map<string, string>; publishing?: Promise<void> };
  /** Counts signals, so a read of the rows that raced one is made again. */
  private signalsSeen = 0;

  private constructor(
    private readonly rows: RuntimeViewRows,
    private readonly resources: ResourceStore,
    private readonly jobs: JobService,
    private readonly shared: SharedStore,
  ) {}

  static async open(rows: RuntimeViewRows, resources: ResourceStore, jobs: JobService, shared: SharedStore): Promise<SharedRuntime> {
    const runtime = new SharedRuntime(rows, resources, jobs, shared);
    await shared.signals.listen(VIEW_SIGNALS, (message) => runtime.signalled(message as ViewSignal), () => runtime.reloadLogged());
    await runtime.reload();
    return runtime;
  }

  /** This control plane leads now: it publishes `runtime`'s views until `stepDown`. */
  lead(runtime: WorkerRuntime): void {
    this.leading = { runtime, written: new Map(), timer: setInterval(() => this.publishLogged(), PUBLISH_EVERY_MS) };
    this.publishLogged();
  }

  async stepDown(): Promise<void> {
    const leading = this.leading;
    this.leading = undefined;
    if (!leading) return;
    clearInterval(leading.timer);
    await leading.publishing;
  }

  /** What a follower answers with: the leader's views as last published. */
  readonly follower: WorkerRuntime = {
    describe: () => this.description(),
    status: async (endpointId) => this.views.get(endpointId)?.view ?? this.unpublished(endpointId),
    health: (endpointId): Promise<EndpointHealth> => runtimeHealth(this.jobs, this.views.get(endpointId)?.view ?? this.unpublished(endpointId)),
    resourceUse: (workerId) => this.publishedWorker(workerId)?.use ?? { note: "not running" },
    workerInfo: (workerId): WorkerInfo | undefined => {
      const worker = this.publishedWorker(workerId)?.worker;
      return worker && { type: worker.type, gpuTypeId: worker.gpus.typeId, gpuCount: worker.gpus.ids.length };
    },
    removeVolume: (volumeId) => this.shared.signals.send(VIEW_SIGNALS, { removeVolume: volumeId }),
    stop: async () => undefined,
  };

  private description(): RuntimeDescription {
    for (const { view } of this.views.values()) if (view.runtime) return view.runtime;
    return { kind: "unknown", location: "the leading control plane has published nothing yet", gpus: "none" };
  }

  /** An endpoint the leader has not published yet: no workers, and a rollout that is not done. */
  private unpublished(endpointId: string): EndpointWorkersView {
    const revision = this.resources.getEndpoint(endpointId)?.revision ?? 0;
    return {
      endpointId,
      revision,
      runtime: this.description(),
      workers: [],
      throttled: { count: 0 },
      rollout: { revision: 0, state: "rolling", outdated: 0, batchSize: 1, reason: "not reported by the leading control plane yet" },
    };
  }

  private publishedWorker(workerId: string) {
    for (const { view, use } of this.views.values()) {
      const worker = view.workers.find((w) => w.id === workerId);
      if (worker) return { worker, use: use[workerId] };
    }
    return undefined;
  }

  private publishLogged(): void {
    const leading = this.leading;
    if (!leading || leading.publishing) return;
    leading.publishing = this.publish(leading.runtime, leading.written)
      .catch((err: Error) => this.shared.failed(err))
      .finally(() => {
        leading.publishing = undefined;
      });
  }

  /** Writes the views that changed since the last publish, then tells the others to read them. */
  private async publish(runtime: WorkerRuntime, written: Map<string, string>): Promise<void> {
    const changed = [];
    const current = new Set<string>();
    for (const endpoint of this.resources.listEndpoints()) {
      current.add(endpoint.id);
      const view = await runtime.status(endpoint.id);
      const published: Published = { view, use: Object.fromEntries(view.workers.map((w) => [w.id, runtime.resourceUse(w.id)])) };
      const text = JSON.stringify(published);
      if (written.get(endpoint.id) !== text) changed.push({ endpointId: endpoint.id, published: text });
      this.views.set(endpoint.id, published);
    }
    const removed = [...written.keys()].filter((id) => !current.has(id));
    for (const id of [...this.views.keys()]) if (!current.has(id)) this.views.delete(id);
    if (changed.length === 0 && removed.length === 0) return;
    await this.rows.write(changed, removed);
    for (const row of changed) written.set(row.endpointId, row.published);
    for (const id of removed) written.delete(id);
    this.shared.signals.send(VIEW_SIGNALS, { published: true });
  }

  private signalled(message: ViewSignal): void {
    if ("removeVolume" in message) {
      this.leading?.runtime.removeVolume(message.removeVolume);
      return;
    }
    this.signalsSeen++;
    if (!this.leading) this.reloadLogged();
  }

  private reloadLogged(): void {
    this.reload().catch((err: Error) => this.shared.failed(err));
  }

  private async reload(): Promise<void> {
    const rows = await readAfterChanges(() => this.rows.load(), () => this.signalsSeen);
    if (this.leading) return;
    this.views = new Map(rows.map((row) => [row.endpointId, JSON.parse(row.published) as Published]));
  }
}
