/**
 * BUGGIFY (after FoundationDB): named fault points inside the production code that make it
 * take its rare paths on purpose (an apply that completes later, a snapshot right after any
 * apply, a pull in tiny chunks, a spurious NotLeader), so every simulation runs them.
 *
 * Inert outside the simulator: nothing installs a source in the daemons, the client or the
 * real-process tests, and then `buggify()` is one comparison that returns false and draws
 * nothing. The simulator (test/sim/buggify.ts) installs one per run: each point is enabled
 * for the whole run with a seeded probability, and an enabled point then fires at each call
 * with its own `rate`; every draw comes from the run's seed, so a seed replays byte for byte.
 *
 * Every point is legal behaviour, something the real world can produce (a slow disk, a lost
 * message, a leader that just stepped down, an operator's leadership transfer): a failure a
 * point causes is a real bug. A point must never make the code break its own contract (for
 * example, snapshot chunk boundaries must be the same on every replica serving one snapshot,
 * so they are not buggified).
 *
 * Not the daemon failpoints (common/failpoints.ts, docs/failpoints.md): those are set by an
 * operator, by name, on a running daemon in real-process tests, and act on its messages.
 */

/** One fault point: what it does when it fires, and how often an enabled point fires. */
export interface BuggifyPointInfo {
  /** Probability that an enabled point fires at one call. Hot paths get small rates. */
  readonly rate: number;
  /** What happens when it fires (one sentence: docs and the simulator's summary). */
  readonly what: string;
}

/**
 * The registry: every fault point, by name (`<area>.<place>.<what>`). The one list; code
 * names a point only through `BuggifyPoint`, so a typo does not compile.
 */
