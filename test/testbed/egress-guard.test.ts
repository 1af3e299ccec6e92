import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { apiClient, createEndpoint } from "../helpers/endpoint";
import { testbedEnv } from "../helpers/env";
import { testKubeConfig } from "../helpers/kube-runtime";
import { WorkerProcess } from "../helpers/worker-process";

const run = promisify(execFile);
const GUARD = path.resolve(__dirname, "../../testbed/egress-guard.sh");
/** TEST-NET-2 (RFC 5737): documentation addresses, routed nowhere, never this machine's or the test bed's. */
const OUTSIDE = "198.51.100.7";
const OUTSIDE_PATTERN = OUTSIDE.replace(/\./g, "\\.");

/** The guard's own checks use a report file of their own, so the attempts they make on purpose do not fail the run. */
function privateReport(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-egress-")), "report.log");
}

/** Runs `script` with the test bed's python; resolves with what it printed and how it exited. */
function python(script: string, env: Record<string, string>, wrapper: string[] = []): Promise<{ code: number | null; out: string }> {
  const command = [...wrapper, testbedEnv("BERTH_PYTHON"), "-c", script];
  const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (out += chunk));
  // "close", not "exit": only then has everything the process printed been read.
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

const DIAL = `
import socket
try:
    socket.create_connection(("${OUTSIDE}", 9), timeout=20)
    print("connected")
except OSError as err:
    print("refused" if err.errno == 111 else f"other {err!r}")
`;

/** Asks a DNS server for each name's A record over UDP; prints "NAME rcode=N a=ADDRESS" ("-" without an answer). */
function dnsQueries(host: string, port: number, names: string[]): string {
  return `
import socket, struct
for name in ${JSON.stringify(names)}:
    query = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query, ("${host}", ${port}))
        reply = s.recv(512)
    answers = struct.unpack(">H", reply[6:8])[0]
    print(f"{name} rcode={reply[3] & 15} a={'.'.join(map(str, reply[-4:])) if answers else '-'}")
`;
}

/** Packets the probe chain has logged so far, over IPv4 and IPv6. */
async function probeCount(): Promise<number> {
  let total = 0;
  for (const tool of ["iptables", "ip6tables"]) {
    const { stdout } = await run(tool, ["-w", "-L", "BERTH-EGRESS-probe", "-v", "-x", "-n"]);
    for (const line of stdout.split("\n")) {
      const fields = line.trim().split(/\s+/);
      if (fields[2] === "LOG") total += Number(fields[0]);
    }
  }
  return total;
}

