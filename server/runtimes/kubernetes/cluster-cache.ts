import type { Informer, KubernetesObject, ObjectCache, V1Deployment, V1Pod } from "@kubernetes/client-node";
import type { FastifyBaseLogger } from "fastify";
import type { KubeCluster, WatchedKinds } from "./cluster";

/** How long a failed list or watch waits before it is started again. */
const RESTART_AFTER_MS = 1_000;

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** A pod or Deployment added, changed or deleted (`gone`), with its kind. */
export type WatchedChange = { kind: "pods"; object: V1Pod; gone: boolean } | { kind: "deployments"; object: V1Deployment; gone: boolean };

/**
 * The control plane's Deployments, pods, Secrets and claims, listed once and then kept current by watches, so that
 * a reconcile pass reads memory instead of listing every object of every endpoint each second: what the API
 * server serves follows what changes, not how much exists. A list or watch that fails is started again after a
 * second; meanwhile its objects stay as last seen (the relist settles them), as client-go's informers behave.
 * A pass must not act before every kind has been listed once (`synced`): an empty cache would read as "nothing
 * exists" and every worker as gone.
 */
export class ClusterCache {
  private readonly informers: { [K in keyof WatchedKinds]: Watched<WatchedKinds[K]> };
  private readonly listed = new Set<keyof WatchedKinds>();
  /** Each kind's last failure, until it next starts. */
  private readonly errors = new Map<keyof WatchedKinds, string>();
  private stopped = false;
  private readonly restarts = new Set<NodeJS.Timeout>();

  constructor(cluster: KubeCluster, labelSelector: string, log: FastifyBaseLogger) {
    this.informers = {
      deployments: cluster.informer("deployments", labelSelector),
      pods: cluster.informer("pods", labelSelector),
      secrets: cluster.informer("secrets", labelSelector),
      persistentvolumeclaims: cluster.informer("persistentvolumeclaims", labelSelector),
    };
    for (const kind of Object.keys(this.informers) as Array<keyof WatchedKinds>) {
      const informer = this.informers[kind] as Watched<KubernetesObject>;
      informer.on("error", (err: unknown) => {
        const why = `${kind}: ${(err as Error)?.message ?? String(err)}`;
        this.errors.set(kind, why);
        if (this.stopped) return;
        log.warn({ kind, err: why }, "kubernetes list or watch failed: starting it again");
        const timer = setTimeout(() => {
          this.restarts.delete(timer);
          if (!this.stopped) void this.begin(kind);
        }, RESTART_AFTER_MS);
        this.restarts.add(timer);
      });
    }
  }

  /** Starts every list and watch; resolves once each has been tried (see `synced` for whether they succeeded). */
  async start(): Promise<void> {
    await Promise.all((Object.keys(this.informers) as Array<keyof WatchedKinds>).map((kind) => this.begin(kind)));
  }

  /** Whether every kind has been listed at least once; else why not yet. */
  synced(): { ok: true } | { ok: false; why: string } {
    if (this.listed.size === Object.keys(this.informers).length) return { ok: true };
    return { ok: false, why: [...this.errors.values()].join("; ") || "the first lists have not answered yet" };
  }

  /** Called whenever a pod or Deployment is added, changed or deleted. */
  onChange(listener: (change: WatchedChange) => void): void {
    const follow = <K extends "pods" | "deployments">(kind: K, informer: Watched<WatchedKinds[K]>) => {
      informer.on("add", (object) => listener({ kind, object, gone: false } as WatchedChange));
      informer.on("update", (object) => listener({ kind, object, gone: false } as WatchedChange));
      informer.on("delete", (object) => listener({ kind, object, gone: true } as WatchedChange));
    };
    follow("pods", this.informers.pods);
    follow("deployments", this.informers.deployments);
  }

  deployments = () => this.informers.deployments.list();
  pods = () => this.informers.pods.list();
  secrets = () => this.informers.secrets.list();
  claims = () => this.informers.persistentvolumeclaims.list();

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.restarts) clearTimeout(timer);
    await Promise.all(Object.values(this.informers).map((informer) => informer.stop()));
  }

  /** The informer's start resolves once its list has answered and its watch begun, or once either failed. */
  private async begin(kind: keyof WatchedKinds): Promise<void> {
    this.errors.delete(kind);
    await this.informers[kind].start();
    if (!this.errors.has(kind)) this.listed.add(kind);
  }
}
