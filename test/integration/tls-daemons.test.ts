/**
 * Real processes: the daemons' TLS settings as an operator meets them (docs/design.md#94-secure-by-default).
 * A daemon given neither TLS files nor --insecure refuses to start with one line; unusable
 * files are named in one line; a daemon started --insecure says so in one line, and a client
 * with TLS against it fails at once with one line. Then a small cluster on mutual TLS
 * (LocalCluster with tls, the certificates shardkv-local makes): every node certificate is
 * re-issued on disk while clients write, and no operation fails; every daemon takes the new
 * certificate without a restart, and a new client connects afterwards. Then the CA itself is
 * replaced in the three documented steps (trust both, re-issue every certificate from the new
 * CA, drop the old one), again under load without a failed operation, after which a
 * certificate of the old CA is refused.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcClientTransport } from "../../client/grpc-transport";
import { ShardKV } from "../../client/shardkv";
import { TlsHandshakeError } from "../../common/errors";
import { initCa, issue } from "../../security/authority";
import { securityOf } from "../../security/credentials";
import { LocalCluster } from "../../deploy/local/cluster";
import { certsDirOf, issueNodeCert, nodeTlsDirOf } from "../../deploy/local/certs";
import { freePorts } from "../../deploy/local/process";
import { TestPki } from "../lib/certs";
import { runShardctl } from "../lib/run-cli";
import { waitFor } from "../lib/wait";

const binDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin");
const controllerBin = join(binDir, "shardkv-controller");
const serverBin = join(binDir, "shardkv-server");

function runSync(bin: string, args: readonly string[]): { status: number | null; stderr: string } {
  const r = spawnSync(bin, [...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe("daemon TLS settings (real processes)", { timeout: 120_000 }, () => {
  let root: string;
  let pki: TestPki;
  const ctlArgs = (data: string) => ["--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--data", data];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "shardkv-tls-daemons-"));
    pki = new TestPki();
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    pki.remove();
  });

  it("without TLS files or --insecure a daemon refuses to start, in one line, exit 2, touching nothing", () => {
    const data = join(root, "never");
    const want = "invalid TLS settings: none given: pass --tls-dir DIR (ca.crt, node.crt, node.key), or --tls-ca, --tls-cert and --tls-key; " +
      "or --insecure to run without TLS (anyone who reaches the port can then read and change everything) (--help for usage)\n";
    const ctl = runSync(controllerBin, ctlArgs(data));
    expect(ctl).toEqual({ status: 2, stderr: `shardkv-controller: ${want}` });
    const srv = runSync(serverBin, ["--gid", "1", ...ctlArgs(data), "--controllers", "127.0.0.1:2"]);
    expect(srv).toEqual({ status: 2, stderr: `shardkv-server: ${want}` });
    // Files that cannot be used: named, one line, exit 2.
    const missing = runSync(controllerBin, [...ctlArgs(data), "--tls-dir", join(root, "no-such-dir")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`shardkv-controller: cannot start: invalid --tls-dir: cannot read TLS directory ${join(root, "no-such-dir")}: no such file or directory\n`);
    expect(existsSync(data)).toBe(false);
  });

  it("a daemon started --insecure says so in one line; a client with TLS against it fails at once, in one line", async () => {
    await pki.ca();
    const admin = await pki.leaf({ role: "admin", name: "ops" });
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const d: ChildProcess = spawn(controllerBin, ["--id", "1", "--listen", addr, "--peers", `1=${addr}`, "--data", join(root, "c1"), "--insecure", "--tick-ms", "20"],
      { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    d.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    try {
      // Said once it runs (after its "listening on" line), not before: a refusal is one line.
      await waitFor(() => /running INSECURE/.test(stderr), { timeoutMs: 60_000, what: "the insecure controller to say it runs without TLS" });
      expect(stderr).toMatch(/listening on/);
      // A JSON line (stderr is no terminal) with a stable msg: `jq 'select(.msg | startswith("running INSECURE"))'` finds it.
      const insecureLines = stderr.split("\n").filter((l) => /INSECURE/.test(l));
      expect(insecureLines).toHaveLength(1);
      expect(JSON.parse(insecureLines[0]!)).toMatchObject({
        level: "warn", gid: 0, node: 1,
        msg: "running INSECURE (--insecure): no TLS, no authentication; anyone who can reach this port can read and change all data",
      });

      const r = await runShardctl(["--controllers", addr, "--timeout", "60s", "--tls-ca", admin.ca, "--tls-cert", admin.cert, "--tls-key", admin.key, "query"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`shardctl: cannot reach controller ${addr}: TLS handshake with ${addr} failed: the server does not speak TLS (is it running without TLS?)\n`);
    } finally {
      d.kill("SIGKILL");
    }
  });
});

/** Puts by one client, one at a time, until stop(): how many succeeded and every failure. */
function putLoad(kv: ShardKV, prefix: string): { readonly ops: number; readonly failures: string[]; stop(): Promise<void> } {
  let stopped = false;
  const failures: string[] = [];
  const state = { ops: 0, failures, stop: async () => {
    stopped = true;
    await running;
  } };
  const running = (async () => {
    for (let i = 0; !stopped; i++) {
      try {
        await kv.put(`${prefix}${i % 20}`, `v${i}`);
        state.ops++;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  })();
  return state;
}

describe("a cluster on mutual TLS: node certificates rotated on disk under load", { timeout: 240_000 }, () => {
  let dir: string;
  let cluster: LocalCluster | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-tls-cluster-"));
    cluster = await LocalCluster.up({ dir, tls: true, controllers: 3, groups: 1, replicas: 3, shards: 4, tickMs: 50, timeoutMs: 120_000 });
  });
  afterAll(async () => {
    await cluster?.down(0).catch(() => undefined);
    cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("re-issued node certificates are taken by every daemon without a restart; no client operation fails", async () => {
    const c = cluster!;
    const kv = await ShardKV.connect({ ...c.clientOptions(), deadlineMs: 20_000 });
    const load = putLoad(kv, "rot-");
    try {
      await waitFor(() => load.ops >= 20, { timeoutMs: 60_000, what: "the load to run" });
      const names = c.nodeNames();
      for (const name of names) await issueNodeCert(dir, name, c.node(name).addr);
      // Each daemon logs the certificate it takes into use (security/credentials.ts daemonSecurity).
      await waitFor(() => names.every((n) => /TLS: now using /.test(c.logOf(n))), {
        timeoutMs: 30_000, what: "every daemon to take its new certificate", intervalMs: 200,
      });
      const before = load.ops;
      await waitFor(() => load.ops >= before + 20, { timeoutMs: 60_000, what: "the load to go on after the rotation" });
    } finally {
      await load.stop();
      kv.close();
    }
    expect(load.failures).toEqual([]);
    // A new client makes new connections, to servers that now present their new certificates.
    const fresh = await ShardKV.connect({ ...c.clientOptions(), deadlineMs: 20_000 });
    try {
      await fresh.put("after-rotation", "ok");
      expect(await fresh.getString("after-rotation")).toBe("ok");
    } finally {
      fresh.close();
    }
  });

  it("the CA is replaced in three steps (trust both, re-issue, drop the old) under load: no operation fails", async () => {
    const c = cluster!;
    const names = c.nodeNames();
    const nowUsing = (n: string): number => c.logOf(n).split("TLS: now using ").length - 1;
    const clientFiles = c.tlsFiles("client")!;
    // The client's own Security, so the test sees when it takes new files (as the daemons log it).
    let clientReloads = 0;
    const security = securityOf(clientFiles, { onReload: () => clientReloads++ });
    const kv = await ShardKV.connect({ controllers: c.controllerAddrs(), transport: new GrpcClientTransport(security, true), deadlineMs: 20_000 });
    const load = putLoad(kv, "ca-");
    /** Runs `change`, then waits until every daemon and the client took new files into use. */
    const step = async (what: string, change: () => Promise<void>): Promise<void> => {
      const before = new Map(names.map((n) => [n, nowUsing(n)]));
      const clientBefore = clientReloads;
      await change();
      await waitFor(() => names.every((n) => nowUsing(n) > before.get(n)!) && clientReloads > clientBefore, {
        timeoutMs: 30_000, what: `every daemon and the client to take the files of step "${what}"`, intervalMs: 200,
      });
      const opsBefore = load.ops;
      await waitFor(() => load.ops >= opsBefore + 10, { timeoutMs: 60_000, what: `the load to go on after step "${what}"` });
    };
    const certs = certsDirOf(dir);
    const oldCa = join(certs, "ca", "ca.crt");
    const newCaDir = join(certs, "ca2");
    const caFilesOf = [...names.map((n) => join(nodeTlsDirOf(dir, n), "ca.crt")), clientFiles.ca, join(certs, "admin", "ca.crt")];
    const writeAll = (pem: string): void => {
      for (const f of caFilesOf) {
        writeFileSync(`${f}.tmp`, pem);
        renameSync(`${f}.tmp`, f);
      }
    };
    try {
      await waitFor(() => load.ops >= 10, { timeoutMs: 60_000, what: "the load to run" });
      await initCa({ caDir: newCaDir, days: 60, name: "the next CA" });
      const newCa = join(newCaDir, "ca.crt");
      await step("trust both", async () => writeAll(readFileSync(oldCa, "utf8") + readFileSync(newCa, "utf8")));
      await step("re-issue from the new CA", async () => {
        for (const n of names) await issue({ caDir: newCaDir, outDir: nodeTlsDirOf(dir, n), role: "node", name: n, addrs: ["127.0.0.1", "localhost"], days: 30 });
        await issue({ caDir: newCaDir, outDir: join(certs, "client"), role: "client", name: "client", addrs: [], days: 30 });
      });
      await step("drop the old CA", async () => writeAll(readFileSync(newCa, "utf8")));
    } finally {
      await load.stop();
      kv.close();
    }
    expect(load.failures).toEqual([]);
    // A certificate of the old CA is refused by the servers now, at once and in one line (this
    // client trusts both CAs, so its own files load and it accepts the servers).
    const old = await issue({ caDir: join(certs, "ca"), outDir: join(dir, "old-ca-client"), role: "client", name: "stale", addrs: [], days: 30 });
    const both = join(dir, "old-ca-client", "both.crt");
    writeFileSync(both, readFileSync(oldCa, "utf8") + readFileSync(join(newCaDir, "ca.crt"), "utf8"));
    const refused = await ShardKV.connect({
      controllers: c.controllerAddrs(), tls: { ca: both, cert: old.certFile, key: old.keyFile }, deadlineMs: 60_000,
    }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TlsHandshakeError);
    expect((refused as Error).message).toMatch(/^cannot reach controller [\d.:]+: TLS handshake with [\d.:]+ failed: the server refused this client's certificate .*stale\.crt \(O=shardkv, OU=client, CN=stale\): it is not signed by a CA the server trusts/);
  });
});
