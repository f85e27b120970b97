/**
 * The service, shard, migration and controller metrics of real servers (in-process: one
 * controller and single-replica shard groups, real gRPC and RocksDB, each given its own
 * registry as the daemons' mains give theirs), read through prom-client's registry:
 *  - N puts through the client library move operations_total{type=put,result=ok} by exactly
 *    N and request_bytes_total{type=put} by their key and value bytes; gets likewise;
 *  - a get sent to a group that owns nothing is answered WrongGroup and counted as a
 *    wrong_group result and refusal; a key over the limit as a keyBytesMax refusal;
 *  - a join that moves shards: the new owner's moved bytes in and the old owner's moved bytes
 *    out grow, nothing stays in flight, the shard gauges follow, the old owner served the
 *    pulls and deletes; the controller counts its Joins and shows the config;
 *  - size: the text exposition of a server owning all of 1,024 shards, and of one owning all
 *    of 16,384, with the labels the daemons add, stays under 32 KiB (docs/operations.md), and
 *    so does the controller's (measured: about 14.3 KiB and 10.2 KiB, the same for both).
 */
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../common/env";
import { fromWireError } from "../../common/grpc-errors";
import type { GroupId, NodeId } from "../../common/ids";
import { InvalidArgumentError, type ShardKVError, WrongGroupError } from "../../common/errors";
import { ShardKV } from "../../client/shardkv";
import { ControllerClient } from "../../controller/client";
import { ControllerServer } from "../../controller/server";
import { shardOf } from "../../controller/shard-of";
import { freePorts } from "../../deploy/local/process";
import type { shardkv } from "../../proto/gen/shardkv.js";
import { shardPb } from "../../shard-server/codec";
import { shardKVStub } from "../../shard-server/grpc-service";
import { ShardServer } from "../../shard-server/server";
import { Security } from "../../security/credentials";
import { waitFor } from "../lib/wait";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

type Value = { value: number; labels: Record<string, string | number>; metricName?: string };

/** The value of `name` whose labels include `labels` (0 when no such series). */
async function metric(reg: Registry, name: string, labels: Record<string, string> = {}, series = name): Promise<number> {
  const m = reg.getSingleMetric(name);
  expect(m, `metric ${name}`).toBeDefined();
  const found = ((await m!.get()).values as Value[])
    .filter((v) => (v.metricName ?? name) === series && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
  expect(found.length, `series of ${name} ${JSON.stringify(labels)}`).toBeLessThanOrEqual(1);
  return found[0]?.value ?? 0;
}

const ops = (reg: Registry, type: string, result: string) => metric(reg, "shardkv_service_operations_total", { type, result });

/** A registry with the default labels the daemons set (metrics' mains). */
function daemonRegistry(gid: number, node: number): Registry {
  const reg = new Registry();
  reg.setDefaultLabels({ gid: String(gid), node: String(node) });
  return reg;
}

interface Cluster {
  readonly dir: string;
  readonly caddr: string;
  readonly ctlReg: Registry;
  readonly servers: Map<number, { srv: ShardServer; addr: string; reg: Registry }>;
  readonly client: ControllerClient;
}

/** One controller and single-replica groups `gids` (not joined), each with its own registry. */
async function startCluster(shardCount: number, gids: readonly number[]): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "shardkv-metrics-"));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const [cp, ...ports] = await freePorts(1 + gids.length);
  const caddr = `127.0.0.1:${cp}`;
  const ctlReg = daemonRegistry(0, 1);
  const ctl = await ControllerServer.start({
    id: 1 as NodeId, listen: caddr, peers: new Map([[1 as NodeId, caddr]]), dataDir: join(dir, "c1"), shardCount, tickMs: 20,
    security: Security.insecure(), logger: silentLogger, metricsRegistry: ctlReg,
  });
  cleanup.push(() => ctl.stop());
  const servers = new Map<number, { srv: ShardServer; addr: string; reg: Registry }>();
  for (const [i, gid] of gids.entries()) {
    const addr = `127.0.0.1:${ports[i]}`;
    const reg = daemonRegistry(gid, 1);
    const srv = await ShardServer.start({
      gid: gid as GroupId, id: 1 as NodeId, listen: addr, peers: new Map([[1 as NodeId, addr]]), dataDir: join(dir, `g${gid}`),
      controllers: [caddr], shardCount, tickMs: 20, security: Security.insecure(), logger: silentLogger, metricsRegistry: reg,
    });
    cleanup.push(() => srv.stop());
    servers.set(gid, { srv, addr, reg });
  }
  const client = new ControllerClient({ controllers: [caddr], security: Security.insecure() });
  cleanup.push(async () => client.close());
  return { dir, caddr, ctlReg, servers, client };
}

