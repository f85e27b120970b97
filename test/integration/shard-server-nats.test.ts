/**
 * Config push: a shard server learns a new config at once, without waiting for its poll,
 * either from the controller leader's publication on NATS (with the Watch stream off) or from
 * the controller's Watch stream (without NATS). The poll is set to 10 min, so only the push
 * can make the group reach the new config within the deadline. Real gRPC, RocksDB and NATS;
 * servers in-process.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
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
import { Security } from "../../security/credentials";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(nats: boolean, watch: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "shardkv-push-"));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const [cp, sp] = await freePorts(2);
  const caddr = `127.0.0.1:${cp}`;
  const saddr = `127.0.0.1:${sp}`;
  const ctl = await ControllerServer.start({
    id: 1 as NodeId, listen: caddr, peers: new Map([[1 as NodeId, caddr]]), dataDir: join(dir, "c1"),
    shardCount: 4, natsUrl, tickMs: 20, security: Security.insecure(), logger: silentLogger,
  });
  cleanup.push(() => ctl.stop());
  const srv = await ShardServer.start({
    gid: 1 as GroupId, id: 1 as NodeId, listen: saddr, peers: new Map([[1 as NodeId, saddr]]), dataDir: join(dir, "g1"),
    controllers: [caddr], shardCount: 4, natsUrl: nats ? natsUrl : undefined, pollMs: 600_000, watchConfigs: watch, tickMs: 20,
    security: Security.insecure(), logger: silentLogger,
  });
  cleanup.push(() => srv.stop());
  const client = new ControllerClient({ controllers: [caddr], security: Security.insecure() });
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
