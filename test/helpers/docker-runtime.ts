import fs from "node:fs";
import path from "node:path";
import { LABELS } from "../../docker-engine/labels";
import { ControlPlaneProcess } from "./control-plane";
import { TestDockerEngine } from "./docker-engine";
import { RuntimeHarness } from "./runtime-harness";
import { ensureWorkerImage } from "./worker-image";

/** Settings that make the fleet react within a second or two, so tests need not wait out production defaults. */
export const FAST_FLEET = {
  BERTH_RUNTIME: "docker",
  BERTH_RECONCILE_INTERVAL_MS: "200",
  BERTH_PING_INTERVAL_MS: "1000",
  BERTH_LONG_POLL_MS: "2000",
  BERTH_WORKER_LOST_AFTER_MS: "5000",
  BERTH_SWEEP_INTERVAL_MS: "200",
  BERTH_STOP_GRACE_MS: "2000",
  BERTH_RESTART_BACKOFF_MS: "500",
  BERTH_RESTART_BACKOFF_MAX_MS: "4000",
  BERTH_EXTRA_WORKERS: "0",
};

/**
 * A real control plane running its workers as containers on the test bed's Docker engine, from the test worker
 * image, with a simulated GPU inventory (no GPUs here). `close` also removes the containers it left: a stopped
 * control plane leaves its workers running by design.
 */
export class DockerRuntime extends RuntimeHarness {
  readonly engine = TestDockerEngine.fromEnv();

  private constructor(
    cp: ControlPlaneProcess,
    image: string,
    readonly controlPlaneId: string,
  ) {
    super(cp, image, ["NVIDIA GeForce RTX 4090"]);
  }

  static async start(env: Record<string, string> = {}): Promise<DockerRuntime> {
    const image = await ensureWorkerImage();
    const cp = await ControlPlaneProcess.start({ env: { ...FAST_FLEET, BERTH_SIMULATED_GPUS: "NVIDIA GeForce RTX 4090=8", ...env } });
    const controlPlaneId = fs.readFileSync(path.join(cp.dataDir, "control-plane-id"), "utf8").trim();
    return new DockerRuntime(cp, image, controlPlaneId);
  }

  /** The containers of this control plane (of one endpoint when given), as the engine lists them. */
  containers(endpointId?: string) {
    return this.engine.listContainers({
      [LABELS.controlPlane]: this.controlPlaneId,
      ...(endpointId ? { [LABELS.endpoint]: endpointId } : {}),
    });
  }

  async close(): Promise<void> {
    await this.cp.stop();
    for (const container of await this.containers()) await this.engine.removeContainer(container.Id);
    this.cp.removeData();
  }
}
