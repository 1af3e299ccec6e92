import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  /** As Node's getPeerCertificate() gives it: colon-separated upper-case hex of the DER's SHA-256. */
  fingerprint256: string;
}

/**
 * A private CA made with the openssl CLI in a temporary directory, as an operator would make one, issuing server
 * certificates for 127.0.0.1 and localhost. Strict enough for Python's and Node's verification (key usages, key ids).
 */
export class TestCa {
  private serial = 1;

  private constructor(
    readonly dir: string,
    /** The CA's certificate: the bundle clients are given. */
    readonly certFile: string,
    private readonly keyFile: string,
  ) {}

  static async create(): Promise<TestCa> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "berth-tls-"));
    const ca = new TestCa(dir, path.join(dir, "ca.pem"), path.join(dir, "ca.key"));
    await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", ca.keyFile, "-out", ca.certFile, "-days", "2", "-subj", "/CN=Berth test CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    return ca;
  }

  /** A new key and a certificate for it, signed by this CA, written as `<name>.pem` and `<name>.key`. */
  async issue(name: string, commonName = name): Promise<IssuedCertificate> {
    const certFile = path.join(this.dir, `${name}.pem`);
    const keyFile = path.join(this.dir, `${name}.key`);
    const csr = path.join(this.dir, `${name}.csr`);
    const ext = path.join(this.dir, `${name}.ext`);
    fs.writeFileSync(
      ext,
      [
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid,issuer",
      ].join("\n") + "\n",
    );
    await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", csr, "-subj", `/CN=${commonName}`]);
    await run("openssl", [
      "x509", "-req", "-in", csr, "-CA", this.certFile, "-CAkey", this.keyFile, "-set_serial", String(this.serial++),
      "-days", "2", "-extfile", ext, "-out", certFile,
    ]);
    return { certFile, keyFile, fingerprint256: new crypto.X509Certificate(fs.readFileSync(certFile)).fingerprint256 };
  }
}

/** Replaces `target` with `source`'s content the way renewal tools do: a new file renamed into place. */
export function replaceFile(source: string, target: string): void {
  const temporary = `${target}.new-${crypto.randomBytes(4).toString("hex")}`;
  fs.copyFileSync(source, temporary);
  fs.renameSync(temporary, target);
}

/** The certificate a fresh TLS connection to `url` is served (verified against `ca`): its SHA-256 fingerprint. */
export function servedFingerprint(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca: fs.readFileSync(ca), servername: hostname === "127.0.0.1" ? undefined : hostname }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on("error", reject);
  });
}
