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
 * a time). Above one chunk the pacer's window governs it (migration-pacer.ts windowBytes). Off
 * by default: in the paired shard-move runs of docs/benchmarks.md ("Pipelined pulls") a window
 * did not make the move under load clearly faster and took the other shards' throughput down
 * further during it.
 */
export const migrationWindowMiBDefault = 0;
/** The largest --migration-window accepted (MiB). */
export const migrationWindowMiBMax = 64;
/**
 * Default bound of the apply path's cache of value lengths (apply-batch.ts LengthCache):
 * about 100 bytes per key (the key as a string and a Map slot), so about 10 MiB.
 */
export const lengthCacheKeysDefault = 100_000;
/** The largest `--length-cache-keys` accepted (about 10 GiB of memory). */
export const lengthCacheKeysMax = 100_000_000;
