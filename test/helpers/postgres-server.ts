import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { testbedEnv } from "./env";
import { freePort } from "./load-balancer";
import type { TestDatabase } from "./postgres";

/** Where a test's own server listens beside 127.0.0.1, and whom it lets in there. */
export interface PostgresReach {
  /** An address of this machine, e.g. the real node's, which pods reach. */
  host: string;
  /** The network its clients come from (CIDR), trusted as loopback is. */
  clients: string;
}

/**
 * A PostgreSQL server of a test's own, from the test bed's binaries (Debian's), for a test that stops and starts
 * it, or that pods must reach: the bed's shared server stays up, on loopback, for everything else. Runs as the
 * `postgres` user (the server refuses root) on 127.0.0.1 (and `reach.host`), trusting loopback (and
 * `reach.clients`): it lives for one test in a temporary directory.
 */
export class PostgresServer {
  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly reach?: PostgresReach,
  ) {}

  static async create(reach?: PostgresReach): Promise<PostgresServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-pg-"));
    execFileSync("chown", ["postgres", dir]);
    const server = new PostgresServer(dir, await freePort(), reach);
    server.asPostgres("initdb", ["-D", server.data, "-U", "berth", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]);
    if (reach) fs.appendFileSync(path.join(server.data, "pg_hba.conf"), `host all all ${reach.clients} trust\n`);
    server.start();
    return server;
  }

  /** A database named `name` on it, as the control-plane helper takes one; its URL names `reach.host` if given. */
  database(name = "berth"): TestDatabase {
    this.asPostgres("createdb", ["-h", "127.0.0.1", "-p", String(this.port), "-U", "berth", name]);
    return { url: `postgres://berth@${this.reach?.host ?? "127.0.0.1"}:${this.port}/${name}`, name, drop: async () => undefined };
  }

  start(): void {
    const listen = ["127.0.0.1", ...(this.reach ? [this.reach.host] : [])].join(",");
    const options = `-c listen_addresses=${listen} -c port=${this.port} -c unix_socket_directories=''`;
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
