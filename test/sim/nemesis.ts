/**
 * The faults every mode's safety phase schedules on a Raft group (`Nemesis`: partitions,
 * heals (half of them with a spurious link reset between the leader and a follower), crashes, also right after the k-th next durable write, restarts, pauses, leadership
 * transfers; `MembershipNemesis`: membership churn), and the start of the liveness phase on a
 * group (`restartForLiveness`: heal, reliable network, restart).
 */
import type { NodeId } from "../../common/ids";
import type { StateMachine } from "../../raft/state-machine";
import { describeConfState, isJoint, members, type ConfChange } from "../../raft/core/conf-change";
import type { SimCluster } from "./cluster";
import type { SimRng } from "./rng";

/** What the nemesis needs of a run's parameters. */
export interface NemesisParams {
  /** Mean virtual ms between nemesis actions (0 = no nemesis). */
  readonly nemesisGapMs: number;
  /** Relative weights of the nemesis actions. */
  readonly weights: {
    readonly partition: number; readonly heal: number; readonly crash: number; readonly transfer: number; readonly pause: number;
  };
  /** How long a crashed node stays down, uniform ms in [0, downMsMax]. */
  readonly downMsMax: number;
}

/**
 * The start of the liveness phase on the groups `clusters`: traced once, then each group
 * healed and restarted (SimCluster.restartForLiveness).
 */
export function restartForLiveness(trace: (line: string) => void, clusters: readonly { restartForLiveness(fullRestart: boolean): void }[], fullRestart: boolean): void {
  trace(`liveness: heal, reliable network, restart ${fullRestart ? "every node" : "the crashed nodes"}`);
  for (const c of clusters) c.restartForLiveness(fullRestart);
}

/** The fault injector of the safety phase (one per Raft group). */
export class Nemesis<S extends StateMachine<unknown>, R> {
  private stopped = false;
  private readonly total: number;

  constructor(private readonly cluster: SimCluster<S, R>, private readonly rng: SimRng, private readonly p: NemesisParams) {
    const w = p.weights;
    this.total = w.partition + w.heal + w.crash + w.transfer + w.pause;
  }

  start(): void {
    if (this.p.nemesisGapMs > 0 && this.total > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
  }

  private schedule(): void {
    this.cluster.timer("nemesis", this.rng.range(1, 2 * this.p.nemesisGapMs), () => {
      if (this.stopped) return;
      this.act();
      this.schedule();
    });
  }

  private act(): void {
    const c = this.cluster;
    const w = this.p.weights;
    let x = this.rng.int(this.total);
    if ((x -= w.partition) < 0) return this.partition();
    if ((x -= w.heal) < 0) {
      c.net.heal();
      c.trace("nemesis heal");
      if (this.rng.bool(0.5)) this.spuriousReset();
      return;
    }
    if ((x -= w.crash) < 0) return this.crash();
    if ((x -= w.pause) < 0) return this.pause();
    const leader = c.leader();
    if (!leader) return;
    const to = this.rng.pick(c.ids.filter((id) => id !== leader.id));
    c.stats.transfers++;
    c.trace(`nemesis transfer n${leader.id} -> n${to}`);
    leader.node!.transferLeader(to);
  }

  private partition(): void {
    const c = this.cluster;
    const ids = c.ids;
    const kind = this.rng.int(4);
    // A new partition replaces the previous one; a one-way cut (kind 2) adds to it.
    if (kind !== 2) c.net.heal();
    if (kind === 0) {
      const id = this.rng.pick(ids);
      c.net.partition([[id], ids.filter((x) => x !== id)]);
    } else if (kind === 1) {
      const shuffled = this.rng.shuffle(ids);
      const k = this.rng.range(1, ids.length - 1);
      c.net.partition([shuffled.slice(0, k), shuffled.slice(k)]);
    } else if (kind === 2) {
      const [a, b] = this.rng.shuffle(ids) as [NodeId, NodeId];
      c.net.cut(a, b, true);
    } else {
      // Isolate the leader (the classic stale-leader scenario).
      const l = c.leader();
      if (l) c.net.partition([[l.id], ids.filter((x) => x !== l.id)]);
    }
    c.trace(`nemesis partition kind:${kind} cuts:${c.net.describeCuts()}`);
  }

  /**
   * A follower's link to the live leader resets (a network blip): the follower is told the
   * leader went away although it did not (Raft.leaderUnreachable must stay harmless).
   */
  private spuriousReset(): void {
    const c = this.cluster;
    const leader = c.leader();
    const others = leader ? c.ids.filter((id) => id !== leader.id) : [];
    if (!leader || others.length === 0) return;
    const to = this.rng.pick(others);
    c.trace(`nemesis reset n${leader.id} at n${to}`);
    c.net.spuriousReset(leader.id, to);
  }

  /** Stops a node (the leader half the time) for a while: GC pause, SIGSTOP, VM migration. */
  private pause(): void {
    const c = this.cluster;
    const leader = c.leader();
    const up = c.ids.filter((id) => c.isUp(id) && !c.isPaused(id));
    if (up.length === 0) return;
    const id = leader && !c.isPaused(leader.id) && this.rng.bool(0.5) ? leader.id : this.rng.pick(up);
    c.pause(id);
    c.timer(`nemesis resume n${id}`, this.rng.range(10, 600), () => c.resume(id));
  }

  private crash(): void {
    const c = this.cluster;
    const up = c.ids.filter((id) => c.isUp(id));
    if (up.length === 0) return;
    const id = this.rng.pick(up);
    const down = this.rng.range(0, this.p.downMsMax);
    const crash = (): void => {
      c.crash(id);
      c.timer(`nemesis restart n${id}`, down, () => {
        if (this.stopped || c.isUp(id)) return;
        c.restart(id);
      });
    };
    if (this.rng.bool(0.5)) {
      crash();
      return;
    }
    // Crash between two writes: right after the k-th next write of that node is durable.
    const disk = c.disks.get(id)!;
    if (disk.crashAfterWrites !== undefined) return;
    disk.crashAfterWrites = this.rng.range(1, 6);
    c.trace(`nemesis n${id} crashes after ${disk.crashAfterWrites} writes`);
    disk.onCrashPoint = crash;
  }
}

/**
 * Membership churn of the safety phase: through the leader, adds a new empty node as a
 * learner, promotes a learner, removes a voter (the leader too), or replaces a voter by a
 * learner in one joint change (promote + remove; the leader leaves joint by itself). Changes
 * land amid the Nemesis's crashes and partitions. A node removed by a committed change is
 * retired (taken down for good) once every remaining member applied that change; refusals (a change pending, a lagging learner, no leader)
 * are expected and traced.
 */
export class MembershipNemesis<S extends StateMachine<unknown>, R> {
  private stopped = false;
  private nextId: number;
  proposed = 0;
  refused = 0;
  /**
   * The first configuration index at which each node was seen a member, and the newest
   * configuration seen (configurations applied on different nodes lag one another: a node is
   * retired only once a configuration newer than one that had it leaves it out).
   */
  private readonly memberSince = new Map<NodeId, number>();
  private newest: { index: number; members: NodeId[] } = { index: -1, members: [] };

