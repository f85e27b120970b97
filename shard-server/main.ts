/**
 * `shardkv-server`: the daemon running one replica of a shard group (shard-server/server.ts).
 * Run as `bin/shardkv-server ...` or `node --import tsx shard-server/main.ts ...`:
 *
 *   shardkv-server --gid 1 --id 1 --listen 127.0.0.1:7101 \
 *     --peers 1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103 --data ./data/g1n1 \
 *     --controllers 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 [--shards 64] [--tick-ms 100] [--nats nats://127.0.0.1:4222]
 *
 * Logs go to stderr. SIGTERM or SIGINT stops it gracefully (exit 0). Exit status 2: a bad
 * command line (one line on stderr naming the flag), a data directory that is a file or was
 * created for another kind, gid, replica or shard count, --peers naming other replicas than
 * its Raft state, controllers of another cluster (found after the start: one line, then the
 * exit), or a new directory without --shards whose controllers did not answer in 60 s; 1: any
 * other failure to start (an unwritable or full disk: one line) or a fatal error.
 */
import { parseDuration, UsageError } from "../common/cli-args";
import { intFlag, parseFlags, parsePeersFlag, positiveIntFlag, requiredFlag, runDaemon } from "../common/daemon-args";
import { InvalidArgumentError } from "../common/errors";
import { type FailpointSpec, Failpoints, failpointFlags, failpointFlagsUsage, failpointsSetting } from "../common/failpoints";
import type { GroupId, NodeId } from "../common/ids";
import { consoleLogger, realClock, realRng } from "../common/real-env";
import { shardCountMax, validateAddress } from "../controller/config";
import { dedupTtlMsDefault, lengthCacheKeysDefault, lengthCacheKeysMax, migrationRateMiBDefault, shardSnapshotEveryEntries } from "./defaults";

/** The largest --migration-rate accepted (MiB/s). */
const migrationRateMiBMax = 1024 * 1024;

export interface ShardDaemonArgs {
  gid: GroupId;
  id: NodeId;
  listen: string;
  peers: Map<NodeId, string>;
  data: string;
  controllers: string[];
  shards?: number;
  tickMs?: number;
  nats?: string;
  dedupTtlMs?: number;
  snapshotEvery?: number;
  /** MiB/s; 0 = no cap. */
  migrationRateMiB?: number;
  /** Keys whose value length the apply path remembers; 0 = none. */
  lengthCacheKeys?: number;
  /** Failpoints enabled with this initial spec (test only); undefined = off. */
  failpoints?: FailpointSpec;
}

export const usage = `usage: shardkv-server --gid G --id N --listen host:port --peers id=host:port,... --data DIR
                      --controllers host:port,... [--shards N] [--tick-ms N] [--nats URL]
                      [--dedup-ttl DURATION] [--snapshot-every N] [--migration-rate MIB]
                      [--length-cache-keys N] [--failpoints SPEC] [--profile P]
  --gid G             this replica's group id (a positive integer)
  --id N              this replica's id within the group (listed in --peers)
  --listen host:port  address to serve gRPC (Raft and the ShardKV service) on
  --peers LIST        every replica of the group, this one included: id=host:port,...; the ids
                      must be those the data directory was created with (addresses may change)
  --data DIR          data directory (DIR/identity.json, RocksDB: DIR/raft, DIR/state); created
                      if missing; refused when it belongs to another replica, group, a
                      controller or another cluster
  --controllers LIST  controller replica addresses: host:port,host:port,...
  --shards N          shard count (default: the data directory's, else the controllers';
                      1..${shardCountMax})
  --tick-ms N         Raft tick in ms (default 100; election timeout 10-20 ticks)
  --nats URL          subscribe to config pushes on NATS (optional; polling works without it)
  --dedup-ttl D       forget a client's duplicate-detection records after this much inactivity,
                      measured in leader timestamps carried in the log (default ${dedupTtlMsDefault / 60_000}m;
                      e.g. 500ms, 30s, 10m); a retry arriving later than this may execute again
  --snapshot-every N  snapshot the state machine and compact the Raft log every N applied
                      entries (default ${shardSnapshotEveryEntries})
  --migration-rate R  insert at most R MiB/s of pulled shard data (e.g. 4 or 0.5; default
                      ${migrationRateMiBDefault} = no cap): slower moves, less latency for other shards meanwhile
  --length-cache-keys N
                      remember the value length of up to N recently written keys (about 100
                      bytes each), so a put or delete of one reads nothing first (default
                      ${lengthCacheKeysDefault}; 0 = none)
${failpointFlagsUsage}`;

