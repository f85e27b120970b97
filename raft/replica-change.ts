/**
 * The executor of a replica change (common/replica-change.ts): a group's leader carries out a
 * ReplicaChange through Raft configuration changes, one step at a time, each step derived from
 * the configuration the leader has applied, so that a new leader (after a crash of the old
 * one at any step) resumes where the group is, and running it twice changes nothing:
 *
 *   adding      propose addLearner(newId, address)
 *   catchingUp  wait until the learner's match index is within learnerLagEntriesMax of the
 *               leader's last index, then propose one enterJoint change (autoLeave) that
 *               promotes it and removes the old voter (a plain promote: a simple change)
 *   joint       the leader proposes leave-joint by itself (autoLeave); wait for it to apply
 *   done        the configuration is what the change asked for; a change that removes a
 *               replica then waits until every remaining member applied it (only then may
 *               the removed replica be stopped); an addition or a promotion is done once
 *               its configuration committed
 *
 * Every refusal is a typed error with one line in the operator's terms (the controller stores
 * it as the intent's `blocked`): ReplicaChangeRefusedError for a change that cannot be done as
 * asked, QuorumUnreachableError for one that would leave fewer than a majority of the voters
 * reachable (etcd's strict reconfiguration check; `force` skips it). See docs/design.md
 * (§3 Raft, membership: the replica-change executor).
 */
import type { Clock } from "../common/env";
import { AbortError, ConfChangeInProgressError, InvalidArgumentError, LearnerLaggingError, NotLeaderError, RetryLaterError, StoppedError } from "../common/errors";
import type { LogIndex, NodeId } from "../common/ids";
import type { ReplicaChange, ReplicaChangeStep } from "../common/replica-change";
import { describeReplicaChange } from "../common/replica-change";
import { applyConfChange, isJoint, members, type ConfChange, type ConfState } from "./core/conf-change";
import type { RaftNode } from "./node";

/** A replica change that cannot be carried out as asked (unknown id, id or address in use, last voter). */
export class ReplicaChangeRefusedError extends InvalidArgumentError {
  constructor(readonly change: ReplicaChange, why: string) {
    super("replicaChange", `cannot ${describeReplicaChange(change)}: ${why}`);
  }
}

/**
 * The change would leave fewer than a majority of the resulting voters reachable (the
 * leader heard from the others within the last election timeout). Retry once they are back,
 * or pass `force`.
 */
export class QuorumUnreachableError extends RetryLaterError {
  constructor(readonly change: ReplicaChange, readonly voters: readonly NodeId[], readonly reachable: readonly NodeId[]) {
    super(`${describeReplicaChange(change)} would leave ${reachable.length} of the voters {${voters.join(",")}} reachable ` +
      `(${Math.floor(voters.length / 2) + 1} needed; not heard from: ${voters.filter((v) => !reachable.includes(v)).join(",")}); ` +
      "bring them back or force the change");
  }
}

/** The replica the change adds (replace, addLearner), if any. */
function addedId(c: ReplicaChange): NodeId | undefined {
  return c.kind === "replace" ? c.newId : c.kind === "addLearner" ? c.id : undefined;
}

/** The replica the change removes (replace, remove), if any. */
function removedId(c: ReplicaChange): NodeId | undefined {
  return c.kind === "replace" ? c.oldId : c.kind === "remove" ? c.id : undefined;
}

/**
 * Where `change` stands in configuration `conf` (common/replica-change.ts ReplicaChangeStep).
 * `remove` is `joint` from the start until the replica is out of the configuration (a voter
 * leaves through a joint change); removing a replica the configuration does not hold is
 * `done` (so a leader resuming a finished removal does nothing). Pure: the controller's
 * `replica list` calls it with the group's configuration.
 */
export function replicaChangeStep(conf: ConfState, change: ReplicaChange): ReplicaChangeStep {
  const all = members(conf);
  switch (change.kind) {
    case "addLearner":
      return all.includes(change.id) ? "done" : "adding";
    case "promote":
      if (conf.learners.includes(change.id)) return "catchingUp";
      if (!conf.voters.includes(change.id)) return "adding";
      return isJoint(conf) ? "joint" : "done";
    case "remove":
      return all.includes(change.id) ? "joint" : "done";
    case "replace":
      if (!all.includes(change.newId)) return "adding";
      if (conf.learners.includes(change.newId)) return "catchingUp";
      return all.includes(change.oldId) || isJoint(conf) ? "joint" : "done";
  }
}

/** What the leader does next: propose a change, or wait (saying why). */
type Next = { readonly propose: ConfChange } | { readonly wait: string } | { readonly done: true };

