import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { dockerConnection } from "../../docker-engine/connection";

test("no DOCKER_HOST means the default unix socket", () => {
  const conn = dockerConnection({});
  assert.equal(conn.host, "unix:///var/run/docker.sock");
  assert.equal(conn.axios.socketPath, "/var/run/docker.sock");
});

test("tcp without TLS is plain http to host:port", () => {
  const conn = dockerConnection({ DOCKER_HOST: "tcp://10.1.2.3:2375" });
  assert.equal(conn.axios.baseURL, "http://10.1.2.3:2375");
  assert.equal(conn.axios.socketPath, undefined);
});

test("tcp with DOCKER_TLS_VERIFY uses https and the certificates in DOCKER_CERT_PATH", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-certs-"));
  for (const file of ["ca.pem", "cert.pem", "key.pem"]) fs.writeFileSync(path.join(dir, file), `${file} contents`);
  const conn = dockerConnection({ DOCKER_HOST: "tcp://docker.example:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir });
  assert.equal(conn.axios.baseURL, "https://docker.example:2376");
  assert.equal(String(conn.axios.httpsAgent.options.ca), "ca.pem contents");
  fs.rmSync(dir, { recursive: true });
});

test("TLS with a missing certificate names the file", () => {
  assert.throws(
    () => dockerConnection({ DOCKER_HOST: "tcp://h:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/nonexistent" }),
    /\/nonexistent\/ca\.pem cannot be read/,
  );
});

test("unsupported addresses are rejected with the expected forms", () => {
  for (const host of ["ssh://user@host", "tcp://no-port", "not a url"]) {
    assert.throws(() => dockerConnection({ DOCKER_HOST: host }), /expected unix:\/\/\/path\/to\/docker\.sock or tcp:\/\/host:port/);
  }
});
