// A worker on Berth's Node worker SDK whose handler does real GPU work: a bf16 matrix product loop in PyTorch.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { start } from "../../sdk/worker";

const PY = `
import json, sys, time, torch
n, iters = int(sys.argv[1]), int(sys.argv[2])
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(iters): c = a @ b
torch.cuda.synchronize(); dt = time.perf_counter() - t
print(json.dumps({"device": torch.cuda.get_device_name(0), "n": n, "iters": iters, "seconds": dt, "tflops": 2 * n**3 * iters / dt / 1e12}))
`;

start({
  handler: async (job) => {
    const { n = 8192, iters = 3000 } = (job.input ?? {}) as { n?: number; iters?: number };
    const startedAt = Date.now();
    const { stdout } = await promisify(execFile)("python3", ["-c", PY, String(n), String(iters)], { timeout: 300_000 });
    return { ...JSON.parse(stdout), workerId: process.env.RUNPOD_POD_ID, startedAt, finishedAt: Date.now() };
  },
});
