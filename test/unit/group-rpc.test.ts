/**
 * The migration driver's gRPC calls to other groups (shard-server/grpc-group-rpc.ts) against a
 * real in-process gRPC server: a PullShard stream that stops delivering while the driver waits
 * for its next message ends with a TimeoutError after the idle time (the driver then resumes
 * the pull), while time the driver spends between two reads does not count.
 *
 * The idle timer runs on a manual clock that the tests move once the stream is where they
 * want it (the chunks read, a read waiting): on the real clock, a 300 ms idle time raced the
 * connection and the first chunks, and lost on a loaded machine (load 40).
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TimeoutError } from "../../common/errors";
import type { ConfigNum, ShardId } from "../../common/ids";
import { shardChunkToWire } from "../../shard-server/codec";
import { GrpcGroupRpc } from "../../shard-server/grpc-group-rpc";
import type { ShardChunkIn } from "../../shard-server/types";
import { shardKVService, type ShardKVImplementation } from "../../proto/gen/shardkv-grpc";
import { Security } from "../../security/credentials";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";

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
    const clock = new ManualClock();
    const rpc = new GrpcGroupRpc(Security.insecure(), { pullIdleMs: idleMs, clock });
    rpcs.push(rpc);
    return { clock, stream: rpc.pullShard(address, { configNum: 2 as ConfigNum, shard: 1 as ShardId, afterKey: undefined }) };
  };

  /** Reads `stream` to its end in the background: the keys so far, and how it ended (undefined: while it runs, or done). */
  const read = (stream: AsyncIterable<ShardChunkIn>) => {
    const r: { got: string[]; ended: boolean; err: unknown } = { got: [], ended: false, err: undefined };
    void (async () => {
      try {
        for await (const c of stream) r.got.push(new TextDecoder().decode(c.kvs[0]!.key));
      } catch (e) {
        r.err = e;
      }
      r.ended = true;
    })();
    return r;
  };
  const waitLimit = { timeoutMs: 30_000 };

  it("a source that goes silent mid-stream: the chunks so far, then a TimeoutError after the idle time", async () => {
    const { clock, stream } = await start([chunk(0), chunk(1)], false);
    const r = read(stream);
    // Both chunks read, and the read of the next one waiting with its idle timer armed.
    await waitFor(() => r.got.length === 2 && clock.pending === 1, { ...waitLimit, what: "the two chunks read and the next read waiting" });
    clock.advance(idleMs - 1);
    expect(r.ended).toBe(false);
    clock.advance(1);
    await waitFor(() => r.ended, { ...waitLimit, what: "the stream's end after the idle time" });
    expect(r.got).toEqual(["k0", "k1"]);
    expect(r.err).toBeInstanceOf(TimeoutError);
    expect((r.err as Error).message).toMatch(/^pull of shard 1 from 127\.0\.0\.1:\d+ timed out after 300 ms: no chunk arrived$/);
  });

  it("a request that gets no answer at all (lost on the way) ends in a TimeoutError, not after the stream's deadline", async () => {
    const { clock, stream } = await start([], false);
    const r = read(stream);
    await waitFor(() => clock.pending === 1, { ...waitLimit, what: "the first read waiting" });
    clock.advance(idleMs);
    await waitFor(() => r.ended, { ...waitLimit, what: "the stream's end after the idle time" });
    expect(r.got).toEqual([]);
    expect(r.err).toBeInstanceOf(TimeoutError);
    expect((r.err as Error).message).toMatch(/timed out after 300 ms: no chunk arrived/);
  });

  it("time the driver spends between two reads (pacing, proposing) does not count", async () => {
    const { clock, stream } = await start([chunk(0), chunk(1), chunk(2, true)], true);
    const got: string[] = [];
    for await (const c of stream) {
      got.push(new TextDecoder().decode(c.kvs[0]!.key));
      // The driver pacing the chunk, longer than the idle time: no idle timer runs meanwhile.
      expect(clock.pending).toBe(0);
      clock.advance(2 * idleMs);
    }
    expect(got).toEqual(["k0", "k1", "k2"]);
  });
});
