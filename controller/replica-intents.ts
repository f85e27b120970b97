/**
 * The controller's side of replica changes (docs/controller.md "Replica changes"): the checks
 * of a stored intent against a group's members, the members a leader reports, and whether
 * reported members carry an intent out. Pure; the state machine (controller/state-machine.ts)
 * stores at most one intent per group and applies these checks when a command is applied (and
 * the service at the edge, for a fast refusal). The group's leader carries an intent out
 * (common/replica-change.ts).
 */
import { InvalidArgumentError } from "../common/errors";
import type { GroupId, NodeId } from "../common/ids";
import { type Member, type ReplicaChange, type ReplicaIntent, blockedReasonBytesMax, describeReplicaChange } from "../common/replica-change";
import { type Config, controllerGid, groupMembers, groupServersMax, validateAddress } from "./config";

/** What the controller keeps about replicas besides the configs. */
export interface ReplicaState {
  /** The pending intent of each group (gid 0: the controller group). */
  readonly intents: ReadonlyMap<GroupId, ReplicaIntent>;
  /** The controller group's own members (empty: not recorded yet). */
  readonly controllers: readonly Member[];
}

export const noReplicaState: ReplicaState = { intents: new Map(), controllers: [] };

/** The members of group `gid` (0: the controller group) in `latest` and `state`. */
export function membersOf(latest: Config, state: ReplicaState, gid: GroupId): readonly Member[] {
  return gid === controllerGid ? state.controllers : groupMembers(latest, gid);
}

export { blockedReasonBytesMax };

/** "group 7", "the controller group". */
export function describeGroup(gid: GroupId): string {
  return gid === controllerGid ? "the controller group" : `group ${gid}`;
}

/** `shardctl` command that cancels group `gid`'s intent (for refusals). */
function cancelHint(gid: GroupId): string {
  return gid === controllerGid ? "shardctl controller cancel" : `shardctl replica cancel ${gid}`;
}

function validId(field: string, id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new InvalidArgumentError(field, `replica id must be a positive integer, got ${id}`);
}

/**
 * Checks that `gid` names a group whose members the controller knows in `latest`: a group of
 * the config, or the controller group once its members are recorded.
 */
export function validateTargetGroup(latest: Config, state: ReplicaState, gid: GroupId): void {
  if (!Number.isSafeInteger(gid) || gid < 0) throw new InvalidArgumentError("gid", `gid must be a non-negative integer, got ${gid}`);
  if (gid === controllerGid) {
    if (state.controllers.length === 0) {
      throw new InvalidArgumentError("gid", "the controller group's members are not recorded yet (its leader records them once it leads)");
    }
    return;
  }
  if (!latest.groups.has(gid)) throw new InvalidArgumentError("gid", `group ${gid} is not in config ${latest.num}`);
}

/**
 * Checks a new intent for `gid` against its members and the pending intents;
 * throws InvalidArgumentError naming the field and what was sent. Nothing is stored when it
 * throws.
 */
