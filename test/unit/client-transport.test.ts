/**
 * The real client library (client/shardkv.ts, client/batch-channel.ts) over an in-process fake
 * network (client/transport.ts) on a ManualClock: no gRPC, no sockets, no real timers. Every
 * message takes `latencyMs` of virtual time each way; a test scripts what a server does with
 * each request (answer, fail with a typed error in its wire form, drop the request or the
 * reply, answer late), and `run` moves the clock from timer to timer until the operation
 * settles. Checked: routing and leader hints, WrongGroup, retries of lost and late replies
 * with the same (client id, seq) executed once, deadlines to the millisecond, aborts, the
 * controller queries of connect, and that the client leaves no timer behind.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ShardKV, type ShardKVOptions } from "../../client/shardkv";
import type { BatchStream, BatchStreamHandlers, ClientTransport } from "../../client/transport";
import { attemptMsInitial } from "../../common/attempt-timer";
import {
  AbortError, BackpressureError, NotLeaderError, ShardKVError, StoppedError, TimeoutError, UnreachableError, WrongGroupError,
} from "../../common/errors";
import type { NodeId } from "../../common/ids";
import { toWireError } from "../../common/wire-errors";
import type { shardkv as ctlpb } from "../../proto/gen/controller.js";
import { shardkv as kvpb } from "../../proto/gen/shardkv.js";
import { ManualClock } from "../lib/manual-clock";
import { SimRng } from "../sim/rng";

type Request = kvpb.kv.BatchRequest.IRequest;
type Response = kvpb.kv.BatchResponse.IResponse;
/** What a server does with one request: answer (after `delayMs` more), fail, or drop it or its reply. */
type Action = "default" | "drop" | "drop-reply" | ShardKVError | { readonly delayMs: number };

const shardCount = 4;
const latencyMs = 1;
const hex = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString("hex");
const str = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();

/** A group's store with a duplicate table, shared by its servers (what the real group's log gives). */
class Store {
  readonly data = new Map<string, string>();
  /** Executions per (client id, seq). */
  readonly executed = new Map<string, number>();
  private readonly replies = new Map<string, { seq: number; reply: kvpb.kv.WriteReply.$Properties }>();

  apply(req: Request): Response {
    if (req.get) {
      const v = this.data.get(str(req.get.key));
      return { get: { found: v !== undefined, value: Buffer.from(v ?? "") } };
    }
    const w = req.write!;
    const client = hex(w.id!.clientId);
    const seq = Number(w.id!.seq);
    const saved = this.replies.get(client);
    if (saved && saved.seq === seq) return { write: saved.reply };
    const key = `${client}/${seq}`;
    this.executed.set(key, (this.executed.get(key) ?? 0) + 1);
    const results = (w.ops ?? []).map((op) => {
      const k = str(op.key);
      const before = this.data.get(k);
      if (op.type === kvpb.kv.OpType.OP_PUT) this.data.set(k, str(op.value));
      else if (op.type === kvpb.kv.OpType.OP_APPEND) this.data.set(k, (before ?? "") + str(op.value));
      return { found: before !== undefined, value: Buffer.from(before ?? "") };
    });
    const reply = { results };
    this.replies.set(client, { seq, reply });
    return { write: reply };
  }
}

class FakeServer {
  readonly requests: Request[] = [];
  /** Called with each request and its 1-based count at this server. */
  onRequest: (req: Request, n: number) => Action = () => "default";
  constructor(readonly address: string, readonly store: Store) {}

  get writes(): kvpb.kv.IWriteRequest[] {
    return this.requests.flatMap((r) => (r.write ? [r.write] : []));
  }
}

class FakeController {
  queries = 0;
  onQuery: (n: number) => Action = () => "default";
  constructor(public config: { num: number; shards: number[]; groups: Record<number, string[]> }) {}
}

/** The fake network: a ClientTransport whose every message travels on the test's clock. */
class FakeNet implements ClientTransport {
  readonly controllers = new Map<string, FakeController>();
  readonly servers = new Map<string, FakeServer>();
  streamsOpened = 0;
  closed = false;
  constructor(private readonly clock: ManualClock) {}

