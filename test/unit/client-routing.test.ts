/**
 * The client library's routing and retry rules (client/shardkv.ts), against in-process fake
 * gRPC servers on loopback: a fake Controller answering Query with a config the test controls,
 * and fake ShardKV servers with scripted behaviour (NotLeader with a hint, WrongGroup, dropped
 * replies, InvalidArgument, ...). The default behaviour is a small in-memory store shared by a
 * group's servers.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AbortError, BackpressureError, InvalidArgumentError, NotLeaderError, PermissionDeniedError, ShardKVError, TimeoutError, UnreachableError, WrongGroupError,
} from "../../common/errors";
import { toServiceError } from "../../common/grpc-errors";
import type { ConfigNum, GroupId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import type { Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import { ShardKV, batchBytesMax, keyBytesMax, valueBytesMax } from "../../client/shardkv";
import { controllerService } from "../../proto/gen/controller-grpc";
import { shardKVService } from "../../proto/gen/shardkv-grpc";
import { shardkv as ctlpb } from "../../proto/gen/controller.js";
import { shardkv as kvpb } from "../../proto/gen/shardkv.js";
import { connect as natsConnect } from "nats";
import { natsUrl, requireNats } from "../lib/nats";
import { waitFor } from "../lib/wait";
import { serveGrpcBatch, type BatchCall } from "../../shard-server/grpc-service";

type WriteReq = kvpb.kv.WriteRequest;
type GetReq = kvpb.kv.GetRequest;
/** What a scripted handler does: answer, fail with a typed error, or never answer. */
type Action<R> = R | ShardKVError | "drop" | "default";

const none = new Uint8Array(0);
const hex = (b: Uint8Array | null | undefined) => Buffer.from(b ?? none).toString("hex");
const str = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();

async function listen(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return `127.0.0.1:${port}`;
}

const servers: grpc.Server[] = [];
const clients: ShardKV[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

class FakeController {
  address = "";
  queries = 0;
  onQuery: (() => Action<never>) | undefined;
  constructor(public config: Config) {}

  static async start(config: Config): Promise<FakeController> {
    const c = new FakeController(config);
    const server = new grpc.Server();
    server.addService(controllerService, {
      query: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<ctlpb.controller.QueryReply.$Properties>) => {
        c.queries++;
        const a = c.onQuery?.();
        if (a === "drop") return;
        if (a instanceof ShardKVError) return cb(toServiceError(a));
        const cfg = c.config;
        cb(null, {
          config: { num: cfg.num, shards: [...cfg.shards], groups: [...cfg.groups].map(([gid, s]) => ({ gid, servers: [...s] })) },
        });
      },
    });
    c.address = await listen(server);
    servers.push(server);
    return c;
  }
}

/** A group's shared in-memory store (the default behaviour of its servers). */
class Store {
  readonly data = new Map<string, Uint8Array>();
  apply(req: WriteReq): kvpb.kv.OpResult.$Properties[] {
    return req.ops.map((o) => {
      const op = { type: o.type, key: o.key ?? none, value: o.value ?? none, expected: o.expected ?? none, expectAbsent: !!o.expectAbsent };
      const k = str(op.key);
      const cur = this.data.get(k);
      const before = { found: cur !== undefined, value: cur ?? new Uint8Array(0) };
      switch (op.type) {
        case kvpb.kv.OpType.OP_PUT: this.data.set(k, op.value); return before;
        case kvpb.kv.OpType.OP_APPEND: this.data.set(k, Buffer.concat([cur ?? new Uint8Array(0), op.value])); return before;
        case kvpb.kv.OpType.OP_DELETE: this.data.delete(k); return before;
        case kvpb.kv.OpType.OP_CAS: {
          const ok = op.expectAbsent ? cur === undefined : cur !== undefined && Buffer.from(cur).equals(Buffer.from(op.expected));
          if (ok) this.data.set(k, op.value);
          return { ...before, swapped: ok };
        }
        default: return before;
      }
    });
  }
}

class FakeKvServer {
  address = "";
  readonly writes: WriteReq[] = [];
  readonly gets: GetReq[] = [];
  onWrite: ((req: WriteReq, n: number) => Action<kvpb.kv.WriteReply.$Properties>) | undefined;
  onGet: ((req: GetReq, n: number) => Action<kvpb.kv.GetReply.$Properties>) | undefined;
  /** Deferred replies (a test releases them). */
  readonly held: (() => void)[] = [];
  constructor(readonly store: Store) {}

