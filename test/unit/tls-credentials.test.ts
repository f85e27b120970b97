/**
 * security/credentials.ts with real gRPC servers on 127.0.0.1 and certificates made by
 * security/authority.ts: mutual TLS 1.3 works and the handler reads the client's role, name
 * and prefix; every refused connection (no client certificate, another CA, expired, not yet
 * valid, plaintext against TLS and back, a server certificate for another name or CA, TLS 1.2)
 * fails the call at once (UNAVAILABLE, not a deadline) with one line in the user's terms; and
 * rotating the leaf certificates, then the CA (trust both, move the leaves, drop the old),
 * while clients call in a loop, fails no call.
 */
import * as grpc from "@grpc/grpc-js";
import { type AddressInfo, createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wallClockMs } from "../../common/real-env";
import { channelCredentials, peerIdentity, serverCredentials, speaksTls } from "../../security/credentials";
import { NotAnIdentityError } from "../../security/identity";
import { connectFailureReason } from "../../security/tls-errors";
import { type TlsFiles, TlsSource, tlsFilesInDir } from "../../security/tls-files";
import { TestPki } from "../lib/certs";
import { waitFor } from "../lib/wait";

const dayMs = 86_400_000;

/** The test service: one unary method answering who the caller is (or why that is unknown). */
const whoMethod: grpc.MethodDefinition<Buffer, Buffer> = {
  path: "/test.Who/Who",
  requestStream: false,
  responseStream: false,
  requestSerialize: (b) => b,
  requestDeserialize: (b) => b,
  responseSerialize: (b) => b,
  responseDeserialize: (b) => b,
};
const whoService = { who: whoMethod } as unknown as grpc.ServiceDefinition;
const WhoClient = grpc.makeGenericClientConstructor(whoService, "Who") as unknown as new (
  address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions,
) => grpc.Client & { who: (req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void };

interface WhoReply {
  readonly role?: string;
  readonly name?: string;
  readonly prefix?: string;
  readonly serial?: string;
  readonly error?: string;
}

function whoHandler(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
  let reply: WhoReply;
  try {
    const id = peerIdentity(call);
    reply = {
      role: id.role, name: id.name, ...(id.prefix ? { prefix: Buffer.from(id.prefix).toString() } : {}),
      serial: call.getAuthContext().sslPeerCertificate!.serialNumber.toLowerCase(),
    };
  } catch (e) {
    if (!(e instanceof NotAnIdentityError)) throw e;
    reply = { error: e.message };
  }
  cb(null, Buffer.from(JSON.stringify(reply)));
}

const servers: grpc.Server[] = [];
const sources: TlsSource[] = [];
const pki = new TestPki();

async function startServer(creds: grpc.ServerCredentials): Promise<number> {
  const server = new grpc.Server();
  server.addService(whoService, { who: whoHandler });
  servers.push(server);
  return new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", creds, (e, port) => (e ? reject(e) : resolve(port))));
}

function source(files: TlsFiles, opts: ConstructorParameters<typeof TlsSource>[1] = { reloadIntervalMs: 0 }): TlsSource {
  const s = new TlsSource(files, opts);
  sources.push(s);
  return s;
}

type CallResult = { readonly ok: true; readonly reply: WhoReply } | { readonly ok: false; readonly code: number; readonly details: string };

function callWho(client: InstanceType<typeof WhoClient>): Promise<CallResult> {
  return new Promise((resolve) => {
    client.who(Buffer.alloc(0), new grpc.Metadata(), { deadline: wallClockMs() + 10_000 }, (e, r) => {
      resolve(e ? { ok: false, code: e.code, details: e.details } : { ok: true, reply: JSON.parse(r!.toString()) as WhoReply });
    });
  });
}

/** One call on a new channel (and a new connection: no subchannel shared with other channels). */
async function callOnce(port: number, creds: grpc.ChannelCredentials, options: grpc.ClientOptions = {}): Promise<CallResult> {
  const client = new WhoClient(`127.0.0.1:${port}`, creds, { "grpc.use_local_subchannel_pool": 1, ...options });
  try {
    return await callWho(client);
  } finally {
    client.close();
  }
}

/** The one-line reason of a call that must have failed to connect. */
function refusal(r: CallResult, secure = true): string {
  if (r.ok) throw new Error(`the call succeeded: ${JSON.stringify(r.reply)}`);
  expect(r.code).toBe(grpc.status.UNAVAILABLE); // refused at once, not left to hang until the deadline
  const reason = connectFailureReason(r.details, secure);
  if (reason === undefined) throw new Error(`no TLS reason found in ${JSON.stringify(r.details)}`);
  expect(reason).not.toMatch(/\n/);
  expect(reason).not.toMatch(/SSL routines|openssl|\.c:\d+/);
  return reason;
}

/** The error code of a TLS 1.2 handshake with the server at `port` (with a valid client certificate). */
function tls12Error(port: number, files: TlsFiles): Promise<string | undefined> {
  const m = source(files).current();
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca: m.ca, cert: m.cert, key: m.key, maxVersion: "TLSv1.2", ALPNProtocols: ["h2"], checkServerIdentity: () => undefined });
    s.once("secureConnect", () => {
      s.destroy();
      resolve(undefined);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code));
  });
}

