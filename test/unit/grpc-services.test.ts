/**
 * The gRPC services generated from proto/ (proto/gen/*-grpc.ts, scripts/gen-proto.mjs) keep
 * the wire of the hand-written definitions they replaced, so old and new binaries
 * interoperate: the same method paths, stream kinds and method keys, serializers of the same
 * protobufjs classes; and a call made the old way, by its literal path and the message class's
 * own encoding, is served by a server built from the generated definition.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { wallClockMs } from "../../common/real-env";
import { asBuffer } from "../../common/bytes";
import type { PbType } from "../../common/grpc-service";
import { shardkv as adminPb } from "../../proto/gen/admin.js";
import { shardkv as ctlPb } from "../../proto/gen/controller.js";
import { shardkv as raftPb } from "../../proto/gen/raft.js";
import { shardkv as kvPb } from "../../proto/gen/shardkv.js";
import { adminService } from "../../proto/gen/admin-grpc";
import { controllerService } from "../../proto/gen/controller-grpc";
import { raftTransportService } from "../../proto/gen/raft-grpc";
import { shardKVService, type ShardKVImplementation, ShardKVStub } from "../../proto/gen/shardkv-grpc";

type AnyPbType = PbType<unknown, never> & (new () => unknown);
type Stream = "" | "request" | "response" | "both";

/** Method key -> [path, stream kind, request class, response class], as they were written by hand. */
type Table = Record<string, [string, Stream, AnyPbType, AnyPbType]>;

const kv = kvPb.kv as unknown as Record<string, AnyPbType>;
const ctl = ctlPb.controller as unknown as Record<string, AnyPbType>;
const raft = raftPb.raft as unknown as Record<string, AnyPbType>;
const admin = adminPb.admin as unknown as Record<string, AnyPbType>;

/** The hand-written tables (shard-server, controller, raft transport, failpoint admin), verbatim. */
const before: Record<string, { generated: grpc.ServiceDefinition; methods: Table }> = {
  ShardKV: {
    generated: shardKVService,
    methods: {
      batch: ["/shardkv.kv.ShardKV/Batch", "both", kv.BatchRequest!, kv.BatchResponse!],
      pullShard: ["/shardkv.kv.ShardKV/PullShard", "response", kv.PullShardRequest!, kv.ShardChunk!],
      deleteShard: ["/shardkv.kv.ShardKV/DeleteShard", "", kv.DeleteShardRequest!, kv.DeleteShardReply!],
      status: ["/shardkv.kv.ShardKV/Status", "", kv.StatusRequest!, kv.StatusReply!],
      identify: ["/shardkv.kv.ShardKV/Identify", "", kv.IdentifyRequest!, kv.IdentifyReply!],
    },
  },
  Controller: {
    generated: controllerService,
    methods: {
      join: ["/shardkv.controller.Controller/Join", "", ctl.JoinRequest!, ctl.ChangeReply!],
      leave: ["/shardkv.controller.Controller/Leave", "", ctl.LeaveRequest!, ctl.ChangeReply!],
      move: ["/shardkv.controller.Controller/Move", "", ctl.MoveRequest!, ctl.ChangeReply!],
      ackJoin: ["/shardkv.controller.Controller/AckJoin", "", ctl.AckJoinRequest!, ctl.AckJoinReply!],
      query: ["/shardkv.controller.Controller/Query", "", ctl.QueryRequest!, ctl.QueryReply!],
      watch: ["/shardkv.controller.Controller/Watch", "response", ctl.WatchRequest!, ctl.Config!],
      status: ["/shardkv.controller.Controller/Status", "", ctl.StatusRequest!, ctl.StatusReply!],
      // Added after the generated definitions replaced the hand-written ones.
      replicaChange: ["/shardkv.controller.Controller/ReplicaChange", "", ctl.ReplicaChangeRequest!, ctl.ChangeReply!],
      replicaCancel: ["/shardkv.controller.Controller/ReplicaCancel", "", ctl.ReplicaCancelRequest!, ctl.ChangeReply!],
      replicaDone: ["/shardkv.controller.Controller/ReplicaDone", "", ctl.ReplicaDoneRequest!, ctl.ChangeReply!],
      replicaProgress: ["/shardkv.controller.Controller/ReplicaProgress", "", ctl.ReplicaProgressRequest!, ctl.ChangeReply!],
      watchIntent: ["/shardkv.controller.Controller/WatchIntent", "response", ctl.WatchIntentRequest!, ctl.IntentUpdate!],
    },
  },
  RaftTransport: {
    generated: raftTransportService,
    methods: { send: ["/shardkv.raft.RaftTransport/Send", "request", raft.MessageBatch!, raft.SendAck!] },
  },
  Admin: {
    generated: adminService,
    methods: {
      setFailpoints: ["/shardkv.admin.Admin/SetFailpoints", "", admin.SetFailpointsRequest!, admin.FailpointsReply!],
      getFailpoints: ["/shardkv.admin.Admin/GetFailpoints", "", admin.GetFailpointsRequest!, admin.FailpointsReply!],
    },
  },
};

