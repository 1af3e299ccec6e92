import { execFile } from "node:child_process";
import path from "node:path";
import type { ApiTarget } from "./endpoint";
import { testbedEnv } from "./env";

const CLIENT = path.resolve(__dirname, "../fixtures/python-clients/client.py");

/**
 * Runs the real runpod Python client (test/fixtures/python-clients/client.py) against a control plane and returns
 * what it printed; `env` adds to its environment (a CA bundle, say). A failure carries the client's stderr.
 */
export function pythonClient(cp: ApiTarget, endpointId: string, action: string, input: unknown, env: Record<string, string> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(
      testbedEnv("BERTH_PYTHON"),
      [CLIENT, endpointId, action, JSON.stringify(input)],
      { env: { ...process.env, RUNPOD_ENDPOINT_BASE_URL: `${cp.url}/v2`, RUNPOD_API_KEY: cp.apiKey, ...env }, timeout: 90_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))),
    );
  });
}
