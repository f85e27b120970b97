/**
 * The three files of a TLS identity (the CA certificates to trust, this process's certificate,
 * its key): where they are (a directory, explicit paths, or $SHARDKV_TLS_*), what they hold
 * (loaded and checked together: the key is the certificate's, a trusted CA signed it), and
 * TlsSource, which re-reads them while the process runs so that a rotated certificate or CA is
 * used without a restart (security/credentials.ts builds the gRPC credentials on it).
 *
 * Why not grpc-js's FileWatcherCertificateProvider (it reloads the same three files): a file
 * it cannot read makes it publish "no certificate", after which the server drops every new
 * connection; it publishes a certificate and key read mid-rotation without checking that they
 * belong together (the server then fails to build its TLS context and drops connections too);
 * and its credentials cannot ask for TLS 1.3. TlsSource keeps using the last good set until a
 * complete, consistent new one is there, and reports why it waits.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Cancel } from "../common/env";
import { realClock } from "../common/real-env";

/** Paths of the three files. */
export interface TlsFiles {
  /** PEM: one CA certificate, or several while a CA is rotated (trust both, then drop the old). */
  readonly ca: string;
  /** PEM: this process's certificate, signed by one of the CAs. */
  readonly cert: string;
  /** PEM: the certificate's private key. */
  readonly key: string;
}

/** A TLS setting that cannot be used: a file missing or unreadable, files that do not belong together. One line. */
export class TlsConfigError extends Error {}

/** The environment variables a client reads its TLS files from. */
export const tlsEnv = { ca: "SHARDKV_TLS_CA", cert: "SHARDKV_TLS_CERT", key: "SHARDKV_TLS_KEY" } as const;

/**
 * The files of a TLS directory, as `shardctl certs issue --out DIR` writes it: ca.crt and
 * <name>.crt, <name>.key. Without `name`: node.crt if there is one, else the one certificate
 * besides ca.crt that has its key; a directory with several is refused (name the files).
 */
export function tlsFilesInDir(dir: string, name?: string): TlsFiles {
  const files = (n: string): TlsFiles => ({ ca: join(dir, "ca.crt"), cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) });
  if (name !== undefined) return files(name);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    throw new TlsConfigError(`cannot read TLS directory ${dir}: ${errnoText(e)}`);
  }
  if (entries.includes("node.crt")) return files("node");
  const names = entries.filter((f) => f.endsWith(".crt") && f !== "ca.crt" && entries.includes(f.replace(/\.crt$/, ".key"))).map((f) => f.slice(0, -4));
  if (names.length === 1) return files(names[0]!);
  throw new TlsConfigError(names.length === 0
    ? `TLS directory ${dir} holds no certificate with its key (want ca.crt, NAME.crt and NAME.key, as shardctl certs issue writes them)`
    : `TLS directory ${dir} holds ${names.length} certificates (${names.map((n) => `${n}.crt`).join(", ")}): name the certificate and key files`);
}

/**
 * A client's TLS files: each from `given` (its flags) or else from $SHARDKV_TLS_CA,
 * $SHARDKV_TLS_CERT, $SHARDKV_TLS_KEY. Undefined when none is set anywhere; some set but not
 * all is a TlsConfigError naming what is missing.
 */
export function clientTlsFiles(given: Partial<TlsFiles>, env: Readonly<Record<string, string | undefined>>): TlsFiles | undefined {
  const pick = (k: keyof TlsFiles): string | undefined => given[k] ?? (env[tlsEnv[k]] || undefined);
  const ca = pick("ca");
  const cert = pick("cert");
  const key = pick("key");
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  const missing = (["ca", "cert", "key"] as const).filter((k) => pick(k) === undefined).map((k) => `$${tlsEnv[k]}`);
  if (missing.length > 0) {
    throw new TlsConfigError(`incomplete TLS settings: ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not set ` +
      "(a client needs the CA certificate, its own certificate and its key)");
  }
  return { ca: ca!, cert: cert!, key: key! };
}

/** A loaded, checked set of TLS files. */
export interface TlsMaterial {
  readonly files: TlsFiles;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** This process's certificate. */
  readonly certificate: X509Certificate;
  /** The trusted CA certificates (two while a CA is rotated). */
  readonly cas: readonly X509Certificate[];
}

function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return e instanceof Error ? e.message : String(e);
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new TlsConfigError(`cannot read ${what} ${file}: ${errnoText(e)}`);
  }
}

