import crypto from "node:crypto";
import fs from "node:fs";
import tls from "node:tls";
import type { FastifyBaseLogger } from "fastify";

/** Where the control plane's certificate (PEM, chain after it) and private key (PEM) are. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** How often the files are looked at: a renewal is picked up within about twice this. */
const POLL_MS = 1_000;

/** Reads a certificate and its key, checked as TLS will use them; an error names the file at fault, never its content. */
export function readTlsPair(files: TlsFiles): TlsPair {
  const cert = readFile(files.certFile, "certificate");
  const key = readFile(files.keyFile, "private key");
  // Each alone first, so a broken file is named as such rather than as a mismatch.
  secureContext(`${files.certFile}: not a PEM certificate`, { cert });
  secureContext(`${files.keyFile}: not a PEM private key`, { key });
  secureContext(`${files.keyFile}: the private key does not match the certificate in ${files.certFile}`, { cert, key });
  return { cert, key };
}

/** What a log line says of a certificate: enough to tell a renewal happened, nothing secret. */
export function describeCertificate(pair: TlsPair): { subject: string; fingerprint256: string; validTo: string } {
  const x509 = new crypto.X509Certificate(pair.cert);
  return { subject: x509.subject.replace(/\n/g, ", "), fingerprint256: x509.fingerprint256, validTo: x509.validTo };
}

/**
 * Watches the certificate and key, and hands a new, good pair to `apply` (the server's setSecureContext), so a
 * renewed certificate is served without a restart. A pair that does not load (a file half-written, a key of
 * another certificate) is logged and ignored: the previous pair goes on serving.
 *
 * fs.watchFile polls stat() rather than following an inode, so renewals that rename a new file into place
 * (certbot, cert-manager's secret volumes) are seen as well as ones that write in place.
 */
export class TlsReloader {
  private settle: NodeJS.Timeout | undefined;
  private readonly listener = (now: fs.Stats, before: fs.Stats) => {
    // Reading the files may touch their access time, which must not count as a change.
    if (now.mtimeMs === before.mtimeMs && now.ctimeMs === before.ctimeMs && now.ino === before.ino && now.size === before.size) return;
    // A renewal replaces two files: one look after both have changed, not a mismatch logged between the two.
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.reload(), this.pollMs);
  };

  constructor(
    private readonly files: TlsFiles,
    private current: TlsPair,
    private readonly apply: (pair: TlsPair) => void,
    private readonly log: FastifyBaseLogger,
    private readonly pollMs = POLL_MS,
  ) {}

  start(): void {
    for (const file of [this.files.certFile, this.files.keyFile]) fs.watchFile(file, { interval: this.pollMs, persistent: false }, this.listener);
    this.log.info({ certFile: this.files.certFile, ...describeCertificate(this.current) }, "serving TLS; its certificate and key are reloaded when they change");
  }

  stop(): void {
    clearTimeout(this.settle);
    for (const file of [this.files.certFile, this.files.keyFile]) fs.unwatchFile(file, this.listener);
  }

  /** Loads the files now; true when a new pair is being served. */
  reload(): boolean {
    let pair: TlsPair;
    try {
      pair = readTlsPair(this.files);
    } catch (err) {
      this.log.error({ err, certFile: this.files.certFile, keyFile: this.files.keyFile }, "TLS reload failed: still serving the previous certificate");
      return false;
    }
    if (pair.cert.equals(this.current.cert) && pair.key.equals(this.current.key)) return false;
    this.apply(pair);
    this.current = pair;
    this.log.info({ certFile: this.files.certFile, ...describeCertificate(pair) }, "TLS certificate reloaded");
    return true;
  }
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: cannot read the TLS ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function secureContext(message: string, options: tls.SecureContextOptions): void {
  try {
    tls.createSecureContext(options);
  } catch (err) {
    throw new Error(`${message} (${(err as Error).message})`);
  }
}
