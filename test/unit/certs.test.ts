/**
 * The certificate pieces below the CLI: the identity encoding (subject and prefix URI, read
 * back the way a server reads a peer certificate), `shardctl certs` argument parsing,
 * certificates made by security/authority.ts as they are shown, the TLS file resolution
 * (directory, $SHARDKV_TLS_*), and TlsSource's checks and reloads.
 */
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallClockMs } from "../../common/real-env";
import { initCa, issue } from "../../security/authority";
import { certificateInfo, formatCertificate, readCertificates } from "../../security/certificate-info";
import { parseCertsArgs } from "../../security/certs-args";
import { NotAnIdentityError, identityFrom, identityOfPeer, prefixUri, sanUris } from "../../security/identity";
import { connectFailureReason } from "../../security/tls-errors";
import { TlsConfigError, TlsSource, clientTlsFiles, loadTlsMaterial, tlsFilesInDir } from "../../security/tls-files";
import { TestPki } from "../lib/certs";

const pki = new TestPki();
beforeAll(async () => {
  await pki.ca("ca");
});
afterAll(() => pki.remove());

describe("identity encoding", () => {
  it("a prefix survives the URI and Node's subjectAltName formatting, whatever its bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (prefix) => {
      const uri = prefixUri(prefix);
      expect(uri).toMatch(/^shardkv:key-prefix:[A-Za-z0-9\-._~%]+$/);
      const san = `DNS:localhost, URI:${uri}`;
      expect(identityFrom({ O: ["shardkv"], OU: ["client"], CN: ["c"] }, sanUris(san)).prefix).toEqual(prefix);
    }));
  });

  it("reads Node's JSON-quoted subjectAltName entries", () => {
    expect(sanUris('DNS:a, URI:"x,y", URI:shardkv:key-prefix:a%2F, IP Address:1.2.3.4')).toEqual(["x,y", "shardkv:key-prefix:a%2F"]);
    expect(sanUris(undefined)).toEqual([]);
  });

  it("refuses what shardkv did not issue, saying what is wrong", () => {
    const id = (subject: Record<string, string[]>, uris: string[] = []) => () =>
      identityFrom({ O: subject.O ?? [], OU: subject.OU ?? [], CN: subject.CN ?? [] }, uris);
    expect(id({ O: ["acme"], OU: ["node"], CN: ["x"] })).toThrow(new NotAnIdentityError('its organization is "acme", not "shardkv"'));
    expect(id({ O: ["shardkv"], OU: ["root"], CN: ["x"] })).toThrow(new NotAnIdentityError('its role (OU) "root" is none of node, admin, client'));
    expect(id({ O: ["shardkv"], OU: ["node", "admin"], CN: ["x"] })).toThrow(new NotAnIdentityError("its subject has 2 role (OU)"));
    expect(id({ O: ["shardkv"], OU: ["node"] })).toThrow(new NotAnIdentityError("its subject has no name (CN)"));
    expect(id({ O: ["shardkv"], OU: ["admin"], CN: ["x"] }, ["shardkv:key-prefix:a"]))
      .toThrow(new NotAnIdentityError("it is a admin certificate with a key prefix (only client certificates have one)"));
    expect(id({ O: ["shardkv"], OU: ["client"], CN: ["x"] }, ["shardkv:key-prefix:%zz"])).toThrow(/key prefix URI .* is malformed/);
  });

  it("a certificate issued by the CA reads back as its role, name and prefix, as a server sees it", async () => {
    const files = await pki.leaf({ role: "client", name: "bob@example", prefix: Buffer.from("tenants/7/ é,\"") });
    const cert = new X509Certificate(readFileSync(files.cert));
    // The shape of tls getPeerCertificate(): subject attributes by name, Node's subjectaltname string.
    const subject = Object.fromEntries(cert.subject.split("\n").map((l) => l.split("=") as [string, string]));
    const id = identityOfPeer({ subject, subjectaltname: cert.subjectAltName! });
    expect(id).toEqual({ role: "client", name: "bob@example", prefix: new Uint8Array(Buffer.from("tenants/7/ é,\"")) });
  });
});