/**
 * The next configuration change for `change` from `conf`, checked: throws
 * ReplicaChangeRefusedError or QuorumUnreachableError (unless `force`).
 */
export function nextReplicaConfChange(
  conf: ConfState, change: ReplicaChange,
  o: {
    readonly force: boolean;
    /** The leader heard from `id` within the last election timeout (RaftNode.recentlyActive). */
    readonly reachable: (id: NodeId) => boolean;
    /** The leader has had an answer from `id` (its match index is above 0); absent: not checked. */
    readonly answered?: (id: NodeId) => boolean;
  },
): Next {
  const refuse = (why: string): never => {
    throw new ReplicaChangeRefusedError(change, why);
  };
  const step = replicaChangeStep(conf, change);
  if (change.kind === "replace" && change.oldId === change.newId) refuse("the old and the new replica are the same id");
  // An id already in the group is this change's own earlier step (a leader resuming) only if
  // it is there at the address asked for; at another address it is another replica.
  const added = addedId(change);
  const have = added !== undefined ? conf.addresses?.[added] : undefined;
  const want = change.kind === "replace" || change.kind === "addLearner" ? change.address : undefined;
  if (have !== undefined && want !== undefined && have !== want) refuse(`replica ${added} is already in the group, at ${have}`);
  if (step === "done") return { done: true };
  if (isJoint(conf)) {
    // Whatever entered it (this change or another), the group leaves it first.
    return conf.autoLeave ? { wait: "the leader leaves the joint configuration" } : { propose: { kind: "leaveJoint" } };
  }
  let cc: ConfChange;
  const removed = removedId(change);
  if (step === "adding") {
    if (change.kind === "promote") refuse(`replica ${change.id} is not a learner of the group (add it as a learner first)`);
    if (change.kind === "replace" && !conf.voters.includes(change.oldId)) refuse(`replica ${change.oldId} is not a voter of the group`);
    const address = change.kind === "replace" || change.kind === "addLearner" ? change.address : "";
    const holder = Object.entries(conf.addresses ?? {}).find(([, a]) => a === address);
    if (holder !== undefined) refuse(`address ${address} is already replica ${holder[0]}'s`);
    cc = { kind: "simple", change: { type: "addLearner", node: added!, address } };
    return { propose: cc };
  }
  if (step === "catchingUp") {
    const promote = { type: "promote" as const, node: added ?? (change as { id: NodeId }).id };
    // A learner that never answered this leader (not started yet, or down) has a match index
    // of 0, which the lag bound lets through on a short log: promoting it would trade a live
    // voter for a dead one. Wait for it to answer (unless forced).
    if (!o.force && o.answered !== undefined && !o.answered(promote.node)) {
      const at = conf.addresses?.[promote.node];
      return { wait: `learner ${promote.node}${at ? ` at ${at}` : ""} has not answered the leader within the last election timeout; is it running (started with --join)?` };
    }
    if (change.kind === "replace") {
      if (!conf.voters.includes(change.oldId)) {
        cc = { kind: "simple", change: promote }; // the old one is gone already: promote only
      } else {
        cc = { kind: "enterJoint", changes: [promote, { type: "remove", node: change.oldId }], autoLeave: true };
      }
    } else {
      cc = { kind: "simple", change: promote };
    }
  } else {
    // joint step, not joint: a remove (or the removal half of a replace whose new replica is
    // already a voter) still to propose.
    if (removed === undefined) return { done: true };
    if (conf.learners.includes(removed)) {
      cc = { kind: "simple", change: { type: "remove", node: removed } };
    } else {
      if (conf.voters.length === 1) refuse(`replica ${removed} is the last voter of the group`);
      cc = { kind: "enterJoint", changes: [{ type: "remove", node: removed }], autoLeave: true };
    }
  }
  let result: ConfState;
  try {
    result = applyConfChange(conf, cc);
  } catch (e) {
    if (e instanceof InvalidArgumentError) refuse(e.reason);
    throw e;
  }
  if (!o.force) {
    const reachable = result.voters.filter(o.reachable);
    if (reachable.length < Math.floor(result.voters.length / 2) + 1) throw new QuorumUnreachableError(change, result.voters, reachable);
  }
  return { propose: cc };
}

