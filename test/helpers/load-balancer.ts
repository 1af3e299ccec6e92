import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { testbedEnv } from "./env";

/** One request as HAProxy logged it. */
export interface LoggedRequest {
  status: number;
  method: string;
  uri: string;
  /** The control plane that answered (or <NOSRV>). */
  server: string;
  /** How many times HAProxy tried it again elsewhere. */
  retries: number;
}

/**
 * A real HAProxy (the test bed's, Debian's) in front of several control planes, configured as a production one
 * would be: a server is in rotation while its /readyz answers 200 (checked every 300 ms), and a request whose
 * server dies under it (refused, or closed without an answer) is sent again to another, as replicas expect.
 * Every request is logged as a JSON line, so a test can check that no client was ever answered 5xx.
 */
export class LoadBalancer {
  readonly lines: string[] = [];

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly exited: Promise<unknown>,
  ) {}

  static async start(backends: Array<{ name: string; port: number }>, port?: number): Promise<LoadBalancer> {
    const listen = port ?? (await freePort());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-haproxy-"));
    const config = path.join(dir, "haproxy.cfg");
    fs.writeFileSync(config, haproxyConfig(listen, backends));
    const child = spawn(testbedEnv("BERTH_HAPROXY"), ["-db", "-f", config], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const balancer = new LoadBalancer(`http://127.0.0.1:${listen}`, child, dir, exited);
    for (const stream of [child.stdout!, child.stderr!]) readline.createInterface({ input: stream }).on("line", (line) => balancer.lines.push(line));
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const attempt = () => {
        if (child.exitCode !== null) return reject(new Error(`haproxy exited with ${child.exitCode}:\n${balancer.lines.join("\n")}`));
        const socket = net.connect(listen, "127.0.0.1", () => {
          socket.end();
          resolve();
        });
        socket.on("error", () => (Date.now() > deadline ? reject(new Error(`haproxy did not listen on ${listen}`)) : setTimeout(attempt, 50)));
      };
      attempt();
    });
    return balancer;
  }

  /** The requests it has logged so far. */
  requests(): LoggedRequest[] {
    return this.lines.flatMap((line) => {
      if (!line.startsWith("{")) return [];
      try {
        const logged = JSON.parse(line) as Omit<LoggedRequest, "retries"> & { retries: string };
        return [{ ...logged, retries: Number(logged.retries) }];
      } catch {
        return [];
      }
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    await this.exited;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A port nothing listens on now, for a server that must know its port before it starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function haproxyConfig(port: number, backends: Array<{ name: string; port: number }>): string {
  return [
    "global",
    "  log stdout format raw local0",
    "  maxconn 4096",
    "defaults",
    "  mode http",
    "  log global",
    // %rc reads "+1" when the retry went to another server: a string, parsed below.
    '  log-format "{\\"status\\":%ST,\\"method\\":\\"%HM\\",\\"uri\\":\\"%HU\\",\\"server\\":\\"%s\\",\\"retries\\":\\"%rc\\"}"',
    // The readiness probe of start() connects and sends nothing: not a request.
    "  option dontlognull",
    "  timeout connect 1s",
    "  timeout client 60s",
    "  timeout server 60s",
    "  timeout http-keep-alive 60s",
    // A request whose server dies under it goes to another: Berth's writes are safe to send again (a repeated
    // job-done changes nothing, a repeated take gets the worker's undelivered job), and a /run sent again is a
    // new job whose first copy nobody was told of.
    "  retries 3",
    "  option redispatch 1",
    "  retry-on conn-failure empty-response",
    "frontend berth",
    `  bind 127.0.0.1:${port}`,
    "  default_backend control_planes",
    "backend control_planes",
    "  balance roundrobin",
    "  option httpchk GET /readyz",
    "  http-check expect status 200",
    "  default-server inter 300ms fall 1 rise 1",
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`),
    "",
  ].join("\n");
}
