import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { WorkerProcess } from "./worker-process";

/** Holds a pod's object in the API until its local process has exited, as a kubelet holds it until its containers end. */
const FINALIZER = "test.berth.dev/local-process";
const WORKER_HANDLER = path.resolve(__dirname, "../fixtures/worker-image/handler.ts");
const BERTH_BIN = path.resolve(__dirname, "../../bin/berth");

/**
 * A pod running Berth's control-plane image, run as `bin/berth` with the pod's args. What a cluster would give it
 * is given locally: its service account's token (so its Role really limits it), its port on 127.0.0.1:`localPort`,
 * and, for every pod, the Service's cluster DNS name resolving to that port.
 */
export interface LocalControlPlane {
  image: string;
  localPort: number;
}
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** What happened to one pod's process, for tests to assert on. */
export interface PodRecord {
  startedAt: number;
  /** When the pod was seen terminating and its process got SIGTERM. */
  terminatedAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  /** The environment the process got, from the pod's env and envFrom secrets. */
  env: Record<string, string>;
  /** The local directory standing in for the pod's volume mount, if it has one. */
  volumeDir?: string;
  mountPath?: string;
}

/**
 * The kubelet of the test cluster's fake nodes, for the parts kwok does not do: kwok marks pods Running but runs
 * nothing, so this runs each Running worker pod of a namespace as a local process (the test worker image's
 * handler, the same code as its container) with exactly the environment the pod spec gives it: its env, its
 * envFrom Secret, its own name from the downward API, its Secret volumes' files. Like a kubelet it:
 * - keeps a deleted pod's object until the process has exited (a finalizer), after SIGTERM, so a worker finishes
 *   its job within the grace period;
 * - leaves a process that exits by itself exited: crash loops, their back-off and the reason a pod shows are the
 *   real kubelet's, tested on the test bed's real node (test/runtime/kubernetes-real-pods.test.ts);
 * - mounts a pod's PersistentVolumeClaim: the claim's bound NFS volume is a local directory under `volumeRoot`.
 */
export class LocalKubelet {
  readonly pods = new Map<string, PodRecord>();
  private readonly processes = new Map<string, WorkerProcess>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly core: CoreV1Api;

