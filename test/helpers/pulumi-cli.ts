import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const REPO_ROOT = path.resolve(__dirname, "../..");
const COMMAND_TIMEOUT_MS = 5 * 60_000;

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A copy of a Pulumi program in a temporary directory, with its own file backend, PULUMI_HOME and stack,
 * driven through the real `pulumi` CLI on PATH. The copy resolves packages from this repository's
 * node_modules, and `berth` from this repository, through symlinks.
 */
export class PulumiWorkspace {
  private constructor(
    readonly dir: string,
    private readonly root: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(programDir: string, stack: string): Promise<PulumiWorkspace> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "berth-pulumi-"));
    const dir = path.join(root, "program");
    fs.cpSync(programDir, dir, { recursive: true });
    // node_modules as an installed program has it: this repository's packages, and Berth itself as `berth`
    // (what `npm install <path to berth>` makes), whose exports map leads to the built dist/.
    const modules = path.join(dir, "node_modules");
    fs.mkdirSync(modules);
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, "node_modules"))) {
      fs.symlinkSync(path.join(REPO_ROOT, "node_modules", entry), path.join(modules, entry));
    }
    fs.symlinkSync(REPO_ROOT, path.join(modules, "berth"));
    fs.mkdirSync(path.join(root, "state"));
    const env = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`,
      PULUMI_HOME: path.join(root, "home"),
      PULUMI_CONFIG_PASSPHRASE: "berth-test-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    const workspace = new PulumiWorkspace(dir, root, env);
    await workspace.mustRun("stack", "init", stack);
    return workspace;
  }

  run(...args: string[]): Promise<PulumiResult> {
    return new Promise((resolve, reject) => {
      execFile(
        "pulumi",
        [...args, "--non-interactive", "--color", "never"],
        { cwd: this.dir, env: this.env, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== "number") return reject(err);
          resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
        },
      );
    });
  }

  /** Runs a command that must succeed; on failure the error shows everything the CLI printed. */
  async mustRun(...args: string[]): Promise<PulumiResult> {
    const result = await this.run(...args);
    if (result.code !== 0) {
      throw new Error(`pulumi ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    }
    return result;
  }

  async stackState(): Promise<{ deployment: { resources?: Array<{ type: string; outputs?: Record<string, unknown> }> } }> {
    return JSON.parse((await this.mustRun("stack", "export")).stdout);
  }

  remove(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