describe("the egress guard: nothing the suite starts reaches an address off this machine", () => {
  before(() => {
    // The whole suite runs under testbed/egress-guard.sh; without it these checks would prove nothing.
    assert.match(process.env.LD_PRELOAD ?? "", /connect-guard\.so/, "run the suite through scripts/test.sh (the egress guard)");
    assert.ok(process.env.BERTH_EGRESS_CGROUP, "BERTH_EGRESS_CGROUP is set by testbed/egress-guard.sh");
  });

  test("a process that dials out is refused at once, and the guard names it and the address and fails the run", async () => {
    const report = privateReport();
    const dialled = await python(DIAL, { BERTH_EGRESS_REPORT: report });
    assert.match(dialled.out, /^refused$/m);
    const line = fs.readFileSync(report, "utf8");
    assert.match(line, new RegExp(`refused connect to ${OUTSIDE_PATTERN}:9 from pid=\\d+ exe=\\S*python\\S* cmd=\\S*python`));

    const checked = await run("bash", [GUARD, "check", "--report", report]).then(
      () => assert.fail("the guard's check passed a run that dialled out"),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(checked.code, 1);
    assert.match(checked.stderr, new RegExp(`refused connect to ${OUTSIDE_PATTERN}:9`));
    assert.match(checked.stderr, /the egress guard failed the run/);
    // Loopback is the test bed's own: not refused, not reported.
    const local = await python(`import socket\ntry:\n    socket.create_connection(("127.0.0.1", 9))\nexcept OSError as e:\n    print(e.errno)`, {
      BERTH_EGRESS_REPORT: privateReport(),
    });
    assert.match(local.out, /^111$/m, "nothing listens on 127.0.0.1:9: refused by the kernel, not by the guard");
  });

  test("what bypasses the in-process guard (no libc, or in a container) is refused at once by iptables, and logged", async () => {
    const probe = path.join(process.env.BERTH_EGRESS_CGROUP!, "probe", "cgroup.procs");
    const before = await probeCount();
    // A process in the probe group without the LD_PRELOAD layer: only the iptables rules stand in its way.
    const bare = await python(DIAL, {}, ["bash", "-c", `echo $$ > ${probe} && exec env -u LD_PRELOAD "$@"`, "probe"]);
    assert.match(bare.out, /^refused$/m);
    assert.equal(await probeCount(), before + 1);
    const { stdout: kernelLog } = await run("dmesg");
    assert.match(kernelLog, new RegExp(`berth-egress probe: .*DST=${OUTSIDE_PATTERN} .*PROTO=TCP .*DPT=9 `));

    // A container on the host network, as Berth's Docker runtime runs workers, in the probe group.
    const container = await run("docker", [
      "run", "--rm", "--network", "host", "--cgroup-parent", "/berth-egress/probe", testbedEnv("BERTH_BASE_IMAGE"),
      "bash", "-c", `exec 3<>/dev/tcp/${OUTSIDE}/9 && echo connected`,
    ]).then(
      () => assert.fail("a container connected off the machine"),
      (err: { stderr: string }) => err.stderr,
    );
    assert.match(container, /Connection refused/);
    assert.equal(await probeCount(), before + 2);
  });

  test("the real node's cluster DNS answers for Services, refuses any other name without forwarding it, and a refused name fails the run", async () => {
    const [host, port] = testbedEnv("BERTH_CLUSTER_DNS").split(":");
    const canary = `canary-${crypto.randomBytes(4).toString("hex")}.berth-egress-probe.invalid`;
    const service = "kubernetes.default.svc.cluster.local";
    const asked = await python(dnsQueries(host!, Number(port), [canary, service, "no-such-service.default.svc.cluster.local"]), {
      BERTH_EGRESS_REPORT: privateReport(),
    });
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    const clusterIp = (await core.readNamespacedService({ name: "kubernetes", namespace: "default" })).spec?.clusterIP;
    assert.match(asked.out, new RegExp(`^${service} rcode=0 a=${clusterIp!.replace(/\./g, "\\.")}$`, "m"), asked.out);
    assert.match(asked.out, /^no-such-service\.default\.svc\.cluster\.local rcode=3 a=-$/m, "NXDOMAIN for a Service that is not there");
    assert.match(asked.out, new RegExp(`^${canary.replace(/\./g, "\\.")} rcode=5 a=-$`, "m"), "REFUSED for a name off the machine");
    // The canary is logged apart, so this test's own look-up does not fail the run.
    assert.ok(fs.readFileSync(testbedEnv("BERTH_CLUSTER_DNS_LOG"), "utf8").includes(`probe, outside the cluster: ${canary}.`));

    const dnsLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "berth-egress-dns-")), "cluster-dns.log");
    fs.writeFileSync(dnsLog, "2026/12/06 01:00:00 outside the cluster: pypi.org. (TypeA), refused\n");
    const checked = await run("bash", [GUARD, "check", "--report", privateReport(), "--dns-log", dnsLog]).then(
      () => assert.fail("the guard's check passed a run whose pod looked up pypi.org"),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(checked.code, 1);
    assert.match(checked.stderr, /pods looked up names outside the cluster[\s\S]*pypi\.org\./);
    fs.writeFileSync(dnsLog, `2026/12/06 01:00:00 probe, outside the cluster: ${canary}. (TypeA), refused\n`);
    await run("bash", [GUARD, "check", "--report", privateReport(), "--dns-log", dnsLog]);
  });

  describe("runpod-python 1.12's start-up checks", () => {
    let cp: ControlPlaneProcess;
    const workers: WorkerProcess[] = [];
    before(async () => {
      cp = await ControlPlaneProcess.start();
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await cp?.stop();
      cp?.removeData();
    });

    test("turned back on by a template, its network check is refused by the guard and the worker exits 1", async () => {
      const endpoint = await createEndpoint(cp);
      const template = (await apiClient(cp).get(`/admin/endpoints/${endpoint.id}`)).data.templateId;
      const set = await apiClient(cp).patch(`/admin/templates/${template}`, { env: { RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "false" } });
      assert.equal(set.status, 200, JSON.stringify(set.data));
      const env = (await apiClient(cp).get(`/admin/endpoints/${endpoint.id}/worker-env`)).data.env;
      assert.equal(env.RUNPOD_SKIP_AUTO_SYSTEM_CHECKS, "false", "the template's value wins over Berth's default");

      const report = privateReport();
      // Its memory and disk checks come first and would end it the same way on a busy or full machine: off, so
      // the network check is the one that runs.
      const checks = { RUNPOD_MIN_MEMORY_GB: "0", RUNPOD_MIN_DISK_PERCENT: "0" };
      const worker = WorkerProcess.python("worker.py", { ...env, ...checks, BERTH_EGRESS_REPORT: report }, "py-checks-on");
      workers.push(worker);
      const exited = await worker.exited;
      assert.equal(exited.code, 1, worker.lines.join("\n"));
      assert.match(fs.readFileSync(report, "utf8"), /refused connect to 8\.8\.8\.8:53 from pid=\d+ exe=\S*python/);
    });

    test("with Berth's default the checks are skipped, and the worker serves without dialling out", async () => {
      const endpoint = await createEndpoint(cp);
      assert.equal(endpoint.workerEnv.RUNPOD_SKIP_AUTO_SYSTEM_CHECKS, "true");
      const report = privateReport();
      const worker = WorkerProcess.python("worker.py", { ...endpoint.workerEnv, BERTH_EGRESS_REPORT: report }, "py-default");
      workers.push(worker);
      const served = await apiClient(cp).post(`/v2/${endpoint.id}/runsync`, { input: { hello: "air gap" } });
      assert.equal(served.data.status, "COMPLETED", JSON.stringify(served.data));
      assert.deepEqual(served.data.output.echo, { hello: "air gap" });
      assert.ok(worker.lines.some((line) => /RUNPOD_SKIP_AUTO_SYSTEM_CHECKS/.test(line)), "runpod-python says it skipped its checks");
      assert.equal(fs.existsSync(report), false, "nothing was refused");
    });
  });
});
