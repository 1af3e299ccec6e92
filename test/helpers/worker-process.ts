import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { testbedEnv } from "./env";

const PYTHON_WORKERS = path.resolve(__dirname, "../fixtures/python-workers");
const NODE_WORKERS = path.resolve(__dirname, "../fixtures/node-workers");

/** A worker running as a plain local process with the environment the control plane gave it. */
export class WorkerProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly id: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on("data", (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => this.output.push(chunk.toString()));
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  /** A runpod-python worker (the real package from PyPI, installed by the test bed) running `script`. */
  static python(script: string, workerEnv: Record<string, string>, id: string): WorkerProcess {
    return WorkerProcess.spawn(testbedEnv("BERTH_PYTHON"), ["-u", path.join(PYTHON_WORKERS, script)], workerEnv, id);
  }

  /** A worker on Berth's Node worker SDK running `test/fixtures/node-workers/<fixture>.ts`. */
  static node(fixture: string, workerEnv: Record<string, string>, id: string): WorkerProcess {
    return WorkerProcess.spawn(process.execPath, ["--import", "tsx", path.join(NODE_WORKERS, `${fixture}.ts`)], workerEnv, id);
  }

  private static spawn(command: string, args: string[], workerEnv: Record<string, string>, id: string): WorkerProcess {
    const child = spawn(command, args, {
      env: { ...process.env, ...workerEnv, RUNPOD_POD_ID: id, RUNPOD_DEBUG_LEVEL: "DEBUG" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: runpod-python pings from a child process, which must die with the worker.
      detached: true,
    });
    return new WorkerProcess(id, child);
  }

  /** Signals the worker's whole process group, and resolves once the worker itself has exited. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    try {
      process.kill(-this.child.pid!, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
    return this.exited;
  }
}
