/**
 * The RaftNode of one daemon replica (shardkv-controller, shardkv-server), wired the same way
 * for both: real time and randomness, the replica's peers as voters with their addresses
 * (only to bootstrap an empty directory: afterwards --peers must name the members of the
 * configuration its Raft state holds, or the start fails with an InvalidArgumentError naming
 * both sets; with --join nothing is bootstrapped and the directory must be empty), the
 * transport's peers kept to the configuration's members and addresses as changes apply (an
 * address --peers gives for a member overrides the stored one on this replica: a replica
 * moved to another host), the log compacted to a
 * fifth of the snapshot interval below each snapshot, the transport wrapped by the daemon's
 * failpoints (a no-op when they are off), and soft-state changes relayed to the server once it
 * exists (RaftNode.start reports the first ones before the caller can have built it), and,
 * with a metrics registry, the node's Raft metrics (raft/metrics.ts) registered on it.
 */
import type { Registry } from "prom-client";
import type { Logger } from "../common/env";
import { InvalidArgumentError } from "../common/errors";
import type { Failpoints } from "../common/failpoints";
import type { GroupId, NodeId } from "../common/ids";
import { realClock, realRng } from "../common/real-env";
import type { LogIndex } from "../common/ids";
import { describeConfState, members, type ConfState } from "./core/conf-change";
import type { SoftState } from "./core/types";
import { RaftMetrics } from "./metrics";
import { JoinNonEmptyError, RaftNode, VoterSetMismatchError, type MemberStatus } from "./node";
import type { StateMachine } from "./state-machine";
import type { LogStore } from "./storage/log-store";
import { failpointTransport } from "./transport/failpoint-transport";
import type { GrpcTransportStats } from "./transport/grpc-transport";
import type { Transport } from "./transport/transport";

export interface DaemonNodeOptions {
  readonly group: GroupId;
  readonly id: NodeId;
  /**
   * Every replica of the group, this one included (bootstrap); with `join`, the members to
   * reach until the configuration arrives, and this one.
   */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Join an existing group (`--join`): no bootstrap configuration, the directory must be empty. */
  readonly join?: boolean;
  /** Milliseconds per Raft tick. Default 100. */
  readonly tickMs?: number;
  /** false: an idle group keeps heartbeating (--no-quiesce). Default: it quiesces (raft/core/quiesce.ts). */
  readonly quiesce?: false;
  readonly snapshotEveryEntries: number;
  readonly failpoints?: Failpoints;
  readonly onFatal?: (e: Error) => void;
  readonly transport: Transport & { setPeers?(peers: ReadonlyMap<NodeId, string>): void; stats?(): GrpcTransportStats };
  readonly storage: LogStore;
  readonly logger: Logger;
  /** The replica's data directory, named when --peers disagrees with its Raft state. */
  readonly dataDir: string;
  /** Where the node's `shardkv_raft_*` metrics are registered (--metrics-listen); none: not measured. */
  readonly metricsRegistry?: Registry;
}

export interface DaemonNode<R> {
  readonly node: RaftNode<R>;
  /** The address of every member the transport reaches now (kept current as changes apply). */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Delivers the current soft state to `onSoftState` now, and every change after it. */
  attach(onSoftState: (ss: SoftState) => void): void;
}

