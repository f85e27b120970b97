/**
 * The cluster's certificate authority: `shardctl certs init` makes it, `shardctl certs issue`
 * signs a leaf certificate with it (security/certs-command.ts runs them). Keys are ECDSA P-256,
 * made and used through Node's WebCrypto; certificates are built with @peculiar/x509 (no
 * hand-made ASN.1). What the certificates carry: security/identity.ts and
 * docs/design.md#941-identities-and-roles; how to use them: docs/operations.md, "Security".
 *
 * Files: a CA directory (made 0700) holds ca.crt (PEM) and ca.key (PEM PKCS#8, mode 0600). A
 * leaf goes to an output directory as <name>.crt, <name>.key (0600) and a copy of ca.crt.
 * Private keys are written to files only, never printed.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate as NodeX509, createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { basename, join } from "node:path";
import { wallClockMs } from "../common/real-env";
import { type Role, organization, prefixUri } from "./identity";

/** A refused or failed certificate operation; the message is the one line printed. */
export class CertsError extends Error {}

/** ECDSA on P-256 with SHA-256: the key and signature algorithm of every certificate. */
const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/**
 * How far before "now" a certificate's validity starts (1 hour, as Let's Encrypt backdates):
 * a host whose clock is behind the issuer's must not refuse every peer as "not yet valid"
 * (a replica 10 minutes behind did, with 5 minutes, under the hosts harness's clock skew).
 */
export const backdateMs = 60 * 60_000;

const dayMs = 86_400_000;

/** The files of a CA directory. */
export function caFiles(dir: string): { readonly cert: string; readonly key: string } {
  return { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
}

/** A 128-bit positive serial number, hex (RFC 5280 §4.1.2.2: unique per CA, at most 20 bytes). */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, and no leading zero byte to strip
  return b.toString("hex");
}

const generateKeys = async (): Promise<CryptoKeyPair> =>
  (await webcrypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair;

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/**
 * Writes `text` to `file` atomically (a temporary file renamed over it), with `mode`: a reader
 * (a server reloading its certificate) sees the old file or the new one, never half of one.
 */
function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode); // the umask may have cut the mode; the final one is ours
  renameSync(tmp, file);
}

/**
 * Creates `dir` (and its parents) private (0700) if it is missing; an existing directory keeps
 * its mode (`--out .` must not lock the user out of the current directory; the keys in it
 * are 0600 anyway).
 */
function privateDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CertsError(`${dir} is not a directory`);
    return;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // the umask may have cut the mode
}

/** What `init` made. */
export interface InitResult {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: x509.X509Certificate;
}

/**
 * Makes a new CA in `caDir`: a self-signed certificate (basicConstraints CA, keyUsage
 * keyCertSign and cRLSign) valid for `days`, and its key. Refuses, changing nothing, when the
 * directory already holds a ca.crt or ca.key.
 */
export async function initCa(opts: { readonly caDir: string; readonly days: number; readonly name: string; readonly nowMs?: number }): Promise<InitResult> {
  const files = caFiles(opts.caDir);
  const existing = [files.cert, files.key].filter((f) => existsSync(f));
  if (existing.length > 0) {
    throw new CertsError(`${opts.caDir} already holds a CA (${existing.map((f) => basename(f)).join(", ")}); refusing to overwrite it ` +
      "(every certificate it issued would stop being trusted): choose another --ca-dir, or remove the old CA first");
  }
  privateDir(opts.caDir);
  const keys = await generateKeys();
  const now = opts.nowMs ?? wallClockMs();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: new x509.Name([{ O: [organization] }, { CN: [opts.name] }]),
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + opts.days * dayMs),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  // "wx": never replace a CA that appeared since the check above.
  writeFileSync(files.key, await privateKeyPem(keys.privateKey), { mode: 0o600, flag: "wx" });
  chmodSync(files.key, 0o600);
  writeFileSync(files.cert, cert.toString("pem") + "\n", { mode: 0o644, flag: "wx" });
  return { certFile: files.cert, keyFile: files.key, cert };
}

/** A loaded CA: its certificate (PEM and parsed) and its signing key. */
interface LoadedCa {
  readonly pem: string;
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
}

function readOrExplain(file: string, what: string, hint: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CertsError(`${what} ${file} does not exist${hint}`);
    if (code === "EACCES") throw new CertsError(`cannot read ${what} ${file}: permission denied`);
    throw new CertsError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

async function loadCa(dir: string): Promise<LoadedCa> {
  const files = caFiles(dir);
  const hint = ` (make a CA with: shardctl certs init --ca-dir ${dir})`;
  const pem = readOrExplain(files.cert, "CA certificate", hint);
  const keyPem = readOrExplain(files.key, "CA key", hint);
  let nodeCert: NodeX509;
  try {
    nodeCert = new NodeX509(pem);
  } catch {
    throw new CertsError(`CA certificate ${files.cert} is not a PEM certificate`);
  }
  if (!nodeCert.ca) throw new CertsError(`${files.cert} is not a CA certificate`);
  let der: Buffer;
  try {
    const key = createPrivateKey(keyPem);
    if (!nodeCert.checkPrivateKey(key)) throw new CertsError(`CA key ${files.key} is not the key of ${files.cert}`);
    der = key.export({ format: "der", type: "pkcs8" });
  } catch (e) {
    if (e instanceof CertsError) throw e;
    throw new CertsError(`CA key ${files.key} is not a PEM private key`);
  }
  const key = await webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]).catch(() => {
    throw new CertsError(`CA key ${files.key} is not an ECDSA P-256 key (not made by shardctl certs init)`);
  });
  return { pem: nodeCert.toString(), cert: new x509.X509Certificate(nodeCert.raw), key };
}