  /** The scripted or default answer to a get; never settles for "drop". */
  handleGet(req: GetReq): Promise<kvpb.kv.GetReply.$Properties> {
    this.gets.push(req);
    const a = this.onGet?.(req, this.gets.length) ?? "default";
    if (a === "drop") return new Promise(() => undefined);
    if (a instanceof ShardKVError) return Promise.reject(a);
    if (a !== "default") return Promise.resolve(a);
    const v = this.store.data.get(str(req.key));
    return Promise.resolve(v === undefined ? { found: false } : { found: true, value: v });
  }

  /** The scripted or default answer to a write; never settles for "drop". */
  handleWrite(req: WriteReq): Promise<kvpb.kv.WriteReply.$Properties> {
    this.writes.push(req);
    const a = this.onWrite?.(req, this.writes.length) ?? "default";
    if (a === "drop") return new Promise(() => undefined);
    if (a instanceof ShardKVError) return Promise.reject(a);
    if (a !== "default") return Promise.resolve(a);
    return Promise.resolve({ results: this.store.apply(req) });
  }

  static async start(store: Store): Promise<FakeKvServer> {
    const f = new FakeKvServer(store);
    const server = new grpc.Server();
    server.addService(shardKVService, {
      // The client's path: the server's own Batch stream module over these handlers.
      batch: (call: BatchCall) => serveGrpcBatch(call, {
        get: (req) => f.handleGet(req),
        write: (req) => f.handleWrite(req),
        describe: (e) => e,
        stopping: () => false,
      }, undefined),
    });
    f.address = await listen(server);
    servers.push(server);
    return f;
  }
}

const shardCount = 4;

function config(num: number, shards: number[], groups: Record<number, FakeKvServer[]>): Config {
  return {
    num: num as ConfigNum,
    shards: shards as GroupId[],
    groups: new Map(Object.entries(groups).map(([g, ss]) => [Number(g) as GroupId, ss.map((s) => s.address)])),
  };
}

/** A key whose shard is `shard`. */
function keyOf(shard: number, prefix = "k"): string {
  for (let i = 0; ; i++) if (shardOf(`${prefix}${i}`, shardCount) === shard) return `${prefix}${i}`;
}

async function group(n: number): Promise<FakeKvServer[]> {
  const store = new Store();
  return Promise.all(Array.from({ length: n }, () => FakeKvServer.start(store)));
}

async function client(ctl: FakeController, opts: { deadlineMs?: number; attemptMs?: number; nats?: string } = {}): Promise<ShardKV> {
  const kv = await ShardKV.connect({ controllers: [ctl.address], deadlineMs: 5000, attemptMs: 300, ...opts });
  clients.push(kv);
  return kv;
}

const allWrites = (...gs: FakeKvServer[][]) => gs.flat().flatMap((s) => s.writes);

