/**
 * The command line of `shardkv-server` (shard-server/main.ts), parsed strictly: every flag at
 * most once, unknown flags and stray arguments refused with one line naming the flag
 * (test/unit/daemon-args.test.ts).
 */
import { flag, parseCommandLine, parsePeers, required, usage as usageError } from "../common/cli-args";
import { type FailpointSpec, failpointFlagsUsage, failpointsSetting } from "../common/failpoints";
import { type LogLevel, logLevelUsage } from "../common/log-level";
import type { GroupId, NodeId } from "../common/ids";
import { shardCountMax } from "../controller/config";
import { joinFlagUsage, metricsListenFlagUsage, quiesceFlagUsage, quiesceSetting, raftDaemonFlags } from "../controller/daemon-args";
import { type DaemonTls, daemonTls, daemonTlsUsage } from "../security/tls-flags";
import { dedupTtlMsDefault, lengthCacheKeysDefault, lengthCacheKeysMax, type MigrationPacing, migrationPacingDefault, migrationRateMiBDefault, migrationWindowMiBDefault, migrationWindowMiBMax, shardSnapshotEveryEntries } from "./defaults";

/** The largest --migration-rate accepted (MiB/s). */
const migrationRateMiBMax = 1024 * 1024;

export interface ShardDaemonArgs {
  gid: GroupId;
  id: NodeId;
  listen: string;
  peers: Map<NodeId, string>;
  data: string;
  /** --join: join an existing group (empty data directory, no bootstrap). */
  join?: boolean;
  controllers: string[];
  shards?: number;
  tickMs?: number;
  /** --no-quiesce: false (an idle group keeps heartbeating); undefined: on (an idle group quiesces). */
  quiesce?: false;
  nats?: string;
  dedupTtlMs?: number;
  snapshotEvery?: number;
  /** MiB/s; 0 = no cap. */
  migrationRateMiB?: number;
  /** --migration-pacing; undefined: migrationPacingDefault. */
  migrationPacing?: MigrationPacing;
  /** --migration-window: MiB of pulled chunks in flight per pull at most; 0 = one chunk at a time. */
  migrationWindowMiB?: number;
  /** Keys whose value length the apply path remembers; 0 = none. */
  lengthCacheKeys?: number;
  /** --metrics-listen: serve /metrics, /healthz, /readyz over HTTP there; undefined = none. */
  metricsListen?: string;
  /** Failpoints enabled with this initial spec (test only); undefined = off. */
  failpoints?: FailpointSpec;
  /** --tls-dir, --tls-ca/--tls-cert/--tls-key or --insecure (one is required). */
  tls: DaemonTls;
  /** --log-level; undefined: logLevelDefault (info). */
  logLevel?: LogLevel;
}

export const usage = `usage: shardkv-server --gid G --id N --listen host:port --peers id=host:port,... --data DIR
                      --controllers host:port,... (--tls-dir DIR | --tls-ca F --tls-cert F --tls-key F | --insecure)
                      [--join] [--shards N] [--tick-ms N] [--no-quiesce] [--nats URL]
                      [--dedup-ttl DURATION] [--snapshot-every N] [--migration-rate MIB]
                      [--migration-pacing adaptive|off] [--migration-window MIB]
                      [--length-cache-keys N] [--metrics-listen host:port] [--failpoints SPEC] [--profile P] [--log-level L]
  --gid G             this replica's group id (a positive integer)
  --id N              this replica's id within the group (listed in --peers)
  --listen host:port  address to serve gRPC (Raft and the ShardKV service) on
  --peers LIST        every replica of the group, this one included: id=host:port,...; bootstraps
                      an empty data directory; later the ids must be the members the data
                      directory's configuration holds (an address given overrides the stored one)
  --data DIR          data directory (DIR/identity.json, RocksDB: DIR/raft, DIR/state); created
                      if missing; refused when it belongs to another replica, group, a
                      controller or another cluster
${joinFlagUsage}
  --controllers LIST  controller replica addresses: host:port,host:port,...
  --shards N          shard count (default: the data directory's, else the controllers';
                      1..${shardCountMax})
  --tick-ms N         Raft tick in ms (default 100; election timeout 10-20 ticks)
${quiesceFlagUsage}
  --nats URL          subscribe to config pushes on NATS (optional; polling works without it;
                      tls://host:port: TLS to NATS with this daemon's --tls-* files)
  --dedup-ttl D       forget a client's duplicate-detection records after this much inactivity,
                      measured in leader timestamps carried in the log (default ${dedupTtlMsDefault / 60_000}m;
                      e.g. 500ms, 30s, 10m); a retry arriving later than this may execute again
  --snapshot-every N  snapshot the state machine and compact the Raft log every N applied
                      entries (default ${shardSnapshotEveryEntries})
  --migration-rate R  a hard cap: insert at most R MiB/s of pulled shard data (e.g. 4 or 0.5;
                      default ${migrationRateMiBDefault} = no cap; the pace adapts to the load below it)
  --migration-pacing P
                      adaptive: pace pulled chunks by the latency of the group's client
                      requests, backing off while they slow down; off: only --migration-rate
                      paces (default ${migrationPacingDefault})
  --migration-window W
                      keep up to W MiB of pulled chunks in flight per pull (proposed, not yet
                      applied) (default ${migrationWindowMiBDefault}; 0 = one chunk at a time)
  --length-cache-keys N
                      remember the value length of up to N recently written keys (about 100
                      bytes each), so a put or delete of one reads nothing first (default
                      ${lengthCacheKeysDefault}; 0 = none)
${metricsListenFlagUsage}
${daemonTlsUsage}
${logLevelUsage}
${failpointFlagsUsage}`;

