/**
 * Errors in the user's terms (common/grpc-errors.ts, common/server-failures.ts): a transport
 * failure names the server and what happened ("cannot reach controller 127.0.0.1:1: connection
 * refused"), never grpc-js details; a retry loop that gives up sums up what each server
 * answered in one line; the controller client checks its addresses as shardctl does.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  AbortError, BackpressureError, InternalError, InvalidArgumentError, LeadershipTransferError, NotLeaderError, ShardKVError, TimeoutError, UnreachableError,
  WrongGroupError,
} from "../../common/errors";
import { fromWireError, toWireError } from "../../common/wire-errors";
import { fromServiceError, transportReason } from "../../common/grpc-errors";
import { ServerFailures, controllerNaming, groupNaming } from "../../common/server-failures";
import { controllerQueryStub, unary } from "../../client/stubs";
import { ControllerClient } from "../../controller/client";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";
import type { GroupId } from "../../common/ids";
import { realClock, wallClockMs } from "../../common/real-env";
import { configToWire } from "../../controller/config-wire";
import { initialConfig } from "../../controller/config";
import { controllerService, type ControllerImplementation } from "../../proto/gen/controller-grpc";
import { Security } from "../../security/credentials";

/** A loopback address where nothing listens (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  server.forceShutdown();
  return `127.0.0.1:${port}`;
}

describe("transport failures in the user's terms", () => {
  it("a refused connection: UnreachableError 'cannot reach controller <addr>: connection refused'", async () => {
    const addr = await closedPort();
    const stub = controllerQueryStub(addr, Security.insecure());
    try {
      const e = await unary(stub.query, stub, { num: -1 }, wallClockMs() + 2000).catch((x: unknown) => x);
      const err = fromServiceError(e, `controller ${addr}`);
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toBe(`cannot reach controller ${addr}: connection refused`);
      expect(err).toMatchObject({ server: `controller ${addr}`, reason: "connection refused", code: "Unreachable" });
    } finally {
      stub.close();
    }
  });

  it.each([
    ["No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ", "connection refused"],
    ["Name resolution failed for target dns:nosuchhost.invalid:7001", "host name not found"],
    ["No connection established. Last error: Failed to connect (2026-12-05T17:26:42.887Z). Resolution note: ", "connection lost"],
    ["No connection established. Last error: Protocol error (2026-12-05T17:26:45.907Z). Resolution note: ", "it does not speak gRPC (is it the right address?)"],
    ["read ECONNRESET", "connection lost"],
    ["No connection established. Last error: Error: something new. Resolution note: x", "something new"],
    ["", "unavailable"],
  ])("%j -> %j", (details, want) => {
    expect(transportReason(details)).toBe(want);
    const err = fromServiceError({ code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() }, "group 2 (h:1)");
    expect(err.message).toBe(`cannot reach group 2 (h:1): ${want}`);
    expect(err.message).not.toMatch(/No connection established|Resolution note|UNAVAILABLE/);
  });

  it("a service that is not there: 'it does not serve ...'; a deadline: TimeoutError with afterMs 0", () => {
    const unimpl = fromServiceError({
      code: grpc.status.UNIMPLEMENTED, details: "The server does not implement the method /shardkv.controller.Controller/Query",
    }, "controller h:1");
    expect(unimpl.message).toBe("cannot reach controller h:1: it does not serve shardkv.controller.Controller/Query (is it the right address?)");
    const deadline = fromServiceError({ code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded after 1.5s,Waiting for LB pick" }, "h:1");
    expect(deadline).toBeInstanceOf(TimeoutError);
    expect((deadline as TimeoutError).afterMs).toBe(0);
  });

  it("typed errors still round-trip through the wire form unchanged", () => {
    const md = new grpc.Metadata();
    md.set("shardkv-code", "Unreachable");
    md.set("shardkv-server", "group 3 (h:3)");
    md.set("shardkv-reason", "connection refused");
    const e = fromServiceError({ code: grpc.status.UNAVAILABLE, details: "x", metadata: md });
    expect(e).toBeInstanceOf(UnreachableError);
    expect(e.message).toBe("cannot reach group 3 (h:3): connection refused");
  });
});

describe("errors used as control flow are built without a stack trace", () => {
  // Followers refuse every request of a fresh client with NotLeader, and clients decode each
  // answer into one again: capturing a stack for each was most of their cost (common/errors.ts
  // SignalError).
  const signals: [string, () => ShardKVError, string][] = [
    ["NotLeader", () => new NotLeaderError(2 as never, "h:2"), "not the leader (leader hint: node 2)"],
    ["WrongGroup", () => new WrongGroupError(4, 7), "wrong group for shard 4 (server at config 7)"],
    ["Backpressure", () => new BackpressureError("proposalQueueMax", 1024, 1025), "server busy: 1,025 writes queued at the leader; the limit is 1,024; retry later"],
    ["LeadershipTransfer", () => new LeadershipTransferError(3 as never), "leadership transfer to node 3 in progress"],
  ];
  it.each(signals)("%s: no frames in its stack, the message unchanged, the stack limit restored", (_name, make, message) => {
    const limit = Error.stackTraceLimit;
    const e = make();
    expect(e.message).toBe(message);
    expect(e.stack).toBe(`Error: ${message}`);
    expect(Error.stackTraceLimit).toBe(limit);
    // Decoded by a client: still stackless, the same class and message.
    const back = fromWireError(toWireError(e));
    expect(back.constructor).toBe(e.constructor);
    expect(back.message).toBe(message);
    expect(back.stack).toBe(`Error: ${message}`);
  });

  it("errors users act on keep their stack", () => {
    expect(new InvalidArgumentError("key", "empty").stack).toMatch(/\n\s+at /);
    expect(new TimeoutError("put", 10_000).stack).toMatch(/\n\s+at /);
  });
});

describe("ServerFailures: one line when a retry loop gives up", () => {
  const refused = (s: string): ShardKVError => new UnreachableError(s, "connection refused");
  const cases: [string, ServerFailures, [string, ShardKVError][], string][] = [
    ["one controller refused", new ServerFailures(controllerNaming, ["h:1"]), [["h:1", refused("h:1")]],
      "cannot reach controller h:1: connection refused"],
    ["every controller refused, listed in the configured order", new ServerFailures(controllerNaming, ["a:1", "b:2"]),
      [["b:2", refused("b:2")], ["a:1", refused("a:1")]], "cannot reach any controller (a:1, b:2): connection refused"],
    ["no leader among those that answer", new ServerFailures(controllerNaming, ["a:1", "b:2", "c:3"]),
      [["a:1", new NotLeaderError(0 as never)], ["b:2", refused("b:2")], ["c:3", new TimeoutError("attempt", 2000)]],
      "no controller leader: 1 of 3 replicas reachable"],
    ["a group, refused and silent", new ServerFailures(groupNaming(2), ["a:1", "b:2"]),
      [["a:1", refused("a:1")], ["b:2", new TimeoutError("attempt", 2000)]],
      "cannot reach group 2 (a:1: connection refused, b:2: no answer in time)"],
    ["a group that answers something else: the latest such answer", new ServerFailures(groupNaming(1), ["a:1", "b:2"]),
      [["a:1", new WrongGroupError(4, 2)], ["b:2", refused("b:2")]],
      "group 1 (a:1): wrong group for shard 4 (server at config 2)"],
    ["a group without a leader", new ServerFailures(groupNaming(1), ["a:1", "b:2", "c:3"]),
      [["a:1", new NotLeaderError(0 as never)], ["b:2", new NotLeaderError(0 as never)]], "no leader in group 1: 2 of 3 replicas reachable"],
    // The 4 GiB restart row's fill: the leader too busy to answer in time was reported as "no leader".
    ["a group whose leader, as the others say, does not answer in time", new ServerFailures(groupNaming(1), ["a:1", "b:2", "c:3"]),
      [["b:2", new TimeoutError("attempt", 2000)], ["a:1", new NotLeaderError(2 as never, "b:2")], ["c:3", new NotLeaderError(2 as never, "b:2")],
        ["b:2", new TimeoutError("attempt", 2000)]],
      "the leader of group 1 (b:2): no answer in time (2 other replicas name it leader)"],
    ["the controller leader, as one other says, refuses connections", new ServerFailures(controllerNaming, ["a:1", "b:2", "c:3"]),
      [["a:1", new NotLeaderError(3 as never, "c:3")], ["c:3", refused("c:3")]],
      "the controller leader (c:3): connection refused (1 other replica names it leader)"],
    ["replicas that name different leaders, one silent: no leader", new ServerFailures(groupNaming(1), ["a:1", "b:2", "c:3"]),
      [["a:1", new NotLeaderError(2 as never, "b:2")], ["b:2", new TimeoutError("attempt", 2000)], ["c:3", new NotLeaderError(1 as never, "a:1")]],
      "no leader in group 1: 2 of 3 replicas reachable"],
  ];
  it.each(cases)("%s", (_what, f, failures, want) => {
    for (const [s, e] of failures) f.record(s, e);
    expect(f.reason()).toBe(want);
    const t = f.timeout("put on shard 3", 10_000);
    expect(t.message).toBe(`put on shard 3 timed out after 10 s: ${want}`);
    expect(t.cause).toBe(failures[failures.length - 1]![1]);
  });

  it("nothing recorded: no reason, a plain timeout", () => {
    const f = new ServerFailures(controllerNaming, ["h:1"]);
    expect(f.reason()).toBeUndefined();
    expect(f.timeout("query", 500).message).toBe("query timed out after 500 ms");
  });
});

describe("ControllerClient (shardctl's library)", () => {
  it("checks its addresses at construction as shardctl does", () => {
    expect(() => new ControllerClient({ controllers: ["abc"], security: Security.insecure() })).toThrow(InvalidArgumentError);
    expect(() => new ControllerClient({ controllers: ["h:99999"], security: Security.insecure() })).toThrow('invalid controllers: want host:port, got "h:99999"');
    expect(() => new ControllerClient({ controllers: "h:1" as never, security: Security.insecure() })).toThrow(TypeError);
    expect(() => new ControllerClient({ controllers: ["h:1"], security: Security.insecure(), deadlineMs: 0 })).toThrow(InvalidArgumentError);
  });

  it("a query against a refused address times out with one line naming it", async () => {
    const addr = await closedPort();
    const c = new ControllerClient({ controllers: [addr], security: Security.insecure(), deadlineMs: 500, attemptMs: 200 });
    try {
      const err = await c.query().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toBe(`query timed out after 500 ms: cannot reach controller ${addr}: connection refused`);
    } finally {
      c.close();
    }
  });

  it("per-call options: a shorter deadline is honoured; an abort rejects at once with AbortError", async () => {
    const addr = await closedPort();
    const c = new ControllerClient({ controllers: [addr], security: Security.insecure(), deadlineMs: 30_000, attemptMs: 200 });
    try {
      const t0 = realClock.nowMs();
      const err = await c.query(-1, { deadlineMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).afterMs).toBe(300);
      expect(realClock.nowMs() - t0).toBeLessThan(5000);
      await expect(c.move(0, 1 as GroupId, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
      await expect(c.query(-1, { deadlineMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    } finally {
      c.close();
    }
  });

  it("an abort while retrying rejects at once with AbortError and leaves nothing scheduled", async () => {
    const addr = await closedPort();
    const clock = new ManualClock();
    const c = new ControllerClient({ controllers: [addr], security: Security.insecure(), deadlineMs: 30_000, attemptMs: 1000, clock });
    try {
      const ac = new AbortController();
      const p = c.join(new Map([[1 as GroupId, ["127.0.0.1:9001"]]]), { signal: ac.signal }).catch((e: unknown) => e);
      // The first attempt is refused; the client then backs off on the test's clock.
      await waitFor(() => clock.pending === 1, { timeoutMs: 5000, what: "the first attempt's backoff" });
      const reason = new Error("stop");
      const t0 = realClock.nowMs();
      ac.abort(reason);
      const aborted = await p;
      expect(aborted).toBeInstanceOf(AbortError);
      expect((aborted as Error).cause).toBe(reason);
      expect(realClock.nowMs() - t0).toBeLessThan(1000);
      expect(clock.pending).toBe(0);
    } finally {
      c.close();
    }
  });

  it("anything else without ShardKV metadata is Internal, naming the server", () => {
    const e = fromServiceError({ code: grpc.status.RESOURCE_EXHAUSTED, details: "Received message larger than max" }, "h:1");
    expect(e).toBeInstanceOf(InternalError);
    expect(e.message).toBe("h:1: Received message larger than max");
  });
});

describe("back-pressure in the user's terms", () => {
  it("says what each limit bounds, the value and the limit, never the constant's name", () => {
    const cases: Array<[string, number, number, string]> = [
      ["uncommittedBytesMax", 2_097_152, 2_100_000, "server busy: writes not yet committed would reach 2,100,000 bytes; the limit is 2,097,152 bytes; retry later"],
      ["proposalQueueMax", 1024, 1025, "server busy: 1,025 writes queued at the leader; the limit is 1,024; retry later"],
      ["readIndexPendingMax", 4096, 4097, "server busy: 4,097 reads waiting for the leader's quorum check; the limit is 4,096; retry later"],
      ["watchStreamsMax", 1024, 1025, "server busy: 1,025 open Watch streams; the limit is 1,024; retry later"],
    ];
    for (const [limit, max, value, message] of cases) {
      const e = new BackpressureError(limit, max, value);
      expect(e.message).toBe(message);
      expect(e.message).not.toContain(limit);
      // The wire keeps the limit's name, so the client rebuilds the same error.
      expect([e.limit, e.max, e.value]).toEqual([limit, max, value]);
    }
  });
});

describe("ControllerClient attempt deadlines follow the answers", () => {
  it("after a few answers an attempt gets a few round trips, not 2 s; a lost request is asked again with the same deadline, then doubled", async () => {
    const server = new grpc.Server();
    const budgets: number[] = [];
    let drop = 0;
    const impl: Partial<ControllerImplementation> = {
      query: (call, cb) => {
        const d = call.getDeadline();
        budgets.push((d instanceof Date ? d.getTime() : Number(d)) - wallClockMs());
        if (drop > 0) {
          drop--;
          return; // lost: no answer, the attempt times out
        }
        cb(null, { config: configToWire(initialConfig(4)), clusterId: "c" });
      },
    };
    server.addService(controllerService, impl as ControllerImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    const c = new ControllerClient({ controllers: [`127.0.0.1:${port}`], security: Security.insecure(), deadlineMs: 30_000 });
    try {
      for (let i = 0; i < 10; i++) await c.query();
      // Before the first answer: the initial 1 s (RFC 6298); after answers on loopback: the floor.
      expect(budgets[0]).toBeGreaterThan(800);
      expect(budgets[0]).toBeLessThanOrEqual(1000);
      const sized = budgets[9]!;
      expect(sized).toBeLessThan(600);
      drop = 2;
      budgets.length = 0;
      expect((await c.query()).num).toBe(0);
      // Three attempts: the lost one, its retry with the same deadline, then double.
      expect(budgets).toHaveLength(3);
      expect(budgets[1]! - budgets[0]!).toBeLessThan(100);
      expect(budgets[2]! / budgets[1]!).toBeGreaterThan(1.7);
      expect(budgets[2]!).toBeLessThan(2000);
    } finally {
      c.close();
      server.forceShutdown();
    }
  });
});
