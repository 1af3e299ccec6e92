import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const BERTH_BIN = path.resolve(__dirname, "../../bin/berth");
const START_TIMEOUT_MS = 30_000;

export interface ControlPlaneOptions {
  /** BERTH_* settings, e.g. { BERTH_WORKER_LOST_AFTER_MS: "2000" }. */
  env?: Record<string, string>;
  /** Reuse a data directory (a restart); default a new temporary one. */
  dataDir?: string;
  /** A fixed port, so workers find a restarted server where they left it; default any free one. */
  port?: number;
  apiKey?: string;
}

/**
 * A real `berth server` process on an ephemeral loopback port, for tests. Its structured log lines are kept
 * in `logs` so tests can assert on them (and on what must never appear in them).
 */
export class ControlPlaneProcess {
  readonly logs: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
    readonly apiKey: string,
    readonly dataDir: string,
    private readonly options: ControlPlaneOptions,
    logs: string[],
    exited: Promise<number | null>,
  ) {
    this.logs = logs;
    this.exited = exited;
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlaneProcess> {
    const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "berth-cp-"));
    const apiKey = options.apiKey ?? "test-" + crypto.randomBytes(16).toString("hex");
    const child = spawn(
      process.execPath,
      [BERTH_BIN, "server", "--port", String(options.port ?? 0), "--data-dir", dataDir, "--api-key", apiKey],
      // No runtime unless a test asks for one: most tests run their workers as local processes.
      { env: { ...process.env, BERTH_RUNTIME: "none", ...options.env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const logs: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.stderr!.on("data", (chunk: Buffer) => logs.push(chunk.toString()));

    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`berth server did not start in ${START_TIMEOUT_MS} ms:\n${logs.join("\n")}`)), START_TIMEOUT_MS);
      exited.then((code) => reject(new Error(`berth server exited with ${code} before listening:\n${logs.join("\n")}`)));
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        logs.push(line);
        const entry = parseLogLine(line);
        if (entry?.msg === "control plane listening") {
          clearTimeout(timer);
          resolve(String(entry.url));
        }
      });
    });
    return new ControlPlaneProcess(child, url, apiKey, dataDir, { ...options, dataDir, apiKey }, logs, exited);
  }

  /** Structured log entries so far. */
  entries(): Array<Record<string, unknown>> {
    return this.logs.flatMap((line) => line.split("\n")).map(parseLogLine).filter((e): e is Record<string, unknown> => e !== undefined);
  }

  /** SIGTERM, then the exit code once it has shut down. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** A new process on the same data directory, key and port. */
  restart(env?: Record<string, string>): Promise<ControlPlaneProcess> {
    return ControlPlaneProcess.start({
      ...this.options,
      dataDir: this.dataDir,
      apiKey: this.apiKey,
      port: Number(new URL(this.url).port),
      env: { ...this.options.env, ...env },
    });
  }

  removeData(): void {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
