/**
 * The migration driver's gRPC calls to other groups (shard-server/grpc-group-rpc.ts) against a
 * real in-process gRPC server: a PullShard stream that stops delivering while the driver waits
 * for its next message ends with a TimeoutError after the idle time (the driver then resumes
 * the pull), while time the driver spends between two reads does not count.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TimeoutError } from "../../common/errors";
import type { ConfigNum, ShardId } from "../../common/ids";
import { delay } from "../../common/real-env";
import { shardChunkToWire } from "../../shard-server/codec";
import { GrpcGroupRpc } from "../../shard-server/grpc-group-rpc";
import type { ShardChunkIn } from "../../shard-server/types";
import { shardKVService, type ShardKVImplementation } from "../../proto/gen/shardkv-grpc";
import { Security } from "../../security/credentials";

const idleMs = 300;
const chunk = (i: number, last = false): ShardChunkIn => ({
  configNum: 2 as ConfigNum, shard: 1 as ShardId, last, dedup: new Map(),
  kvs: [{ key: new TextEncoder().encode(`k${i}`), value: new TextEncoder().encode(`v${i}`) }],
});

/** A server whose PullShard writes `chunks`, then ends the stream if `end`, else stays silent. */
async function serve(chunks: ShardChunkIn[], end: boolean): Promise<{ address: string; server: grpc.Server }> {
  const server = new grpc.Server();
  const impl: Partial<ShardKVImplementation> = {
    pullShard: (call) => {
      for (const c of chunks) call.write(shardChunkToWire(c));
      if (end) call.end();
    },
  };
  server.addService(shardKVService, impl as ShardKVImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { address: `127.0.0.1:${port}`, server };
}

describe("GrpcGroupRpc.pullShard", () => {
  const servers: grpc.Server[] = [];
  const rpcs: GrpcGroupRpc[] = [];
  afterEach(() => {
    for (const r of rpcs.splice(0)) r.close();
    for (const s of servers.splice(0)) s.forceShutdown();
  });
  const start = async (chunks: ShardChunkIn[], end: boolean) => {
    const { address, server } = await serve(chunks, end);
    servers.push(server);
    const rpc = new GrpcGroupRpc(Security.insecure(), undefined, idleMs);
    rpcs.push(rpc);
    return rpc.pullShard(address, { configNum: 2 as ConfigNum, shard: 1 as ShardId, afterKey: undefined });
  };

  it("a source that goes silent mid-stream: the chunks so far, then a TimeoutError after the idle time", async () => {
    const stream = await start([chunk(0), chunk(1)], false);
    const got: string[] = [];
    const err = await (async () => {
      try {
        for await (const c of stream) got.push(new TextDecoder().decode(c.kvs[0]!.key));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(got).toEqual(["k0", "k1"]);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/^pull of shard 1 from 127\.0\.0\.1:\d+ timed out after 300 ms: no chunk arrived$/);
  });

  it("a request that gets no answer at all (lost on the way) ends in a TimeoutError, not after the stream's deadline", async () => {
    const stream = await start([], false);
    await expect((async () => {
      for await (const _ of stream) { /* nothing arrives */ }
    })()).rejects.toThrow(/timed out after 300 ms: no chunk arrived/);
  });

  it("time the driver spends between two reads (pacing, proposing) does not count", async () => {
    const stream = await start([chunk(0), chunk(1), chunk(2, true)], true);
    const got: string[] = [];
    for await (const c of stream) {
      got.push(new TextDecoder().decode(c.kvs[0]!.key));
      await delay(2 * idleMs); // the driver pacing the chunk: longer than the idle time
    }
    expect(got).toEqual(["k0", "k1", "k2"]);
  });
});
