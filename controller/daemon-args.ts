/**
 * The command line of `shardkv-controller` (controller/main.ts), parsed strictly: every flag
 * at most once, unknown flags and stray arguments refused with one line naming the flag
 * (test/unit/daemon-args.test.ts).
 */
import { flag, parseCommandLine, parsePeers, required, UsageError } from "../common/cli-args";
import { type FailpointSpec, failpointFlagsUsage, failpointsSetting } from "../common/failpoints";
import { type LogLevel, logLevelUsage, parseLogLevel } from "../common/log-level";
import type { NodeId } from "../common/ids";
import { type DaemonTls, daemonTls, daemonTlsFlags, daemonTlsUsage } from "../security/tls-flags";
import { shardCountMax } from "./config";

export interface DaemonArgs {
  id: NodeId;
  listen: string;
  peers: Map<NodeId, string>;
  data: string;
  /** --join: join an existing controller group (empty data directory, no bootstrap). */
  join?: boolean;
  shards?: number;
  nats?: string;
  tickMs?: number;
  /** --no-quiesce: false (an idle group keeps heartbeating); undefined: on (an idle group quiesces). */
  quiesce?: false;
  snapshotEvery?: number;
  /** --metrics-listen: serve /metrics, /healthz, /readyz over HTTP there; undefined = none. */
  metricsListen?: string;
  /** Failpoints enabled with this initial spec (test only); undefined = off. */
  failpoints?: FailpointSpec;
  /** --tls-dir, --tls-ca/--tls-cert/--tls-key or --insecure (one is required). */
  tls: DaemonTls;
  /** --log-level; undefined: logLevelDefault (info). */
  logLevel?: LogLevel;
}

/** The --join line of both daemons' usage. */
export const joinFlagUsage = `  --join              join an existing group instead of bootstrapping one: the data directory
                      must be empty, --peers names members to reach and this replica; it waits
                      to be added (a learner) and learns the group's configuration from the leader`;

/** The --no-quiesce line of both daemons' usage. */
export const quiesceFlagUsage = `  --no-quiesce        keep an idle group heartbeating (default: an idle group quiesces: no
                      heartbeats until a proposal, a client's request, a message or a lost
                      connection wakes it; --quiesce, the default, is accepted)`;

/**
 * --quiesce (the default, accepted) and --no-quiesce: false with --no-quiesce, undefined
 * otherwise; both at once is a usage error.
 */
export function quiesceSetting(v: { readonly quiesce?: true; readonly "no-quiesce"?: true }): false | undefined {
  if (v.quiesce === true && v["no-quiesce"] === true) throw new UsageError("--quiesce and --no-quiesce contradict each other");
  return v["no-quiesce"] === true ? false : undefined;
}

/** The --metrics-listen line of both daemons' usage. */
export const metricsListenFlagUsage = `  --metrics-listen host:port
                      serve HTTP there: GET /metrics (Prometheus text), /healthz, /readyz
                      (docs/operations.md); default: none, nothing measured`;

export const usage = `usage: shardkv-controller --id N --listen host:port --peers id=host:port,... --data DIR
                          (--tls-dir DIR | --tls-ca F --tls-cert F --tls-key F | --insecure) [--join] [--shards N] [--nats URL] [--tick-ms N] [--no-quiesce] [--snapshot-every N]
                          [--metrics-listen host:port] [--failpoints SPEC] [--profile P] [--log-level L]
  --id N              this replica's id (a positive integer listed in --peers)
  --listen host:port  address to serve gRPC (Raft and the Controller service) on
  --peers LIST        every replica, this one included: id=host:port,id=host:port,...; bootstraps
                      an empty data directory; later the ids must be the members the data
                      directory's configuration holds (an address given overrides the stored one)
  --data DIR          data directory (DIR/identity.json, RocksDB: DIR/raft, DIR/state); created
                      if missing; refused when it belongs to another replica, a shard server
                      or another cluster
${joinFlagUsage}
  --shards N          shard count, used only when the data directory is created (default 64,
                      1..${shardCountMax}); must match the stored count afterwards
  --nats URL          publish each new config on NATS subject shardkv.config (optional;
                      tls://host:port: TLS to NATS with this daemon's --tls-* files)
  --tick-ms N         Raft tick in ms (default 100; election timeout 10-20 ticks)
${quiesceFlagUsage}
  --snapshot-every N  snapshot and compact the log every N applied entries (default 1000)
${metricsListenFlagUsage}
${daemonTlsUsage}
${logLevelUsage}
${failpointFlagsUsage}`;

/** The flags both daemons take, with the same checks. */
export const raftDaemonFlags = {
  join: flag.bool(),
  id: flag.int(1, Number.MAX_SAFE_INTEGER),
  listen: flag.address(),
  peers: flag.string(),
  data: flag.nonEmpty(),
  shards: flag.int(1, shardCountMax),
  nats: flag.natsUrl(),
  "tick-ms": flag.int(1, 60_000),
  quiesce: flag.bool(),
  "no-quiesce": flag.bool(),
  "metrics-listen": flag.address(),
  failpoints: flag.string(),
  profile: flag.string(),
  "log-level": flag.of(parseLogLevel),
  ...daemonTlsFlags,
};

const flags = { ...raftDaemonFlags, "snapshot-every": flag.int(1, 1e9) };

/** Parses the command line strictly; throws UsageError (InvalidArgumentError for failpoints) naming the flag. */
export function parseDaemonArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): DaemonArgs | "help" {
  const cl = parseCommandLine(argv, flags, { positionals: 0, repeats: "refuse" });
  if (cl.help) return "help";
  const v = cl.values;
  const id = required(v.id, "id") as NodeId;
  const out: DaemonArgs = {
    id, listen: required(v.listen, "listen"), peers: parsePeers("--peers", required(v.peers, "peers"), id), data: required(v.data, "data"), tls: daemonTls(v),
  };
  if (v.join === true) out.join = true;
  if (v.shards !== undefined) out.shards = v.shards;
  if (v["tick-ms"] !== undefined) out.tickMs = v["tick-ms"];
  if (quiesceSetting(v) === false) out.quiesce = false;
  if (v["snapshot-every"] !== undefined) out.snapshotEvery = v["snapshot-every"];
  if (v.nats !== undefined) out.nats = v.nats;
  if (v["metrics-listen"] !== undefined) out.metricsListen = v["metrics-listen"];
  if (v["log-level"] !== undefined) out.logLevel = v["log-level"];
  const failpoints = failpointsSetting({ flag: v.failpoints, profileFlag: v.profile, env });
  if (failpoints !== undefined) out.failpoints = failpoints;
  return out;
}
