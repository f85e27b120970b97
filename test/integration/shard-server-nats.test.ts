/**
 * Config push: a shard server learns a new config at once, without waiting for its poll,
 * either from the controller leader's publication on NATS (with the Watch stream off) or from
 * the controller's Watch stream (without NATS). The poll is set to 10 min, so only the push
 * can make the group reach the new config within the deadline. Real gRPC, RocksDB and NATS;
 * servers in-process. Also over TLS: a NATS server of its own requiring client certificates
 * (tls:// URL), the daemons connecting with their node certificates.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../common/env";
import type { GroupId, NodeId } from "../../common/ids";
import { ControllerClient } from "../../controller/client";
import { ControllerServer } from "../../controller/server";
import { ShardServer } from "../../shard-server/server";
import { freePorts } from "../../deploy/local/process";
import { natsUrl, requireNats } from "../lib/nats";
import { waitFor } from "../lib/wait";
import { Security, securityOf } from "../../security/credentials";
import { TestPki } from "../lib/certs";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(nats: boolean, watch: boolean, tls?: { url: string; security: Security; admin: Security }) {
  const dir = mkdtempSync(join(tmpdir(), "shardkv-push-"));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const [cp, sp] = await freePorts(2);
  const caddr = `127.0.0.1:${cp}`;
  const saddr = `127.0.0.1:${sp}`;
  const ctl = await ControllerServer.start({
    id: 1 as NodeId, listen: caddr, peers: new Map([[1 as NodeId, caddr]]), dataDir: join(dir, "c1"),
    shardCount: 4, natsUrl: tls?.url ?? natsUrl, tickMs: 20, security: tls?.security ?? Security.insecure(), logger: silentLogger,
  });
  cleanup.push(() => ctl.stop());
  const srv = await ShardServer.start({
    gid: 1 as GroupId, id: 1 as NodeId, listen: saddr, peers: new Map([[1 as NodeId, saddr]]), dataDir: join(dir, "g1"),
    controllers: [caddr], shardCount: 4, natsUrl: nats ? (tls?.url ?? natsUrl) : undefined, pollMs: 600_000, watchConfigs: watch, tickMs: 20,
    security: tls?.security ?? Security.insecure(), logger: silentLogger,
  });
  cleanup.push(() => srv.stop());
  const client = new ControllerClient({ controllers: [caddr], security: tls?.admin ?? Security.insecure() });
  cleanup.push(async () => client.close());
  await waitFor(async () => (await srv.status()).role === "leader", { timeoutMs: 10_000, what: "the shard group's leader" });
  return { srv, client };
}

describe("shard server config push over NATS", () => {
  beforeAll(() => requireNats());

  it("reaches a new config at once when NATS pushes it", async () => {
    const { srv, client } = await setup(true, false);
    await waitFor(() => srv.configPushSubscribed, { timeoutMs: 10_000, what: "the NATS subscription" });
    const num = await client.join(new Map([[1 as GroupId, [(await srv.status()).leaderAddress ?? ""]]]));
    expect(num).toBe(1);
    await waitFor(async () => (await srv.status()).configNum === 1, { timeoutMs: 10_000, what: "the group to reach config 1 by push" });
  });
});

describe("shard server config push from the controller's Watch stream", () => {
  it("reaches a new config at once without NATS", async () => {
    const { srv, client } = await setup(false, true);
    const num = await client.join(new Map([[1 as GroupId, [(await srv.status()).leaderAddress ?? ""]]]));
    expect(num).toBe(1);
    await waitFor(async () => (await srv.status()).configNum === 1, { timeoutMs: 10_000, what: "the group to reach config 1 from the Watch stream" });
  });
});

describe("shard server config push over NATS with TLS", () => {
  const natsServerBin = "/usr/sbin/nats-server";

  it("reaches a new config at once when NATS, reached over TLS with the daemons' certificates, pushes it", async () => {
    if (!existsSync(natsServerBin)) throw new Error(`${natsServerBin} is missing: this test starts a NATS server of its own with TLS`);
    const pki = new TestPki();
    cleanup.push(async () => pki.remove());
    await pki.ca();
    const natsCert = await pki.leaf({ role: "node", name: "nats" });
    const node = await pki.leaf({ role: "node", name: "n1" });
    const admin = await pki.leaf({ role: "admin", name: "ops" }); // a join is an admin's (node certificates may not)
    const [port] = await freePorts(1);
    // Requires TLS and a client certificate of the cluster CA (--tlsverify).
    const proc = spawn(natsServerBin, ["-a", "127.0.0.1", "-p", String(port), "--tls", "--tlscert", natsCert.cert, "--tlskey", natsCert.key,
      "--tlscacert", natsCert.ca, "--tlsverify"], { stdio: "ignore" });
    cleanup.push(async () => void proc.kill("SIGKILL"));
    await waitFor(() => new Promise<boolean>((resolve) => {
      const c = tcpConnect({ host: "127.0.0.1", port }, () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    }), { timeoutMs: 20_000, what: "the TLS NATS server to listen", intervalMs: 100 });
    const security = securityOf(node, { reloadIntervalMs: 0 });
    const { srv, client } = await setup(true, false, { url: `tls://127.0.0.1:${port}`, security, admin: securityOf(admin, { reloadIntervalMs: 0 }) });
    await waitFor(() => srv.configPushSubscribed, { timeoutMs: 10_000, what: "the NATS subscription over TLS" });
    const num = await client.join(new Map([[1 as GroupId, [(await srv.status()).leaderAddress ?? ""]]]));
    expect(num).toBe(1);
    await waitFor(async () => (await srv.status()).configNum === 1, { timeoutMs: 10_000, what: "the group to reach config 1 by a push over TLS" });
  });
});