let node: TlsFiles;
let alice: TlsFiles;
let tlsPort: number;

beforeAll(async () => {
  await pki.ca("ca");
  await pki.ca("other-ca");
  node = await pki.leaf({ role: "node", name: "n1" });
  alice = await pki.leaf({ role: "client", name: "alice", prefix: Buffer.from("users/alice/") });
  tlsPort = await startServer(serverCredentials(source(node)));
});

afterAll(() => {
  for (const s of servers) s.forceShutdown();
  for (const s of sources) s.close();
  pki.remove();
});

describe("mutual TLS", () => {
  it("a client with a CA-issued certificate is served, and the handler reads its role, name and prefix", async () => {
    const r = await callOnce(tlsPort, channelCredentials(source(alice)));
    expect(r).toEqual({ ok: true, reply: { role: "client", name: "alice", prefix: "users/alice/", serial: expect.any(String) } });
    const admin = await pki.leaf({ role: "admin", name: "ops" });
    expect(await callOnce(tlsPort, channelCredentials(source(admin)))).toMatchObject({ ok: true, reply: { role: "admin", name: "ops" } });
    // A node calling another node (its certificate is for both ends).
    const n2 = await pki.leaf({ role: "node", name: "n2" });
    expect(await callOnce(tlsPort, channelCredentials(source(n2)))).toMatchObject({ ok: true, reply: { role: "node", name: "n2" } });
  });

  it("dials by host name as well as by IP address (both are in the node certificate)", async () => {
    const client = new WhoClient(`localhost:${tlsPort}`, channelCredentials(source(alice)), { "grpc.use_local_subchannel_pool": 1 });
    try {
      expect(await callWho(client)).toMatchObject({ ok: true, reply: { name: "alice" } });
    } finally {
      client.close();
    }
  });

  it("refuses a client without a certificate", async () => {
    const r = await callOnce(tlsPort, grpc.credentials.createSsl(readFileSync(alice.ca)), { "grpc.ssl_target_name_override": "localhost" });
    expect(refusal(r)).toBe("TLS handshake failed: the server requires a client certificate, and this client sent none (set $SHARDKV_TLS_CERT and $SHARDKV_TLS_KEY)");
  });

  it("refuses a client certificate from another CA, naming it", async () => {
    const mallory = await pki.leaf({ role: "client", name: "mallory", ca: "other-ca" });
    // Mallory trusts the cluster's CA (to accept the server) but her certificate is from another one.
    pki.writeBundle(mallory.ca, [pki.path("ca", "ca.crt"), pki.path("other-ca", "ca.crt")]);
    const reason = refusal(await callOnce(tlsPort, channelCredentials(source(mallory))));
    expect(reason).toBe(`TLS handshake with 127.0.0.1:${tlsPort} failed: the server refused this client's certificate ${mallory.cert} ` +
      "(O=shardkv, OU=client, CN=mallory): it is not signed by a CA the server trusts, or has expired by the server's clock");
  });

  it("refuses an expired client certificate, and one not yet valid, saying which and why", async () => {
    const old = await pki.leaf({ role: "client", name: "old", days: 1, nowMs: wallClockMs() - 3 * dayMs });
    expect(refusal(await callOnce(tlsPort, channelCredentials(source(old)))))
      .toMatch(new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:${tlsPort} failed: the server refused this client's certificate ${old.cert} \\(O=shardkv, OU=client, CN=old\\): it expired on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; issue a new one$`));
    const early = await pki.leaf({ role: "client", name: "early", nowMs: wallClockMs() + 3 * dayMs });
    expect(refusal(await callOnce(tlsPort, channelCredentials(source(early)))))
      .toMatch(new RegExp(`the server refused this client's certificate ${early.cert} \\(O=shardkv, OU=client, CN=early\\): it is not valid before \\d{4}-[\\d-]+T[\\d:.]+Z \\(is a clock wrong\\?\\)$`));
  });

  it("a plaintext client against the TLS server, and a TLS client against a plaintext server, each fail with one line", async () => {
    expect(refusal(await callOnce(tlsPort, grpc.credentials.createInsecure()), false))
      .toBe("the server closed the connection before answering: it may require TLS (this client connects without TLS; set $SHARDKV_TLS_CA, $SHARDKV_TLS_CERT and $SHARDKV_TLS_KEY)");
    const plainPort = await startServer(grpc.ServerCredentials.createInsecure());
    expect(refusal(await callOnce(plainPort, channelCredentials(source(alice)))))
      .toBe(`TLS handshake with 127.0.0.1:${plainPort} failed: the server does not speak TLS (is it running without TLS?)`);
    // And the plaintext server's handler cannot take a plaintext caller for anyone.
    const r = await callOnce(plainPort, grpc.credentials.createInsecure());
    expect(r).toEqual({ ok: true, reply: { error: "the call did not come with a verified client certificate (not over TLS)" } });
  });

  it("speaksTls tells a TLS server from a plaintext one and from a port where nothing answers in TLS", async () => {
    expect(await speaksTls(`127.0.0.1:${tlsPort}`)).toBe(true);
    const plainPort = await startServer(grpc.ServerCredentials.createInsecure());
    expect(await speaksTls(`127.0.0.1:${plainPort}`)).toBe(false);
    const closing = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => closing.listen(0, "127.0.0.1", resolve));
    try {
      expect(await speaksTls(`127.0.0.1:${(closing.address() as AddressInfo).port}`)).toBe(false);
    } finally {
      closing.close();
    }
  });

  it("the client refuses a server certificate from another CA, expired, or not for the address dialled", async () => {
    const rogue = await pki.leaf({ role: "node", name: "rogue", ca: "other-ca" });
    pki.writeBundle(rogue.ca, [pki.path("ca", "ca.crt"), pki.path("other-ca", "ca.crt")]);
    const roguePort = await startServer(serverCredentials(source(rogue)));
    expect(refusal(await callOnce(roguePort, channelCredentials(source(alice)))))
      .toBe(`TLS handshake with 127.0.0.1:${roguePort} failed: the server's certificate (O=shardkv, OU=node, CN=rogue) is not signed by a CA in ${alice.ca}`);

    const stale = await pki.leaf({ role: "node", name: "stale", days: 1, nowMs: wallClockMs() - 3 * dayMs });
    const stalePort = await startServer(serverCredentials(source(stale)));
    expect(refusal(await callOnce(stalePort, channelCredentials(source(alice)))))
      .toMatch(new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:${stalePort} failed: the server's certificate \\(O=shardkv, OU=node, CN=stale\\) expired on \\d{4}-[\\d-]+T[\\d:.]+Z$`));

    const r = await callOnce(tlsPort, channelCredentials(source(alice)), { "grpc.ssl_target_name_override": "db.example" });
    expect(refusal(r)).toBe(`TLS handshake with 127.0.0.1:${tlsPort} failed: the server's certificate (O=shardkv, OU=node, CN=n1) ` +
      "is not valid for db.example (it is for IP:127.0.0.1, DNS:localhost)");
  });

  it("the server accepts TLS 1.3 only", async () => {
    expect(await tls12Error(tlsPort, alice)).toBe("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
  });
});

describe("rotation without restart", () => {
  it("rotating the leaf certificates, then the CA (trust both, move the leaves, drop the old), fails no call", async () => {
    await pki.ca("ca1");
    const serverFiles = await pki.leaf({ role: "node", name: "r1", ca: "ca1", dir: "rot-server" });
    const clientFiles = await pki.leaf({ role: "client", name: "carol", ca: "ca1", dir: "rot-client", prefix: Buffer.from("c/") });
    const reloadErrors: string[] = [];
    const watch = { reloadIntervalMs: 20, onReloadError: (m: string) => reloadErrors.push(m) };
    const serverSource = source(tlsFilesInDir(pki.path("rot-server")), watch);
    const clientSource = source(tlsFilesInDir(pki.path("rot-client")), watch);
    const port = await startServer(serverCredentials(serverSource));
    const creds = channelCredentials(clientSource);

    // Two callers until the end: one channel kept open, and a new connection per call (each a
    // handshake with whatever certificates are in use at that moment).
    const failures: string[] = [];
    let stop = false;
    let keptOk = 0;
    let freshOk = 0;
    let lastSerial = "";
    const kept = new WhoClient(`127.0.0.1:${port}`, creds);
    const loops = [
      (async () => {
        while (!stop) {
          const r = await callWho(kept);
          if (r.ok) keptOk++;
          else failures.push(`kept channel: ${r.details}`);
        }
      })(),
      (async () => {
        while (!stop) {
          const r = await callOnce(port, creds);
          if (r.ok) {
            freshOk++;
            lastSerial = r.reply.serial!;
          } else {
            failures.push(`new connection: ${r.details}`);
          }
        }
      })(),
    ];
    /** Waits until `src` uses what `file` holds now, then for a few more handshakes. */
    const inUse = async (src: TlsSource, part: "ca" | "cert", file: string, what: string) => {
      const want = readFileSync(file);
      await waitFor(() => src.current()[part].equals(want), { timeoutMs: 10_000, what });
      const after = freshOk;
      await waitFor(() => freshOk >= after + 3, { timeoutMs: 10_000, what: `3 calls after ${what}` });
    };
    try {
      await waitFor(() => keptOk > 0 && freshOk > 0, { timeoutMs: 10_000, what: "the first calls" });
      expect(lastSerial).toBe(clientFiles.serial);

      // 1. New leaves from the same CA.
      await pki.leaf({ role: "node", name: "r1", ca: "ca1", dir: "rot-server" });
      await inUse(serverSource, "cert", serverFiles.cert, "the server's new certificate");
      const carol2 = await pki.leaf({ role: "client", name: "carol", ca: "ca1", dir: "rot-client", prefix: Buffer.from("c/") });
      await inUse(clientSource, "cert", clientFiles.cert, "the client's new certificate");
      expect(lastSerial).toBe(carol2.serial);

      // 2. A new CA: both sides trust both, the leaves move to the new CA, the old is dropped.
      await pki.ca("ca2");
      for (const [src, files] of [[serverSource, serverFiles], [clientSource, clientFiles]] as const) {
        pki.writeBundle(files.ca, [pki.path("ca1", "ca.crt"), pki.path("ca2", "ca.crt")]);
        await inUse(src, "ca", files.ca, "trusting both CAs");
      }
      await pki.leaf({ role: "node", name: "r1", ca: "ca2", dir: "rot-server" });
      await inUse(serverSource, "cert", serverFiles.cert, "the server's certificate from the new CA");
      const carol3 = await pki.leaf({ role: "client", name: "carol", ca: "ca2", dir: "rot-client", prefix: Buffer.from("c/") });
      await inUse(clientSource, "cert", clientFiles.cert, "the client's certificate from the new CA");
      expect(lastSerial).toBe(carol3.serial);
      for (const [src, files] of [[serverSource, serverFiles], [clientSource, clientFiles]] as const) {
        pki.writeBundle(files.ca, [pki.path("ca2", "ca.crt")]);
        await inUse(src, "ca", files.ca, "trusting the new CA only");
      }
    } finally {
      stop = true;
      await Promise.all(loops);
      kept.close();
    }
    expect(failures).toEqual([]);
    expect(keptOk).toBeGreaterThan(0);
    // A key written before its certificate may be seen alone; that set is never used.
    for (const e of reloadErrors) expect(e).toMatch(/^TLS files changed but are not used yet \(keeping the previous ones\): key .* is not the key of certificate /);

    // The old CA is no longer trusted: a client certificate it issued is refused now.
    const dave = await pki.leaf({ role: "client", name: "dave", ca: "ca1", dir: "rot-old" });
    pki.writeBundle(dave.ca, [pki.path("ca1", "ca.crt"), pki.path("ca2", "ca.crt")]);
    expect(refusal(await callOnce(port, channelCredentials(source(dave))))).toMatch(/the server refused this client's certificate .*dave\.crt/);
    // And the reloaded server still accepts TLS 1.3 only.
    expect(await tls12Error(port, clientFiles)).toBe("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION");
  });
});
