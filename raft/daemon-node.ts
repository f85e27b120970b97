/**
 * The RaftNode of one daemon replica (shardkv-controller, shardkv-server), wired the same way
 * for both: real time and randomness, the replica's peers as voters (only to bootstrap an
 * empty directory: afterwards --peers must name the voters its Raft state records, or the
 * start fails with an InvalidArgumentError naming both sets), the log compacted to a
 * fifth of the snapshot interval below each snapshot, the transport wrapped by the daemon's
 * failpoints (a no-op when they are off), and soft-state changes relayed to the server once it
 * exists (RaftNode.start reports the first ones before the caller can have built it).
 */
import type { Logger } from "../common/env";
import { InvalidArgumentError } from "../common/errors";
import type { Failpoints } from "../common/failpoints";
import type { GroupId, NodeId } from "../common/ids";
import { realClock, realRng } from "../common/real-env";
import type { SoftState } from "./core/types";
import { RaftNode, VoterSetMismatchError } from "./node";
import type { StateMachine } from "./state-machine";
import type { LogStore } from "./storage/log-store";
import { failpointTransport } from "./transport/failpoint-transport";
import type { Transport } from "./transport/transport";

export interface DaemonNodeOptions {
  readonly group: GroupId;
  readonly id: NodeId;
  /** Every replica of the group, this one included. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Milliseconds per Raft tick. Default 100. */
  readonly tickMs?: number;
  readonly snapshotEveryEntries: number;
  readonly failpoints?: Failpoints;
  readonly onFatal?: (e: Error) => void;
  readonly transport: Transport;
  readonly storage: LogStore;
  readonly logger: Logger;
  /** The replica's data directory, named when --peers disagrees with its Raft state. */
  readonly dataDir: string;
}

export interface DaemonNode<R> {
  readonly node: RaftNode<R>;
  /** Delivers the current soft state to `onSoftState` now, and every change after it. */
  attach(onSoftState: (ss: SoftState) => void): void;
}

export async function startDaemonNode<R>(o: DaemonNodeOptions, sm: StateMachine<R>): Promise<DaemonNode<R>> {
  let latest: SoftState | undefined;
  let deliver: ((ss: SoftState) => void) | undefined;
  const node = await RaftNode.start<R>(
    {
      group: o.group,
      raft: { id: o.id, voters: [...o.peers.keys()].sort((a, b) => a - b) },
      tickMs: o.tickMs ?? 100,
      snapshotEveryEntries: o.snapshotEveryEntries,
      compactKeepEntries: Math.max(1, Math.floor(o.snapshotEveryEntries / 5)),
      onReady: (rd) => {
        if (!rd.softState) return;
        if (deliver) deliver(rd.softState);
        else latest = rd.softState;
      },
      onFatal: o.onFatal,
    },
    { clock: realClock, rng: realRng, transport: failpointTransport(o.failpoints, o.transport, o.peers), storage: o.storage, logger: o.logger },
    sm,
  ).catch((e: unknown) => {
    if (!(e instanceof VoterSetMismatchError)) throw e;
    throw new InvalidArgumentError("--peers", `names replicas {${e.given.join(",")}}, but data directory ${o.dataDir} belongs to a group ` +
      `of replicas {${e.stored.join(",")}}; --peers may change a replica's address, not the group's members`);
  });
  return {
    node,
    attach(onSoftState) {
      deliver = onSoftState;
      onSoftState(latest ?? node.softState());
    },
  };
}