describe("shardctl certs arguments", () => {
  const run = (argv: string[]) => parseCertsArgs(argv);
  it("parses the three commands with their defaults", () => {
    expect(run(["init", "--ca-dir", "/c"])).toEqual({ kind: "run", command: { kind: "init", caDir: "/c", days: 3650, name: "shardkv CA" } });
    expect(run(["issue", "node", "--ca-dir", "/c", "--out", "/o", "--name", "n1", "--addr", "db1.example,10.0.0.1,::1"])).toEqual({
      kind: "run", command: { kind: "issue", role: "node", caDir: "/c", outDir: "/o", name: "n1", addrs: ["db1.example", "10.0.0.1", "::1"], days: 365 },
    });
    expect(run(["issue", "client", "--ca-dir=/c", "--out=/o", "--name=a", "--prefix", "u/", "--days", "30"])).toEqual({
      kind: "run", command: { kind: "issue", role: "client", caDir: "/c", outDir: "/o", name: "a", addrs: [], days: 30, prefix: new TextEncoder().encode("u/") },
    });
    expect(run(["show", "x.crt", "--json"])).toEqual({ kind: "run", command: { kind: "show", file: "x.crt", json: true } });
    expect(run(["--help"])).toEqual({ kind: "help" });
  });

  it("refuses mistakes with one line naming the flag", () => {
    const cases: [string[], string][] = [
      [[], "missing certs command (init, issue, show; see shardctl certs --help)"],
      [["renew"], 'unknown certs command "renew" (init, issue, show; see shardctl certs --help)'],
      [["init"], "invalid --ca-dir: missing (required)"],
      [["init", "--ca-dir", "/c", "--days", "0"], 'invalid --days: want an integer in [1, 36500], got "0"'],
      [["issue", "node", "--ca-dir", "/c", "--out", "/o", "--name", "n1"], "invalid --addr: missing (required for node certificates: the host names and IP addresses clients dial the node by; gRPC checks them)"],
      [["issue", "node", "--ca-dir", "/c", "--out", "/o", "--name", "n1", "--addr", "h:7001"], 'invalid --addr: want host names or IP addresses without a port, got "h:7001"'],
      [["issue", "node", "--ca-dir", "/c", "--out", "/o", "--name", "n1", "--addr", "a,a"], 'invalid --addr: "a" is listed twice'],
      [["issue", "node", "--ca-dir", "/c", "--out", "/o", "--name", "n1", "--addr", "bad_host"], 'invalid --addr: not a host name or IP address: "bad_host"'],
      [["issue", "admin", "--ca-dir", "/c", "--out", "/o", "--name", "a", "--addr", "h"], "invalid --addr: only valid for node certificates, not admin"],
      [["issue", "node", "--ca-dir", "/c", "--out", "/o", "--name", "a", "--addr", "h", "--prefix", "p"], "invalid --prefix: only valid for client certificates, not node"],
      [["issue", "client", "--ca-dir", "/c", "--out", "/o", "--name", "a", "--prefix", ""], "invalid --prefix: want 1 to 4096 bytes, got 0"],
      [["issue", "client", "--ca-dir", "/c", "--out", "/o", "--name", "../x"], 'invalid --name: want letters, digits and . _ @ - (starting with a letter or digit, at most 64), got "../x"'],
      [["issue", "client", "--ca-dir", "/c", "--out", "/o", "--name", "ca"], 'invalid --name: "ca" is taken by the CA\'s certificate (ca.crt); choose another name'],
      [["issue", "root", "--ca-dir", "/c", "--out", "/o", "--name", "a"], 'invalid role: want node, admin, client, got "root"'],
      [["show"], "invalid show: want the certificate FILE to show"],
      [["show", "a", "b"], 'unexpected argument "b" (see shardctl certs --help)'],
      [["show", "a", "--days", "3"], "invalid --days: only valid with init and issue, not show"],
    ];
    for (const [argv, message] of cases) expect(run(argv), argv.join(" ")).toEqual({ kind: "usage-error", message });
  });
});

