import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { testbedEnv } from "./env";

const PYTHON_WORKERS = path.resolve(__dirname, "../fixtures/python-workers");
const NODE_WORKERS = path.resolve(__dirname, "../fixtures/node-workers");

/** A worker running as a plain local process with the environment the control plane gave it. */
export class WorkerProcess {
  /** Everything the worker printed, one line each (stdout and stderr interleaved). */
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly workerId: string,
    readonly child: ChildProcess,
  ) {
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on("line", (line) => this.lines.push(line));
    }
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  }

  /** A runpod-python worker (the real package from PyPI, installed by the test bed) running `script`. */
  static python(script: string, workerEnv: Record<string, string>, workerId: string): WorkerProcess {
    const env = { ...workerEnv, RUNPOD_DEBUG_LEVEL: "DEBUG" };
    return WorkerProcess.spawn(testbedEnv("BERTH_PYTHON"), ["-u", path.join(PYTHON_WORKERS, script)], env, workerId);
  }

  /** A worker on Berth's Node worker SDK running `test/fixtures/node-workers/<fixture>.ts`. */
  static node(fixture: string, workerEnv: Record<string, string>, workerId: string): WorkerProcess {
    return WorkerProcess.typescript(path.join(NODE_WORKERS, `${fixture}.ts`), workerEnv, workerId);
  }

  /** A TypeScript worker file run through tsx. */
  static typescript(file: string, workerEnv: Record<string, string>, workerId: string): WorkerProcess {
    return WorkerProcess.spawn(process.execPath, ["--import", "tsx", file], workerEnv, workerId);
  }

  /** A plain JavaScript worker run by plain node (no loader), as a user runs one: `node <script>`. */
  static javascript(script: string, workerEnv: Record<string, string>, workerId: string): WorkerProcess {
    return WorkerProcess.spawn(process.execPath, [script], workerEnv, workerId);
  }

  /** Any command, with the same environment handling, output capture and process group as the workers above. */
  static spawn(command: string, args: string[], workerEnv: Record<string, string>, workerId: string): WorkerProcess {
    const child = spawn(command, args, {
      env: { ...process.env, ...workerEnv, RUNPOD_POD_ID: workerId },
      // Not inherited: the test runner reads this process's stdout as its report.
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: runpod-python pings from a child process, which must die with the worker.
      detached: true,
    });
    return new WorkerProcess(workerId, child);
  }

  /** The lines that are JSON objects: the structured logs of either SDK. */
  logs(): Array<Record<string, unknown>> {
    return this.lines.flatMap((line) => {
      try {
        const value = JSON.parse(line);
        return typeof value === "object" && value !== null ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  }

  /** Signals the worker's whole process group, and resolves once the worker itself has exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    try {
      process.kill(-this.child.pid!, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
    return this.exited;
  }
}
