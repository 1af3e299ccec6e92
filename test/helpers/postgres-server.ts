import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { testbedEnv } from "./env";
import { freePort } from "./load-balancer";
import type { TestDatabase } from "./postgres";

/**
 * A PostgreSQL server of a test's own, from the test bed's binaries (Debian's), for a test that stops and starts
 * it: the bed's shared server stays up for everything else. Runs as the `postgres` user (the server refuses
 * root) on 127.0.0.1 only, trusting loopback: it lives for one test in a temporary directory.
 */
export class PostgresServer {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PostgresServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-pg-"));
    execFileSync("chown", ["postgres", dir]);
    const server = new PostgresServer(dir, await freePort());
    server.asPostgres("initdb", ["-D", server.data, "-U", "berth", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]);
    server.start();
    return server;
  }

  /** A database named `name` on it, as the control-plane helper takes one. */
  database(name = "berth"): TestDatabase {
    this.asPostgres("createdb", ["-h", "127.0.0.1", "-p", String(this.port), "-U", "berth", name]);
    return { url: `postgres://berth@127.0.0.1:${this.port}/${name}`, name, drop: async () => undefined };
  }

  start(): void {
    const options = `-c listen_addresses=127.0.0.1 -c port=${this.port} -c unix_socket_directories=''`;
    this.asPostgres("pg_ctl", ["-D", this.data, "-l", path.join(this.dir, "postgres.log"), "-w", "-t", "30", "-o", options, "start"]);
  }

  /** A fast shutdown: open sessions are ended, as an operator's restart does. */
  stop(): void {
    this.asPostgres("pg_ctl", ["-D", this.data, "-m", "fast", "-w", "-t", "30", "stop"]);
  }

  remove(): void {
    try {
      this.stop();
    } catch {
      // Already stopped.
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private get data(): string {
    return path.join(this.dir, "data");
  }

  private asPostgres(program: string, args: string[]): void {
    execFileSync("runuser", ["-u", "postgres", "--", path.join(testbedEnv("BERTH_POSTGRES_BIN"), program), ...args], { stdio: "pipe" });
  }
}