export const buggifyPoints = {
  // Raft driver (raft/node.ts)
  "raft.persist.slow": { rate: 0.1, what: "a Ready's log write completes 1-30 ms later (slow fsync)" },
  "raft.send.split": { rate: 0.25, what: "a Ready's messages go to the transport in two batches" },
  "raft.send.late": { rate: 0.05, what: "a Ready's messages are sent 1-20 ms later" },
  "raft.commit.no-hold": { rate: 0.5, what: "a leader's commit-only append goes out at once instead of being held for the next append" },
  "raft.persist.commit-now": { rate: 0.3, what: "a commit-only hard state is written at once, not left for the next save within the tick" },
  "raft.persist.commit-first": { rate: 0.5, what: "a commit-only hard state write completes before the apply starts (not beside it)" },
  "raft.inbound.drop": { rate: 0.01, what: "a batch of inbound Raft messages is lost (as on the network)" },
  "raft.tick.late": { rate: 0.02, what: "a tick fires 1-30 ms late (a stalled process)" },
  "raft.propose.defer": { rate: 0.1, what: "queued proposals wait for the next turn of the loop" },
  "raft.apply.late": { rate: 0.1, what: "an apply batch starts 1-20 ms later (a slow state machine)" },
  "raft.apply.split": { rate: 0.25, what: "committed entries are applied in two batches" },
  "raft.read.late": { rate: 0.25, what: "confirmed ReadIndex reads are released 1-30 ms later" },
  "raft.snapshot.after-apply": { rate: 0.05, what: "a snapshot (and log compaction) is taken right after an apply" },
  "raft.compact.all": { rate: 0.25, what: "a compaction keeps no entries below the snapshot" },
  "raft.snapshot.evict-busy": { rate: 0.25, what: "after a snapshot, only it is kept to serve transfers, even when one reads an older one" },
  "raft.transfer.random": { rate: 0.002, what: "a leader hands leadership to a random voter at a tick" },
  // Shard server (shard-server/)
  "shard.service.not-leader": { rate: 0.05, what: "a leader answers NotLeader (naming itself), as one that just stepped down" },
  "shard.service.busy": { rate: 0.05, what: "a write is refused with Backpressure before it is proposed" },
  "shard.pull.tiny-chunks": { rate: 0.5, what: "a PullShard stream is cut into chunks of 1-64 bytes" },
  "shard.apply.answer-late": { rate: 0.25, what: "an apply's client writes are answered once the apply resolved (after its flush, when it waits for one), not once its batch is in the write-behind layer" },
  "shard.flush.each-apply": { rate: 0.25, what: "an apply flushes the write-behind layer to the database and resolves only once it is written (write-through)" },
  "shard.flush.early": { rate: 0.1, what: "an apply starts a write of the write-behind layer at once and goes on without waiting for it, as past half the bound" },
  "shard.flush.late": { rate: 0.5, what: "the timed flush of the write-behind layer waits for the next timer (or a snapshot, pull, scan, the bound, or close)" },
  "shard.dedup.expire-now": { rate: 0.1, what: "the duplicate-record expiry scan runs at this apply, off its schedule" },
  "shard.batch.flush-each": { rate: 0.25, what: "a Batch stream answer leaves in a message of its own" },
  // Migration driver (shard-server/migration-driver.ts)
  "migration.tick.skip": { rate: 0.2, what: "a driver tick does nothing (a late poll)" },
  "migration.abort-check.late": { rate: 0.3, what: "a driver tick does not check a newly offered config for aborted joins (a later tick, or the backstop query, does)" },
  "migration.pull.pause": { rate: 0.1, what: "a pulled chunk is inserted 1-50 ms later" },
  "migration.pull.break": { rate: 0.1, what: "a pull stream is abandoned after an inserted chunk (resumed at the next tick)" },
  "migration.insert.lost": { rate: 0.05, what: "a pulled chunk's insert is never proposed (a proposal lost), while the chunks after it are" },
  "migration.insert.twice": { rate: 0.1, what: "a pulled chunk's insert is proposed twice (a retried proposal)" },
  "migration.insert.swap": { rate: 0.1, what: "a pulled chunk's insert is proposed after the next chunk's (reordered)" },
  "migration.gc.twice": { rate: 0.25, what: "the delete of a shard's previous copy is sent twice" },
  "migration.pacer.spike": { rate: 0.02, what: "a foreground request's latency reaches the migration pacer 20 times longer (a pause)" },
  // Controller (controller/service.ts)
  "controller.service.not-leader": { rate: 0.05, what: "a leader answers NotLeader (naming itself), as one that just stepped down" },
  // Client library (client/)
  "client.attempt.short": { rate: 0.1, what: "an attempt's deadline is cut to 1-50 ms (the request is retried with the same seq)" },
  "client.batch.flush-each": { rate: 0.25, what: "a Batch stream request leaves in a message of its own" },
} as const satisfies Record<string, BuggifyPointInfo>;

export type BuggifyPoint = keyof typeof buggifyPoints;

/** Every point name, in registry order. */
export const buggifyPointNames: readonly BuggifyPoint[] = Object.keys(buggifyPoints) as BuggifyPoint[];

/** What decides whether a point fires (the simulator's seeded implementation). */
export interface BuggifySource {
  /** Whether `point` fires at this call. */
  fires(point: BuggifyPoint): boolean;
  /** A uniform integer in [0, n) for `point`'s fault (its size), from the point's stream. */
  int(point: BuggifyPoint, n: number): number;
}

let source: BuggifySource | undefined;

/**
 * Installs the source of one simulation run (undefined: none, every point inert). The
 * simulator runs one seed at a time in a process, and installs its source for that run only.
 */
export function setBuggifySource(s: BuggifySource | undefined): void {
  source = s;
}

/** The installed source (undefined outside a simulation run). */
export function buggifySource(): BuggifySource | undefined {
  return source;
}

/** Whether fault point `point` fires here. Always false outside the simulator. */
export function buggify(point: BuggifyPoint): boolean {
  return source !== undefined && source.fires(point);
}

/** 0 unless `point` fires here; then a uniform integer in [1, max] (a delay in ms, a size). */
export function buggifyAmount(point: BuggifyPoint, max: number): number {
  if (source === undefined || !source.fires(point)) return 0;
  return 1 + source.int(point, max);
}

/** For a point that fired: a uniform integer in [0, n) from its stream (0 outside the simulator). */
export function buggifyInt(point: BuggifyPoint, n: number): number {
  return source === undefined ? 0 : source.int(point, n);
}