describe("authority and show", () => {
  it("a node certificate: serverAuth and clientAuth, its addresses, signed by the CA, a private key of its own", async () => {
    const files = await pki.leaf({ role: "node", name: "n1", addrs: ["db1.example", "10.1.2.3"] });
    const cert = new X509Certificate(readFileSync(files.cert));
    const ca = new X509Certificate(readFileSync(pki.path("ca", "ca.crt")));
    expect(cert.verify(ca.publicKey) && cert.checkIssued(ca)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(cert.subjectAltName).toBe("DNS:db1.example, IP Address:10.1.2.3");
    expect(ca.ca).toBe(true);
    const info = certificateInfo(new Uint8Array(cert.raw));
    expect(info).toMatchObject({ subject: "O=shardkv, OU=node, CN=n1", role: "node", name: "n1", addresses: ["db1.example", "10.1.2.3"], issuer: "O=shardkv, CN=test CA ca" });
    expect(info.fingerprint).toBe(cert.fingerprint256);
    const shown = formatCertificate(info, wallClockMs());
    expect(shown.split("\n").map((l) => l.split(":")[0])).toEqual(
      ["subject", "role", "name", "prefix", "addresses", "issuer", "not before", "not after", "validity", "serial", "fingerprint"]);
    expect(shown).toMatch(/^validity: +valid, expires in 1 day$/m);
  });

  it("admin and client certificates are for clientAuth only", async () => {
    const files = await pki.leaf({ role: "admin", name: "ops" });
    expect(new X509Certificate(readFileSync(files.cert)).keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
  });

  it("refuses a leaf that would outlive its CA, and an output directory trusting another CA", async () => {
    await expect(issue({ caDir: pki.path("ca"), outDir: pki.path("long"), role: "admin", name: "x", addrs: [], days: 31 }))
      .rejects.toThrow(/^invalid --days: 31 days would outlive the CA, which expires on .* \(at most 29 days\)$/);
    await initCa({ caDir: pki.path("ca-b"), days: 30, name: "B" });
    await pki.leaf({ role: "admin", name: "y", dir: "mixed" });
    await expect(issue({ caDir: pki.path("ca-b"), outDir: pki.path("mixed"), role: "admin", name: "z", addrs: [], days: 1 }))
      .rejects.toThrow(`${pki.path("mixed", "ca.crt")} does not contain the CA of ${pki.path("ca-b")} (the directory trusts another CA)`);
  });

  it("show reads every certificate of a bundle and refuses what is not a certificate", () => {
    const bundle = pki.path("bundle.crt");
    pki.writeBundle(bundle, [pki.path("ca", "ca.crt"), pki.path("ca-b", "ca.crt")]);
    expect(readCertificates(bundle).map((i) => [i.role, i.name])).toEqual([["ca", "test CA ca"], ["ca", "B"]]);
    expect(() => readCertificates(pki.path("ca", "ca.key"))).toThrow(`${pki.path("ca", "ca.key")} is not a certificate: it holds a private key (want a PEM "CERTIFICATE" block, e.g. a .crt file)`);
    writeFileSync(pki.path("junk"), Buffer.from([0, 1, 2, 255]));
    expect(() => readCertificates(pki.path("junk"))).toThrow(`${pki.path("junk")} is not a certificate: it holds no PEM data`);
    expect(() => readCertificates(pki.path("nothing"))).toThrow(`cannot read ${pki.path("nothing")}: no such file`);
  });
});

describe("TLS files", () => {
  it("finds the files of a directory written by issue, or asks for names when it is ambiguous", async () => {
    const n = await pki.leaf({ role: "node", name: "n7", dir: "tlsdir" });
    expect(tlsFilesInDir(pki.path("tlsdir"))).toEqual({ ca: n.ca, cert: n.cert, key: n.key });
    await pki.leaf({ role: "admin", name: "ops", dir: "tlsdir" });
    expect(() => tlsFilesInDir(pki.path("tlsdir"))).toThrow(`TLS directory ${pki.path("tlsdir")} holds 2 certificates (n7.crt, ops.crt): name the certificate and key files`);
    expect(tlsFilesInDir(pki.path("tlsdir"), "ops").cert).toBe(pki.path("tlsdir", "ops.crt"));
  });

  it("a client's files come from its flags, else from $SHARDKV_TLS_*; a partial setting is refused", () => {
    expect(clientTlsFiles({}, {})).toBeUndefined();
    expect(clientTlsFiles({ cert: "c.crt" }, { SHARDKV_TLS_CA: "ca.crt", SHARDKV_TLS_CERT: "x.crt", SHARDKV_TLS_KEY: "c.key" }))
      .toEqual({ ca: "ca.crt", cert: "c.crt", key: "c.key" });
    expect(() => clientTlsFiles({}, { SHARDKV_TLS_CERT: "c.crt" })).toThrow(new TlsConfigError(
      "incomplete TLS settings: $SHARDKV_TLS_CA and $SHARDKV_TLS_KEY are not set (a client needs the CA certificate, its own certificate and its key)"));
  });

  it("loading checks that the files belong together", async () => {
    const a = await pki.leaf({ role: "client", name: "a", dir: "pair" });
    const b = await pki.leaf({ role: "client", name: "b", dir: "pair" });
    expect(() => loadTlsMaterial({ ...a, key: b.key })).toThrow(new TlsConfigError(`key ${b.key} is not the key of certificate ${a.cert}`));
    expect(() => loadTlsMaterial({ ...a, ca: a.cert })).toThrow(/^CA certificate file .*a\.crt: certificate 1 \(O=shardkv, OU=client, CN=a\) is not a CA certificate$/);
    expect(() => loadTlsMaterial({ ...a, ca: pki.path("ca-b", "ca.crt") })).toThrow(`certificate ${a.cert} (O=shardkv, OU=client, CN=a) is not signed by a CA in ${pki.path("ca-b", "ca.crt")}`);
    expect(() => loadTlsMaterial({ ...a, cert: a.key })).toThrow(`certificate ${a.key} holds no PEM certificate`);
    expect(() => loadTlsMaterial({ ...a, key: pki.path("pair", "none.key") })).toThrow(`cannot read key ${pki.path("pair", "none.key")}: no such file or directory`);
  });

  it("TlsSource keeps the last good set while the files are inconsistent, says why once, and takes the next good one", async () => {
    const files = await pki.leaf({ role: "client", name: "s", dir: "src" });
    const errors: string[] = [];
    const reloads: string[] = [];
    const src = new TlsSource(files, { reloadIntervalMs: 0, onReloadError: (m) => errors.push(m), onReload: (m) => reloads.push(m.certificate.serialNumber) });
    try {
      const first = src.current();
      expect(src.reloadNow()).toBe(false); // nothing changed
      const other = await pki.leaf({ role: "client", name: "t", dir: "src-other" });
      copyFileSync(other.key, files.key); // a rotation half done: the new key, the old certificate
      expect(src.reloadNow()).toBe(false);
      expect(src.reloadNow()).toBe(false);
      expect(src.current()).toBe(first);
      expect(errors).toEqual([`TLS files changed but are not used yet (keeping the previous ones): key ${files.key} is not the key of certificate ${files.cert}`]);
      copyFileSync(other.cert, files.cert);
      expect(src.reloadNow()).toBe(true);
      expect(src.current().certificate.serialNumber).toBe(new X509Certificate(readFileSync(other.cert)).serialNumber);
      expect(reloads).toEqual([src.current().certificate.serialNumber]);
    } finally {
      src.close();
    }
  });
});

describe("connectFailureReason", () => {
  it("finds the TLS reason in grpc-js's details, and nothing in other failures", () => {
    const details = (last: string) => `No connection established. Last error: ${last}. Resolution note: `;
    expect(connectFailureReason(details("Error: TLS handshake with h:1 failed: the server does not speak TLS (is it running without TLS?)"), true))
      .toBe("TLS handshake with h:1 failed: the server does not speak TLS (is it running without TLS?)");
    expect(connectFailureReason(details("Error: connect ECONNREFUSED 127.0.0.1:1"), true)).toBeUndefined();
    expect(connectFailureReason(details("Error: connect ECONNREFUSED 127.0.0.1:1"), false)).toBeUndefined();
    // "Failed to connect" (closed before HTTP/2 settings) hints at TLS only for a plaintext channel.
    expect(connectFailureReason(details("Failed to connect (2026-01-01T00:00:00.000Z)"), true)).toBeUndefined();
    expect(connectFailureReason(details("Failed to connect (2026-01-01T00:00:00.000Z)"), false)).toMatch(/^the server closed the connection before answering: it may require TLS/);
  });
});
