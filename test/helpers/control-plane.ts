import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import Database from "better-sqlite3";
import { freshDatabase, queryDatabase, type TestDatabase } from "./postgres";

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
  /** Where it keeps everything: SQLite in its data directory (the default) or a fresh PostgreSQL database. */
  store?: StoreKind;
  /** The PostgreSQL database to use (a restart keeps its predecessor's); default a fresh one when `store` is postgres. */
  database?: TestDatabase;
  /** The key of secret env values at rest; default SQLite's own in its data directory, or the database's (below). */
  secretsKeyFile?: string;
  /** The `berth` CLI to run; default this checkout's bin/berth (an installed package's, to test the package). */
  bin?: string;
}

export type StoreKind = "sqlite" | "postgres";

/** Both backends, for suites that must hold on each: `for (const store of STORES) describe(..., store)`. */
export const STORES: readonly StoreKind[] = ["sqlite", "postgres"];

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
    /** Its PostgreSQL database, when it keeps everything there. */
    readonly database: TestDatabase | undefined,
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
    const database = options.database ?? (options.store === "postgres" ? await freshDatabase("control_plane") : undefined);
    const secretsKeyFile = options.secretsKeyFile ?? (database ? secretsKeyFileOf(database) : undefined);
    const storeEnv: Record<string, string> = {
      ...(database ? { BERTH_DATABASE_URL: database.url } : {}),
      ...(secretsKeyFile ? { BERTH_SECRETS_KEY_FILE: secretsKeyFile } : {}),
    };
    const child = spawn(
      process.execPath,
      [options.bin ?? BERTH_BIN, "server", "--port", String(options.port ?? 0), "--data-dir", dataDir, "--api-key", apiKey],
      // No runtime unless a test asks for one: most tests run their workers as local processes. No drain delay at
      // SIGTERM either (no load balancer to tell), unless a test of draining asks for one.
      { env: { ...process.env, BERTH_RUNTIME: "none", BERTH_DRAIN_DELAY_MS: "0", ...storeEnv, ...options.env }, stdio: ["ignore", "pipe", "pipe"] },
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
    return new ControlPlaneProcess(child, url, apiKey, dataDir, database, { ...options, dataDir, apiKey, database, secretsKeyFile }, logs, exited);
  }

  /** The key its secret env values are encrypted with at rest. */
  get secretsKeyFile(): string {
    return this.options.secretsKeyFile ?? path.join(this.dataDir, "secrets.key");
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

  /** Removes its data directory and, on PostgreSQL, its database. */
  async removeData(): Promise<void> {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    await this.database?.drop();
  }

  /** Rows as stored, read straight from its database (SQLite file or PostgreSQL): what a test may check at rest. */
  async query(sql: string, ...params: unknown[]): Promise<Array<Record<string, unknown>>> {
    if (this.database) return queryDatabase(this.database.url, sql, params);
    const db = new Database(path.join(this.dataDir, "berth.db"), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  }
}

/**
 * One secrets key per test database, as an operator keeps one for the replicas sharing a database: every control
 * plane a test starts on it (replicas, restarts) finds the same file.
 */
export function secretsKeyFileOf(database: TestDatabase): string {
  const file = path.join(os.tmpdir(), `berth-secrets-${database.name}.key`);
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  return file;
}

function parseLogLine(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
