/**
 * `shardkv-controller`: the daemon running one replica of the configuration controller
 * (controller/server.ts). Run as `bin/shardkv-controller ...` or
 * `node --import tsx controller/main.ts ...`:
 *
 *   shardkv-controller --id 1 --listen 127.0.0.1:7001 \
 *     --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data ./data/c1 \
 *     [--shards 64] [--nats nats://127.0.0.1:4222] [--tick-ms 100] [--snapshot-every 1000]
 *     [--metrics-listen 127.0.0.1:9100]
 *
 * With --metrics-listen, /metrics, /healthz and /readyz are served over HTTP there
 * (common/metrics-server.ts), bound before anything else starts.
 * Logs go to stderr: JSON lines at --log-level (common/daemon-log.ts; human-readable on a
 * terminal). SIGTERM or SIGINT stops it gracefully (exit 0). Exit status 2: a bad
 * command line (one line on stderr naming the flag), a data directory that is a file or
 * belongs to another daemon, replica or cluster, a --shards that differs from the one it was
 * created with, or --peers naming other replicas than its Raft state; 1: any other failure to
 * start (an unwritable or full disk: one line) or a fatal error.
 */
import { daemonFailpoints, daemonMain, withMetricsEndpoint } from "../common/daemon-args";
import { logLevelDefault } from "../common/log-level";
import { type DaemonArgs, parseDaemonArgs, usage } from "./daemon-args";

daemonMain<DaemonArgs>({
  name: "shardkv-controller",
  usage,
  parse: (argv) => parseDaemonArgs(argv),
  dataDir: (args) => args.data,
  logger: async (args) => (await import("../common/daemon-log")).processLogger({ gid: 0, node: args.id, level: args.logLevel ?? logLevelDefault }),
  start: async (args, logger, onFatal) => {
    // Loaded only now, so a bad command line fails fast without loading gRPC and RocksDB.
    const { ControllerServer } = await import("./server");
    const { daemonSecurity, logSecurity } = await import("../security/credentials");
    const security = daemonSecurity(args.tls, logger);
    const server = await withMetricsEndpoint({ listen: args.metricsListen, labels: { gid: 0, node: args.id }, logger }, (metricsRegistry) => ControllerServer.start({
      id: args.id,
      listen: args.listen,
      peers: args.peers,
      join: args.join,
      dataDir: args.data,
      shardCount: args.shards,
      natsUrl: args.nats,
      tickMs: args.tickMs,
      ...(args.quiesce === false ? { quiesce: false as const } : {}),
      snapshotEveryEntries: args.snapshotEvery,
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
