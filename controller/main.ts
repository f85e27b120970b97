/**
 * `shardkv-controller`: the daemon running one replica of the configuration controller
 * (controller/server.ts). Run as `bin/shardkv-controller ...` or
 * `node --import tsx controller/main.ts ...`:
 *
 *   shardkv-controller --id 1 --listen 127.0.0.1:7001 \
 *     --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data ./data/c1 \
 *     [--shards 64] [--nats nats://127.0.0.1:4222] [--tick-ms 100] [--snapshot-every 1000]
 *
 * Logs go to stderr. SIGTERM or SIGINT stops it gracefully (exit 0). Exit status 2: a bad
 * command line (one line on stderr naming the flag), a data directory that is a file or
 * belongs to another daemon, replica or cluster, a --shards that differs from the one it was
 * created with, or --peers naming other replicas than its Raft state; 1: any other failure to
 * start (an unwritable or full disk: one line) or a fatal error.
 */
import { parseFlags, parsePeersFlag, positiveIntFlag, requiredFlag, runDaemon } from "../common/daemon-args";
import { InvalidArgumentError } from "../common/errors";
import { type FailpointSpec, Failpoints, failpointFlags, failpointFlagsUsage, failpointsSetting } from "../common/failpoints";
import type { NodeId } from "../common/ids";
import { consoleLogger, realClock, realRng } from "../common/real-env";
import { shardCountMax, validateAddress } from "./config";

export interface DaemonArgs {
  id: NodeId;
  listen: string;
  peers: Map<NodeId, string>;
  data: string;
  shards?: number;
  nats?: string;
  tickMs?: number;
  snapshotEvery?: number;
  /** Failpoints enabled with this initial spec (test only); undefined = off. */
  failpoints?: FailpointSpec;
}

export const usage = `usage: shardkv-controller --id N --listen host:port --peers id=host:port,... --data DIR
                          [--shards N] [--nats URL] [--tick-ms N] [--snapshot-every N]
                          [--failpoints SPEC] [--profile P]
  --id N              this replica's id (a positive integer listed in --peers)
  --listen host:port  address to serve gRPC (Raft and the Controller service) on
  --peers LIST        every replica, this one included: id=host:port,id=host:port,...; the ids
                      must be those the data directory was created with (addresses may change)
  --data DIR          data directory (DIR/identity.json, RocksDB: DIR/raft, DIR/state); created
                      if missing; refused when it belongs to another replica, a shard server
                      or another cluster
  --shards N          shard count, used only when the data directory is created (default 64,
                      1..${shardCountMax}); must match the stored count afterwards
  --nats URL          publish each new config on NATS subject shardkv.config (optional)
  --tick-ms N         Raft tick in ms (default 100; election timeout 10-20 ticks)
  --snapshot-every N  snapshot and compact the log every N applied entries (default 1000)
${failpointFlagsUsage}`;

const flags = ["id", "listen", "peers", "data", "shards", "nats", "tick-ms", "snapshot-every", ...failpointFlags] as const;
type Flag = (typeof flags)[number];

/** Parses the command line strictly; throws InvalidArgumentError naming the flag. */
export function parseDaemonArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): DaemonArgs {
  const got = parseFlags(argv, flags);
  const need = (f: Flag): string => requiredFlag(got, f);
  const id = positiveIntFlag("id", need("id"), Number.MAX_SAFE_INTEGER) as NodeId;
  const listen = need("listen");
  validateAddress("--listen", listen);
  const peers = parsePeersFlag(need("peers"), id);
  const data = need("data");
  if (data.length === 0) throw new InvalidArgumentError("--data", "must not be empty");
  const out: DaemonArgs = { id, listen, peers, data };
  if (got.has("shards")) out.shards = positiveIntFlag("shards", got.get("shards")!, shardCountMax);
  if (got.has("tick-ms")) out.tickMs = positiveIntFlag("tick-ms", got.get("tick-ms")!, 60_000);
  if (got.has("snapshot-every")) out.snapshotEvery = positiveIntFlag("snapshot-every", got.get("snapshot-every")!, 1e9);
  if (got.has("nats")) {
    const u = got.get("nats")!;
    let ok = false;
    try {
      const url = new URL(u);
      ok = ["nats:", "tls:", "ws:", "wss:"].includes(url.protocol) && url.hostname !== "";
    } catch {
      ok = false;
    }
    if (!ok) throw new InvalidArgumentError("--nats", `want a URL like nats://host:4222, got ${JSON.stringify(u)}`);
    out.nats = u;
  }
  const failpoints = failpointsSetting({ flag: got.get("failpoints"), profileFlag: got.get("profile"), env });
  if (failpoints !== undefined) out.failpoints = failpoints;
  return out;
}

async function main(): Promise<void> {
  await runDaemon<DaemonArgs>({
    name: "shardkv-controller",
    usage,
    parse: (argv) => parseDaemonArgs(argv),
    logger: (args) => consoleLogger(`controller n${args.id}`),
    start: async (args, logger, onFatal) => {
      // Loaded only now, so a bad command line fails fast without loading gRPC and RocksDB.
      const { ControllerServer } = await import("./server");
      const { asDataDirError } = await import("../common/data-dir");
      return ControllerServer.start({
        id: args.id,
        listen: args.listen,
        peers: args.peers,
        dataDir: args.data,
        shardCount: args.shards,
        natsUrl: args.nats,
        tickMs: args.tickMs,
        snapshotEveryEntries: args.snapshotEvery,
        failpoints: args.failpoints && new Failpoints({ spec: args.failpoints, rng: realRng, clock: realClock, self: args.listen }),
        logger,
        onFatal: (e) => onFatal(asDataDirError(args.data, e) as Error),
      }).catch((e: unknown) => {
        throw asDataDirError(args.data, e);
      });
    },
  });
}

main().catch((e) => {
  process.stderr.write(`shardkv-controller: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
