/**
 * Berth's worker SDK for Node: run a handler as a serverless worker of a RunPod-compatible control plane.
 *
 *   import { start } from "berth/sdk/worker";
 *   start({ handler: async (job) => ({ echoed: job.input }) });
 *
 * It speaks the worker protocol as runpod-python does (job-take, job-done, job-stream, ping, job-stop), so one
 * control plane serves Python and Node workers alike. See sdk/README.md.
 */
export { start } from "./worker";
export { progressUpdate } from "./progress";
export { JobStoppedError } from "./types";
export type { Concurrency, Handler, Job, StartOptions, StopReason, WorkerHandle } from "./types";
export { WorkerConfigError } from "./config";
export { SDK_VERSION } from "./version";