/** MiB per second, a decimal number in [0, migrationRateMiBMax]. */
export function parseMigrationRate(field: string, s: string): number {
  const r = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!(r >= 0 && r <= migrationRateMiBMax)) throw usageError(field, `want MiB per second, a number in [0, ${migrationRateMiBMax}] (0 = no cap), got ${JSON.stringify(s)}`);
  return r;
}

/** --migration-pacing: adaptive or off. */
export function parseMigrationPacing(field: string, s: string): MigrationPacing {
  if (s !== "adaptive" && s !== "off") throw usageError(field, `want adaptive or off, got ${JSON.stringify(s)}`);
  return s;
}

/** --migration-window: MiB, a decimal number in [0, migrationWindowMiBMax]. */
export function parseMigrationWindow(field: string, s: string): number {
  const r = /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN;
  if (!(r >= 0 && r <= migrationWindowMiBMax)) throw usageError(field, `want MiB, a number in [0, ${migrationWindowMiBMax}] (0 = one chunk at a time), got ${JSON.stringify(s)}`);
  return r;
}

const flags = {
  ...raftDaemonFlags,
  gid: flag.int(1, Number.MAX_SAFE_INTEGER),
  controllers: flag.addressList(),
  "dedup-ttl": flag.duration(),
  "snapshot-every": flag.int(1, 100_000_000),
  "migration-rate": flag.of(parseMigrationRate),
  "migration-pacing": flag.of(parseMigrationPacing),
  "migration-window": flag.of(parseMigrationWindow),
  "length-cache-keys": flag.int(0, lengthCacheKeysMax),
};

/** Parses the command line strictly; throws UsageError (InvalidArgumentError for failpoints) naming the flag. */
export function parseShardDaemonArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ShardDaemonArgs | "help" {
  const cl = parseCommandLine(argv, flags, { positionals: 0, repeats: "refuse" });
  if (cl.help) return "help";
  const v = cl.values;
  const gid = required(v.gid, "gid") as GroupId;
  const id = required(v.id, "id") as NodeId;
  const out: ShardDaemonArgs = {
    gid, id, listen: required(v.listen, "listen"), peers: parsePeers("--peers", required(v.peers, "peers"), id),
    data: required(v.data, "data"), controllers: required(v.controllers, "controllers"), tls: daemonTls(v),
  };
  if (v.join === true) out.join = true;
  if (v.shards !== undefined) out.shards = v.shards;
  if (v["tick-ms"] !== undefined) out.tickMs = v["tick-ms"];
  if (quiesceSetting(v) === false) out.quiesce = false;
  if (v.nats !== undefined) out.nats = v.nats;
  if (v["log-level"] !== undefined) out.logLevel = v["log-level"];
  if (v["dedup-ttl"] !== undefined) out.dedupTtlMs = v["dedup-ttl"];
  if (v["snapshot-every"] !== undefined) out.snapshotEvery = v["snapshot-every"];
  if (v["migration-rate"] !== undefined) out.migrationRateMiB = v["migration-rate"];
  if (v["migration-pacing"] !== undefined) out.migrationPacing = v["migration-pacing"];
  if (v["migration-window"] !== undefined) out.migrationWindowMiB = v["migration-window"];
  if (v["length-cache-keys"] !== undefined) out.lengthCacheKeys = v["length-cache-keys"];
  if (v["metrics-listen"] !== undefined) out.metricsListen = v["metrics-listen"];
  const failpoints = failpointsSetting({ flag: v.failpoints, profileFlag: v.profile, env });
  if (failpoints !== undefined) out.failpoints = failpoints;
  return out;
}
