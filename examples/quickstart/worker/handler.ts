// The quickstart's worker: a handler on Berth's Node worker SDK. It greets, and says which worker and GPUs ran it.
import fs from "node:fs";
import { start } from "berth/sdk/worker";

start({
  handler: async (job) => {
    const { name = "world" } = (job.input ?? {}) as { name?: string };
    return {
      message: `${process.env.GREETING ?? "Hello"}, ${name}!`,
      worker: process.env.RUNPOD_POD_ID,
      gpus: process.env.BERTH_SIMULATED_GPUS ?? process.env.NVIDIA_VISIBLE_DEVICES ?? "none",
      volumeMounted: fs.existsSync("/runpod-volume"),
    };
  },
});
