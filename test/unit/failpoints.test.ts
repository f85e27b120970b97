/**
 * Failpoints (common/failpoints.ts, common/grpc-failpoints.ts,
 * raft/transport/failpoint-transport.ts): the spec syntax and its errors, who may enable
 * failpoints, the seeded draws, the Raft transport wrapper under virtual time, and the gRPC
 * handler wrapper and client interceptor against a real in-process gRPC server.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../common/errors";
import {
  type FailpointSpec, Failpoints, failpointsSetting, formatFailpointSpec, noFailpoints, parseFailpointSpec,
} from "../../common/failpoints";
import { failpointClientOptions, failpointService, fromMetadataKey } from "../../common/grpc-failpoints";
import { grpcMethod } from "../../common/grpc-service";
import type { NodeId } from "../../common/ids";
import { wallClockMs } from "../../common/real-env";
import { shardkv } from "../../proto/gen/admin.js";
import type { Message } from "../../raft/core/types";
import { failpointTransport, type FailpointTransport } from "../../raft/transport/failpoint-transport";
import type { Transport } from "../../raft/transport/transport";
import { seededRng } from "../lib/raft-network";
import { SimClock } from "../sim/clock";

const spec = (s: Partial<FailpointSpec>): FailpointSpec => ({ ...noFailpoints, ...s });

function invalid(fn: () => unknown): { field: string; reason: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidArgumentError) return { field: e.field, reason: e.reason };
    throw e;
  }
  throw new Error("did not throw");
}

describe("failpoint spec text", () => {
  it.each([
    ["none", noFailpoints, "none"],
    ["", noFailpoints, "none"],
    ["clear", noFailpoints, "none"],
    ["drop-request=0.1", spec({ dropRequestRate: 0.1 }), "drop-request=0.1"],
    ["delay=27,drop-reply=1", spec({ dropReplyRate: 1, delayMsMax: 27 }), "drop-reply=1,delay=27"],
    [
      "cut=127.0.0.1:7103+127.0.0.1:7102, drop-request=0",
      spec({ cutPeers: ["127.0.0.1:7102", "127.0.0.1:7103"] }),
      "cut=127.0.0.1:7102+127.0.0.1:7103",
    ],
    [
      "drop-request=0.1,drop-reply=0.25,drop-raft=0.05,delay=5,cut=h:1",
      { dropRequestRate: 0.1, dropReplyRate: 0.25, dropRaftRate: 0.05, delayMsMax: 5, cutPeers: ["h:1"] },
      "drop-request=0.1,drop-reply=0.25,drop-raft=0.05,delay=5,cut=h:1",
    ],
  ])("parses %j", (text, want, canonical) => {
    const got = parseFailpointSpec(text);
    expect(got).toEqual(want);
    expect(formatFailpointSpec(got)).toBe(canonical);
    expect(parseFailpointSpec(formatFailpointSpec(got))).toEqual(want);
  });

  it.each([
    ["drop-request=1.5", "drop-request", "want a rate in [0, 1], got 1.5"],
    ["drop-reply=-1", "drop-reply", 'want a number, got "-1"'],
    ["drop-reply=abc", "drop-reply", 'want a number, got "abc"'],
    ["delay=28", "delay", "want an integer number of milliseconds in [0, 27], got 28"],
    ["delay=2.5", "delay", "want an integer number of milliseconds in [0, 27], got 2.5"],
    ["delay", "delay", "needs a value (delay=...)"],
    ["delay=1,delay=2", "delay", "given twice"],
    ["cut=", "cut", "empty peer list (want host:port+host:port...)"],
    ["cut=nohost", "cut", 'want host:port, got "nohost"'],
    ["cut=a:1+b:99999", "cut", 'want host:port, got "b:99999"'],
    ["drop=0.1", "failpoints", 'unknown failpoint "drop" in "drop=0.1" (known: drop-request, drop-reply, drop-raft, delay, cut)'],
  ])("refuses %j naming the field and value", (text, field, reason) => {
    expect(invalid(() => parseFailpointSpec(text))).toEqual({ field, reason });
  });
});

describe("failpointsSetting: off by default, refused in production", () => {
  it("is off without the flag and the variable, or with the variable off", () => {
    expect(failpointsSetting({ env: {} })).toBeUndefined();
    for (const v of ["", "0", "off"]) expect(failpointsSetting({ env: { SHARDKV_FAILPOINTS: v } })).toBeUndefined();
    expect(failpointsSetting({ env: { SHARDKV_PROFILE: "production" } })).toBeUndefined();
  });

  it("is on with the flag or the variable, with an optional initial spec", () => {
    expect(failpointsSetting({ flag: "on", env: {} })).toEqual(noFailpoints);
    expect(failpointsSetting({ flag: "delay=3", env: {} })).toEqual(spec({ delayMsMax: 3 }));
    expect(failpointsSetting({ env: { SHARDKV_FAILPOINTS: "1" } })).toEqual(noFailpoints);
    expect(failpointsSetting({ env: { SHARDKV_FAILPOINTS: "drop-reply=0.5" } })).toEqual(spec({ dropReplyRate: 0.5 }));
    // The flag wins over the variable.
    expect(failpointsSetting({ flag: "none", env: { SHARDKV_FAILPOINTS: "drop-reply=0.5" } })).toEqual(noFailpoints);
  });

  it("refuses failpoints in the production profile, from the flag or the variable", () => {
    expect(invalid(() => failpointsSetting({ flag: "on", env: { SHARDKV_PROFILE: "production" } }))).toEqual({
      field: "--failpoints", reason: "failpoints are test-only and refused in the production profile ($SHARDKV_PROFILE=production)",
    });
    expect(invalid(() => failpointsSetting({ profileFlag: "production", env: { SHARDKV_FAILPOINTS: "1" } }))).toEqual({
      field: "$SHARDKV_FAILPOINTS", reason: "failpoints are test-only and refused in the production profile (--profile=production)",
    });
  });

  it("names the source of a bad value", () => {
    expect(invalid(() => failpointsSetting({ flag: "delay=99", env: {} }))).toEqual({
      field: "--failpoints", reason: "delay: want an integer number of milliseconds in [0, 27], got 99",
    });
    expect(invalid(() => failpointsSetting({ flag: "bogus=1", env: {} }))).toEqual({
      field: "--failpoints", reason: 'unknown failpoint "bogus" in "bogus=1" (known: drop-request, drop-reply, drop-raft, delay, cut)',
    });
    expect(invalid(() => failpointsSetting({ profileFlag: "prod", env: {} }))).toEqual({
      field: "--profile", reason: 'want one of development, production, got "prod"',
    });
  });
});

describe("Failpoints draws (seeded)", () => {
  const make = (s: Partial<FailpointSpec>, seed = 7) => new Failpoints({ rng: seededRng(seed), clock: new SimClock(), self: "me:1", spec: spec(s) });

  it("draws nothing when off, always drops at rate 1", () => {
    let draws = 0;
    const rng = { float: () => (draws++, 0.5), int: () => (draws++, 0) };
    const fp = new Failpoints({ rng, clock: new SimClock(), self: "me:1" });
    for (let i = 0; i < 100; i++) expect([fp.dropRequest(), fp.dropReply(), fp.delayMs()]).toEqual([false, false, 0]);
    fp.set(spec({ dropRequestRate: 1, dropReplyRate: 1 }));
    for (let i = 0; i < 100; i++) expect([fp.dropRequest(), fp.dropReply()]).toEqual([true, true]);
    expect(draws).toBe(0);
  });

  it("drops at the configured rate and delays uniformly in [0, delay]", () => {
    const fp = make({ dropRequestRate: 0.1, dropReplyRate: 0.5, delayMsMax: 27 });
    const n = 20000;
    let req = 0, rep = 0;
    const delays = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      if (fp.dropRequest()) req++;
      if (fp.dropReply()) rep++;
      const d = fp.delayMs();
      delays.set(d, (delays.get(d) ?? 0) + 1);
    }
    expect(Math.abs(req / n - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(rep / n - 0.5)).toBeLessThan(0.02);
    expect([...delays.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 28 }, (_, i) => i));
    for (const c of delays.values()) expect(Math.abs(c / n - 1 / 28)).toBeLessThan(0.01);
  });

  it("repeats its decisions for the same seed", () => {
    const run = (seed: number) => {
      const fp = make({ dropRequestRate: 0.3, dropReplyRate: 0.3, delayMsMax: 10 }, seed);
      return Array.from({ length: 50 }, () => `${fp.dropRequest()}/${fp.dropReply()}/${fp.delayMs()}`).join(" ");
    };
    expect(run(42)).toBe(run(42));
    expect(run(42)).not.toBe(run(43));
  });

  it("switches at run time; an invalid spec keeps the old one", () => {
    const fp = make({ cutPeers: ["a:1"] });
    expect(fp.isCut("a:1")).toBe(true);
    expect(fp.isCut(undefined)).toBe(false);
    expect(() => fp.set(spec({ delayMsMax: 100 }))).toThrow(InvalidArgumentError);
    expect(fp.spec.cutPeers).toEqual(["a:1"]);
    fp.set(noFailpoints);
    expect(fp.isCut("a:1")).toBe(false);
  });
});

describe("failpointTransport (virtual time)", () => {
  const peers = new Map<NodeId, string>([[1 as NodeId, "h:1"], [2 as NodeId, "h:2"], [3 as NodeId, "h:3"]]);
  const msg = (from: number, to: number, i: number): Message => ({ type: "MsgHeartbeat", from, to, term: i } as unknown as Message);

  function setup(s: Partial<FailpointSpec>) {
    const clock = new SimClock();
    const fp = new Failpoints({ rng: seededRng(1), clock, self: "h:1", spec: spec(s) });
    const sent: Message[] = [];
    let deliver: (m: Message[]) => void = () => {};
    const inner: Transport = { send: (m) => sent.push(...m), setReceiver: (h) => (deliver = h), close: async () => {} };
    const t = failpointTransport(fp, inner, peers) as FailpointTransport;
    const got: Message[] = [];
    t.setReceiver((m) => got.push(...m));
    const runAll = () => {
      while (clock.runNext()) { /* drain timers */ }
    };
    return { fp, t, sent, got, deliver: (m: Message[]) => deliver(m), runAll, clock };
  }

  it("is the inner transport itself when failpoints are off", () => {
    const inner: Transport = { send: () => {}, setReceiver: () => {}, close: async () => {} };
    expect(failpointTransport(undefined, inner, peers)).toBe(inner);
  });

  it("cuts a peer off in both directions, and heals at run time", () => {
    const e = setup({ cutPeers: ["h:2"] });
    e.t.send([msg(1, 2, 1), msg(1, 3, 2)]);
    e.deliver([msg(2, 1, 3)]);
    e.deliver([msg(3, 1, 4)]);
    expect(e.sent.map((m) => m.to)).toEqual([3]);
    expect(e.got.map((m) => m.from)).toEqual([3]);
    expect(e.t.stats.droppedCutMessages).toBe(2);
    e.fp.set(noFailpoints);
    e.t.send([msg(1, 2, 5)]);
    e.deliver([msg(2, 1, 6)]);
    expect(e.sent.map((m) => m.to)).toEqual([3, 2]);
    expect(e.got.map((m) => m.from)).toEqual([3, 2]);
  });

  it("drops sent and received messages at drop-raft; the RPC rates do not apply", () => {
    const e = setup({ dropRequestRate: 1, dropReplyRate: 1 });
    e.deliver([msg(2, 1, 1)]);
    e.t.send([msg(1, 2, 2)]);
    expect([e.got.length, e.sent.length]).toEqual([1, 1]);
    e.fp.set(spec({ dropRaftRate: 1 }));
    e.deliver([msg(2, 1, 3)]);
    e.t.send([msg(1, 2, 4)]);
    expect([e.got.length, e.sent.length]).toEqual([1, 1]);
    expect(e.t.stats).toMatchObject({ droppedSentMessages: 1, droppedReceivedMessages: 1 });
  });

  it("delays incoming batches by at most the delay, keeping each peer's order", () => {
    const e = setup({ delayMsMax: 27 });
    for (let i = 0; i < 200; i++) e.deliver([msg(2 + (i % 2), 1, i)]);
    expect(e.got.length).toBeLessThan(200);
    e.runAll();
    expect(e.clock.nowMs()).toBeLessThanOrEqual(27);
    expect(e.got.length).toBe(200);
    for (const from of [2, 3]) {
      const terms = e.got.filter((m) => m.from === from).map((m) => m.term as number);
      expect(terms).toEqual([...terms].sort((a, b) => a - b));
    }
  });

  it("delivers nothing delayed after close", async () => {
    const e = setup({ delayMsMax: 27 });
    for (let i = 0; i < 20; i++) e.deliver([msg(2, 1, i)]);
    const before = e.got.length;
    await e.t.close();
    e.runAll();
    expect(e.got.length).toBe(before);
  });
});

