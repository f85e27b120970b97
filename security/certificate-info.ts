/**
 * `shardctl certs show FILE`: what a certificate file holds, for people (one block per
 * certificate; a CA rotation's bundle holds two) and for scripts (--json).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describeKey } from "../common/limits";
import { CertsError } from "./authority";
import { type Identity, NotAnIdentityError, identityFrom } from "./identity";

/** What one certificate says. */
export interface CertificateInfo {
  readonly subject: string;
  /** "ca" for a CA certificate; else the role it carries, or undefined when it carries none. */
  readonly role?: string;
  readonly name?: string;
  readonly prefix?: Uint8Array;
  /** DNS names and IP addresses (subjectAltName). */
  readonly addresses: readonly string[];
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex. */
  readonly serial: string;
  /** SHA-256 of the DER, as colon-separated upper-case hex (what `openssl x509 -fingerprint -sha256` prints). */
  readonly fingerprint: string;
  /** Why it carries no shardkv identity, when it carries none (and is no CA). */
  readonly notIdentity?: string;
}

function altNamesOf(cert: x509.X509Certificate, types: readonly string[]): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => types.includes(n.type)).map((n) => n.value);
}

/** The information of one certificate (DER). */
export function certificateInfo(der: Uint8Array): CertificateInfo {
  const cert = new x509.X509Certificate(new Uint8Array(der));
  const isCa = cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
  let identity: Identity | undefined;
  let notIdentity: string | undefined;
  if (!isCa) {
    try {
      const field = (t: string) => cert.subjectName.getField(t);
      identity = identityFrom({ O: field("O"), OU: field("OU"), CN: field("CN") }, altNamesOf(cert, ["url"]));
    } catch (e) {
      if (!(e instanceof NotAnIdentityError)) throw e;
      notIdentity = e.message;
    }
  }
  const role = isCa ? "ca" : identity?.role;
  const name = isCa ? cert.subjectName.getField("CN")[0] : identity?.name;
  return {
    subject: cert.subject,
    ...(role !== undefined ? { role } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(identity?.prefix !== undefined ? { prefix: identity.prefix } : {}),
    addresses: altNamesOf(cert, ["dns", "ip"]),
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serial: cert.serialNumber,
    fingerprint: createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)!.join(":"),
    ...(notIdentity !== undefined ? { notIdentity } : {}),
  };
}

/**
 * The certificates in `file` (PEM, one or more). Throws CertsError, naming the file, for one
 * that cannot be read or holds no certificate (a key, another PEM block, binary data).
 */
export function readCertificates(file: string): CertificateInfo[] {
  let text: string;
  try {
    text = readFileSync(file, "latin1");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CertsError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : (e as Error).message}`);
  }
  let blocks: { type: string; rawData: ArrayBuffer }[] = [];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(text);
  } catch {
    blocks = [];
  }
  const certs = blocks.filter((b) => b.type === "CERTIFICATE");
  if (certs.length === 0) {
    const types = [...new Set(blocks.map((b) => b.type))];
    const what = types.some((t) => t.includes("PRIVATE KEY")) ? "a private key" : types.length > 0 ? `PEM ${types.join(", ")}` : "no PEM data";
    throw new CertsError(`${file} is not a certificate: it holds ${what} (want a PEM "CERTIFICATE" block, e.g. a .crt file)`);
  }
  return certs.map((b, i) => {
    try {
      return certificateInfo(new Uint8Array(b.rawData));
    } catch (e) {
      if (e instanceof CertsError) throw e;
      throw new CertsError(`${file}: certificate ${i + 1} cannot be parsed: ${(e as Error).message}`);
    }
  });
}

/** "1 day", "3 days": whole days from `fromMs` to `toMs`, rounded down. */
function daysBetween(fromMs: number, toMs: number): string {
  const n = Math.floor((toMs - fromMs) / 86_400_000);
  return `${n} day${n === 1 ? "" : "s"}`;
}

/** "valid, expires in 364 days", "expired 3 days ago", "not yet valid (starts in 2 days)". */
export function validityState(info: CertificateInfo, nowMs: number): string {
  if (nowMs < info.notBefore.getTime()) return `not yet valid (starts in ${daysBetween(nowMs, info.notBefore.getTime())})`;
  if (nowMs >= info.notAfter.getTime()) return `expired ${daysBetween(info.notAfter.getTime(), nowMs)} ago`;
  return `valid, expires in ${daysBetween(nowMs, info.notAfter.getTime())}`;
}

/** One readable block, lines "label: value" aligned. Ends without a newline. */
export function formatCertificate(info: CertificateInfo, nowMs: number): string {
  const rows: [string, string][] = [
    ["subject", info.subject],
    ["role", info.role ?? `none (not a shardkv identity: ${info.notIdentity ?? "unknown"})`],
    ["name", info.name ?? "-"],
    ["prefix", info.prefix !== undefined ? describeKey(info.prefix) : "-"],
    ["addresses", info.addresses.length > 0 ? info.addresses.join(", ") : "-"],
    ["issuer", info.issuer],
    ["not before", info.notBefore.toISOString()],
    ["not after", info.notAfter.toISOString()],
    ["validity", validityState(info, nowMs)],
    ["serial", info.serial],
    ["fingerprint", `SHA256 ${info.fingerprint}`],
  ];
  const width = Math.max(...rows.map(([l]) => l.length)) + 1;
  return rows.map(([l, v]) => `${`${l}:`.padEnd(width)} ${v}`).join("\n");
}

/** `bytes` as UTF-8 text, or undefined when they are not valid UTF-8. */
function utf8(bytes: Uint8Array): string | undefined {
  const s = Buffer.from(bytes).toString("utf8");
  return Buffer.from(s, "utf8").equals(bytes) ? s : undefined;
}

/** The JSON form of one certificate (the prefix as text when it is UTF-8, and as hex). */
export function certificateToJson(info: CertificateInfo, nowMs: number): object {
  return {
    subject: info.subject,
    role: info.role ?? null,
    name: info.name ?? null,
    prefix: info.prefix !== undefined && utf8(info.prefix) !== undefined ? utf8(info.prefix) : null,
    prefixHex: info.prefix !== undefined ? Buffer.from(info.prefix).toString("hex") : null,
    addresses: info.addresses,
    issuer: info.issuer,
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    validity: validityState(info, nowMs),
    serial: info.serial,
    fingerprintSha256: info.fingerprint,
  };
}