/** What to issue. */
export interface IssueRequest {
  readonly caDir: string;
  readonly outDir: string;
  readonly role: Role;
  readonly name: string;
  /** Host names and IP addresses the certificate is valid for (node certificates). */
  readonly addrs: readonly string[];
  /** Client certificates: the key prefix they are for. */
  readonly prefix?: Uint8Array;
  readonly days: number;
  /** The time it is issued at (its validity starts backdateMs before), ms since the epoch; default now. */
  readonly nowMs?: number;
}

/** What `issue` wrote. */
export interface IssueResult {
  readonly certFile: string;
  readonly keyFile: string;
  /** The copy of ca.crt, or undefined when the output directory's ca.crt already had the CA. */
  readonly caFile?: string;
  readonly cert: x509.X509Certificate;
}

/**
 * The subjectAltName entries of a leaf: `addrs` (IP addresses as IP, the rest as DNS names)
 * and the prefix URI (security/identity.ts).
 */
function altNames(addrs: readonly string[], prefix: Uint8Array | undefined): x509.JsonGeneralName[] {
  const names: x509.JsonGeneralName[] = addrs.map((a) => (isIP(a) !== 0 ? { type: "ip", value: a } : { type: "dns", value: a }));
  if (prefix !== undefined) names.push({ type: "url", value: prefixUri(prefix) });
  return names;
}

/** The subject name of a leaf certificate: O=shardkv, OU=<role>, CN=<name> (security/identity.ts). */
function subjectOf(role: Role, name: string): x509.Name {
  return new x509.Name([{ O: [organization] }, { OU: [role] }, { CN: [name] }]);
}

/**
 * Whether the PEM bundle `bundle` contains the certificate `pem` (a CA rotation's trust
 * bundle holds both CAs).
 */
function bundleHas(bundle: string, pem: string): boolean {
  const der = Buffer.from(x509.PemConverter.decodeFirst(pem));
  try {
    return x509.PemConverter.decode(bundle).some((b) => Buffer.from(b).equals(der));
  } catch {
    return false;
  }
}

/**
 * Signs a leaf certificate for `req` with the CA of `req.caDir` and writes it to
 * `req.outDir` (made 0700 if missing): <name>.key (0600) first, then <name>.crt, each
 * replaced atomically (re-issuing rotates a certificate in place), and ca.crt when missing.
 * An existing ca.crt that does not contain this CA is refused (the directory trusts another
 * CA); one that contains it, alone or in a rotation's bundle, is left as it is.
 */
export async function issue(req: IssueRequest): Promise<IssueResult> {
  const ca = await loadCa(req.caDir);
  const now = req.nowMs ?? wallClockMs();
  const notAfter = now + req.days * dayMs;
  const caEnd = ca.cert.notAfter.getTime();
  if (caEnd <= now) throw new CertsError(`the CA in ${req.caDir} expired on ${ca.cert.notAfter.toISOString()}; make a new CA (see docs/operations.md, "Security")`);
  if (notAfter > caEnd) {
    const left = Math.floor((caEnd - now) / dayMs);
    throw new CertsError(`invalid --days: ${req.days} days would outlive the CA, which expires on ${ca.cert.notAfter.toISOString()} (at most ${left} days)`);
  }
  const caCopy = join(req.outDir, "ca.crt");
  const caCopyNeeded = !existsSync(caCopy);
  if (!caCopyNeeded && !bundleHas(readFileSync(caCopy, "utf8"), ca.pem)) {
    throw new CertsError(`${caCopy} does not contain the CA of ${req.caDir} (the directory trusts another CA): ` +
      `add ${caFiles(req.caDir).cert} to it (a rotation's bundle) or remove it, then issue again`);
  }

  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(req.role === "node"
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
  ];
  const names = altNames(req.addrs, req.prefix);
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subjectOf(req.role, req.name),
    issuer: ca.cert.subjectName,
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(notAfter),
    signingAlgorithm: algorithm,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });

  privateDir(req.outDir);
  const keyFile = join(req.outDir, `${req.name}.key`);
  const certFile = join(req.outDir, `${req.name}.crt`);
  writeAtomic(keyFile, await privateKeyPem(keys.privateKey), 0o600);
  writeAtomic(certFile, cert.toString("pem") + "\n", 0o644);
  if (caCopyNeeded) writeAtomic(caCopy, ca.pem.endsWith("\n") ? ca.pem : ca.pem + "\n", 0o644);
  return { certFile, keyFile, ...(caCopyNeeded ? { caFile: caCopy } : {}), cert };
}
