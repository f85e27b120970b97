/**
 * Configuration of one Raft replica. Limits are named `...Max`; ticks are the driver's tick
 * units (RaftNode ticks every `tickMs`).
 */
import { InvalidArgumentError } from "../../common/errors";
import type { Rng } from "../../common/env";
import type { NodeId } from "../../common/ids";
import { raftEntryBytesMax } from "../../common/limits";

export interface RaftConfig {
  /** This replica's id (>= 1). */
  readonly id: NodeId;
  /**
   * The voters a replica bootstraps with when it has no snapshot, including `id`; empty for a
   * replica that joins an existing group (it learns the configuration from the leader's log
   * or snapshot). Afterwards the configuration is the one the log applies (conf-change.ts).
   */
  readonly voters: readonly NodeId[];
  /**
   * Where the bootstrap voters serve (id -> "host:port"), recorded in the bootstrap
   * configuration so that it, and every configuration after it, names each member's address.
   * Optional (the simulator runs without addresses); only `voters` may have one.
   */
  readonly addresses?: Readonly<Record<number, string>>;
  /** A follower that hears no leader for a random time in [electionTicks, 2*electionTicks) campaigns. */
  readonly electionTicks: number;
  /** A leader sends heartbeats every `heartbeatTicks`; must be < electionTicks. */
  readonly heartbeatTicks: number;
  /** Pre-campaign without bumping the term (Raft thesis §9.6). Default true. */
  readonly preVote: boolean;
  /** A leader that did not hear a quorum within an election timeout steps down. Default true. */
  readonly checkQuorum: boolean;
  /**
   * Quiescence of an idle group (raft/core/quiesce.ts; CockroachDB's quiescence, TiKV's
   * hibernate regions): a leader whose every member acknowledged its whole, committed and
   * applied log stops heartbeating, and its followers stop counting election ticks while the
   * driver's liveness signal (RawNode.peerDown) says the leader is reachable, until a client's
   * request wakes them (RawNode.wakeGroup). Default true (the daemons' --no-quiesce turns it
   * off); RaftNode turns it off on a transport without the liveness signal.
   */
  readonly quiesce: boolean;
  /**
   * A leader quiesces only after this many heartbeat intervals in a row in which nothing was
   * appended or read and at whose end it was idle. Default 3: a group written to every few
   * intervals stays awake (its heartbeats cost fewer messages than quiescing and waking
   * between the writes), an idle one quiesces within a few hundred milliseconds.
   */
  readonly quiesceIdleBeats: number;
  /** Bytes of entries in one append message (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /**
   * Largest entry data a proposal may carry, in bytes; larger ones are refused at propose
   * time (LimitExceededError), so every entry fits, alone, in a message the transport can
   * ship. Default `raftEntryBytesMax` (15 MiB, under the 16 MiB gRPC message bound).
   */
  readonly entryBytesMax: number;
  /** Append messages in flight to one follower in replicate state (pipelining bound). */
  readonly inflightAppendsMax: number;
  /** Bytes of entries in flight to one follower. */
  readonly inflightBytesMax: number;
  /** Bytes of proposed-but-uncommitted entry data on a leader; beyond it proposals fail. */
  readonly uncommittedBytesMax: number;
  /** Bytes of committed entries handed out in one Ready. */
  readonly applyBytesMax: number;
  /** ReadIndex requests waiting on a leader (for the first commit of its term or a quorum). */
  readonly readIndexPendingMax: number;
  /**
   * A learner is promoted only if its match index is within this many entries of the
   * leader's last index (else LearnerLaggingError). Default 1000.
   */
  readonly learnerLagEntriesMax: number;
  /** Seeded in the simulator, real in production: randomizes election timeouts. */
  readonly rng: Rng;
}

export const raftDefaults = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  quiesce: true,
  quiesceIdleBeats: 3,
  appendBytesMax: 1 << 20,
  entryBytesMax: raftEntryBytesMax,
  inflightAppendsMax: 256,
  inflightBytesMax: 32 << 20,
  uncommittedBytesMax: 64 << 20,
  applyBytesMax: 16 << 20,
  readIndexPendingMax: 4096,
  learnerLagEntriesMax: 1000,
} as const;

export type RaftConfigInput = Pick<RaftConfig, "id" | "voters" | "rng"> & Partial<Omit<RaftConfig, "id" | "voters" | "rng">>;

/** Fills defaults and validates; throws InvalidArgumentError naming the field. */
export function makeRaftConfig(input: RaftConfigInput): RaftConfig {
  const c: RaftConfig = { ...raftDefaults, ...input };
  if (!Number.isSafeInteger(c.id) || c.id < 1) throw new InvalidArgumentError("id", `must be >= 1, got ${c.id}`);
  if (c.voters.length > 0 && !c.voters.includes(c.id)) {
    throw new InvalidArgumentError("voters", `must include this replica ${c.id} (or be empty to join a group), got [${c.voters.join(",")}]`);
  }
  if (new Set(c.voters).size !== c.voters.length) throw new InvalidArgumentError("voters", `duplicate ids in [${c.voters.join(",")}]`);
  if (c.heartbeatTicks < 1) throw new InvalidArgumentError("heartbeatTicks", `must be >= 1, got ${c.heartbeatTicks}`);
  if (c.electionTicks <= c.heartbeatTicks) {
    throw new InvalidArgumentError("electionTicks", `must be > heartbeatTicks (${c.heartbeatTicks}), got ${c.electionTicks}`);
  }
  for (const k of ["appendBytesMax", "entryBytesMax", "inflightAppendsMax", "inflightBytesMax", "uncommittedBytesMax", "applyBytesMax", "readIndexPendingMax", "quiesceIdleBeats"] as const) {
    if (!(c[k] >= 1)) throw new InvalidArgumentError(k, `must be >= 1, got ${c[k]}`);
  }
  if (!(Number.isSafeInteger(c.learnerLagEntriesMax) && c.learnerLagEntriesMax >= 0)) {
    throw new InvalidArgumentError("learnerLagEntriesMax", `must be >= 0, got ${c.learnerLagEntriesMax}`);
  }
  return c;
}
