/**
 * Defaults of the shard server that the daemon's command line documents too (kept apart from
 * server.ts so `shardkv-server --help` and a bad command line do not load gRPC and RocksDB).
 */

/** Default inactivity after which a client's duplicate records are forgotten (log time). */
export const dedupTtlMsDefault = 10 * 60 * 1000;
/** Default: snapshot and compact every this many applied entries. */
export const shardSnapshotEveryEntries = 10000;
/**
 * Default cap on the bytes a group's leader inserts per second while pulling shards (MiB/s;
 * 0 = none). The pace itself adapts to the receiving group's load (`--migration-pacing`,
 * shard-server/migration-pacer.ts); the cap (`--migration-rate`) is an optional hard limit on
 * top, e.g. for a disk or network shared with other work the pacer cannot see.
 */
export const migrationRateMiBDefault = 0;
/** How pulled chunks are paced by default: "adaptive" (by the group's insert latency) or "off" (only the cap). */
export const migrationPacingDefault: MigrationPacing = "adaptive";
export type MigrationPacing = "adaptive" | "off";
/**
 * Default bound of the pulled chunks a leader keeps in flight per pull (MiB; 0 = one chunk at
 * a time). The pace (migration-pacer.ts, judged by the foreground's latency) limits the move;
 * the window bounds what one burst puts in the group's log. On since the pacer stopped judging
 * by the chunks' own insert latency: in paired shard-move runs under load (docs/benchmarks.md,
 * "Shard moves: the CPU per MiB and a pacer that sees the foreground") 4 MiB moved 100 MiB in
 * 0.67x the time of one chunk at a time (median of 3 pairs) with the other shards' throughput
 * during the move 1.08x and their p99 within 1.02-1.19x of before, and cost 0.81x the CPU per
 * MiB of main without load.
 */
export const migrationWindowMiBDefault = 4;
/** The largest --migration-window accepted (MiB). */
export const migrationWindowMiBMax = 64;
/**
 * Default bound of the apply path's cache of value lengths (apply-batch.ts LengthCache):
 * about 100 bytes per key (the key as a string and a Map slot), so about 10 MiB.
 */
export const lengthCacheKeysDefault = 100_000;
/** The largest `--length-cache-keys` accepted (about 10 GiB of memory). */
export const lengthCacheKeysMax = 100_000_000;