describe("ShardKV client routing", () => {
  it("routes each key to the group owning its shard and reads back", async () => {
    const [g1, g2] = [await group(1), await group(1)];
    const ctl = await FakeController.start(config(1, [1, 1, 2, 2], { 1: g1, 2: g2 }));
    const kv = await client(ctl);
    for (let s = 0; s < shardCount; s++) await kv.put(keyOf(s), `v${s}`);
    expect(g1[0]!.writes.map((w) => w.shard).sort()).toEqual([0, 1]);
    expect(g2[0]!.writes.map((w) => w.shard).sort()).toEqual([2, 3]);
    for (const w of allWrites(g1, g2)) expect(shardOf(w.ops[0]!.key ?? none, shardCount)).toBe(w.shard);
    for (let s = 0; s < shardCount; s++) expect(await kv.getString(keyOf(s))).toBe(`v${s}`);
    expect(await kv.get("absent-key")).toBeUndefined();
    await kv.append(keyOf(0), "+x");
    expect(await kv.getString(keyOf(0))).toBe("v0+x");
    expect(await kv.delete(keyOf(0))).toBe(true);
    expect(await kv.delete(keyOf(0))).toBe(false);
    expect(await kv.cas(keyOf(0), null, "a")).toEqual({ swapped: true });
    expect(await kv.cas(keyOf(0), "zzz", "b")).toEqual({ swapped: false, current: new TextEncoder().encode("a") });
    expect(await kv.cas(keyOf(0), "a", new Uint8Array([1, 2]))).toMatchObject({ swapped: true });
    expect(await kv.get(keyOf(0))).toEqual(new Uint8Array([1, 2]));
  });

  it("splits a batch per shard (one write, one seq per shard), results in op order", async () => {
    const [g1, g2] = [await group(1), await group(1)];
    const ctl = await FakeController.start(config(1, [1, 1, 2, 2], { 1: g1, 2: g2 }));
    const kv = await client(ctl);
    const a = keyOf(0, "a"), b = keyOf(2, "b"), c = keyOf(0, "c");
    await kv.put(a, "old");
    const rs = await kv.batch([
      { type: "put", key: b, value: "B" },
      { type: "cas", key: a, expected: "old", value: "new" },
      { type: "append", key: c, value: "C" },
      { type: "get", key: a },
    ]);
    expect(rs.map((r) => r.swapped)).toEqual([false, true, false, false]);
    const batchWrites = allWrites(g1, g2).slice(1);
    expect(batchWrites).toHaveLength(2);
    expect(new Set(batchWrites.map((w) => w.id!.seq)).size).toBe(2);
    expect(g1[0]!.writes[1]!.ops.map((o) => str(o.key))).toEqual([a, c, a]);
    expect(g1[0]!.store.data.get(a) && str(g1[0]!.store.data.get(a))).toBe("new");
    expect(str(g2[0]!.store.data.get(b))).toBe("B");
  });

  it("follows a NotLeader hint and then caches the leader", async () => {
    const g = await group(3);
    const [a, b] = [g[0]!, g[1]!];
    a.onWrite = () => new NotLeaderError(2 as never, b.address);
    a.onGet = () => new NotLeaderError(2 as never, b.address);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    await kv.put("x", "1");
    expect(a.writes).toHaveLength(1);
    expect(b.writes).toHaveLength(1);
    await kv.put("y", "2");
    expect(await kv.getString("x")).toBe("1");
    expect(a.writes).toHaveLength(1); // not asked again: the leader is cached
    expect(a.gets).toHaveLength(0);
    expect(b.writes).toHaveLength(2);
    expect(g[2]!.writes).toHaveLength(0);
    // The retry after the hint is the same request.
    expect(hex(b.writes[0]!.id!.clientId)).toBe(hex(a.writes[0]!.id!.clientId));
    expect(b.writes[0]!.id!.seq).toBe(a.writes[0]!.id!.seq);
  });

  it("NotLeader without a hint moves on to the next server", async () => {
    const g = await group(2);
    g[0]!.onWrite = () => new NotLeaderError(0 as never);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    await kv.put("x", "1");
    expect(g[0]!.writes).toHaveLength(1);
    expect(g[1]!.writes).toHaveLength(1);
  });

  it("refreshes the config on WrongGroup and retries at the new owner", async () => {
    const [g1, g2] = [await group(1), await group(1)];
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g1 }));
    const kv = await client(ctl);
    const key = keyOf(3);
    const queriesBefore = ctl.queries;
    g1[0]!.onWrite = (req) => {
      if (req.shard !== 3) return "default";
      // The shard moved to group 2 in config 2.
      ctl.config = config(2, [1, 1, 1, 2], { 1: g1, 2: g2 });
      return new WrongGroupError(3, 2);
    };
    await kv.put(key, "v");
    expect(ctl.queries).toBeGreaterThan(queriesBefore);
    expect(kv.currentConfig.num).toBe(2);
    expect(g2[0]!.writes).toHaveLength(1);
    expect(g2[0]!.writes[0]!.id!.seq).toBe(g1[0]!.writes[0]!.id!.seq);
    expect(str(g2[0]!.store.data.get(key))).toBe("v");
    // Other shards stay on group 1.
    await kv.put(keyOf(0), "w");
    expect(g1[0]!.writes.at(-1)!.shard).toBe(0);
  });

  it("concurrent WrongGroup errors share rate-limited config queries", async () => {
    const [g1, g2] = [await group(1), await group(1)];
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g1 }));
    const kv = await client(ctl);
    let wrong = 0;
    g1[0]!.onWrite = () => {
      if (++wrong === 20) ctl.config = config(2, [2, 2, 2, 2], { 2: g2 });
      return new WrongGroupError(0, 1);
    };
    const before = ctl.queries;
    await Promise.all(Array.from({ length: 20 }, (_, i) => kv.put(`c${i}`, "v")));
    expect(g2[0]!.writes).toHaveLength(20);
    expect(ctl.queries - before).toBeLessThanOrEqual(5);
  });

  it("retries a write whose reply was dropped, with the same client id and seq", async () => {
    const g = await group(2);
    g[0]!.onWrite = () => "drop";
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { attemptMs: 200 });
    await kv.put("x", "1");
    const [first, retry] = [g[0]!.writes[0]!, g[1]!.writes[0]!];
    expect(retry).toBeDefined();
    expect(hex(retry.id!.clientId)).toBe(hex(first.id!.clientId));
    expect(hex(first.id!.clientId)).toHaveLength(32);
    expect(retry.id!.seq).toBe(first.id!.seq);
  });

  it("a single server that drops once then answers: the retry reuses the seq", async () => {
    const g = await group(1);
    g[0]!.onWrite = (_req, n) => (n === 1 ? "drop" : "default");
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { attemptMs: 150 });
    await kv.put("x", "1");
    expect(g[0]!.writes).toHaveLength(2);
    expect(g[0]!.writes[1]!.id!.seq).toBe(g[0]!.writes[0]!.id!.seq);
  });

  it("a lost answer costs one attempt sized to the answers seen (not the 2 s cap), and the same server is asked again", async () => {
    const g = await group(2);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { attemptMs: 2000 });
    for (let i = 0; i < 10; i++) await kv.put(`w${i}`, "v"); // answered within milliseconds
    // (Counted from here: on a loaded machine a warm-up answer may have been slow and retried.)
    const [n0, m0] = [g[0]!.writes.length, g[1]!.writes.length];
    g[0]!.onWrite = (_req, n) => (n === n0 + 1 ? "drop" : "default");
    const t0 = realClock.nowMs();
    await kv.put("x", "1");
    expect(realClock.nowMs() - t0).toBeLessThan(1900); // the first attempt alone took the 2 s cap
    expect(g[0]!.writes.length).toBe(n0 + 2);
    expect(g[1]!.writes.length).toBe(m0);
    expect(g[0]!.writes[n0 + 1]!.id!.seq).toBe(g[0]!.writes[n0]!.id!.seq);
  });

  it("two timeouts in a row at one server move on to the next", async () => {
    const g = await group(2);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { attemptMs: 2000 });
    for (let i = 0; i < 10; i++) await kv.put(`w${i}`, "v");
    const [n0, m0] = [g[0]!.writes.length, g[1]!.writes.length];
    g[0]!.onWrite = (_req, n) => (n > n0 ? "drop" : "default");
    await kv.put("x", "1");
    expect(g[0]!.writes.length).toBe(n0 + 2);
    expect(g[1]!.writes.length).toBe(m0 + 1);
    expect(g[1]!.writes[m0]!.id!.seq).toBe(g[0]!.writes[n0]!.id!.seq);
  });

  it("a timed-out attempt's late answer completes the operation while its retries are lost", async () => {
    const g = await group(1);
    const srv = g[0]!;
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { attemptMs: 2000 });
    for (let i = 0; i < 10; i++) await kv.put(`w${i}`, "v");
    const n0 = srv.writes.length;
    let release: (() => void) | undefined;
    srv.onWrite = (req, n) => {
      // The first attempt is slow (answered when the test says), every retry is lost.
      if (n === n0 + 1) return new Promise((r) => (release = () => r({ results: srv.store.apply(req) }))) as never;
      return n > n0 + 1 ? "drop" : "default";
    };
    const put = kv.put("x", "late");
    await waitFor(() => srv.writes.length >= n0 + 2, { timeoutMs: 4000, what: "a retry of the slow write" });
    release!();
    await put;
    expect(str(srv.store.data.get("x"))).toBe("late");
    expect(new Set(srv.writes.slice(n0).map((w) => w.id!.seq)).size).toBe(1);
  });

  it("concurrent ops get distinct seqs; acked_below advances past answered ones", async () => {
    const g = await group(1);
    const srv = g[0]!;
    // Hold the reply to seq 1 until the test releases it.
    srv.onWrite = (req) => {
      if (req.id!.seq !== 1) return "default";
      return "drop";
    };
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { attemptMs: 2000 });
    const first = kv.put("held", "h");
    await Promise.all(Array.from({ length: 50 }, (_, i) => kv.put(`p${i}`, `${i}`)));
    const seqs = srv.writes.map((w) => w.id!.seq ?? 0);
    expect(new Set(seqs).size).toBe(51);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    for (const w of srv.writes) expect(w.id!.ackedBelow ?? 0).toBeLessThanOrEqual(w.id!.seq ?? 0);
    // While seq 1 is unanswered nothing at or above it may be declared acknowledged.
    expect(srv.writes.every((w) => (w.id!.ackedBelow ?? 0) <= 1)).toBe(true);
    srv.onWrite = undefined; // its retry (same seq) is answered
    await first;
    await kv.put("after", "a");
    const last = srv.writes.at(-1)!;
    expect(last.id!.seq).toBe(52);
    expect(last.id!.ackedBelow).toBe(52);
    expect(srv.writes.filter((w) => w.id!.seq === 1).length).toBeGreaterThanOrEqual(2);
  });

  it("InvalidArgument from the server is final (not retried)", async () => {
    const g = await group(2);
    g[0]!.onWrite = () => new InvalidArgumentError("value", "nope");
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    await expect(kv.put("x", "1")).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(g[0]!.writes.length + g[1]!.writes.length).toBe(1);
  });

  it("PermissionDenied from the server is final too: one attempt, one line", async () => {
    const g = await group(2);
    const denied = new PermissionDeniedError('client "app2"', 'write key "other/x"', 'its certificate allows keys starting with "app/" only');
    for (const s of g) s.onWrite = () => denied;
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    const err = await kv.put("other/x", "1").then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PermissionDeniedError);
    expect((err as Error).message).toBe(denied.message);
    expect(g[0]!.writes.length + g[1]!.writes.length).toBe(1);
  });

  it("PermissionDenied from the controller ends connect at once", async () => {
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: await group(1) }));
    ctl.onQuery = () => new PermissionDeniedError("a caller whose certificate names no shardkv identity", "Query", "its organization is \"x\"");
    await expect(ShardKV.connect({ controllers: [ctl.address], deadlineMs: 10_000, attemptMs: 300 })).rejects.toBeInstanceOf(PermissionDeniedError);
    expect(ctl.queries).toBe(1);
  });

  it("fails with TimeoutError when the caller's deadline passes", async () => {
    const g = await group(2);
    for (const s of g) s.onWrite = () => new BackpressureError("queue", 1, 2);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { deadlineMs: 400, attemptMs: 100 });
    const t0 = realClock.nowMs();
    const err = await kv.put("x", "1").catch((e: unknown) => e);
    const took = realClock.nowMs() - t0;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/server busy: queue would be 2; the limit is 1; retry later/);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1500);
    expect(g[0]!.writes.length + g[1]!.writes.length).toBeGreaterThan(1);
    // All attempts were the same request.
    expect(new Set(allWrites(g).map((w) => w.id!.seq)).size).toBe(1);
  });

  it("a dropped reply everywhere ends in TimeoutError at the deadline", async () => {
    const g = await group(1);
    g[0]!.onGet = () => "drop";
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { deadlineMs: 500, attemptMs: 200 });
    await expect(kv.get("x")).rejects.toBeInstanceOf(TimeoutError);
    expect(g[0]!.gets.length).toBeGreaterThanOrEqual(2);
  });

  it("unassigned shard: waits for a config that assigns it", async () => {
    const g = await group(1);
    const ctl = await FakeController.start(config(1, [0, 0, 0, 0], {}));
    const kv = await client(ctl);
    const p = kv.put("x", "1");
    await new Promise<void>((r) => realClock.after(100, r));
    ctl.config = config(2, [1, 1, 1, 1], { 1: g });
    await p;
    expect(g[0]!.writes).toHaveLength(1);
  });

  it("rejects oversize keys, values and batches locally, naming the limit and the size", async () => {
    const g = await group(1);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    const bigKey = "k".repeat(keyBytesMax + 1);
    await expect(kv.put(bigKey, "v")).rejects.toThrow("invalid key: key is 4,097 bytes; the limit is 4 KiB");
    await expect(kv.get(bigKey)).rejects.toBeInstanceOf(InvalidArgumentError);
    const bigValue = new Uint8Array(valueBytesMax + 1);
    await expect(kv.put("k", bigValue)).rejects.toThrow("invalid value: value is 1,048,577 bytes; the limit is 1 MiB");
    await expect(kv.cas("k", bigValue, "x")).rejects.toThrow("invalid expected: expected value is 1,048,577 bytes; the limit is 1 MiB");
    const full = new Uint8Array(valueBytesMax);
    const err = await kv.batch(["a", "b", "c"].map((key) => ({ type: "put" as const, key, value: full }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe("invalid batch: batch (keys, values and expected values) is 3,145,731 bytes; the limit is 3 MiB");
    expect(batchBytesMax).toBe(3 * 1024 * 1024);
    for (const e of [(err as Error).message]) expect(e).not.toMatch(/BytesMax/);
    // At the limits: fine (exactly 1 MiB; a CAS of a maximal key, expected and new value).
    await kv.put("k".repeat(keyBytesMax), full);
    await kv.cas("k".repeat(keyBytesMax), full, full);
    expect(g[0]!.writes).toHaveLength(2);
  });

  it("follows a controller NotLeader hint on Query", async () => {
    const g = await group(1);
    const cfg = config(1, [1, 1, 1, 1], { 1: g });
    const leader = await FakeController.start(cfg);
    const follower = await FakeController.start(cfg);
    follower.onQuery = () => new NotLeaderError(1 as never, leader.address);
    const kv = await ShardKV.connect({ controllers: [follower.address, leader.address], deadlineMs: 3000, attemptMs: 300 });
    clients.push(kv);
    expect(follower.queries).toBe(1);
    expect(leader.queries).toBe(1);
    await kv.put("x", "1");
  });

  it("connect: TimeoutError when no controller answers", async () => {
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], {}));
    ctl.onQuery = () => "drop";
    await expect(ShardKV.connect({ controllers: [ctl.address, "127.0.0.1:1"], deadlineMs: 400, attemptMs: 100 }))
      .rejects.toBeInstanceOf(TimeoutError);
  });

  it("an unreachable NATS server breaks nothing", async () => {
    const g = await group(1);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { nats: "nats://127.0.0.1:1" });
    await kv.put("x", "1");
    expect(await kv.getString("x")).toBe("1");
  });

  it("after close, operations fail with StoppedError", async () => {
    const g = await group(1);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    kv.close();
    await expect(kv.put("x", "1")).rejects.toMatchObject({ code: "Stopped" });
  });
});