export function validateReplicaChange(latest: Config, state: ReplicaState, gid: GroupId, change: ReplicaChange): void {
  validateTargetGroup(latest, state, gid);
  const group = describeGroup(gid);
  const pending = state.intents.get(gid);
  if (pending !== undefined) {
    throw new InvalidArgumentError("gid", `${group} already has a pending replica change (${describeReplicaChange(pending.change)}); ` +
      `wait for it or cancel it with ${cancelHint(gid)}`);
  }
  const members = membersOf(latest, state, gid);
  const find = (id: NodeId): Member | undefined => members.find((m) => m.id === id);
  const notMember = (field: string, id: NodeId): InvalidArgumentError =>
    new InvalidArgumentError(field, `${group} has no replica ${id} in config ${latest.num} (its replicas: ${describeMembers(members)})`);
  const newReplica = (idField: string, id: NodeId, address: string): void => {
    validId(idField, id);
    validateAddress("address", address);
    if (find(id)) throw new InvalidArgumentError(idField, `${group} already has a replica ${id} (at ${find(id)!.address})`);
    const at = members.find((m) => m.address === address);
    if (at) throw new InvalidArgumentError("address", `${group} already has a replica at ${address} (${describeMember(at)})`);
    if (members.length >= groupServersMax) throw new InvalidArgumentError(idField, `${group} has ${members.length} replicas, at most ${groupServersMax}`);
  };
  const voters = members.filter((m) => !m.learner);
  switch (change.kind) {
    case "addLearner":
      newReplica("id", change.id, change.address);
      return;
    case "promote": {
      validId("id", change.id);
      const m = find(change.id);
      if (!m) throw notMember("id", change.id);
      if (!m.learner) throw new InvalidArgumentError("id", `replica ${change.id} of ${group} is a voter already; only a learner can be promoted`);
      return;
    }
    case "remove": {
      validId("id", change.id);
      const m = find(change.id);
      if (!m) throw notMember("id", change.id);
      if (!m.learner && voters.length === 1) {
        throw new InvalidArgumentError("id", `replica ${change.id} is the last voter of ${group}; add and promote another replica first`);
      }
      return;
    }
    case "replace":
      validId("old_id", change.oldId);
      if (!find(change.oldId)) throw notMember("old_id", change.oldId);
      newReplica("new_id", change.newId, change.address);
      return;
  }
}

/**
 * Checks the members a group's leader reports (ReplicaDone): 1..groupServersMax members,
 * known ids (>= 1) and addresses each once, at least one voter.
 */
export function validateMembers(gid: GroupId, members: readonly Member[]): void {
  const group = describeGroup(gid);
  if (members.length === 0) throw new InvalidArgumentError("members", `${group}: empty member list`);
  if (members.length > groupServersMax) throw new InvalidArgumentError("members", `${group} lists ${members.length} members, at most ${groupServersMax}`);
  for (const m of members) {
    validId("members.id", m.id);
    validateAddress(`members of ${group}`, m.address);
  }
  const dupId = members.find((m, i) => members.findIndex((o) => o.id === m.id) !== i);
  if (dupId) throw new InvalidArgumentError("members.id", `${group} lists replica ${dupId.id} twice`);
  const dupAddr = members.find((m, i) => members.findIndex((o) => o.address === m.address) !== i);
  if (dupAddr) throw new InvalidArgumentError("members.address", `${group} lists address ${dupAddr.address} twice`);
  if (members.every((m) => m.learner)) throw new InvalidArgumentError("members", `${group} lists no voter`);
}

/** Checks a blocked reason (ReplicaProgress): one line of at most blockedReasonBytesMax bytes. */
export function validateBlocked(blocked: string): void {
  if (Buffer.byteLength(blocked) > blockedReasonBytesMax) {
    throw new InvalidArgumentError("blocked", `must be at most ${blockedReasonBytesMax} bytes, got ${Buffer.byteLength(blocked)}`);
  }
  if (/[\r\n]/.test(blocked)) throw new InvalidArgumentError("blocked", "must be one line");
}

/** True when `members` are what `change` asked for (the intent is carried out). */
export function intentSatisfied(change: ReplicaChange, members: readonly Member[]): boolean {
  const m = (id: NodeId): Member | undefined => members.find((x) => x.id === id);
  switch (change.kind) {
    case "addLearner": return m(change.id)?.address === change.address;
    case "promote": return m(change.id)?.learner === false;
    case "remove": return m(change.id) === undefined;
    case "replace": return m(change.oldId) === undefined && m(change.newId)?.learner === false && m(change.newId)?.address === change.address;
  }
}

/** "3 at h:1 (learner)", "? at h:1" for an unknown id. */
export function describeMember(m: Member): string {
  return `${m.id === 0 ? "?" : m.id} at ${m.address}${m.learner ? " (learner)" : ""}`;
}

export function describeMembers(members: readonly Member[]): string {
  return members.length === 0 ? "none" : members.map(describeMember).join(", ");
}