const flags = ["gid", "id", "listen", "peers", "data", "controllers", "shards", "tick-ms", "nats", "dedup-ttl", "snapshot-every", "migration-rate", "length-cache-keys", ...failpointFlags] as const;
type Flag = (typeof flags)[number];

/** Parses the command line strictly; throws InvalidArgumentError naming the flag. */
export function parseShardDaemonArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ShardDaemonArgs {
  const got = parseFlags(argv, flags);
  const need = (f: Flag): string => requiredFlag(got, f);
  const gid = positiveIntFlag("gid", need("gid"), Number.MAX_SAFE_INTEGER) as GroupId;
  const id = positiveIntFlag("id", need("id"), Number.MAX_SAFE_INTEGER) as NodeId;
  const listen = need("listen");
  validateAddress("--listen", listen);
  const peers = parsePeersFlag(need("peers"), id);
  const data = need("data");
  if (data.length === 0) throw new InvalidArgumentError("--data", "must not be empty");
  const controllers = need("controllers").split(",");
  for (const c of controllers) validateAddress("--controllers", c);
  if (new Set(controllers).size !== controllers.length) throw new InvalidArgumentError("--controllers", "an address is listed twice");
  const out: ShardDaemonArgs = { gid, id, listen, peers, data, controllers };
  if (got.has("shards")) out.shards = positiveIntFlag("shards", got.get("shards")!, shardCountMax);
  if (got.has("tick-ms")) out.tickMs = positiveIntFlag("tick-ms", got.get("tick-ms")!, 60_000);
  if (got.has("nats")) {
    const url = got.get("nats")!;
    if (!/^nats:\/\/[^\s/]+:\d+$/.test(url)) throw new InvalidArgumentError("--nats", `want nats://host:port, got ${JSON.stringify(url)}`);
    out.nats = url;
  }
  if (got.has("dedup-ttl")) {
    try {
      out.dedupTtlMs = parseDuration("--dedup-ttl", got.get("dedup-ttl")!);
    } catch (e) {
      throw e instanceof UsageError ? new InvalidArgumentError("--dedup-ttl", e.message.replace(/^invalid --dedup-ttl: /, "")) : e;
    }
  }
  if (got.has("snapshot-every")) out.snapshotEvery = positiveIntFlag("snapshot-every", got.get("snapshot-every")!, 100_000_000);
  if (got.has("migration-rate")) {
    const raw = got.get("migration-rate")!;
    const r = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
    if (!(r >= 0 && r <= migrationRateMiBMax)) {
      throw new InvalidArgumentError("--migration-rate", `want MiB per second, a number in [0, ${migrationRateMiBMax}] (0 = no cap), got ${JSON.stringify(raw)}`);
    }
    out.migrationRateMiB = r;
  }
  if (got.has("length-cache-keys")) out.lengthCacheKeys = intFlag("length-cache-keys", got.get("length-cache-keys")!, 0, lengthCacheKeysMax);
  const failpoints = failpointsSetting({ flag: got.get("failpoints"), profileFlag: got.get("profile"), env });
  if (failpoints !== undefined) out.failpoints = failpoints;
  return out;
}

async function main(): Promise<void> {
  await runDaemon<ShardDaemonArgs>({
    name: "shardkv-server",
    usage,
    parse: (argv) => parseShardDaemonArgs(argv),
    logger: (args) => consoleLogger(`shard g${args.gid} n${args.id}`),
    start: async (args, logger, onFatal) => {
      // Loaded only now, so a bad command line fails fast without loading gRPC and RocksDB.
      const { ShardServer } = await import("./server");
      const { asDataDirError } = await import("../common/data-dir");
      return ShardServer.start({
        gid: args.gid,
        id: args.id,
        listen: args.listen,
        peers: args.peers,
        dataDir: args.data,
        controllers: args.controllers,
        shardCount: args.shards,
        tickMs: args.tickMs,
        natsUrl: args.nats,
        dedupTtlMs: args.dedupTtlMs,
        snapshotEveryEntries: args.snapshotEvery,
        migrationBytesPerSec: (args.migrationRateMiB ?? migrationRateMiBDefault) * 1024 * 1024,
        lengthCacheKeys: args.lengthCacheKeys,
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
  process.stderr.write(`shardkv-server: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
