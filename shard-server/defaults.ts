/**
 * Defaults of the shard server that the daemon's command line documents too (kept apart from
 * server.ts so `shardkv-server --help` and a bad command line do not load gRPC and RocksDB).
 */

/** Default inactivity after which a client's duplicate records are forgotten (log time). */
export const dedupTtlMsDefault = 10 * 60 * 1000;
/** Default: snapshot and compact every this many applied entries. */
export const shardSnapshotEveryEntries = 10000;
