/**
 * The ShardKV.Batch stream end to end in one process: client/batch-channel.ts (BatchChannel)
 * against a real grpc.Server on loopback running shard-server/batch-stream.ts (serveBatch, through
 * shard-server/grpc-service.ts's gRPC adapter serveGrpcBatch)
 * over scripted handlers. Covers coalescing per turn, splitting at batchSendBytesMax, typed
 * errors in messages, deadlines, a stopping or stopped server, a closed channel, malformed
 * requests and the per-request failpoints. Then serveBatch alone, over a scripted stream: its
 * turns come from the `defer` given, and answers wait while the stream reports back-pressure.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { BatchChannel, batchSendBytesMax, realChannelEnv } from "../../client/batch-channel";
import { GrpcClientTransport } from "../../client/grpc-transport";
import { kvStub, type KvStub } from "../../client/stubs";
import { shardKVService } from "../../proto/gen/shardkv-grpc";
import { InvalidArgumentError, NotLeaderError, StoppedError, TimeoutError, WrongGroupError } from "../../common/errors";
import { Failpoints, parseFailpointSpec } from "../../common/failpoints";
import { fromWireError } from "../../common/grpc-errors";
import type { NodeId } from "../../common/ids";
import { realClock, realRng } from "../../common/real-env";
import { shardkv as kvpb } from "../../proto/gen/shardkv.js";
import { batchReplyBytesMax, serveBatch } from "../../shard-server/batch-stream";
import { serveGrpcBatch, type BatchCall } from "../../shard-server/grpc-service";
import { waitFor } from "../lib/wait";
import { Security } from "../../security/credentials";

type GetReq = kvpb.kv.GetRequest;
type WriteReq = kvpb.kv.WriteRequest;
type GetReply = kvpb.kv.GetReply.$Properties;
type WriteReply = kvpb.kv.WriteReply.$Properties;

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? []).toString();
const soon = (ms = 5000): number => realClock.nowMs() + ms;
const put = (key: string, value: Uint8Array = enc("v")) => ({ shard: 0, ops: [{ type: kvpb.kv.OpType.OP_PUT, key: enc(key), value }] });
/** Settles with the error a promise rejects with (the rejection is handled at once). */
const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => new Error("expected a failure"), (e: unknown) => e);

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => ((resolve = a), (reject = b)));
  return { promise, resolve, reject };
}

/** A grpc.Server serving only Batch, through serveBatch, over scripted handlers. */
class FakeServer {
  address = "";
  readonly server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  /** Every BatchRequest message received, on any stream. */
  readonly messages: kvpb.kv.BatchRequest[] = [];
  readonly gets: GetReq[] = [];
  readonly writes: WriteReq[] = [];
  /** The stop function serveBatch returned, per stream. */
  readonly stops: (() => void)[] = [];
  streamsEnded = 0;
  stopping = false;
  /** Default: a get answers its own key as the value; a write answers its first key. */
  onGet: (req: GetReq) => Promise<GetReply> = (req) => Promise.resolve({ found: true, value: req.key });
  onWrite: (req: WriteReq) => Promise<WriteReply> = (req) => Promise.resolve({ results: [{ found: true, value: req.ops[0]?.key }] });
  constructor(readonly fp: Failpoints | undefined) {}

  static async start(fp?: Failpoints): Promise<FakeServer> {
    const f = new FakeServer(fp);
    f.server.addService(shardKVService, {
      batch: (call: BatchCall) => {
        call.on("data", (m: kvpb.kv.BatchRequest) => f.messages.push(m));
        call.on("end", () => f.streamsEnded++);
        f.stops.push(serveGrpcBatch(call, {
          get: (req) => (f.gets.push(req), f.onGet(req)),
          write: (req) => (f.writes.push(req), f.onWrite(req)),
          describe: (e) => e,
          stopping: () => f.stopping,
        }, f.fp));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      f.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    f.address = `127.0.0.1:${port}`;
    servers.push(f);
    return f;
  }
}

/** A BatchChannel to `srv`, with the streams it opened and the messages they received. */
function channel(srv: FakeServer): { ch: BatchChannel; streams: () => number; received: kvpb.kv.BatchResponse[] } {
  const transport = new GrpcClientTransport(Security.insecure());
  transports.push(transport);
  const received: kvpb.kv.BatchResponse[] = [];
  let streams = 0;
  const open = transport.openBatch.bind(transport);
  transport.openBatch = (address, handlers) => {
    streams++;
    return open(address, { ...handlers, onMessage: (m) => (received.push(m as kvpb.kv.BatchResponse), handlers.onMessage(m)) });
  };
  const ch = new BatchChannel(realChannelEnv(transport), srv.address);
  channels.push(ch);
  return { ch, streams: () => streams, received };
}

const servers: FakeServer[] = [];
const stubs: KvStub[] = [];
const transports: GrpcClientTransport[] = [];
const channels: BatchChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) c.close();
  for (const s of stubs.splice(0)) s.close();
  for (const t of transports.splice(0)) t.close();
  for (const s of servers.splice(0)) s.server.forceShutdown();
});