  query(address: string, _req: ctlpb.controller.QueryRequest.$Properties, timeoutMs: number): Promise<ctlpb.controller.QueryReply.$Properties> {
    return new Promise((resolve, reject) => {
      const cancel = this.clock.after(timeoutMs, () => reject(new TimeoutError(`call to controller ${address}`, 0)));
      const answer = (fn: () => void, ms: number) => this.clock.after(ms, () => (cancel(), fn()));
      const ctl = this.controllers.get(address);
      if (!ctl) return void answer(() => reject(new UnreachableError(`controller ${address}`, "connection refused")), latencyMs);
      const a = ctl.onQuery(++ctl.queries);
      if (a === "drop" || a === "drop-reply") return;
      if (a instanceof ShardKVError) return void answer(() => reject(a), 2 * latencyMs);
      const c = ctl.config;
      const reply = { config: { num: c.num, shards: c.shards, groups: Object.entries(c.groups).map(([gid, servers]) => ({ gid: Number(gid), servers })) } };
      answer(() => resolve(reply), 2 * latencyMs + (typeof a === "object" ? a.delayMs : 0));
    });
  }

  openBatch(address: string, handlers: BatchStreamHandlers): BatchStream {
    this.streamsOpened++;
    let open = true;
    const srv = this.servers.get(address);
    if (!srv) {
      this.clock.after(latencyMs, () => open && handlers.onError(new UnreachableError(address, "connection refused")));
      return { write: () => undefined, end: () => (open = false) };
    }
    const deliver = (r: Response, extraMs: number) =>
      this.clock.after(latencyMs + extraMs, () => open && handlers.onMessage({ responses: [r] }));
    return {
      write: (msg) => {
        if (!open) return;
        this.clock.after(latencyMs, () => {
          for (const req of msg.requests ?? []) {
            srv.requests.push(req);
            const a = srv.onRequest(req, srv.requests.length);
            if (a === "drop") continue;
            if (a instanceof ShardKVError) {
              deliver({ requestId: req.requestId, error: toWireError(a) }, 0);
              continue;
            }
            const r = { requestId: req.requestId, ...srv.store.apply(req) };
            if (a !== "drop-reply") deliver(r, typeof a === "object" ? a.delayMs : 0);
          }
        });
      },
      end: () => (open = false),
    };
  }

  close(): void {
    this.closed = true;
  }
}

/** Lets every promise continuation that is ready run (the client awaits nothing else). */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 200; i++) await Promise.resolve();
}

type Outcome<T> = { value: T } | { error: unknown };

/** Moves the clock from timer to timer until `p` settles (at most `limitMs` of virtual time). */
async function settle<T>(clock: ManualClock, p: Promise<T>, limitMs = 600_000): Promise<Outcome<T>> {
  let out: Outcome<T> | undefined;
  p.then((value) => (out = { value }), (error: unknown) => (out = { error }));
  const start = clock.nowMs();
  for (;;) {
    await microtasks();
    if (out) return out;
    const at = clock.nextAtMs;
    if (at === undefined) throw new Error("stuck: the operation has not settled and no timer is pending");
    if (at - start > limitMs) throw new Error(`the operation has not settled within ${limitMs} ms of virtual time`);
    clock.advance(Math.max(0, at - clock.nowMs()));
  }
}

/** `p`'s value, driving the clock; throws its error. */
async function run<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  const out = await settle(clock, p);
  if ("error" in out) throw out.error;
  return out.value;
}