/** Sends one request on a raw Batch stream to `address`; resolves with its error (undefined: none). */
async function batchOnce(address: string, req: shardkv.kv.BatchRequest.IRequest): Promise<ShardKVError | undefined> {
  const stub = shardKVStub(address, Security.insecure());
  try {
    const call = stub.batch();
    const answer = new Promise<shardkv.kv.BatchResponse>((resolve, reject) => {
      call.once("data", resolve);
      call.once("error", reject);
    });
    call.write({ requests: [{ requestId: 1, ...req }] });
    const r = (await answer).responses[0]!;
    call.end();
    return r.error ? fromWireError(r.error) : undefined;
  } finally {
    stub.close();
  }
}

/** Whether every shard of `shards` is served by `srv` (serving, or serving with its previous owner's delete pending). */
async function serves(srv: ShardServer, shards: readonly number[]): Promise<boolean> {
  const st = await srv.status();
  return shards.every((s) => {
    const state = st.shards?.find((x) => x.shard === s)?.state;
    return state === shardPb.ShardState.SHARD_SERVING || state === shardPb.ShardState.SHARD_GC;
  });
}

describe("service, shard and controller metrics of real servers", () => {
  it("count requests, refusals, migrations and configs", async () => {
    const shardCount = 8;
    const all = Array.from({ length: shardCount }, (_, s) => s);
    const { caddr, ctlReg, servers, client } = await startCluster(shardCount, [1, 2]);
    const g1 = servers.get(1)!;
    const g2 = servers.get(2)!;
    await client.join(new Map([[1 as GroupId, [g1.addr]]]));
    await waitFor(() => serves(g1.srv, all), { timeoutMs: 30_000, what: "group 1 to serve every shard" });
    const kv = await ShardKV.connect({ controllers: [caddr] });
    cleanup.push(async () => kv.close());
    // Large values so that the moves below take several chunks.
    const value = (i: number) => `${i}:`.padEnd(100 * 1024, "v");
    await kv.put("warm-up", "x");

    const putsBefore = await ops(g1.reg, "put", "ok");
    const bytesBefore = await metric(g1.reg, "shardkv_service_request_bytes_total", { type: "put" });
    const n = 40;
    let sent = 0;
    for (let i = 0; i < n; i++) {
      await kv.put(`key-${i}`, value(i));
      sent += `key-${i}`.length + value(i).length;
    }
    expect(await ops(g1.reg, "put", "ok")).toBe(putsBefore + n);
    expect(await metric(g1.reg, "shardkv_service_request_bytes_total", { type: "put" })).toBe(bytesBefore + sent);
    const d = "shardkv_service_operation_duration_seconds";
    expect(await metric(g1.reg, d, { type: "put" }, `${d}_count`)).toBeGreaterThanOrEqual(n);
    const getsBefore = await ops(g1.reg, "get", "ok");
    for (let i = 0; i < 10; i++) expect(await kv.getString(`key-${i}`)).toBe(value(i));
    expect(await ops(g1.reg, "get", "ok")).toBe(getsBefore + 10);
    // The client's duplicate records, in the tables of the shards it wrote to.
    expect(await metric(g1.reg, "shardkv_service_dedup_clients")).toBeGreaterThan(0);
    expect(await metric(g1.reg, "shardkv_shards", { state: "serving" })).toBe(shardCount);
    expect(await metric(g1.reg, "shardkv_shard_keys", { state: "serving" })).toBe(n + 1);

    // Group 2 owns nothing yet: a read there is refused as WrongGroup.
    expect(await batchOnce(g2.addr, { get: { key: Buffer.from("key-0") } })).toBeInstanceOf(WrongGroupError);
    expect(await ops(g2.reg, "get", "wrong_group")).toBe(1);
    expect(await metric(g2.reg, "shardkv_service_refusals_total", { reason: "wrong_group" })).toBe(1);
    // A key over the limit, refused at the edge (the client library would refuse it first).
    const long = Buffer.alloc(5000, "k");
    const refused = await batchOnce(g1.addr, {
      write: { id: { clientId: Buffer.alloc(16, 7), seq: 1 }, shard: shardOf(long, shardCount), ops: [{ type: shardPb.OpType.OP_PUT, key: long, value: Buffer.from("v") }] },
    });
    expect(refused).toBeInstanceOf(InvalidArgumentError);
    expect(await metric(g1.reg, "shardkv_service_refusals_total", { reason: "limit", limit: "keyBytesMax" })).toBe(1);
    expect(await ops(g1.reg, "put", "invalid_argument")).toBe(1);

    // Group 2 joins and takes some shards.
    const num = await client.join(new Map([[2 as GroupId, [g2.addr]]]));
    const moved = (await client.query(num)).shards.flatMap((g, s) => (g === 2 ? [s] : []));
    expect(moved.length).toBeGreaterThan(0);
    await waitFor(() => serves(g2.srv, moved), { timeoutMs: 60_000, what: "group 2 to serve the shards it was given" });
    const movedIn = await metric(g2.reg, "shardkv_migration_moved_bytes_total", { direction: "in" });
    const movedKeys = [...Array(n).keys()].filter((i) => moved.includes(shardOf(`key-${i}`, shardCount)));
    const movedData = movedKeys.reduce((sum, i) => sum + `key-${i}`.length + value(i).length, 0);
    // Keys and values, and the duplicate records that travel with the shards.
    expect(movedIn).toBeGreaterThan(movedData);
    expect(await metric(g1.reg, "shardkv_migration_moved_bytes_total", { direction: "out" })).toBeGreaterThanOrEqual(movedIn);
    await waitFor(async () => (await metric(g2.reg, "shardkv_migration_in_flight_bytes")) === 0, { timeoutMs: 10_000, what: "nothing in flight" });
    expect(await ops(g1.reg, "pull_shard", "ok")).toBeGreaterThanOrEqual(moved.length);
    // Group 1 deletes the moved shards at group 2's request.
    await waitFor(async () => (await metric(g1.reg, "shardkv_shards", { state: "not_owned" })) === moved.length, {
      timeoutMs: 30_000, what: "group 1 to delete the moved shards",
    });
    // Each delete is answered once applied: counted a moment after the state changed.
    await waitFor(async () => (await ops(g1.reg, "delete_shard", "ok")) >= moved.length, { timeoutMs: 10_000, what: "the deletes answered" });
    expect(await metric(g1.reg, "shardkv_shards", { state: "serving" })).toBe(shardCount - moved.length);
    const g2Keys = (await Promise.all(["serving", "gc"].map((state) => metric(g2.reg, "shardkv_shard_keys", { state })))).reduce((a, b) => a + b, 0);
    expect(g2Keys).toBe(movedKeys.length + (moved.includes(shardOf("warm-up", shardCount)) ? 1 : 0));
    expect(await metric(g2.reg, "shardkv_shard_config_number")).toBe(num);

    // The controller: two Joins, and the config they made.
    expect(await ops(ctlReg, "join", "ok")).toBeGreaterThanOrEqual(2);
    expect(await ops(ctlReg, "query", "ok")).toBeGreaterThan(0);
    expect(await metric(ctlReg, "shardkv_controller_config_number")).toBe(num);
    expect(await metric(ctlReg, "shardkv_controller_groups")).toBe(2);
    expect(await metric(ctlReg, "shardkv_controller_shards", { group: "2" })).toBe(moved.length);
    expect(await metric(ctlReg, "shardkv_controller_shards", { group: "1" })).toBe(shardCount - moved.length);
    await waitFor(async () => (await metric(ctlReg, "shardkv_controller_pending_joins")) === 0, { timeoutMs: 10_000, what: "group 2's join acknowledged" });
  });

  it.each([1024, 16_384])("the scrape of a server owning all of %i shards stays under 32 KiB", async (shardCount) => {
    const { caddr, ctlReg, servers, client } = await startCluster(shardCount, [1]);
    const g1 = servers.get(1)!;
    await client.join(new Map([[1 as GroupId, [g1.addr]]]));
    await waitFor(async () => (await metric(g1.reg, "shardkv_shards", { state: "serving" })) === shardCount, {
      timeoutMs: 30_000, what: "group 1 to serve every shard",
    });
    // Generous deadlines: a loaded machine, and every apply of a 16,384-shard group walks its shards.
    const kv = await ShardKV.connect({ controllers: [caddr], deadlineMs: 60_000, attemptMs: 10_000 });
    cleanup.push(async () => kv.close());
    for (let i = 0; i < 100; i++) await kv.put(`key-${i}`, `value-${i}`);
    for (let i = 0; i < 20; i++) await kv.get(`key-${i}`);
    const text = await g1.reg.metrics();
    expect(text).toContain(`shardkv_shards{state="serving",gid="1",node="1"} ${shardCount}\n`);
    expect(text).toContain(`shardkv_shards_unlisted{gid="1",node="1"} ${shardCount - 32}\n`);
    expect((text.match(/^shardkv_shard_bytes_by_shard\{/gm) ?? []).length).toBe(32);
    expect(text.length).toBeLessThan(32 * 1024);
    expect((await ctlReg.metrics()).length).toBeLessThan(32 * 1024);
  });
});
