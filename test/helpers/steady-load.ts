import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type runpodSdk from "runpod-sdk";
import { eventually } from "./endpoint";
import type { WorkerProcess } from "./worker-process";

type SdkEndpoint = NonNullable<ReturnType<ReturnType<typeof runpodSdk>["endpoint"]>>;

const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];

/**
 * A client submitting a job through the runpod-sdk every `intervalMs`, as an application does, while a test breaks
 * something underneath it. Keeps the ids it was given (acknowledged) and every answer that was not one (refused).
 */
export class SteadyLoad {
  readonly acknowledged: string[] = [];
  readonly refused: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    readonly endpoint: SdkEndpoint,
    intervalMs = 400,
  ) {
    let n = 0;
    this.loop = (async () => {
      while (this.running) {
        try {
          const run = await endpoint.run({ input: { n: n++ } });
          if (run?.id) this.acknowledged.push(run.id);
          else this.refused.push(JSON.stringify(run));
        } catch (err) {
          this.refused.push(String(err));
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Resolves once `count` more jobs than now have been acknowledged. */
  more(count: number, timeoutMs = 30_000): Promise<true> {
    const target = this.acknowledged.length + count;
    return eventually(`${count} more jobs acknowledged`, () => (this.acknowledged.length >= target ? true : undefined), timeoutMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * Every submission was acknowledged, and every acknowledged job ends COMPLETED, having run exactly once by the
   * workers' run logs (test/fixtures/python-workers/worker.py writes one line per run to BERTH_TEST_RUN_LOG).
   */
  async assertEachCompletedOnce(runLogs: string, workers: WorkerProcess[], timeoutMs = 60_000): Promise<void> {
    assert.deepEqual(this.refused, [], "every /run was acknowledged");
    const statuses = () => Promise.all(this.acknowledged.map((id) => this.endpoint.status(id)));
    let ended = await statuses();
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline && !ended.every((s) => TERMINAL.includes(s.status)); ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      ended = await statuses();
    }
    assert.deepEqual(
      ended.filter((s) => s.status !== "COMPLETED").map((s) => `${s.id}: ${s.status}${"workerId" in s ? ` on ${String(s.workerId)}` : ""}`),
      [],
      `every acknowledged job COMPLETED; the workers said last:\n${workers.map((w) => `${w.workerId} (exit ${w.child.exitCode ?? w.child.signalCode ?? "none yet"}): ${w.lines.slice(-15).join("\n")}`).join("\n")}`,
    );
    const runs = new Map<string, number>();
    for (const file of fs.readdirSync(runLogs)) {
      for (const id of fs.readFileSync(path.join(runLogs, file), "utf8").split("\n").filter(Boolean)) runs.set(id, (runs.get(id) ?? 0) + 1);
    }
    assert.deepEqual(this.acknowledged.filter((id) => runs.get(id) !== 1).map((id) => `${id} ran ${runs.get(id) ?? 0} times`), [], "each ran exactly once");
  }
}
