/**
 * The labels Berth puts on its containers and volumes, for every writer and reader of them: a control plane finds
 * its workers and volumes by `controlPlane`, and deleting a ControlPlane resource removes whatever carries its id.
 * Renaming one orphans what running installations already labelled (a `pulumi destroy` would leak their workers).
 */
export const LABELS = {
  /** The runtime id of the control plane that owns a worker container or a volume. */
  controlPlane: "berth.control-plane",
  endpoint: "berth.endpoint",
  revision: "berth.revision",
  worker: "berth.worker",
  gpuSimulated: "berth.gpu.simulated",
  volume: "berth.volume",
  sizeGb: "berth.size-gb",
  /** On the container of a control plane the ControlPlane resource installed: that resource's name. */
  controlPlaneContainer: "berth.control-plane-container",
  /** On that control plane's data volume: the same name. */
  controlPlaneData: "berth.control-plane-data",
} as const;