  constructor(private readonly cluster: SimCluster<S, R>, private readonly rng: SimRng, private readonly gapMs: number) {
    this.nextId = Math.max(...cluster.ids) + 1;
  }

  start(): void {
    if (this.gapMs > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
  }

  private schedule(): void {
    this.cluster.timer("membership", this.rng.range(1, 2 * this.gapMs), () => {
      if (this.stopped) return;
      this.act();
      this.schedule();
    });
  }

  private act(): void {
    const c = this.cluster;
    const leader = c.leader();
    if (!leader) return;
    const conf = leader.node!.confState();
    const mem = members(conf);
    const at = leader.node!.confIndex();
    for (const id of mem) if (!this.memberSince.has(id)) this.memberSince.set(id, at);
    if (at > this.newest.index) this.newest = { index: at, members: mem };
    c.trace(`membership view n${leader.id}: ${describeConfState(conf)} @${at}`);
    // A removed node is taken down only once every remaining member has applied its removal:
    // before that, a voter unaware that the removal committed may still need its vote (or
    // its log) to get anything done.
    const applied = this.newest.members.every((id) => {
      const h = c.handles.get(id);
      return h?.alive === true && h.node !== undefined && h.node.confIndex() >= this.newest.index;
    });
    for (const id of applied ? [...c.ids] : []) {
      const since = this.memberSince.get(id);
      if (since !== undefined && since < this.newest.index && !this.newest.members.includes(id)) c.retire(id);
    }
    if (isJoint(conf)) return; // the leader leaves joint by itself
    let cc: ConfChange;
    const learner = conf.learners.length > 0 ? this.rng.pick(conf.learners) : undefined;
    if (learner !== undefined && this.rng.bool(0.5)) {
      cc = { kind: "simple", change: { type: "promote", node: learner } };
    } else if (learner !== undefined) {
      const old = this.rng.pick(conf.voters);
      cc = { kind: "enterJoint", changes: [{ type: "promote", node: learner }, { type: "remove", node: old }], autoLeave: true };
    } else if (c.ids.length < 6 && (conf.voters.length < 3 || this.rng.bool(0.6))) {
      const id = this.nextId++ as NodeId;
      c.addNode(id);
      cc = { kind: "simple", change: { type: "addLearner", node: id } };
    } else if (conf.voters.length > 1) {
      cc = { kind: "simple", change: { type: "remove", node: this.rng.pick(conf.voters) } };
    } else {
      return;
    }
    const what = JSON.stringify(cc);
    c.trace(`membership n${leader.id} propose ${what}`);
    leader.node!.proposeConfChange(cc).then(
      (index) => {
        this.proposed++;
        c.trace(`membership ${what} at #${index}`);
      },
      (e: Error) => {
        this.refused++;
        c.trace(`membership ${what} refused: ${e.message}`);
      },
    );
  }
}
