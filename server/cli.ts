import crypto from "node:crypto";
import axios from "axios";
import { Command, Option } from "commander";
import { envName, loadServerConfig } from "./config";
import { startControlPlane } from "./server";

const program = new Command("berth").description("Serverless GPU endpoints on your own hardware");

const configOption = (flag: string, field: string, description: string) =>
  new Option(flag, `${description} (env ${envName(field)})`);

program
  .command("server")
  .description("run the control plane: job API, worker API, admin API")
  .addOption(configOption("--host <address>", "host", "address to listen on; default 127.0.0.1"))
  .addOption(configOption("--port <port>", "port", "port to listen on, 0 for any; default 8910"))
  .addOption(configOption("--data-dir <dir>", "dataDir", "where the SQLite store and keys live; default ~/.local/share/berth"))
  .addOption(configOption("--api-key <key...>", "apiKeys", "API keys for the client and admin APIs (env: comma-separated)"))
  .addOption(configOption("--public-url <url>", "publicUrl", "URL workers use to reach this server; default http://host:port"))
  .addOption(configOption("--log-level <level>", "logLevel", "pino log level; default info"))
  .addOption(configOption("--gpus <list>", "gpus", 'this host\'s GPUs when nvidia-smi cannot list them: "<device id>=<type>[;...]"'))
  .addOption(configOption("--simulated-gpus <list>", "simulatedGpus", 'simulated GPUs for development: "<type>=<count>[;...]"'))
  .addOption(configOption("--runtime <kind>", "runtime", "what runs workers: docker, kubernetes or none; default docker"))
  .addOption(configOption("--kubeconfig <file>", "kubeconfig", "kubernetes: kubeconfig file; default KUBECONFIG, ~/.kube/config or in-cluster"))
  .addOption(configOption("--kube-namespace <ns>", "kubeNamespace", "kubernetes: namespace of the workers; default the pod's or the context's"))
  .addOption(configOption("--kube-storage-class <name>", "kubeStorageClass", "kubernetes: storage class of network volume claims (RWX)"))
  .addOption(configOption("--docker-network <mode>", "dockerNetwork", "network mode of worker containers; default host"))
  .addOption(configOption("--extra-workers <n>", "extraWorkers", "frozen standby workers per endpoint; default 2"))
  .addOption(configOption("--control-plane-id <id>", "controlPlaneId", "its name on the runtime (labels its workers); default a random one kept in the data directory"))
  .action(async (flags: Record<string, unknown>) => {
    const config = loadServerConfig({ ...flags, apiKeys: flags.apiKey });
    const plane = await startControlPlane(config);
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      plane.app.log.info({ signal }, "shutting down");
      plane.close().then(
        () => process.exit(0),
        (err) => {
          plane.app.log.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  });

program
  .command("worker-env")
  .description("print the environment a RunPod-compatible worker needs to serve ENDPOINT from a control plane")
  .argument("<endpoint>", "endpoint id")
  .option("--url <url>", "control plane URL (env BERTH_URL)", process.env.BERTH_URL ?? "http://127.0.0.1:8910")
  .option("--api-key <key>", "API key (env BERTH_API_KEY)", process.env.BERTH_API_KEY)
  .option("--worker-id <id>", "the worker's id (RUNPOD_POD_ID); default a new random one: run once per worker")
  .option("--json", "print a JSON object instead of shell export lines")
  .action(async (endpointId: string, options: { url: string; apiKey?: string; workerId?: string; json?: boolean }) => {
    if (!options.apiKey) throw new Error("an API key is needed: pass --api-key or set BERTH_API_KEY");
    const res = await axios.get(`${options.url.replace(/\/+$/, "")}/admin/endpoints/${encodeURIComponent(endpointId)}/worker-env`, {
      headers: { Authorization: `Bearer ${options.apiKey}` },
      validateStatus: () => true,
    });
    if (res.status !== 200) throw new Error(`${options.url}: HTTP ${res.status}: ${res.data?.message ?? JSON.stringify(res.data)}`);
    // runpod-python pings only when RUNPOD_POD_ID is set, so a worker is always given one.
    const workerId = options.workerId ?? `worker-${crypto.randomBytes(6).toString("hex")}`;
    const env: Record<string, string> = { ...res.data.env, RUNPOD_POD_ID: workerId };
    const shellQuote = (value: string) => `'${value.replace(/'/g, "'\\''")}'`;
    process.stdout.write(
      options.json ? JSON.stringify(env, null, 2) + "\n" : Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(""),
    );
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`berth: ${err.message}\n`);
  process.exit(1);
});