describe("gRPC failpoints (in-process server)", () => {
  const pb = shardkv.admin;
  const echo = {
    echo: grpcMethod("/test.Echo/Echo", pb.GetFailpointsRequest, pb.FailpointsReply),
    stream: grpcMethod("/test.Echo/Stream", pb.GetFailpointsRequest, pb.FailpointsReply, { responseStream: true }),
  } satisfies grpc.ServiceDefinition;
  const Ctor = grpc.makeGenericClientConstructor(echo, "Echo");
  type Stub = grpc.Client & {
    echo: (r: object, md: grpc.Metadata, o: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r?: shardkv.admin.FailpointsReply) => void) => void;
    stream: (r: object, o: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<shardkv.admin.FailpointsReply>;
  };

  let server: grpc.Server;
  let address = "";
  let handled = 0;
  let lastFrom: string | undefined;
  const fp = new Failpoints({ rng: seededRng(3), clock: { nowMs: wallClockMs, after: () => () => {} }, self: "server:1" });

  beforeAll(async () => {
    server = new grpc.Server();
    const impl = {
      echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        handled++;
        lastFrom = call.metadata.get(fromMetadataKey)[0] as string | undefined;
        cb(null, { self: "ok" });
      },
      stream: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        handled++;
        call.write({ self: "chunk" });
        call.end();
      },
    };
    server.addService(echo, failpointService(fp, echo, impl));
    const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => server.forceShutdown());

  const call = (stub: Stub, deadlineMs: number | undefined, md = new grpc.Metadata()) =>
    new Promise<{ code: number; details?: string }>((resolve) => {
      stub.echo({}, md, deadlineMs === undefined ? {} : { deadline: new Date(wallClockMs() + deadlineMs) }, (e) =>
        resolve(e ? { code: e.code, details: e.details } : { code: grpc.status.OK }));
    });

  it("returns the implementation itself when failpoints are off", () => {
    const impl = { echo: () => {} };
    expect(failpointService(undefined, echo, impl)).toBe(impl);
    expect(failpointClientOptions(undefined, "x:1")).toEqual({});
  });

  it("drop-request: never executes, the client's deadline expires (UNAVAILABLE without a deadline)", async () => {
    const stub = new Ctor(address, grpc.credentials.createInsecure()) as unknown as Stub;
    try {
      fp.set(spec({ dropRequestRate: 1 }));
      const h = handled;
      expect((await call(stub, 200)).code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect((await call(stub, undefined)).code).toBe(grpc.status.UNAVAILABLE);
      expect(handled).toBe(h);
      fp.set(spec({ dropReplyRate: 1 }));
      expect((await call(stub, 200)).code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(handled).toBe(h + 1);
      fp.set(noFailpoints);
      expect((await call(stub, 2000)).code).toBe(grpc.status.OK);
    } finally {
      stub.close();
    }
  });

  it("a dropped server stream fails at once with UNAVAILABLE and streams nothing", async () => {
    const stub = new Ctor(address, grpc.credentials.createInsecure()) as unknown as Stub;
    const read = async (): Promise<string> => {
      const got: string[] = [];
      try {
        for await (const m of stub.stream({}, { deadline: new Date(wallClockMs() + 60_000) }) as AsyncIterable<shardkv.admin.FailpointsReply>) got.push(m.self);
        return got.join(",");
      } catch (e) {
        return `${got.join(",")}!${(e as grpc.ServiceError).code}:${(e as grpc.ServiceError).details}`;
      }
    };
    try {
      const h = handled;
      for (const s of ["drop-request=1", "drop-reply=1"]) {
        fp.set(parseFailpointSpec(s));
        expect(await read()).toBe(`!${grpc.status.UNAVAILABLE}:failpoint: stream dropped`);
      }
      expect(handled).toBe(h);
      fp.set(noFailpoints);
      expect(await read()).toBe("chunk");
      expect(handled).toBe(h + 1);
    } finally {
      stub.close();
    }
  });

  it("cut: calls stamped by a cut peer fail at once; the client interceptor stamps and cuts", async () => {
    const peer = new Failpoints({ rng: seededRng(4), clock: { nowMs: wallClockMs, after: () => () => {} }, self: "peer:9" });
    const stub = new Ctor(address, grpc.credentials.createInsecure(), failpointClientOptions(peer, address)) as unknown as Stub;
    try {
      expect((await call(stub, 2000)).code).toBe(grpc.status.OK);
      expect(lastFrom).toBe("peer:9");
      // The server cuts the peer off.
      fp.set(spec({ cutPeers: ["peer:9"] }));
      const h = handled;
      expect(await call(stub, 2000)).toEqual({ code: grpc.status.UNAVAILABLE, details: "failpoint: server:1 is cut off from peer:9" });
      expect(handled).toBe(h);
      fp.set(noFailpoints);
      // The peer cuts the server off: it fails without reaching the network.
      peer.set(spec({ cutPeers: [address] }));
      expect(await call(stub, 2000)).toEqual({ code: grpc.status.UNAVAILABLE, details: `failpoint: peer:9 is cut off from ${address}` });
      expect(handled).toBe(h);
      peer.set(noFailpoints);
      expect((await call(stub, 2000)).code).toBe(grpc.status.OK);
      expect(handled).toBe(h + 1);
    } finally {
      stub.close();
    }
  });
});