/** Moves the clock from timer to timer until `cond` holds. */
async function driveUntil(clock: ManualClock, cond: () => boolean, what: string): Promise<void> {
  for (let steps = 0; steps < 100_000; steps++) {
    await microtasks();
    if (cond()) return;
    const at = clock.nextAtMs;
    if (at === undefined) throw new Error(`stuck waiting for ${what}`);
    clock.advance(Math.max(0, at - clock.nowMs()));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** A world: a clock, a network, one controller `c1:7001`, groups of servers `g<gid><a|b|c>:7000`. */
function world(groups: Record<number, number>, owner = 1) {
  const clock = new ManualClock();
  const net = new FakeNet(clock);
  const names: Record<number, string[]> = {};
  for (const [gid, n] of Object.entries(groups)) {
    const store = new Store();
    names[Number(gid)] = [];
    for (let i = 0; i < n; i++) {
      const address = `g${gid}${"abc"[i]}:7000`;
      names[Number(gid)]!.push(address);
      net.servers.set(address, new FakeServer(address, store));
    }
  }
  const ctl = new FakeController({ num: 1, shards: new Array<number>(shardCount).fill(owner), groups: names });
  net.controllers.set("c1:7001", ctl);
  const server = (address: string) => net.servers.get(address)!;
  const connect = (opts: Partial<ShardKVOptions> = {}) =>
    run(clock, ShardKV.connect({ controllers: ["c1:7001"], clock, rng: new SimRng(1), transport: net, ...opts }).then((kv) => {
      clients.push(kv);
      return kv;
    }));
  return { clock, net, ctl, server, connect };
}

const clients: ShardKV[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe("ShardKV over a fake transport on a manual clock", () => {
  it("routes by the config, follows a NotLeader hint and then goes to the leader directly", async () => {
    const { clock, server, connect } = world({ 1: 3 });
    server("g1a:7000").onRequest = () => new NotLeaderError(2 as NodeId, "g1b:7000");
    const kv = await connect();
    await run(clock, kv.put("x", "1"));
    expect(server("g1a:7000").requests).toHaveLength(1);
    expect(server("g1b:7000").requests).toHaveLength(1);
    expect(await run(clock, kv.getString("x"))).toBe("1");
    expect(server("g1a:7000").requests).toHaveLength(1);
    expect(server("g1b:7000").requests).toHaveLength(2);
    const w = server("g1b:7000").writes[0]!;
    expect(hex(w.id!.clientId)).toBe(hex(kv.clientId));
    expect(Number(w.id!.seq)).toBe(1);
    expect(server("g1c:7000").requests).toHaveLength(0);
  });

  it("WrongGroup: the config is queried again and the same request goes to the new owner", async () => {
    const { clock, ctl, server, connect } = world({ 1: 1, 2: 1 });
    server("g1a:7000").onRequest = (r) => new WrongGroupError(r.write!.shard!, 2);
    const kv = await connect();
    ctl.config = { ...ctl.config, num: 2, shards: new Array<number>(shardCount).fill(2) };
    await run(clock, kv.append("x", "a"));
    expect(kv.currentConfig.num).toBe(2);
    expect(ctl.queries).toBe(2);
    const [first, second] = [server("g1a:7000").writes[0]!, server("g2a:7000").writes[0]!];
    expect(Number(second.id!.seq)).toBe(Number(first.id!.seq));
    expect(server("g2a:7000").store.data.get("x")).toBe("a");
    expect(server("g1a:7000").store.data.size).toBe(0);
  });

  it("a lost reply: the same server is asked again once the attempt times out, with the same (client id, seq), and executes it once", async () => {
    const { clock, server, connect } = world({ 1: 1 });
    const s = server("g1a:7000");
    s.onRequest = (_r, n) => (n === 1 ? "drop-reply" : "default");
    const kv = await connect();
    const t0 = clock.nowMs();
    await run(clock, kv.append("x", "a"));
    const took = clock.nowMs() - t0;
    // The first attempt's deadline (no answer seen yet: attemptMsInitial), then one round trip.
    expect(took).toBeGreaterThanOrEqual(attemptMsInitial);
    expect(took).toBeLessThan(attemptMsInitial + 50);
    expect(s.writes).toHaveLength(2);
    expect(s.writes.map((w) => `${hex(w.id!.clientId)}/${w.id!.seq}`)).toEqual([`${hex(kv.clientId)}/1`, `${hex(kv.clientId)}/1`]);
    expect([...s.store.executed.values()]).toEqual([1]);
    expect(s.store.data.get("x")).toBe("a");
  });

  it("a reply that outlasts its attempt still completes the operation when the retry is lost", async () => {
    const { clock, server, connect } = world({ 1: 1 });
    const s = server("g1a:7000");
    s.onRequest = (_r, n) => (n === 1 ? { delayMs: 1500 } : "drop");
    const kv = await connect();
    const t0 = clock.nowMs();
    await run(clock, kv.put("x", "late"));
    // Answered by the first attempt's late reply, not by a third attempt.
    expect(clock.nowMs() - t0).toBe(1500 + 2 * latencyMs);
    expect(s.writes).toHaveLength(2);
    expect(s.store.data.get("x")).toBe("late");
  });

  it("when nothing answers, the operation fails at its deadline with a TimeoutError naming the group, and leaves no timer", async () => {
    const { clock, server, connect } = world({ 1: 2 });
    for (const a of ["g1a:7000", "g1b:7000"]) server(a).onRequest = () => "drop";
    const kv = await connect();
    const t0 = clock.nowMs();
    const out = await settle(clock, kv.get("x", { deadlineMs: 3000 }));
    const err = (out as { error: unknown }).error;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).afterMs).toBe(3000);
    expect((err as Error).message).toMatch(/group 1/);
    // Deadlines are checked by a sweep every 20 ms of the client's clock.
    expect(clock.nowMs() - t0).toBeGreaterThanOrEqual(3000);
    expect(clock.nowMs() - t0).toBeLessThanOrEqual(3000 + 20);
    // The first server is asked twice (a first timeout is most likely a lost message), then
    // the next one with a doubled attempt deadline, which the operation's deadline cuts short.
    expect(server("g1a:7000").requests).toHaveLength(2);
    expect(server("g1b:7000").requests).toHaveLength(1);
    await driveUntil(clock, () => clock.pending === 0, "the client's timers to end");
  });

  it("an abort during a backoff rejects at once with the caller's reason, leaves no timer and sends nothing more", async () => {
    const { clock, server, connect } = world({ 1: 1 });
    const s = server("g1a:7000");
    s.onRequest = (r) => (r.write && str(r.write.ops![0]!.key) === "x" ? new BackpressureError("queue", 1, 2) : "default");
    const kv = await connect({ deadlineMs: 60_000, attemptMs: 10_000 });
    const ac = new AbortController();
    let out: Outcome<void> | undefined;
    kv.put("x", "1", { signal: ac.signal }).then((value) => (out = { value }), (error: unknown) => (out = { error }));
    // Refused (Backpressure) twice; the client is in its backoff sleep after the second.
    await driveUntil(clock, () => s.requests.length === 2 && clock.pending === 1, "the second attempt and its backoff");
    const reason = new Error("the caller gave up");
    ac.abort(reason);
    await microtasks();
    expect(out).toBeDefined();
    const err = (out as { error: unknown }).error;
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error).cause).toBe(reason);
    expect(clock.pending).toBe(0);
    clock.advance(120_000);
    await run(clock, kv.put("y", "2"));
    expect(s.writes.map((w) => str(w.ops![0]!.key))).toEqual(["x", "x", "y"]);
  });

  it("an abort while an attempt is in flight rejects at once; an aborted signal sends nothing", async () => {
    const { clock, server, connect } = world({ 1: 1 });
    const s = server("g1a:7000");
    s.onRequest = () => "drop";
    const kv = await connect();
    const ac = new AbortController();
    let out: Outcome<void> | undefined;
    kv.append("x", "1", { signal: ac.signal }).then((value) => (out = { value }), (error: unknown) => (out = { error }));
    await driveUntil(clock, () => s.requests.length === 1, "the attempt to reach the server");
    const t = clock.nowMs();
    ac.abort();
    await microtasks();
    expect((out as { error: unknown }).error).toMatchObject({ name: "AbortError", code: "Aborted" });
    expect(clock.nowMs()).toBe(t);
    await expect(kv.get("x", { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await microtasks();
    clock.advance(0);
    await microtasks();
    expect(s.requests).toHaveLength(1);
  });

  it("connect skips an unreachable controller and follows a NotLeader hint; with none reachable it times out naming them", async () => {
    const { clock, net } = world({ 1: 1 });
    const leader = net.controllers.get("c1:7001")!;
    const follower = new FakeController(leader.config);
    follower.onQuery = () => new NotLeaderError(1 as NodeId, "c1:7001");
    net.controllers.set("c2:7002", follower);
    const kv = await run(clock, ShardKV.connect({ controllers: ["c9:7009", "c2:7002"], clock, rng: new SimRng(2), transport: net }));
    clients.push(kv);
    expect(kv.currentConfig.num).toBe(1);
    expect([follower.queries, leader.queries]).toEqual([1, 1]);

    // Never past its deadline, whatever the backoff's jitter draws (some seeds left less than
    // the 1 ms an attempt needs).
    for (let seed = 1; seed <= 60; seed++) {
      const t0 = clock.nowMs();
      const out = await settle(clock, ShardKV.connect({ controllers: ["c8:7008", "c9:7009"], deadlineMs: 2000, clock, rng: new SimRng(seed), transport: new FakeNet(clock) }));
      const err = (out as { error: unknown }).error;
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toContain("c8:7008");
      expect((err as Error).message).toContain("connection refused");
      expect({ seed, ms: clock.nowMs() - t0 }).toEqual({ seed, ms: expect.toSatisfy((ms: number) => ms <= 2000) });
    }
  });

  it("the client id comes from the rng; seqs count up per write and acked_below follows the answers", async () => {
    const { clock, server, connect } = world({ 1: 1 });
    const a = await connect({ rng: new SimRng(5) });
    const b = await connect({ rng: new SimRng(5) });
    expect(a.clientId).toHaveLength(16);
    expect(hex(a.clientId)).toBe(hex(b.clientId));
    await run(clock, Promise.all([a.put("k1", "1"), a.put("k2", "2")]));
    await run(clock, a.put("k3", "3"));
    const ids = server("g1a:7000").writes.map((w) => [Number(w.id!.seq), Number(w.id!.ackedBelow)]);
    expect(ids).toEqual([[1, 1], [2, 1], [3, 3]]);
  });

  it("close closes the transport; later operations fail with StoppedError", async () => {
    const { clock, net, connect } = world({ 1: 1 });
    const kv = await connect();
    await run(clock, kv.put("x", "1"));
    expect(net.streamsOpened).toBe(1);
    kv.close();
    expect(net.closed).toBe(true);
    await expect(kv.get("x")).rejects.toBeInstanceOf(StoppedError);
  });
});
