/**
 * The pure half of `shardkv-local replace | add-replica | remove-replica` (LocalCluster
 * replaceReplica, addReplica, removeReplica in deploy/local/cluster.ts): where a stored
 * replica change stands, read from the controller (its intents and the members of its latest
 * config) and from the group's live Raft configuration (the leader's RaftMembers), and the
 * lines that tell an operator about it. The group's leader carries the change out; the
 * launcher only stores it, waits, and updates cluster.json (docs/operations.md, "Replacing a
 * replica").
 */
import type { GroupId } from "../../common/ids";
import { controllerGid } from "../../controller/config";
import { describeGroup } from "../../controller/replica-intents";
import type { ReplicaChange, ReplicaChangeStep } from "../../common/replica-change";

export { carriedOut, changeOutcome, formatReplicaProgress, type ReplicaChangeProgress } from "../../common/replica-change";
import { confStateFromMembers, type RaftMembersReply } from "../../raft/transport/members-service";
import { type ClusterFile, type GroupRef, groupNodes, nodeNameIn } from "./layout";
import { replicaChangeStep } from "../../raft/replica-change";

/**
 * Where `change` stands in the group's live configuration as `reply` (its leader's RaftMembers
 * reply, raft/transport/members-service.ts leaderMembers) describes it, derived as the leader
 * derives it; undefined without a reply.
 */
export function liveStep(change: ReplicaChange, reply: RaftMembersReply | undefined): ReplicaChangeStep | undefined {
  return reply === undefined || (reply.members ?? []).length === 0 ? undefined : replicaChangeStep(confStateFromMembers(reply), change);
}

/**
 * What an operator can do about a change left pending (a deadline passed, Ctrl-C): it stays
 * stored and the group's leader goes on with it; the shardctl commands that show and drop it.
 */
export function pendingChangeHint(gid: GroupId, controllers: readonly string[]): string {
  const ctl = `shardctl --controllers ${controllers.join(",")}`;
  const [list, cancel] = gid === controllerGid ? ["controller list", "controller cancel"] : [`replica list ${gid}`, `replica cancel ${gid}`];
  return `the change stays stored and ${describeGroup(gid)}'s leader goes on with it; \`${ctl} ${list}\` shows it, \`${ctl} ${cancel}\` drops it`;
}

/**
 * The replica ids a daemon's data directory holds, from the line it exits with when --peers
 * names others (raft/daemon-node.ts: "invalid --peers: names replicas {2,3,4}, but data
 * directory ... belongs to a group of replicas {1,2,3}; ..."); undefined if `logTail` has none.
 */
export function storedMembersRefusal(logTail: string): number[] | undefined {
  const m = /invalid --peers: names replicas \{[\d,]*\}, but data directory .* belongs to a group of replicas \{([\d,]+)\}/.exec(logTail);
  return m ? m[1]!.split(",").map(Number) : undefined;
}

/**
 * The --peers value naming `ids` of group `of`: each at the address cluster.json lists, else
 * at the last one it had before it was removed (`retired`, launcher.json), else at a
 * placeholder that reaches nothing (a member removed by other means than shardkv-local): the
 * ids must match the stored configuration, and the replica learns the current members, with
 * their addresses, from its group's leader.
 */
export function olderPeersArg(l: ClusterFile, of: GroupRef, ids: readonly number[], retired: Readonly<Record<string, string>>): string {
  const listed = new Map(groupNodes(l, of).map((n) => [n.id, n.addr]));
  return [...ids].sort((a, b) => a - b).map((id) => `${id}=${listed.get(id) ?? retired[nodeNameIn(of, id)] ?? "127.0.0.1:1"}`).join(",");
}
