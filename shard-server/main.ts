/**
 * `shardkv-server`: the daemon running one replica of a shard group (shard-server/server.ts).
 * Run as `bin/shardkv-server ...` or `node --import tsx shard-server/main.ts ...`:
 *
 *   shardkv-server --gid 1 --id 1 --listen 127.0.0.1:7101 \
 *     --peers 1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103 --data ./data/g1n1 \
 *     --controllers 127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 [--shards 64] [--tick-ms 100] [--nats nats://127.0.0.1:4222] [--metrics-listen 127.0.0.1:9101]
 *
 * With --metrics-listen, /metrics, /healthz and /readyz are served over HTTP there
 * (common/metrics-server.ts), bound before anything else starts.
 * Logs go to stderr: JSON lines at --log-level (common/daemon-log.ts; human-readable on a
 * terminal). SIGTERM or SIGINT stops it gracefully (exit 0). Exit status 2: a bad
 * command line (one line on stderr naming the flag), a data directory that is a file or was
 * created for another kind, gid, replica or shard count, --peers naming other replicas than
 * its Raft state, controllers of another cluster (found after the start: one line, then the
 * exit), or a new directory without --shards whose controllers did not answer in 60 s; 1: any
 * other failure to start (an unwritable or full disk: one line) or a fatal error.
 */
import { daemonFailpoints, daemonMain, withMetricsEndpoint } from "../common/daemon-args";
import { logLevelDefault } from "../common/log-level";
import { type ShardDaemonArgs, parseShardDaemonArgs, usage } from "./daemon-args";
import { migrationPacingDefault, migrationRateMiBDefault, migrationWindowMiBDefault } from "./defaults";

daemonMain<ShardDaemonArgs>({
  name: "shardkv-server",
  usage,
  parse: (argv) => parseShardDaemonArgs(argv),
  dataDir: (args) => args.data,
  logger: async (args) => (await import("../common/daemon-log")).processLogger({ gid: args.gid, node: args.id, level: args.logLevel ?? logLevelDefault }),
  start: async (args, logger, onFatal) => {
    // Loaded only now, so a bad command line fails fast without loading gRPC and RocksDB.
    const { ShardServer } = await import("./server");
    const { daemonSecurity, logSecurity } = await import("../security/credentials");
    const security = daemonSecurity(args.tls, logger);
    const server = await withMetricsEndpoint({ listen: args.metricsListen, labels: { gid: args.gid, node: args.id }, logger }, (metricsRegistry) => ShardServer.start({
      gid: args.gid,
      id: args.id,
      listen: args.listen,
      peers: args.peers,
      join: args.join,
      dataDir: args.data,
      controllers: args.controllers,
      shardCount: args.shards,
      tickMs: args.tickMs,
      ...(args.quiesce === false ? { quiesce: false as const } : {}),
      natsUrl: args.nats,
      dedupTtlMs: args.dedupTtlMs,
      snapshotEveryEntries: args.snapshotEvery,
      migrationBytesPerSec: (args.migrationRateMiB ?? migrationRateMiBDefault) * 1024 * 1024,
      migrationPacing: (args.migrationPacing ?? migrationPacingDefault) === "adaptive",
      migrationWindowBytes: (args.migrationWindowMiB ?? migrationWindowMiBDefault) * 1024 * 1024,
      lengthCacheKeys: args.lengthCacheKeys,
      failpoints: daemonFailpoints(args.failpoints, args.listen),
      security,
      logger,
      onFatal,
      ...(metricsRegistry ? { metricsRegistry } : {}),
    }));
    logSecurity(security, logger);
    return server;
  },
});
