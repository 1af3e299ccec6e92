import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import axios from "axios";
import { adminApi, configure } from "../../provider/admin-api";
import { adminClient, connectionFrom } from "../../provider/connection";
import { caBundleAgent } from "../../server/ca-bundle";
import { loadServerConfig } from "../../server/config";
import { readTlsPair } from "../../server/tls";
import { ControlPlaneProcess } from "../helpers/control-plane";
import { createEndpoint, eventually, type ApiTarget, type TestEndpoint } from "../helpers/endpoint";
import { pythonClient } from "../helpers/python-client";
import { replaceFile, servedFingerprint, TestCa, type IssuedCertificate } from "../helpers/tls-certs";
import { WorkerProcess } from "../helpers/worker-process";

const BERTH_BIN = path.resolve(__dirname, "../../bin/berth");
const SDK_CLIENT = path.resolve(__dirname, "../fixtures/node-clients/runpod-sdk-client.mjs");
const FAST = { BERTH_LONG_POLL_MS: "2000", BERTH_PING_INTERVAL_MS: "1000", BERTH_SWEEP_INTERVAL_MS: "100" };
// A renewal is picked up within two polls of the files (server/tls.ts): a second each, and slack for a busy machine.
const RELOAD_DEADLINE_MS = 15_000;
const run = promisify(execFile);

/** This process's environment without any CA bundle setting, so that a child trusts only what a test gives it. */
function untrusting(): NodeJS.ProcessEnv {
  const { BERTH_CA_BUNDLE, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, ...env } = process.env;
  return env;
}

