import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);
const COMMAND_TIMEOUT_MS = 8 * 60_000;

export interface Step {
  step: string;
  seconds: number;
}

/**
 * A shell-like session for following the README as a user does: one environment, commands run in a directory,
 * each timed as a step, and the steps printed as a table for the record.
 */
export class ReadmeSession {
  readonly steps: Step[] = [];
  constructor(readonly env: NodeJS.ProcessEnv) {}

  async step<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    this.steps.push({ step: name, seconds: Number(((performance.now() - started) / 1000).toFixed(1)) });
    return result;
  }

  async run(cwd: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string; code: number }> {
    try {
      const { stdout, stderr } = await exec(command, args, { cwd, env: { ...this.env, ...extraEnv }, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
      return { stdout, stderr, code: 0 };
    } catch (err) {
      const failed = err as Error & { stdout?: string; stderr?: string; code?: number | string };
      if (typeof failed.code !== "number") throw err;
      return { stdout: failed.stdout ?? "", stderr: failed.stderr ?? "", code: failed.code };
    }
  }

  async mustRun(cwd: string, command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
    const result = await this.run(cwd, command, args, extraEnv);
    assert.equal(result.code, 0, `${command} ${args.join(" ")} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }

  /** The steps and their times, a line each. */
  table(title: string): string[] {
    return [title, ...this.steps.map((s) => `${s.step.padEnd(42)} ${s.seconds.toFixed(1).padStart(6)} s`)];
  }
}
