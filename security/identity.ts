/**
 * Who a certificate says its holder is: a role (node, admin, client), a name and, for client
 * certificates, the key prefix they are issued for; and how those are written into a
 * certificate, so that `shardctl certs issue` (security/authority.ts) writes them and a server
 * reads them back from a verified peer certificate (security/credentials.ts peerIdentity).
 * The encoding decision and its reasons: docs/design.md#941-identities-and-roles.
 *
 *   subject   O=shardkv, OU=<role>, CN=<name>
 *   prefix    a subjectAltName URI "shardkv:key-prefix:<the prefix's bytes, percent-encoded>"
 *
 * Both are parsed by Node itself (tls PeerCertificate subject and subjectaltname), so reading
 * an identity needs no X.509 library; this module loads none.
 */
import { describeKey } from "../common/limits";

/** What a certificate allows its holder to be. */
export type Role = "node" | "admin" | "client";

/** The roles, in the order usage texts list them. */
export const roles: readonly Role[] = ["node", "admin", "client"];

/** The organization (O) of every certificate shardkv issues, the CA's included. */
export const organization = "shardkv";

/** The start of the subjectAltName URI carrying a client certificate's key prefix. */
export const prefixUriStart = "shardkv:key-prefix:";

/** The identity a certificate carries. */
export interface Identity {
  readonly role: Role;
  /** The subject's common name: a node's, a person's or a program's name. */
  readonly name: string;
  /** Client certificates only: the keys it is issued for start with these bytes. */
  readonly prefix?: Uint8Array;
}

/** Why a certificate does not carry a shardkv identity (one line, in the user's terms). */
export class NotAnIdentityError extends Error {}

/** The subjectAltName URI for `prefix`: every byte but A-Z a-z 0-9 - . _ ~ as %XX (RFC 3986). */
export function prefixUri(prefix: Uint8Array): string {
  let s = prefixUriStart;
  for (const b of prefix) {
    const c = String.fromCharCode(b);
    s += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return s;
}

/** The prefix a prefixUri encodes; throws NotAnIdentityError for a malformed one. */
function prefixOfUri(uri: string): Uint8Array {
  const body = uri.slice(prefixUriStart.length);
  if (body === "" || !/^(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*$/.test(body)) {
    throw new NotAnIdentityError(`its key prefix URI ${JSON.stringify(uri)} is malformed`);
  }
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === "%") {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(body.charCodeAt(i));
    }
  }
  return Uint8Array.from(bytes);
}

/** The subject attributes an identity is read from, each with all its values. */
export interface SubjectFields {
  readonly O: readonly string[];
  readonly OU: readonly string[];
  readonly CN: readonly string[];
}

function single(values: readonly string[], type: string, what: string): string {
  if (values.length !== 1) throw new NotAnIdentityError(`its subject has ${values.length === 0 ? "no" : values.length} ${what} (${type})`);
  return values[0]!;
}

/**
 * The identity carried by a certificate's subject and subjectAltName URIs. Checks the
 * encoding only, not the signature or validity (the TLS handshake verified those). Throws
 * NotAnIdentityError for a certificate shardkv did not issue: another organization, no or an
 * unknown role, no name, a prefix on a certificate that is not a client's, two prefixes.
 */
export function identityFrom(subject: SubjectFields, uris: readonly string[]): Identity {
  const org = single(subject.O, "O", "organization");
  if (org !== organization) throw new NotAnIdentityError(`its organization is ${JSON.stringify(org)}, not ${JSON.stringify(organization)}`);
  const role = single(subject.OU, "OU", "role");
  if (!(roles as readonly string[]).includes(role)) throw new NotAnIdentityError(`its role (OU) ${JSON.stringify(role)} is none of ${roles.join(", ")}`);
  const name = single(subject.CN, "CN", "name");
  const prefixUris = uris.filter((u) => u.startsWith(prefixUriStart));
  if (prefixUris.length > 1) throw new NotAnIdentityError(`it has ${prefixUris.length} key prefixes`);
  const prefix = prefixUris.length === 1 ? prefixOfUri(prefixUris[0]!) : undefined;
  if (prefix !== undefined && role !== "client") throw new NotAnIdentityError(`it is a ${role} certificate with a key prefix (only client certificates have one)`);
  return { role: role as Role, name, ...(prefix !== undefined ? { prefix } : {}) };
}

/** What of a Node tls PeerCertificate an identity is read from. */
export interface PeerCertificateLike {
  readonly subject?: Readonly<Record<string, string | string[] | undefined>>;
  /** "DNS:a, IP Address:1.2.3.4, URI:shardkv:key-prefix:..." as Node formats it. */
  readonly subjectaltname?: string;
}

/** The URIs of a subjectAltName as Node formats it (entries with special characters are JSON-quoted). */
export function sanUris(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const uris: string[] = [];
  // Node writes `URI:value` or, when the value has characters that need escaping, `URI:"json"`.
  const re = /(?:^|, )URI:("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(subjectaltname); m !== null; m = re.exec(subjectaltname)) {
    uris.push(m[1]!.startsWith('"') ? (JSON.parse(m[1]!) as string) : m[1]!);
  }
  return uris;
}

/** The identity of a peer certificate Node verified (tls getPeerCertificate()). */
export function identityOfPeer(cert: PeerCertificateLike): Identity {
  const field = (k: string): string[] => {
    const v = cert.subject?.[k];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };
  return identityFrom({ O: field("O"), OU: field("OU"), CN: field("CN") }, sanUris(cert.subjectaltname));
}

/** "client alice (keys with prefix "users/alice/")", "node n1", "admin ops". */
export function describeIdentity(id: Identity): string {
  return `${id.role} ${id.name}${id.prefix !== undefined ? ` (keys with prefix ${describeKey(id.prefix)})` : ""}`;
}