/** `berth <args>` (the CLI from source); resolves with its exit code and output instead of throwing. */
function berth(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [BERTH_BIN, ...args], { env: untrusting(), timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

describe("TLS configuration", () => {
  test("a certificate without its key (or a key alone) is refused, naming both settings", () => {
    for (const flags of [{ tlsCert: "/etc/berth/cert.pem" }, { tlsKey: "/etc/berth/key.pem" }]) {
      assert.throws(() => loadServerConfig(flags, {}), /--tls-cert \/ BERTH_TLS_CERT and --tls-key \/ BERTH_TLS_KEY: give both/);
    }
    assert.throws(() => loadServerConfig({}, { BERTH_TLS_KEY: "/etc/berth/key.pem" }), /BERTH_TLS_CERT and --tls-key/);
    const both = loadServerConfig({}, { BERTH_TLS_CERT: "/c.pem", BERTH_TLS_KEY: "/k.pem" });
    assert.deepEqual([both.tlsCert, both.tlsKey], ["/c.pem", "/k.pem"]);
  });

  test("a pair that cannot serve is refused, naming the file at fault and never showing the key", async () => {
    const ca = await TestCa.create();
    const [one, two] = [await ca.issue("one"), await ca.issue("two")];
    assert.ok(readTlsPair({ certFile: one.certFile, keyFile: one.keyFile }).cert.length > 0);
    assert.throws(() => readTlsPair({ certFile: path.join(ca.dir, "missing.pem"), keyFile: one.keyFile }), /missing\.pem: cannot read the TLS certificate: ENOENT/);
    assert.throws(() => readTlsPair({ certFile: one.keyFile, keyFile: one.keyFile }), (err: Error) => {
      assert.match(err.message, /one\.key: not a PEM certificate/);
      assert.doesNotMatch(err.message, /PRIVATE KEY|BEGIN/);
      return true;
    });
    assert.throws(() => readTlsPair({ certFile: one.certFile, keyFile: two.keyFile }), /two\.key: the private key does not match the certificate in .*one\.pem/);
  });

  test("a control plane whose key does not match its certificate does not start, and says which files", async () => {
    const ca = await TestCa.create();
    const [one, two] = [await ca.issue("one"), await ca.issue("two")];
    await assert.rejects(
      ControlPlaneProcess.start({ env: { BERTH_TLS_CERT: one.certFile, BERTH_TLS_KEY: two.keyFile } }),
      /exited with 1 before listening:[\s\S]*berth: .*two\.key: the private key does not match the certificate in .*one\.pem/,
    );
  });
});

describe("a control plane serving TLS with a private CA's certificate", () => {
  let ca: TestCa;
  let first: IssuedCertificate;
  /** The files the control plane serves from: copies, so a test can renew them in place. */
  let served: { certFile: string; keyFile: string };
  let cp: ControlPlaneProcess;
  let target: ApiTarget;
  let endpoint: TestEndpoint;
  let worker: WorkerProcess;
  const trust = () => ({ REQUESTS_CA_BUNDLE: ca.certFile, SSL_CERT_FILE: ca.certFile });

  before(async () => {
    ca = await TestCa.create();
    first = await ca.issue("server-1");
    fs.mkdirSync(path.join(ca.dir, "served"));
    served = { certFile: path.join(ca.dir, "served", "tls.crt"), keyFile: path.join(ca.dir, "served", "tls.key") };
    replaceFile(first.certFile, served.certFile);
    replaceFile(first.keyFile, served.keyFile);
    cp = await ControlPlaneProcess.start({ env: { ...FAST, BERTH_TLS_CERT: served.certFile, BERTH_TLS_KEY: served.keyFile } });
    target = { url: cp.url, apiKey: cp.apiKey, httpsAgent: caBundleAgent(ca.certFile, "test") };
    endpoint = await createEndpoint(target);
    // runpod-python's worker takes jobs with aiohttp (the system store: SSL_CERT_FILE) and pings with requests
    // (certifi's: REQUESTS_CA_BUNDLE); README's TLS section tells worker images the same.
    worker = WorkerProcess.python("worker.py", { ...endpoint.workerEnv, ...trust() }, "py-tls-1");
  });
  after(async () => {
    await worker?.kill();
    await cp?.stop();
    await cp?.removeData();
  });

  test("it serves HTTPS only, and its workers are told an https:// URL", async () => {
    assert.match(cp.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(endpoint.workerEnv.RUNPOD_WEBHOOK_GET_JOB!.startsWith(`${cp.url}/v2/`), endpoint.workerEnv.RUNPOD_WEBHOOK_GET_JOB);
    const plain = await axios.get(`${cp.url.replace("https://", "http://")}/healthz`, { timeout: 5_000 }).then(
      (res) => `HTTP ${res.status}`,
      (err: { code?: string }) => err.code,
    );
    assert.notEqual(plain, "HTTP 200", "plain HTTP must not be served");
  });

  test("a client without the CA is refused: the certificate does not verify", async () => {
    await assert.rejects(axios.get(`${cp.url}/healthz`, { httpsAgent: undefined }), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    await assert.rejects(pythonClient(cp, endpoint.id, "run_sync", { n: 0 }, {}), /CERTIFICATE_VERIFY_FAILED/);
  });

  test("runpod-python's client, given the CA, gets a runpod-python worker's result over HTTPS", async () => {
    const result = await pythonClient(cp, endpoint.id, "run_sync", { hello: "tls" }, trust());
    assert.deepEqual(result.output, { echo: { hello: "tls" }, workerId: "py-tls-1" });
  });

  test("runpod-sdk (npm), given the CA with NODE_EXTRA_CA_CERTS, gets the result over HTTPS", async () => {
    const { stdout } = await run(process.execPath, [SDK_CLIENT, endpoint.id, JSON.stringify({ via: "runpod-sdk" })], {
      env: { ...untrusting(), RUNPOD_ENDPOINT_BASE_URL: `${cp.url}/v2`, RUNPOD_API_KEY: cp.apiKey, NODE_EXTRA_CA_CERTS: ca.certFile },
      timeout: 60_000,
    });
    const result = JSON.parse(stdout);
    assert.equal(result.status, "COMPLETED");
    assert.deepEqual(result.output, { echo: { via: "runpod-sdk" }, workerId: "py-tls-1" });
  });

  test("the berth CLI reads it with --ca-bundle, and without one says the certificate is not trusted", async () => {
    const common = ["workers", endpoint.id, "--url", cp.url, "--api-key", cp.apiKey];
    const trusted = await berth([...common, "--ca-bundle", ca.certFile]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.match(trusted.stdout, /py-tls-1/);

    const refused = await berth(common);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^berth: https:\/\/127\.0\.0\.1:\d+: unable to verify the first certificate: the control plane's certificate is not trusted here; give its CA with --ca-bundle/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, "no stack trace");

    const missing = await berth([...common, "--ca-bundle", path.join(ca.dir, "nope.pem")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^berth: --ca-bundle \/ BERTH_CA_BUNDLE: cannot read the CA bundle .*nope\.pem: ENOENT/);
  });

  test("the Pulumi provider reaches it with berth:caBundle or BERTH_CA_BUNDLE, and says what to set without", async () => {
    const stack = (values: Record<string, string>) => ({ get: (key: string) => values[key] });
    const base = { "berth:url": cp.url, "berth:apiKey": cp.apiKey };
    try {
      configure(stack({ ...base, "berth:caBundle": ca.certFile }));
      const read = await adminApi({}).get<{ id: string }>(`/endpoints/${endpoint.id}`);
      assert.equal(read?.id, endpoint.id);

      configure(stack(base));
      await assert.rejects(adminApi({}).get(`/endpoints/${endpoint.id}`), /not trusted here; give its CA with the stack config berth:caBundle/);

      configure(stack({ ...base, "berth:caBundle": path.join(ca.dir, "nope.pem") }));
      assert.throws(() => adminApi({}), /berth:caBundle \/ BERTH_CA_BUNDLE: cannot read the CA bundle .*nope\.pem: ENOENT/);
    } finally {
      configure(stack({}));
    }
    const fromEnv = adminClient(connectionFrom(undefined, { BERTH_URL: cp.url, BERTH_API_KEY: cp.apiKey, BERTH_CA_BUNDLE: ca.certFile }));
    assert.equal((await fromEnv.get(`/endpoints/${endpoint.id}`)).status, 200);
  });

  test("a renewed pair that does not load (key of another certificate) is logged, and the old one goes on serving", async () => {
    const second = await ca.issue("server-2");
    replaceFile(second.certFile, served.certFile);
    const failed = await eventually(
      "the failed reload's log line",
      () => cp.entries().find((e) => e.msg === "TLS reload failed: still serving the previous certificate"),
      RELOAD_DEADLINE_MS,
    );
    assert.match(String((failed.err as { message?: string }).message), /tls\.key: the private key does not match the certificate in .*tls\.crt/);
    assert.equal(failed.keyFile, served.keyFile);
    assert.equal(await servedFingerprint(cp.url, ca.certFile), first.fingerprint256);
    assert.ok(!cp.logs.some((line) => line.includes("PRIVATE KEY")), "no key material in the logs");

    // Its key arrives: the pair is whole again, and served without a restart.
    replaceFile(second.keyFile, served.keyFile);
    await eventually(
      "the renewed certificate on a fresh connection",
      async () => ((await servedFingerprint(cp.url, ca.certFile)) === second.fingerprint256 ? true : undefined),
      RELOAD_DEADLINE_MS,
    );
    assert.equal(cp.child.exitCode, null, "the same process serves it");
    const reloaded = cp.entries().find((e) => e.msg === "TLS certificate reloaded");
    assert.equal(reloaded?.fingerprint256, second.fingerprint256);
    const result = await pythonClient(cp, endpoint.id, "run_sync", { after: "renewal" }, trust());
    assert.deepEqual(result.output, { echo: { after: "renewal" }, workerId: "py-tls-1" });
  });
});