describe("ShardKV client with NATS (needs NATS at 127.0.0.1:4222; .ci/run starts it)", () => {
  beforeAll(() => requireNats());

  it("refreshes the config on a push on shardkv.config (no WrongGroup needed)", async () => {
    const [g1, g2] = [await group(1), await group(1)];
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g1 }));
    const kv = await client(ctl, { nats: natsUrl });
    const nc = await natsConnect({ servers: natsUrl });
    try {
      ctl.config = config(2, [2, 2, 2, 2], { 2: g2 });
      const c = ctl.config;
      const payload = ctlpb.controller.Config.encode({
        num: c.num, shards: [...c.shards], groups: [...c.groups].map(([gid, ss]) => ({ gid, servers: [...ss] })),
      }).finish();
      // The subscription is made in the background: publish until the client has seen it.
      await waitFor(() => {
        nc.publish("shardkv.config", payload);
        return kv.currentConfig.num === 2;
      }, { timeoutMs: 5000, what: "the client to install config 2", intervalMs: 50 });
      await kv.put("x", "1");
      expect(g1[0]!.writes).toHaveLength(0);
      expect(g2[0]!.writes).toHaveLength(1);
    } finally {
      await nc.close();
    }
  });
});

/** A port on loopback where nothing listens (bound, then closed): connections are refused. */
async function closedPort(): Promise<string> {
  const server = new grpc.Server();
  const addr = await listen(server);
  server.forceShutdown();
  return addr;
}