/** The certificates of a PEM text, parsed; throws naming `file` when there is none or one is broken. */
function certificates(pem: Buffer, file: string, what: string): X509Certificate[] {
  const blocks = pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsConfigError(`${what} ${file} holds no PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new TlsConfigError(`${what} ${file}: certificate ${i + 1} cannot be parsed`);
    }
  });
}

/**
 * Reads and checks the three files: each readable and of the right kind, every certificate of
 * the CA file a CA, the key the certificate's own, and the certificate signed by one of the
 * CAs. Validity dates are not checked here: an expired certificate is refused by the peer,
 * whose clock decides (and the error says so). Throws TlsConfigError.
 */
export function loadTlsMaterial(files: TlsFiles): TlsMaterial {
  const ca = read(files.ca, "CA certificate file");
  const cert = read(files.cert, "certificate");
  const key = read(files.key, "key");
  const cas = certificates(ca, files.ca, "CA certificate file");
  const notCa = cas.findIndex((c) => !c.ca);
  if (notCa >= 0) throw new TlsConfigError(`CA certificate file ${files.ca}: certificate ${notCa + 1} (${oneLineSubject(cas[notCa]!)}) is not a CA certificate`);
  const certificate = certificates(cert, files.cert, "certificate")[0]!;
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsConfigError(`key ${files.key} is not a PEM private key`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new TlsConfigError(`key ${files.key} is not the key of certificate ${files.cert}`);
  if (!cas.some((c) => certificate.checkIssued(c) && certificate.verify(c.publicKey))) {
    throw new TlsConfigError(`certificate ${files.cert} (${oneLineSubject(certificate)}) is not signed by a CA in ${files.ca}`);
  }
  return { files, ca, cert, key, certificate, cas };
}

/** "O=shardkv, OU=node, CN=n1" from Node's multi-line subject. */
export function oneLineSubject(c: X509Certificate): string {
  return c.subject.split("\n").join(", ");
}

/** What identifies a file's version: a change of any of them means it was rewritten. */
function stamp(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return existsSync(file) ? "unreadable" : "missing";
  }
}

/** How often a TlsSource looks at its files unless told otherwise: 1 s. */
export const tlsReloadIntervalMsDefault = 1000;

export interface TlsSourceOptions {
  /**
   * How often the files are looked at (their stat) for a change; 0: never (reloadNow only),
   * for a short-lived process (the timer keeps the process alive until close()).
   */
  readonly reloadIntervalMs?: number;
  /** Told each new set taken into use (not the first). */
  readonly onReload?: (m: TlsMaterial) => void;
  /** Told, once per distinct problem, why changed files are not used (the last good set stays). */
  readonly onReloadError?: (message: string) => void;
}

/**
 * The TLS files of one process, loaded and kept current: every reloadIntervalMs it compares
 * the files' stat with the set in use and, when one changed, loads all three and takes them
 * into use if they are complete and consistent (loadTlsMaterial); otherwise it keeps the last
 * good set, reports why (once per distinct problem) and tries again at every look until the
 * files are usable. Listeners hear each new
 * set. Construction loads the files and throws TlsConfigError when they cannot be used.
 */
export class TlsSource {
  private material: TlsMaterial;
  private stamps: string;
  private lastError: string | undefined;
  private readonly listeners = new Set<(m: TlsMaterial) => void>();
  private cancelTimer: Cancel | undefined;
  private closed = false;

  constructor(readonly files: TlsFiles, private readonly opts: TlsSourceOptions = {}) {
    this.stamps = this.currentStamps();
    this.material = loadTlsMaterial(files);
    this.schedule();
  }

  /** The set in use. */
  current(): TlsMaterial {
    return this.material;
  }

  /** Calls `listener` with every new set; returns the function that stops it. */
  subscribe(listener: (m: TlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private currentStamps(): string {
    return [this.files.ca, this.files.cert, this.files.key].map(stamp).join("|");
  }

  /**
   * Looks at the files now (the timer calls it; tests call it instead of waiting): when any
   * changed, loads them and, if they are usable and differ from the set in use, takes them
   * into use. Returns whether a new set was taken.
   */
  reloadNow(): boolean {
    const stamps = this.currentStamps();
    if (stamps === this.stamps) return false;
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.files);
    } catch (e) {
      if (!(e instanceof TlsConfigError)) throw e;
      // The stamps are not taken: the files are loaded again at every look until usable (a
      // rotation half done, the certificate written and the key not yet, completes soon).
      if (e.message !== this.lastError) this.opts.onReloadError?.(`TLS files changed but are not used yet (keeping the previous ones): ${e.message}`);
      this.lastError = e.message;
      return false;
    }
    this.stamps = stamps;
    this.lastError = undefined;
    if (next.ca.equals(this.material.ca) && next.cert.equals(this.material.cert) && next.key.equals(this.material.key)) return false;
    this.material = next;
    this.opts.onReload?.(next);
    for (const l of this.listeners) l(next);
    return true;
  }

  private schedule(): void {
    const ms = this.opts.reloadIntervalMs ?? tlsReloadIntervalMsDefault;
    if (ms <= 0 || this.closed) return;
    this.cancelTimer = realClock.after(ms, () => {
      this.cancelTimer = undefined;
      try {
        this.reloadNow();
      } finally {
        this.schedule();
      }
    });
  }

  /** Stops looking at the files (the set in use stays usable). */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}

/** What nats.js takes to connect with TLS (file paths; it reads them at every connect). */
export interface NatsTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * The nats.js options of `url` for a process with TLS files `files`: for a `tls://` URL, TLS
 * with the same files (the cluster CA verifies the NATS server, the process's certificate is
 * its client certificate when NATS asks for one), re-read at every reconnect; nothing for
 * `nats://`, or for a process without TLS files (nats.js then uses the system's CAs).
 */
export function natsTls(url: string, files: TlsFiles | undefined): { tls?: NatsTls } {
  if (!url.startsWith("tls://") || files === undefined) return {};
  return { tls: { caFile: files.ca, certFile: files.cert, keyFile: files.key } };
}