describe("ShardKV.Batch: BatchChannel against serveBatch", () => {
  it("sends one turn's requests as one message; answers in reverse order resolve the right promises", async () => {
    const srv = await FakeServer.start();
    const held: { resolve: () => void }[] = [];
    srv.onGet = (req) => {
      const d = deferred<GetReply>();
      held.push({ resolve: () => d.resolve({ found: true, value: enc(`got ${str(req.key)}`) }) });
      return d.promise;
    };
    srv.onWrite = (req) => {
      const d = deferred<WriteReply>();
      held.push({ resolve: () => d.resolve({ results: [{ found: true, value: enc(`wrote ${str(req.ops[0]!.key)}`) }] }) });
      return d.promise;
    };
    const { ch } = channel(srv);
    const ps: Promise<string>[] = [
      ch.get({ key: enc("a") }, soon()).then((r) => str(r.value)),
      ch.write(put("b"), soon()).then((r) => str(r.results[0]!.value)),
      ch.get({ key: enc("c") }, soon()).then((r) => str(r.value)),
      ch.write(put("d"), soon()).then((r) => str(r.results[0]!.value)),
      ch.get({ key: enc("e") }, soon()).then((r) => str(r.value)),
    ];
    const settled = new Set<number>();
    ps.forEach((p, i) => void p.then(() => settled.add(i)));
    await waitFor(() => held.length === 5, { timeoutMs: 5000, what: "the five requests at the handlers" });
    expect(srv.messages).toHaveLength(1);
    expect(srv.messages[0]!.requests).toHaveLength(5);
    const want = ["got a", "wrote b", "got c", "wrote d", "got e"];
    for (let i = 4; i >= 0; i--) {
      held[i]!.resolve();
      expect(await ps[i]).toBe(want[i]);
      expect([...settled].sort()).toEqual([0, 1, 2, 3, 4].slice(i));
    }
    expect(srv.messages).toHaveLength(1);
  });

  it("splits a turn whose key and value bytes exceed batchSendBytesMax over several messages", async () => {
    const srv = await FakeServer.start();
    const { ch } = channel(srv);
    const valueBytes = 1024 * 1024;
    const n = Math.ceil(batchSendBytesMax / valueBytes) + 1;
    const ps = Array.from({ length: n }, (_, i) => ch.write(put(`k${i}`, new Uint8Array(valueBytes).fill(i + 1)), soon(20_000)));
    const replies = await Promise.all(ps);
    expect(replies.map((r) => str(r.results[0]!.value))).toEqual(Array.from({ length: n }, (_, i) => `k${i}`));
    expect(srv.messages.length).toBeGreaterThanOrEqual(2);
    expect(srv.messages.reduce((s, m) => s + m.requests.length, 0)).toBe(n);
    for (const m of srv.messages) {
      const bytes = m.requests.reduce((s, r) => s + (r.write!.ops![0]!.key?.length ?? 0) + (r.write!.ops![0]!.value?.length ?? 0), 0);
      expect(bytes).toBeLessThanOrEqual(batchSendBytesMax);
    }
    for (const [i, w] of srv.writes.entries()) {
      expect(str(w.ops[0]!.key)).toBe(`k${i}`);
      expect(w.ops[0]!.value!.length).toBe(valueBytes);
      expect(w.ops[0]!.value![valueBytes - 1]).toBe(i + 1);
    }
  });

  it("splits one turn's answers at batchReplyBytesMax of values, write results included", async () => {
    const srv = await FakeServer.start();
    const held: (() => void)[] = [];
    const valueBytes = 1024 * 1024;
    srv.onWrite = (req) => {
      const d = deferred<WriteReply>();
      const i = srv.writes.length;
      held.push(() => d.resolve({ results: [{ found: true, value: new Uint8Array(valueBytes).fill(i) }, { value: req.ops[0]!.key }] }));
      return d.promise;
    };
    const { ch, received } = channel(srv);
    const n = Math.ceil(batchReplyBytesMax / valueBytes) + 1;
    const ps = Array.from({ length: n }, (_, i) => ch.write(put(`k${i}`), soon()));
    await waitFor(() => held.length === n, { timeoutMs: 5000, what: `${n} writes at the handler` });
    for (const resolve of held) resolve(); // all answered in the same turn
    const replies = await Promise.all(ps);
    expect(replies.map((r) => [r.results[0]!.value![0], str(r.results[1]!.value)])).toEqual(ps.map((_, i) => [i + 1, `k${i}`]));
    expect(received.length).toBeGreaterThanOrEqual(2);
    for (const m of received) {
      const bytes = m.responses.reduce((s, r) => s + (r.write?.results ?? []).reduce((t, o) => t + (o.value?.length ?? 0), 0), 0);
      expect(bytes).toBeLessThanOrEqual(batchReplyBytesMax);
    }
  });

  it("a typed error from a handler arrives as the same class with the same fields", async () => {
    const srv = await FakeServer.start();
    srv.onWrite = (req) => Promise.reject(str(req.ops[0]!.key) === "bad"
      ? new InvalidArgumentError("value", "too large for the test")
      : new WrongGroupError(3, 17));
    srv.onGet = () => Promise.reject(new NotLeaderError(2 as NodeId, "127.0.0.1:7102"));
    const { ch } = channel(srv);
    const [invalid, wrong, notLeader] = await Promise.all([
      failure(ch.write(put("bad"), soon())), failure(ch.write(put("moved"), soon())), failure(ch.get({ key: enc("x") }, soon())),
    ]);
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect(invalid).toMatchObject({ field: "value", reason: "too large for the test" });
    expect(wrong).toBeInstanceOf(WrongGroupError);
    expect(wrong).toMatchObject({ shard: 3, configNum: 17 });
    expect(notLeader).toBeInstanceOf(NotLeaderError);
    expect(notLeader).toMatchObject({ leaderHint: 2, leaderAddress: "127.0.0.1:7102" });
  });

  it("times out an unanswered request (afterMs 0); its late answer is ignored", async () => {
    const srv = await FakeServer.start();
    const late = deferred<GetReply>();
    srv.onGet = () => late.promise;
    const { ch, received } = channel(srv);
    const t0 = realClock.nowMs();
    const err = await failure(ch.get({ key: enc("slow") }, realClock.nowMs() + 100));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).afterMs).toBe(0);
    expect(realClock.nowMs() - t0).toBeGreaterThanOrEqual(90);
    late.resolve({ found: true, value: enc("late") });
    await waitFor(() => received.some((m) => m.responses.some((r) => r.get && str(r.get.value) === "late")), {
      timeoutMs: 5000, what: "the late answer at the client",
    });
    srv.onGet = (req) => Promise.resolve({ found: true, value: enc(`fresh ${str(req.key)}`) });
    const [a, b] = await Promise.all([ch.get({ key: enc("p") }, soon()), ch.get({ key: enc("q") }, soon())]);
    expect([str(a.value), str(b.value)]).toEqual(["fresh p", "fresh q"]);
  });

  it("the server's stop fails requests in flight with StoppedError; the next request opens a new stream", async () => {
    const srv = await FakeServer.start();
    srv.onGet = () => new Promise(() => undefined);
    srv.onWrite = () => new Promise(() => undefined);
    const { ch, streams } = channel(srv);
    const inFlight = [failure(ch.get({ key: enc("a") }, soon())), failure(ch.write(put("b"), soon()))];
    await waitFor(() => srv.gets.length + srv.writes.length === 2, { timeoutMs: 5000, what: "two requests at the handlers" });
    srv.stops[0]!();
    for (const e of await Promise.all(inFlight)) expect(e).toBeInstanceOf(StoppedError);
    srv.onGet = (req) => Promise.resolve({ found: true, value: req.key });
    expect(str((await ch.get({ key: enc("again") }, soon())).value)).toBe("again");
    expect(streams()).toBe(2);
    expect(srv.stops).toHaveLength(2);
  });

  it("a server that is stopping answers StoppedError even when the handler succeeded", async () => {
    const srv = await FakeServer.start();
    const d = deferred<WriteReply>();
    srv.onWrite = () => d.promise;
    const { ch } = channel(srv);
    const p = failure(ch.write(put("w"), soon()));
    await waitFor(() => srv.writes.length === 1, { timeoutMs: 5000, what: "the write at the handler" });
    srv.stopping = true;
    d.resolve({ results: [{ found: false }] });
    expect(await p).toBeInstanceOf(StoppedError);
    // Once stopping, a new request is refused without running the handler.
    expect(await failure(ch.get({ key: enc("g") }, soon()))).toBeInstanceOf(StoppedError);
    expect(srv.gets).toHaveLength(0);
  });

  it("a request with neither get nor write is answered InvalidArgument naming cmd", async () => {
    const srv = await FakeServer.start();
    const stub = kvStub(srv.address, Security.insecure());
    stubs.push(stub);
    const call = stub.batch();
    call.on("error", () => undefined); // the server's shutdown in afterEach
    const answer = new Promise<kvpb.kv.BatchResponse>((resolve) => call.once("data", resolve));
    call.write({ requests: [{ requestId: 7 }] });
    const msg = await answer;
    expect(msg.responses).toHaveLength(1);
    const r = msg.responses[0]!;
    expect(r.requestId).toBe(7);
    expect(r.get ?? r.write).toBeFalsy();
    const e = fromWireError(r.error!);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as InvalidArgumentError).field).toBe("cmd");
    expect(srv.gets.length + srv.writes.length).toBe(0);
    call.end();
  });

  it("failpoints: drop-request never runs the handler, drop-reply runs it; both time out", async () => {
    const fp = new Failpoints({ rng: realRng, clock: realClock, self: "127.0.0.1:1", spec: parseFailpointSpec("drop-request=1") });
    const srv = await FakeServer.start(fp);
    const { ch } = channel(srv);
    expect(await failure(ch.write(put("dropped"), realClock.nowMs() + 150))).toBeInstanceOf(TimeoutError);
    expect(srv.messages).toHaveLength(1);
    expect(srv.writes).toHaveLength(0);
    expect(fp.counters.droppedRequests).toBe(1);

    fp.set(parseFailpointSpec("drop-reply=1"));
    expect(await failure(ch.write(put("ran"), realClock.nowMs() + 150))).toBeInstanceOf(TimeoutError);
    expect(srv.writes.map((w) => str(w.ops[0]!.key))).toEqual(["ran"]);
    expect(fp.counters.droppedReplies).toBe(1);

    fp.set(parseFailpointSpec("none"));
    expect(str((await ch.write(put("ok"), soon())).results[0]!.value)).toBe("ok");
  });

  it("close() fails requests in flight with StoppedError and refuses later ones", async () => {
    const srv = await FakeServer.start();
    srv.onGet = () => new Promise(() => undefined);
    const { ch } = channel(srv);
    const inFlight = failure(ch.get({ key: enc("a") }, soon()));
    await waitFor(() => srv.gets.length === 1, { timeoutMs: 5000, what: "the get at the handler" });
    ch.close();
    expect(await inFlight).toBeInstanceOf(StoppedError);
    expect(await failure(ch.get({ key: enc("b") }, soon()))).toBeInstanceOf(StoppedError);
    expect(await failure(ch.write(put("c"), soon()))).toBeInstanceOf(StoppedError);
    // The client half-closed its stream, and the server saw it.
    await waitFor(() => srv.streamsEnded === 1, { timeoutMs: 5000, what: "the server to see the stream end" });
    expect(srv.gets).toHaveLength(1);
  });
});