/** `p`'s outcome, or "pending" if it has not settled within `ms` (real time). */
function settledWithin<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | "pending"> {
  return new Promise((resolve) => {
    const cancel = realClock.after(ms, () => resolve("pending"));
    p.then((value) => { cancel(); resolve({ value }); }, (error: unknown) => { cancel(); resolve({ error }); });
  });
}

describe("ShardKV client: arguments checked at the call, per-call options, errors in the user's terms", () => {
  it("connect rejects malformed controller addresses at once, as the CLI does (TypeError / InvalidArgumentError)", async () => {
    const t0 = realClock.nowMs();
    const cases: [unknown, unknown, RegExp][] = [
      [["abc"], InvalidArgumentError, /^invalid controllers: want host:port, got "abc"$/],
      [["1.2.3.4:99999"], InvalidArgumentError, /^invalid controllers: want host:port, got "1\.2\.3\.4:99999"$/],
      [["127.0.0.1:1", "127.0.0.1:1"], InvalidArgumentError, /"127\.0\.0\.1:1" is listed twice/],
      [[], InvalidArgumentError, /empty address list/],
      ["127.0.0.1:1", TypeError, /^controllers must be an array of "host:port" strings, got string$/],
      [[43], TypeError, /^controllers\[0\] must be a "host:port" string, got number$/],
    ];
    for (const [controllers, type, message] of cases) {
      const err = await ShardKV.connect({ controllers: controllers as string[], deadlineMs: 3000 }).catch((e: unknown) => e);
      expect(err, JSON.stringify(controllers)).toBeInstanceOf(type);
      expect((err as Error).message).toMatch(message);
    }
    expect(realClock.nowMs() - t0).toBeLessThan(1000); // nothing waited for a deadline
    await expect(ShardKV.connect({ controllers: ["127.0.0.1:1"], deadlineMs: -5 })).rejects.toThrow(/invalid deadlineMs: must be a positive number/);
  });

  it("a key or value that is not a string or Uint8Array is a TypeError naming it; nothing is sent", async () => {
    const g = await group(1);
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl);
    const calls: [() => Promise<unknown>, RegExp][] = [
      [() => kv.put(43 as never, "v"), /^key must be a string or Uint8Array, got number$/],
      [() => kv.put(null as never, "v"), /^key must be a string or Uint8Array, got null$/],
      [() => kv.put("k", undefined as never), /^value must be a string or Uint8Array, got undefined$/],
      [() => kv.append("k", { length: 1 } as never), /^value must be a string or Uint8Array, got object$/],
      [() => kv.get([1, 2] as never), /^key must be a string or Uint8Array, got array$/],
      [() => kv.getString(7 as never), /^key must be a string or Uint8Array, got number$/],
      [() => kv.delete(true as never), /^key must be a string or Uint8Array, got boolean$/],
      [() => kv.cas("k", undefined as never, "v"), /^expected must be a string, Uint8Array or null \(absent\), got undefined$/],
      [() => kv.cas("k", null, 5 as never), /^next must be a string or Uint8Array, got number$/],
      [() => kv.batch("ops" as never), /^ops must be an array, got string$/],
      [() => kv.batch([{ type: "put", key: "a", value: "1" }, { type: "put", key: 1 as never, value: "2" }]), /^ops\[1\]\.key must be a string or Uint8Array, got number$/],
      [() => kv.batch([{ type: "merge" as never, key: "a" }]), /^ops\[0\]\.type must be one of get, put, append, delete, cas, got "merge"$/],
      [() => kv.put("k", "v", { deadlineMs: "1s" as never }), /^options\.deadlineMs must be a number of milliseconds, got string$/],
      [() => kv.put("k", "v", { signal: {} as never }), /^options\.signal must be an AbortSignal, got object$/],
    ];
    for (const [call, message] of calls) {
      const err = await call().catch((e: unknown) => e);
      expect(err, String(message)).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(message);
    }
    await expect(kv.put("k", "v", { deadlineMs: 0 })).rejects.toThrow("invalid options.deadlineMs: must be a positive number of milliseconds, got 0");
    expect(g[0]!.writes).toHaveLength(0);
    expect(g[0]!.gets).toHaveLength(0);
    expect(g[0]!.store.data.size).toBe(0); // in particular, no empty key
  });

  it("a refused group fails at the deadline naming the group, its server and 'connection refused'", async () => {
    const dead = await closedPort();
    const ctl = await FakeController.start({ num: 1 as ConfigNum, shards: [1, 1, 1, 1] as GroupId[], groups: new Map([[1 as GroupId, [dead]]]) });
    const kv = await client(ctl, { deadlineMs: 600, attemptMs: 200 });
    const err = await kv.put("x", "1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe(`put on shard ${shardOf("x", shardCount)} timed out after 600 ms: cannot reach group 1 (${dead}): connection refused`);
    expect((err as Error).cause).toBeInstanceOf(UnreachableError);
  });

  it("connect: 'cannot reach controller <addr>: connection refused', or 'no controller leader: 1 of 2 replicas reachable'", async () => {
    const dead = await closedPort();
    const refused = await ShardKV.connect({ controllers: [dead], deadlineMs: 500 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TimeoutError);
    expect((refused as Error).message).toBe(`connect timed out after 500 ms: cannot reach controller ${dead}: connection refused`);
    const follower = await FakeController.start(config(1, [1, 1, 1, 1], {}));
    follower.onQuery = () => new NotLeaderError(0 as never);
    const noLeader = await ShardKV.connect({ controllers: [follower.address, dead], deadlineMs: 2000, attemptMs: 1000 }).catch((e: unknown) => e);
    expect((noLeader as Error).message).toBe("connect timed out after 2 s: no controller leader: 1 of 2 replicas reachable");
  });

  it("no group joined yet: the timeout says so", async () => {
    const ctl = await FakeController.start(config(1, [0, 0, 0, 0], {}));
    const kv = await client(ctl);
    const err = await kv.put("x", "1", { deadlineMs: 300 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`put on shard ${shardOf("x", shardCount)} timed out after 300 ms: no group has joined the cluster yet (config 1)`);
  });

  it("a per-call deadline shorter than the client's is honoured", async () => {
    const g = await group(1);
    g[0]!.onGet = () => "drop";
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { deadlineMs: 30_000, attemptMs: 10_000 });
    const t0 = realClock.nowMs();
    const err = await kv.get("x", { deadlineMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).afterMs).toBe(300);
    expect(realClock.nowMs() - t0).toBeLessThan(5000);
  });

  it("a per-call deadline longer than the client's is honoured too", async () => {
    const g = await group(1);
    // Six dropped attempts of 200 ms each outlast the client's 1 s deadline.
    g[0]!.onWrite = (_req, n) => (n <= 6 ? "drop" : "default");
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { deadlineMs: 1000, attemptMs: 200 });
    await kv.put("x", "1", { deadlineMs: 30_000 });
    expect(g[0]!.writes.length).toBe(7);
    expect(str(g[0]!.store.data.get("x"))).toBe("1");
  });

  it("an abort while an attempt is in flight rejects at once; an aborted signal sends nothing", async () => {
    const g = await group(1);
    g[0]!.onWrite = () => "drop";
    const ctl = await FakeController.start(config(1, [1, 1, 1, 1], { 1: g }));
    const kv = await client(ctl, { deadlineMs: 30_000, attemptMs: 20_000 });
    const ac = new AbortController();
    const p = kv.append("x", "1", { signal: ac.signal });
    await waitFor(() => g[0]!.writes.length === 1, { timeoutMs: 5000, what: "the attempt to reach the server" });
    const t0 = realClock.nowMs();
    ac.abort();
    const out = await settledWithin(p, 2000);
    expect(out).not.toBe("pending");
    expect((out as { error: unknown }).error).toMatchObject({ name: "AbortError", code: "Aborted" });
    expect(realClock.nowMs() - t0).toBeLessThan(1000);
    await expect(kv.get("x", { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await expect(kv.batch([{ type: "put", key: "z", value: "1" }], { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(g[0]!.gets).toHaveLength(0);
    expect(g[0]!.writes).toHaveLength(1);
    await expect(ShardKV.connect({ controllers: [ctl.address], signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });
});