describe("generated gRPC service definitions", () => {
  for (const [service, { generated, methods }] of Object.entries(before)) {
    it(`${service}: the method keys, paths and stream kinds of the hand-written definition`, () => {
      const shape = (d: grpc.MethodDefinition<unknown, unknown>) =>
        [d.path, d.requestStream, d.responseStream, d.originalName];
      const want = Object.fromEntries(Object.entries(methods).map(([key, [path, stream]]) =>
        [key, [path, stream === "request" || stream === "both", stream === "response" || stream === "both", path.split("/").pop()]]));
      expect(Object.fromEntries(Object.entries(generated).map(([k, d]) => [k, shape(d)]))).toEqual(want);
    });

    it(`${service}: (de)serializers of the same message classes`, () => {
      for (const [key, [, , Req, Res]] of Object.entries(methods)) {
        const d = generated[key]!;
        // Empty bytes decode to a default message of exactly the class the method names.
        expect(d.requestDeserialize(Buffer.alloc(0)), key).toBeInstanceOf(Req);
        expect(d.responseDeserialize(Buffer.alloc(0)), key).toBeInstanceOf(Res);
        expect(d.requestSerialize(d.requestDeserialize(Buffer.alloc(0))), key).toEqual(Buffer.alloc(0));
      }
    });
  }

  it("serializes a message as the class's own encoding (no JSON, no framing)", () => {
    const req = { requests: [{ requestId: 7, write: { shard: 3, ops: [{ type: kvPb.kv.OpType.OP_PUT, key: Buffer.from("k"), value: Buffer.from("v") }] } }] };
    const wire = shardKVService.batch.requestSerialize(req);
    expect(wire.length).toBeGreaterThan(0);
    expect(wire).toEqual(asBuffer(kvPb.kv.BatchRequest.encode(req).finish()));
    expect(shardKVService.batch.requestDeserialize(wire)).toMatchObject({ requests: [{ write: { shard: 3, ops: [{ type: kvPb.kv.OpType.OP_PUT }] } }] });
  });
});

describe("interoperation with the hand-written wire", () => {
  const servers: grpc.Server[] = [];
  const clients: grpc.Client[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const s of servers.splice(0)) s.forceShutdown();
  });

  async function serve(impl: Partial<ShardKVImplementation>): Promise<string> {
    const server = new grpc.Server();
    servers.push(server);
    // grpc-js answers UNIMPLEMENTED for the methods `impl` leaves out.
    server.addService(shardKVService, impl as ShardKVImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    return `127.0.0.1:${port}`;
  }

  it("a call by the literal old path and message encoding reaches the generated server, and back", async () => {
    const address = await serve({
      identify: (_call, cb) => cb(null, { gid: 3, id: 2, shardCount: 16, clusterId: "c1", hasData: true }),
    });
    const raw = new grpc.Client(address, grpc.credentials.createInsecure());
    clients.push(raw);
    const reply = await new Promise<kvPb.kv.IdentifyReply>((resolve, reject) => {
      raw.makeUnaryRequest(
        "/shardkv.kv.ShardKV/Identify",
        (m: kvPb.kv.IdentifyRequest.$Properties) => asBuffer(kvPb.kv.IdentifyRequest.encode(m).finish()),
        (b: Buffer) => kvPb.kv.IdentifyReply.decode(b),
        {},
        new grpc.Metadata(),
        { deadline: wallClockMs() + 5000 },
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
    });
    expect({ gid: Number(reply.gid), id: Number(reply.id), shardCount: reply.shardCount, clusterId: reply.clusterId, hasData: reply.hasData })
      .toEqual({ gid: 3, id: 2, shardCount: 16, clusterId: "c1", hasData: true });
  });

  it("the generated stub calls a server-streaming method; an unimplemented one answers UNIMPLEMENTED", async () => {
    const address = await serve({
      pullShard: (call) => {
        call.write({ shard: call.request.shard, kvs: [{ key: Buffer.from("a"), value: Buffer.from("1") }], last: true });
        call.end();
      },
    });
    const stub = new ShardKVStub(address, grpc.credentials.createInsecure());
    clients.push(stub);
    const chunks: kvPb.kv.ShardChunk[] = [];
    for await (const c of stub.pullShard({ shard: 5, configNum: 1 }, { deadline: wallClockMs() + 5000 })) chunks.push(c as kvPb.kv.ShardChunk);
    expect(chunks.map((c) => [c.shard, c.last, c.kvs.map((r) => [Buffer.from(r.key!).toString(), Buffer.from(r.value!).toString()])]))
      .toEqual([[5, true, [["a", "1"]]]]);
    const code = await new Promise<number>((resolve) =>
      stub.status({}, new grpc.Metadata(), { deadline: wallClockMs() + 5000 }, (e) => resolve(e ? e.code : grpc.status.OK)));
    expect(code).toBe(grpc.status.UNIMPLEMENTED);
  });
});