export async function startDaemonNode<R>(o: DaemonNodeOptions, sm: StateMachine<R>): Promise<DaemonNode<R>> {
  let latest: SoftState | undefined;
  let deliver: ((ss: SoftState) => void) | undefined;
  // One map, read by the failpoint transport too, replaced in place when the configuration changes.
  const peers = new Map(o.peers);
  const onConfState = (conf: ConfState, index: LogIndex): void => {
    const next = peerAddresses(conf, o.peers);
    if ([...next].every(([id, a]) => peers.get(id) === a) && next.size === peers.size) return;
    peers.clear();
    for (const [id, a] of next) peers.set(id, a);
    o.transport.setPeers?.(peers);
    o.logger.info(`g${o.group} n${o.id}: configuration at index ${index}: ${describeConfState(conf)}; peers ${[...peers].map(([i, a]) => `${i}=${a}`).join(",")}`);
  };
  const metrics = o.metricsRegistry && new RaftMetrics(o.metricsRegistry);
  const node = await RaftNode.start<R>(
    {
      group: o.group,
      join: o.join === true,
      onConfState,
      raft: {
        ...(o.join === true ? { id: o.id, voters: [] } : {
          id: o.id, voters: [...o.peers.keys()].sort((a, b) => a - b), addresses: Object.fromEntries(o.peers),
        }),
        ...(o.quiesce === false ? { quiesce: false } : {}),
      },
      tickMs: o.tickMs ?? 100,
      snapshotEveryEntries: o.snapshotEveryEntries,
      compactKeepEntries: Math.max(1, Math.floor(o.snapshotEveryEntries / 5)),
      onReady: (rd) => {
        if (!rd.softState) return;
        if (deliver) deliver(rd.softState);
        else latest = rd.softState;
      },
      onFatal: o.onFatal,
      ...(metrics ? { metrics } : {}),
    },
    { clock: realClock, rng: realRng, transport: failpointTransport(o.failpoints, o.transport, peers), storage: o.storage, logger: o.logger },
    sm,
  ).catch((e: unknown) => {
    if (e instanceof JoinNonEmptyError) {
      throw new InvalidArgumentError("--join", `data directory ${o.dataDir} already holds a group` +
        `${e.stored.length > 0 ? ` of replicas {${e.stored.join(",")}}` : ""}; a replica joins with an empty data directory (drop --join to restart it)`);
    }
    if (!(e instanceof VoterSetMismatchError)) throw e;
    throw new InvalidArgumentError("--peers", `names replicas {${e.given.join(",")}}, but data directory ${o.dataDir} belongs to a group ` +
      `of replicas {${e.stored.join(",")}}; --peers may change a replica's address, not the group's members`);
  });
  const stats = o.transport.stats;
  metrics?.observe(node, stats ? { stats: () => stats.call(o.transport) } : undefined);
  // From now on every log line carries the node's current term (common/daemon-log.ts).
  o.logger.bindTerm?.(() => node.term());
  return {
    node,
    peers,
    attach(onSoftState) {
      deliver = onSoftState;
      onSoftState(latest ?? node.softState());
    },
  };
}

/**
 * The transport's peers for configuration `conf`: each member at the address --peers gives it
 * (a local override), else at the one the configuration records. A replica that knows no
 * configuration yet (joining) keeps --peers.
 */
export function peerAddresses(conf: ConfState, flags: ReadonlyMap<NodeId, string>): Map<NodeId, string> {
  if (conf.voters.length === 0) return new Map(flags);
  const out = new Map<NodeId, string>();
  for (const id of members(conf)) {
    const a = flags.get(id) ?? conf.addresses?.[id];
    if (a !== undefined) out.set(id, a);
  }
  return out;
}

/**
 * The members as a Status reply lists them (proto RaftMember): the address the transport
 * uses (`peers`, which may override the configuration's), else the configuration's.
 */
export function raftMembersToWire(ms: readonly MemberStatus[], peers: ReadonlyMap<NodeId, string>): {
  id: number; address: string; role: string; joint: string; hasProgress: boolean; matchIndex: number; lag: number; recentlyActive: boolean;
}[] {
  return ms.map((m) => ({
    id: m.id, address: peers.get(m.id) ?? m.address, role: m.role, joint: m.joint ?? "",
    hasProgress: m.match !== undefined, matchIndex: m.match ?? 0, lag: m.lag ?? 0, recentlyActive: m.recentlyActive === true,
  }));
}

/**
 * Why a daemon replica is not healthy (its /healthz), or undefined: it is not stopping and its
 * Raft loop runs (the loop dies on a storage or state machine failure, and the process then
 * exits to restart from disk).
 */
export function replicaHealthProblem(stopping: boolean, node: Pick<RaftNode<unknown>, "isStopped">): string | undefined {
  if (stopping) return "stopping";
  if (node.isStopped()) return "the Raft node stopped (storage or state machine failure)";
  return undefined;
}
