/**
 * The part of a Status reply both daemons share (ShardKV.Status and Controller.Status, the
 * same field names in proto/shardkv.proto and proto/controller.proto): where the replica's
 * Raft log stands, how far it is behind, its data directory's size, its uptime and version.
 * docs/operations.md, "Status fields", says what each means for an operator.
 */
import type { Clock } from "../common/env";
import { DirSizeCache } from "../common/dir-size";
import { shardkvVersion } from "../common/version";
import type { RaftNode } from "./node";

/** The shared Status fields (camelCase as in the generated messages). */
export interface ReplicaStatusFields {
  readonly leaderCommitIndex: number;
  readonly lag: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly logEntries: number;
  readonly logBytes: number;
  readonly snapshotIndex: number;
  readonly snapshotBytes: number;
  readonly dataDirBytes: number;
  readonly uptimeMs: number;
  readonly version: string;
}

/** Answers the shared Status fields of one replica; made when the daemon starts. */
export class ReplicaStatusSource {
  private readonly startedAtMs: number;
  private readonly dirSize: DirSizeCache;

  constructor(dataDir: string, private readonly clock: Clock) {
    this.startedAtMs = clock.nowMs();
    this.dirSize = new DirSizeCache(dataDir, clock);
  }

  async fields(node: Pick<RaftNode<unknown>, "logStatus" | "status">): Promise<ReplicaStatusFields> {
    const log = node.logStatus();
    const applied = node.status().applied;
    return {
      leaderCommitIndex: log.leaderCommit,
      // A replica restarting may have applied (from its state machine) beyond what it has
      // heard of the leader's commit yet: no lag then.
      lag: Math.max(0, log.leaderCommit - applied),
      firstIndex: log.firstIndex,
      lastIndex: log.lastIndex,
      logEntries: log.entries,
      logBytes: log.bytes,
      snapshotIndex: log.snapshotIndex,
      snapshotBytes: log.snapshotBytes,
      dataDirBytes: await this.dirSize.bytes(),
      uptimeMs: Math.max(0, Math.round(this.clock.nowMs() - this.startedAtMs)),
      version: shardkvVersion(),
    };
  }
}