describe("serveBatch without a transport", () => {
  /** A stream that records what is sent and reports back-pressure while `full`. */
  function scripted() {
    const sent: kvpb.kv.BatchResponse.$Properties[] = [];
    const failed: unknown[] = [];
    let ended = 0;
    const s = { full: false, sent, failed, ended: () => ended };
    const stream = {
      write: (m: kvpb.kv.BatchResponse.$Properties) => (sent.push(m), !s.full),
      end: () => void ended++,
      fail: (e: unknown) => void failed.push(e),
    };
    return { s, stream };
  }
  const ids = (m: kvpb.kv.BatchResponse.$Properties) => (m.responses ?? []).map((r) => r.requestId);
  const request = (requestId: number) => ({ requestId, get: { key: enc(`k${requestId}`) } }) as kvpb.kv.BatchRequest.IRequest;
  const handlers = { get: (req: GetReq) => Promise.resolve({ found: true, value: req.key }), write: () => Promise.reject(new Error("no writes")), describe: (e: unknown) => e, stopping: () => false };
  /** Lets the handlers' promises settle. */
  const settle = async () => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };

  it("answers of one turn leave as one message when `defer` runs; while the stream is full they wait, in order, for drained", async () => {
    const { s, stream } = scripted();
    const turns: (() => void)[] = [];
    let closed = 0;
    const session = serveBatch(stream, handlers, { defer: (fn) => void turns.push(fn), onClosed: () => closed++ });
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(1), request(2)] }));
    await settle();
    expect(s.sent).toHaveLength(0);
    expect(turns).toHaveLength(1);
    s.full = true;
    turns.shift()!();
    expect(s.sent.map(ids)).toEqual([[1, 2]]);
    // The stream is full: the next turns' answers are held.
    for (const id of [3, 4]) {
      session.receive(kvpb.kv.BatchRequest.create({ requests: [request(id)] }));
      await settle();
      turns.shift()!();
    }
    expect(s.sent.map(ids)).toEqual([[1, 2]]);
    s.full = false;
    session.drained();
    expect(s.sent.map(ids)).toEqual([[1, 2], [3], [4]]);
    expect(s.sent[1]!.responses![0]!.get!.value).toEqual(enc("k3"));
    // Stopping sends what is ready even into a full stream, then fails the stream.
    s.full = true;
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(5)] }));
    await settle();
    session.stop();
    expect(s.sent.map(ids)).toEqual([[1, 2], [3], [4], [5]]);
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]).toBeInstanceOf(StoppedError);
    expect(closed).toBe(1);
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(6)] }));
    await settle();
    expect(turns).toHaveLength(1);
    turns.shift()!();
    expect(s.sent).toHaveLength(4);
  });

  it("an answer whose request was alone in flight goes out `soon`; with others in flight it waits for the turn", async () => {
    const { s, stream } = scripted();
    const turns: (() => void)[] = [];
    const soonFns: (() => void)[] = [];
    let release: () => void = () => undefined;
    const slow = { ...handlers, get: (req: GetReq) => req.key?.[1] === "9".charCodeAt(0) ? new Promise<{ found: boolean; value: Uint8Array }>((r) => (release = () => r({ found: true, value: req.key! }))) : handlers.get(req) };
    const session = serveBatch(stream, slow, { defer: (fn) => void turns.push(fn), soon: (fn) => void soonFns.push(fn) });
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(1)] }));
    await settle();
    expect([turns.length, soonFns.length]).toEqual([0, 1]);
    soonFns.shift()!();
    expect(s.sent.map(ids)).toEqual([[1]]);
    // Request 9 stays in flight: request 2's answer waits for the end of the turn.
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(9), request(2)] }));
    await settle();
    expect([turns.length, soonFns.length]).toEqual([1, 0]);
    turns.shift()!();
    expect(s.sent.map(ids)).toEqual([[1], [2]]);
    release();
    await settle();
    expect([turns.length, soonFns.length]).toEqual([0, 1]);
    soonFns.shift()!();
    expect(s.sent.map(ids)).toEqual([[1], [2], [9]]);
  });

  it("a message's requests start inside one `pass` of the handlers (one Raft round for them all); a lone request starts outside", async () => {
    const { stream } = scripted();
    /** For each get the handler saw: the depth of `pass` calls it started in. */
    const started: number[] = [];
    let depth = 0;
    let passes = 0;
    const h = {
      ...handlers,
      get: (req: GetReq) => (started.push(depth), handlers.get(req)),
      pass: (fn: () => void) => {
        passes++;
        depth++;
        try {
          fn();
        } finally {
          depth--;
        }
      },
    };
    const session = serveBatch(stream, h, { defer: () => undefined });
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(1), request(2), request(3)] }));
    expect([passes, started]).toEqual([1, [1, 1, 1]]);
    session.receive(kvpb.kv.BatchRequest.create({ requests: [request(4)] }));
    expect([passes, started]).toEqual([1, [1, 1, 1, 0]]);
    await settle();
  });

  it("the client's half-close ends the stream; held answers are dropped", async () => {
    const { s, stream } = scripted();
    const turns: (() => void)[] = [];
    const session = serveBatch(stream, handlers, { defer: (fn) => void turns.push(fn) });
    s.full = true;
    for (const id of [1, 2]) {
      session.receive(kvpb.kv.BatchRequest.create({ requests: [request(id)] }));
      await settle();
      turns.shift()!();
    }
    session.clientEnded();
    session.drained();
    expect(s.sent.map(ids)).toEqual([[1]]);
    expect(s.ended()).toBe(1);
    expect(s.failed).toHaveLength(0);
  });
});