  constructor(
    private readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    private readonly volumeRoot: string,
    private readonly controlPlane?: LocalControlPlane,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.loop = this.sync().catch((err) => {
        if (!this.stopped) console.error(`local kubelet: ${(err as Error).message}`);
      });
      void this.loop.then(() => {
        if (!this.stopped) this.timer = setTimeout(tick, 100);
      });
    };
    tick();
  }

  /** Kills every process and lets go of every pod, so the namespace can be deleted. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.loop;
    await Promise.all([...this.processes.values()].map((p) => p.kill("SIGKILL")));
    const pods = (await this.core.listNamespacedPod({ namespace: this.namespace })).items;
    for (const pod of pods) if (pod.metadata?.finalizers?.includes(FINALIZER)) await this.release(pod.metadata.name!);
  }

  /** The process serving a pod, while it runs. */
  process(podName: string): WorkerProcess | undefined {
    return this.processes.get(podName);
  }

  private async sync(): Promise<void> {
    const pods = (await this.core.listNamespacedPod({ namespace: this.namespace })).items;
    for (const pod of pods) {
      const name = pod.metadata!.name!;
      const proc = this.processes.get(name);
      if (pod.metadata?.deletionTimestamp) {
        if (proc) {
          const record = this.pods.get(name)!;
          if (record.terminatedAt === undefined) {
            record.terminatedAt = Date.now();
            void proc.kill("SIGTERM");
          }
        } else if (pod.metadata.finalizers?.includes(FINALIZER)) {
          await this.release(name);
        }
        continue;
      }
      const running = pod.status?.phase === "Running" && pod.spec?.nodeName;
      if (running && !proc && !this.pods.has(name)) await this.run(pod);
    }
  }

  private async run(pod: V1Pod): Promise<void> {
    const name = pod.metadata!.name!;
    const { env, volumeDir, mountPath } = await this.environment(pod);
    if (!pod.metadata?.finalizers?.includes(FINALIZER)) {
      await this.core.patchNamespacedPod(
        { namespace: this.namespace, name, body: { metadata: { finalizers: [...(pod.metadata?.finalizers ?? []), FINALIZER] } } },
        mergePatch,
      );
    }
    const proc =
      pod.spec!.containers[0]!.image === this.controlPlane?.image
        ? await this.runControlPlane(pod, env, volumeDir)
        : WorkerProcess.typescript(WORKER_HANDLER, { ...env, ...(volumeDir ? { WORKER_VOLUME_PATH: volumeDir } : {}) }, name);
    this.processes.set(name, proc);
    this.pods.set(name, { startedAt: Date.now(), env, volumeDir, mountPath });
    void proc.exited.then(async ({ code }) => {
      const record = this.pods.get(name)!;
      record.exitedAt = Date.now();
      record.exitCode = code;
      this.processes.delete(name);
      if (this.stopped) return;
      try {
        if (record.terminatedAt !== undefined) await this.release(name);
      } catch (err) {
        console.error(`local kubelet: after pod ${name} exited: ${(err as Error).message}`);
      }
    });
  }

  private async runControlPlane(pod: V1Pod, env: Record<string, string>, dataDir?: string): Promise<WorkerProcess> {
    const args = [...(pod.spec!.containers[0]!.args ?? [])];
    const set = (flag: string, value: string) => {
      const at = args.indexOf(flag);
      if (at >= 0) args[at + 1] = value;
    };
    set("--host", "127.0.0.1");
    set("--port", String(this.controlPlane!.localPort));
    if (dataDir) set("--data-dir", dataDir);
    const kubeconfig = await this.serviceAccountKubeconfig(pod);
    return WorkerProcess.spawn(process.execPath, [BERTH_BIN, ...args], { ...env, BERTH_KUBECONFIG: kubeconfig }, pod.metadata!.name!);
  }

  /** A kubeconfig with the pod's service account token, as the pod's projected token would be. */
  private async serviceAccountKubeconfig(pod: V1Pod): Promise<string> {
    const account = pod.spec?.serviceAccountName ?? "default";
    const request = await this.core.createNamespacedServiceAccountToken({
      namespace: this.namespace,
      name: account,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = this.kubeConfig.getCurrentCluster()!;
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [cluster],
      users: [{ name: account, token: request.status!.token }],
      contexts: [{ name: "pod", cluster: cluster.name, user: account, namespace: this.namespace }],
      currentContext: "pod",
    });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-sa-")), "kubeconfig");
    fs.writeFileSync(file, config.exportConfig());
    return file;
  }

  private async release(name: string): Promise<void> {
    try {
      await this.core.patchNamespacedPod({ namespace: this.namespace, name, body: { metadata: { finalizers: null } } }, mergePatch);
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }

  /** Cluster DNS for the control plane's Service: its in-cluster URL reaches the local control plane's port. */
  private resolveServices(value: string): string {
    if (!this.controlPlane) return value;
    return value.replace(/http:\/\/[a-z0-9.-]+\.svc\.cluster\.local:\d+/g, `http://127.0.0.1:${this.controlPlane.localPort}`);
  }

  /**
   * A Secret volume's files in a local directory, with their mode, as a kubelet projects them; the variables naming
   * files under its mount path name them there.
   */
  private async mountSecrets(pod: V1Pod, env: Record<string, string>): Promise<void> {
    const container = pod.spec!.containers[0]!;
    for (const volume of pod.spec?.volumes ?? []) {
      if (!volume.secret) continue;
      const mountPath = container.volumeMounts?.find((m) => m.name === volume.name)?.mountPath;
      if (!mountPath) continue;
      const secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name: volume.secret.secretName! });
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-secret-volume-"));
      for (const item of volume.secret.items ?? Object.keys(secret.data ?? {}).map((key) => ({ key, path: key }))) {
        fs.writeFileSync(path.join(dir, item.path), Buffer.from(secret.data![item.key]!, "base64"), { mode: volume.secret.defaultMode ?? 0o644 });
      }
      for (const [key, value] of Object.entries(env)) if (value.startsWith(`${mountPath}/`)) env[key] = dir + value.slice(mountPath.length);
    }
  }

  /** The pod's environment as its container would see it, and its network volume as a local directory. */
  private async environment(pod: V1Pod): Promise<{ env: Record<string, string>; volumeDir?: string; mountPath?: string }> {
    const container = pod.spec!.containers[0]!;
    const env: Record<string, string> = {};
    for (const from of container.envFrom ?? []) {
      const secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name: from.secretRef!.name! });
      for (const [key, value] of Object.entries(secret.data ?? {})) env[key] = Buffer.from(value, "base64").toString("utf8");
    }
    for (const variable of container.env ?? []) {
      const from = variable.valueFrom;
      if (variable.value !== undefined) env[variable.name] = this.resolveServices(variable.value);
      else if (from?.fieldRef?.fieldPath === "metadata.name") env[variable.name] = pod.metadata!.name!;
      else if (from?.fieldRef?.fieldPath === "metadata.namespace") env[variable.name] = this.namespace;
      else if (from?.secretKeyRef) {
        const secret = await this.core.readNamespacedSecret({ namespace: this.namespace, name: from.secretKeyRef.name! });
        env[variable.name] = Buffer.from(secret.data![from.secretKeyRef.key]!, "base64").toString("utf8");
      } else throw new Error(`local kubelet: env ${variable.name} of pod ${pod.metadata!.name} uses a source it does not know`);
    }
    for (const [key, value] of Object.entries(env)) env[key] = this.resolveServices(value);
    await this.mountSecrets(pod, env);
    const claim = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    if (!claim) return { env };
    const pvc = await this.core.readNamespacedPersistentVolumeClaim({ namespace: this.namespace, name: claim });
    if (!pvc.spec?.volumeName) throw new Error(`local kubelet: claim ${claim} is not bound, pod ${pod.metadata!.name} cannot start`);
    const pv = await this.core.readPersistentVolume({ name: pvc.spec.volumeName });
    const volumeDir = path.join(this.volumeRoot, pv.spec!.nfs!.path);
    fs.mkdirSync(volumeDir, { recursive: true });
    return { env, volumeDir, mountPath: container.volumeMounts?.[0]?.mountPath };
  }
}
