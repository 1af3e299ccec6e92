import { Option, type Command } from "commander";
import { judge, overall } from "./checks";
import { gatherFacts } from "./gather";
import { jsonReport, textReport } from "./report";

interface DoctorFlags {
  runtime?: "docker" | "kubernetes";
  kubeconfig?: string;
  url?: string;
  apiKey?: string;
  caBundle?: string;
  timeout: string;
  json?: boolean;
}

/**
 * `berth doctor`: checks what this host (or cluster) needs to run Berth and says how to fix what is missing.
 * Exit status 1 when a check FAILs, else 0 (WARNs included), so a provisioning script can gate on it.
 */
export function addDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check what Berth needs here (Docker, NVIDIA driver and container toolkit, GPUs, disk, control plane, cluster) and say how to fix what is missing")
    .addOption(
      new Option("--runtime <kind>", "what will run workers: docker checks this host, kubernetes the cluster (env BERTH_RUNTIME); default docker").choices([
        "docker",
        "kubernetes",
      ]),
    )
    .option("--kubeconfig <file>", "check this cluster too (env BERTH_KUBECONFIG, read with --runtime kubernetes); default KUBECONFIG, ~/.kube/config or in-cluster")
    .option("--url <url>", "control plane to check (env BERTH_URL); not checked without one")
    .option("--api-key <key>", "API key to check against it (env BERTH_API_KEY)")
    .option("--ca-bundle <file>", "PEM file of CAs to trust for an https:// control plane (env BERTH_CA_BUNDLE)")
    .option("--timeout <seconds>", "the most each check may wait for an answer", "10")
    .option("--json", "print the checks as JSON, for scripts")
    .action(async (flags: DoctorFlags) => {
      const env = process.env;
      const timeoutS = Number(flags.timeout);
      if (!(timeoutS > 0)) throw new Error(`--timeout must be a number of seconds above 0, not "${flags.timeout}"`);
      // The server's own settings name the runtime and the cluster, so doctor run beside it checks what it will use.
      // A KUBECONFIG alone does not bring in the cluster checks: many Docker hosts have one for something else.
      const runtime = flags.runtime ?? (env.BERTH_RUNTIME === "kubernetes" ? "kubernetes" : "docker");
      const kubeconfig = flags.kubeconfig ?? (runtime === "kubernetes" ? env.BERTH_KUBECONFIG || undefined : undefined);
      const url = flags.url ?? (env.BERTH_URL || undefined);
      const facts = await gatherFacts({
        runtime,
        kubernetes: runtime === "kubernetes" || flags.kubeconfig !== undefined ? { kubeconfig } : undefined,
        controlPlane: url
          ? { url, apiKey: flags.apiKey ?? (env.BERTH_API_KEY || undefined), caBundle: flags.caBundle ?? (env.BERTH_CA_BUNDLE || undefined) }
          : undefined,
        dockerEnv: env,
        timeoutMs: timeoutS * 1000,
      });
      const checks = judge(facts);
      // Exit at once: a probe that ran out of time may still hold a socket open (a host that never answers).
      const code = overall(checks) === "fail" ? 1 : 0;
      process.stdout.write(flags.json ? jsonReport(checks) : textReport(checks), () => process.exit(code));
    });
}
