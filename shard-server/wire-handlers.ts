/**
 * A replica's ShardService (shard-server/service.ts) in wire terms (proto/shardkv.proto): the
 * Get and Write that the gRPC handlers (the Batch stream, shard-server/server.ts) and the
 * simulator's Batch streams (test/sim/sim-client-transport.ts) run, so both convert the wire
 * the same way (shard-server/codec.ts) before the same checks.
 */
import type { shardkv } from "../proto/gen/shardkv.js";
import type { BatchHandlers } from "./batch-stream";
import { opResultToWire, writeFromWire } from "./codec";
import type { ShardService } from "./service";

const none = new Uint8Array(0);

export interface WireHandlerOptions {
  /** The error to answer for a failure (default: the service's describeFailure). */
  readonly describe?: (e: unknown) => unknown;
  /** True once the server is stopping: nothing more is acknowledged (default: never). */
  readonly stopping?: () => boolean;
}

/** The Batch handlers of `service`. */
export function wireHandlers(service: ShardService, opts: WireHandlerOptions = {}): BatchHandlers {
  return {
    get: async (req: shardkv.kv.GetRequest) => {
      const v = await service.get(req.key ?? none);
      return v === undefined ? { found: false, value: none } : { found: true, value: v };
    },
    write: async (req: shardkv.kv.WriteRequest) => {
      const results = await service.write(writeFromWire(req));
      return { results: results.map(opResultToWire) };
    },
    pass: (fn) => service.pass(fn),
    describe: opts.describe ?? ((e) => service.describeFailure(e)),
    stopping: opts.stopping ?? (() => false),
  };
}