export interface ReplicaChangeRun {
  readonly clock: Clock;
  /** Skip the strict reconfiguration check. Default false. */
  readonly force?: boolean;
  /** How often to look again while waiting, in ms. Default 100. */
  readonly pollMs?: number;
  /** Called when the step or the reason it waits changes. */
  readonly onProgress?: (step: ReplicaChangeStep, waiting: string) => void;
  /** Checked while waiting: true stops the run with an AbortError. */
  readonly aborted?: () => boolean;
  /**
   * The configuration index member `id` has applied (RaftNode.confIndex there, e.g. from its
   * Status), or undefined when it cannot be asked. Once the configuration is done, the run
   * waits until every member of it applied it (only then may a removed replica be stopped:
   * docs/design.md §3 Raft). Without it, the leader's own knowledge stands in: every
   * member's log holds the configuration's entry and the leader committed it (the members
   * apply it when they next hear from the leader).
   */
  readonly appliedConfIndex?: (id: NodeId) => Promise<LogIndex | undefined>;
}

/**
 * Carries out `change` on the group whose leader is `node`, from whatever step the group's
 * configuration is at; resolves with the index of the configuration that completes it once
 * every remaining member applied it. Rejects with NotLeaderError when `node` loses the
 * leadership (the new leader resumes), ReplicaChangeRefusedError or QuorumUnreachableError
 * (nothing proposed for that step), AbortError when `aborted()`.
 */
export async function executeReplicaChange(node: RaftNode<unknown>, change: ReplicaChange, run: ReplicaChangeRun): Promise<LogIndex> {
  const pollMs = run.pollMs ?? 100;
  const sleep = (): Promise<void> => new Promise((r) => run.clock.after(pollMs, r));
  let said = "";
  const progress = (step: ReplicaChangeStep, waiting: string): void => {
    if (`${step} ${waiting}` === said) return;
    said = `${step} ${waiting}`;
    run.onProgress?.(step, waiting);
  };
  const checkRunning = (): void => {
    if (run.aborted?.()) throw new AbortError(describeReplicaChange(change));
    if (node.isStopped()) throw new StoppedError("raft node");
    const ss = node.softState();
    if (ss.role !== "leader") throw new NotLeaderError(ss.leader);
  };
  for (;;) {
    checkRunning();
    const conf = node.confState();
    const step = replicaChangeStep(conf, change);
    const next = nextReplicaConfChange(conf, change, {
      force: run.force === true, reachable: (id) => node.recentlyActive(id),
      answered: (id) => (node.memberStatuses().find((m) => m.id === id)?.match ?? 0) > 0,
    });
    if ("done" in next) break;
    if ("wait" in next) {
      progress(step, next.wait);
      await sleep();
      continue;
    }
    let index: LogIndex;
    try {
      index = await node.proposeConfChange(next.propose);
    } catch (e) {
      if (!(e instanceof ConfChangeInProgressError || e instanceof LearnerLaggingError)) throw e;
      progress(step, e.reason);
      await sleep();
      continue;
    }
    progress(step, `waiting for the change at index ${index} to apply`);
    while (node.confIndex() < index && node.softState().role === "leader" && node.status().lastIndex >= index) {
      checkRunning();
      await sleep();
    }
  }
  return waitAllApplied(node, change, run, progress, checkRunning, sleep);
}

/** The `done` step: waits until every member of the configuration in effect applied it. */
async function waitAllApplied(
  node: RaftNode<unknown>, change: ReplicaChange, run: ReplicaChangeRun,
  progress: (step: ReplicaChangeStep, waiting: string) => void, checkRunning: () => void, sleep: () => Promise<void>,
): Promise<LogIndex> {
  for (;;) {
    checkRunning();
    const conf = node.confState();
    if (replicaChangeStep(conf, change) !== "done") throw new RetryLaterError(`the configuration changed under ${describeReplicaChange(change)}; run it again`);
    const target = node.confIndex();
    // Nothing to stop after an addition or a promotion: the change is done once committed,
    // and a member that is down (perhaps the next one to be replaced) must not hold it up.
    if (!removesAReplica(change) && node.status().commit >= target) return target;
    const behind: NodeId[] = [];
    const statuses = node.memberStatuses();
    const commit = node.status().commit;
    for (const id of members(conf)) {
      if (id === node.id) continue;
      if (run.appliedConfIndex !== undefined) {
        const at = await run.appliedConfIndex(id);
        if (at === undefined || at < target) behind.push(id);
      } else {
        const m = statuses.find((s) => s.id === id)?.match ?? 0;
        if (m < target || commit < target) behind.push(id);
      }
    }
    if (behind.length === 0 && node.confIndex() === target) return target;
    progress("done", `waiting for replicas ${behind.join(",")} to apply the configuration at index ${target}`);
    await sleep();
  }
}

/** Whether `change` takes a replica out of the group (then stopping it must wait: waitAllApplied). */
function removesAReplica(change: ReplicaChange): boolean {
  return change.kind === "remove" || change.kind === "replace";
}
