/**
 * The replica driver (raft/replica-driver.ts) over the simulator's real RaftNodes
 * (test/lib/sim-group.ts), one driver per replica incarnation as the daemons run it, against a
 * stored intent kept the way the controller keeps it (its own checks: validateBlocked,
 * validateMembers, intentSatisfied): a stored replacement is carried out by whoever leads
 * and reported done with the members; a leader crashed in the middle is succeeded by one that
 * finishes it; a refusal is reported as the blocked reason and retried until it goes through;
 * a cancel stops the run with nothing more proposed; seeded runs kill -9 and restart replicas
 * one at a time during a replacement, which completes once they run. The step `replica list`
 * derives from a RaftMembers reply is the leader's own throughout. With a long idle poll (as
 * the shard server runs it while the controller's WatchIntent stream kicks the driver), an
 * idle leader does not look again until kicked, and a kick that comes while a look is in
 * flight is not lost.
 */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../common/errors";
import type { LogIndex, NodeId } from "../../common/ids";
import { blockedReasonBytesMax, type Member, type ReplicaChange, type ReplicaIntent } from "../../common/replica-change";
import { intentSatisfied, validateBlocked, validateMembers } from "../../controller/replica-intents";
import type { RaftNode } from "../../raft/node";
import { replicaChangeStep } from "../../raft/replica-change";
import { type IntentSource, ReplicaDriver } from "../../raft/replica-driver";
import type { SimCluster } from "../sim/cluster";
import { expectAllApplied, leaderOf, runUntil, settle, simGroup, write } from "../lib/sim-group";
import { executeReplicaChange } from "../../raft/replica-change";
import { SimRng } from "../sim/rng";
import { raftMembersToWire } from "../../raft/daemon-node";
import { confStateFromMembers, type RaftMembersReply } from "../../raft/transport/members-service";

const ids = (...xs: number[]) => xs as NodeId[];
const addressOf = (id: NodeId): string => `10.0.0.${id}:7000`;
const replace34: ReplicaChange = { kind: "replace", oldId: 3 as NodeId, newId: 4 as NodeId, address: addressOf(4 as NodeId) };
const progressEveryMs = 200;

/** One group's stored intent as the controller keeps it, and what its leaders reported. */
class StoredIntent implements IntentSource {
  intent: ReplicaIntent | undefined;
  readonly reports: { at: number; blocked: string }[] = [];
  readonly dones: (readonly Member[])[] = [];
  /** ReplicaProgress calls, refused ones too. */
  progressCalls = 0;

  constructor(protected readonly c: SimCluster) {}

  async pending(): Promise<ReplicaIntent | undefined> {
    return this.intent;
  }

  async progress(blocked: string): Promise<void> {
    this.progressCalls++;
    validateBlocked(blocked);
    if (this.intent === undefined) throw new InvalidArgumentError("gid", "group 1 has no pending replica change");
    this.intent = { ...this.intent, blocked };
    this.reports.push({ at: this.c.clock.nowMs(), blocked });
  }

  async done(members: readonly Member[]): Promise<void> {
    validateMembers(1 as never, members);
    this.dones.push(members);
    if (this.intent !== undefined && intentSatisfied(this.intent.change, members)) this.intent = undefined;
  }
}

/** A stored intent whose reads take 50 virtual ms (a Query to the controller): `onRead` runs once the value is read, before the answer arrives. */
class SlowIntent extends StoredIntent {
  reads = 0;
  onRead: (() => void) | undefined;

  override async pending(): Promise<ReplicaIntent | undefined> {
    const v = this.intent;
    this.reads++;
    this.onRead?.();
    await new Promise<void>((r) => this.c.clock.after(50, r));
    return v;
  }
}

/** Stops the drivers while virtual time runs (a SlowIntent read in flight ends on the virtual clock). */
async function stopRunning(c: SimCluster, d: { stopAll(): Promise<void> }): Promise<void> {
  let stopped = false;
  void d.stopAll().then(() => (stopped = true));
  await runUntil(c, () => stopped, "the drivers stopped");
}

/**
 * A group of 3 with replica 4 started (not a member), drivers that wait an hour between looks
 * while no intent is pending, and a SlowIntent with nothing stored; returns once the leader
 * looked once.
 */
async function idleLeader(seed: number) {
  const c = simGroup(3, seed);
  await write(c, 10, "before");
  c.addNode(4 as NodeId);
  const stored = new SlowIntent(c);
  const d = drivers(c, stored, { idlePollMs: 3_600_000 });
  await runUntil(c, () => (d.sync(), stored.reads > 0), "the leader's first look");
  return { c, stored, d };
}

/**
 * A driver for every live incarnation of every replica (a restarted replica gets a new one,
 * a crashed one's is stopped), all against `stored`. `sync` brings the set up to date: call
 * it while time runs (in a runUntil predicate).
 */
function drivers(c: SimCluster, stored: IntentSource, opts: { readonly idlePollMs?: number } = {}) {
  const running = new Map<NodeId, { node: RaftNode<unknown>; driver: ReplicaDriver }>();
  const idOfAddress = (a: string): NodeId => Number(/^10\.0\.0\.(\d+):/.exec(a)![1]) as NodeId;
  const sync = (): void => {
    for (const id of c.ids) {
      const h = c.handles.get(id);
      const node = h?.alive ? (h.node as RaftNode<unknown> | undefined) : undefined;
      const r = running.get(id);
      if (r !== undefined && r.node !== node) {
        void r.driver.stop();
        running.delete(id);
      }
      if (node !== undefined && !running.has(id)) {
        const driver = new ReplicaDriver({
          clock: c.clock, logger: { info() {}, warn() {}, debug() {}, debugEnabled: false }, name: `n${id}`,
          intentPollMs: 100, stepPollMs: 20, progressEveryMs, address: addressOf, ...opts,
          appliedConfIndex: async (a) => {
            const n = c.handles.get(idOfAddress(a));
            return n?.alive ? (n.node?.confIndex() as LogIndex | undefined) : undefined;
          },
        }, node, stored);
        driver.start();
        running.set(id, { node, driver });
      }
    }
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all([...running.values()].map((r) => r.driver.stop()));
  };
  /** What the shard server does at each WatchIntent update. */
  const kickAll = (): void => {
    for (const r of running.values()) r.driver.kick();
  };
  return { sync, stopAll, kickAll };
}

/** The replicas of the leader's configuration, as ReplicaDone reports them. */
const membersWant = (voters: number[], learners: number[] = []): Member[] =>
  [...voters.map((i) => ({ id: i as NodeId, address: addressOf(i as NodeId), learner: false })),
    ...learners.map((i) => ({ id: i as NodeId, address: addressOf(i as NodeId), learner: true }))].sort((a, b) => a.id - b.id);

describe("the replica driver carries out the group's stored intent", () => {
  it("a stored replacement: whoever leads carries it out, reports progress (one line, rate-limited) and the members once done", async () => {
    const c = simGroup(3, 11);
    await write(c, 30, "before");
    c.addNode(4 as NodeId);
    const stored = new StoredIntent(c);
    stored.intent = { change: replace34, force: false };
    const d = drivers(c, stored);
    // What `replica list` shows: the step derived from the leader's RaftMembers reply is the
    // one the leader derives from its configuration, at every moment.
    const seen = new Set<string>();
    const sampleStep = (): void => {
      const l = c.leader()?.node;
      if (l === undefined) return;
      const wire = confStateFromMembers({ members: raftMembersToWire(l.memberStatuses(), new Map()) } as unknown as RaftMembersReply);
      const step = replicaChangeStep(l.confState(), replace34);
      expect(replicaChangeStep(wire, replace34), `at ${JSON.stringify(l.confState())}`).toBe(step);
      seen.add(step);
    };
    await runUntil(c, () => (d.sync(), sampleStep(), stored.dones.length > 0), "the replacement done and reported");
    expect([...seen]).toEqual(expect.arrayContaining(["adding", "catchingUp", "done"]));
    expect(stored.dones).toEqual([membersWant([1, 2, 4])]);
    expect(stored.intent).toBeUndefined();
    const leader = c.leader()!.node!;
    expect(leader.confState().voters).toEqual(ids(1, 2, 4));
    expectAllApplied(c, leader.confIndex());
    for (const r of stored.reports) expect(Buffer.byteLength(r.blocked)).toBeLessThanOrEqual(blockedReasonBytesMax);
    for (let i = 1; i < stored.reports.length; i++) expect(stored.reports[i]!.at - stored.reports[i - 1]!.at).toBeGreaterThanOrEqual(progressEveryMs);
    // Nothing pending: the leaders propose nothing more.
    const last = leader.status().lastIndex;
    const until = c.clock.nowMs() + 2000;
    await runUntil(c, () => (d.sync(), c.clock.nowMs() >= until), "two idle seconds");
    expect(c.leader()!.node!.status().lastIndex).toBe(last);
    expect(stored.dones).toHaveLength(1);
    await write(c, 5, "after");
    await d.stopAll();
  });

  for (const at of ["catchingUp", "joint"] as const) {
    it(`the leader crashes at step ${at}: the next leader's driver finishes the replacement`, async () => {
      const c = simGroup(3, 7);
      await write(c, 30, "before");
      c.addNode(4 as NodeId);
      const first = await leaderOf(c);
      const stored = new StoredIntent(c);
      stored.intent = { change: replace34, force: false };
      const d = drivers(c, stored);
      await runUntil(c, () => (d.sync(), replicaChangeStep(first.confState(), replace34) === at), `the leader reaches step ${at}`);
      c.crash(first.id);
      await runUntil(c, () => (d.sync(), c.leader() !== undefined && c.leader()!.node !== first), "another leader");
      c.restart(first.id);
      await runUntil(c, () => (d.sync(), stored.dones.length > 0), `the replacement finished after the crash at ${at}`);
      expect(stored.intent).toBeUndefined();
      expect(stored.dones.at(-1)).toEqual(membersWant([1, 2, 4]));
      const conf = c.leader()!.node!.confState();
      expect(conf.voters).toEqual(ids(1, 2, 4));
      await write(c, 5, "after");
      await d.stopAll();
    });
  }

  it("a refusal is reported as the blocked reason and retried: the removal goes through once the voters are back", async () => {
    const c = simGroup(3, 5);
    const leader = await leaderOf(c);
    const down = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id)!;
    const other = ([1, 2, 3] as NodeId[]).find((id) => id !== leader.id && id !== down)!;
    c.crash(down);
    await runUntil(c, () => !leader.recentlyActive(down), "the leader notices the crash");
    const stored = new StoredIntent(c);
    stored.intent = { change: { kind: "remove", id: other }, force: false };
    const d = drivers(c, stored);
    await runUntil(c, () => (d.sync(), stored.intent?.blocked !== undefined && stored.intent.blocked !== ""), "a blocked reason");
    expect(stored.intent!.blocked).toBe(`remove replica ${other} would leave 1 of the voters {${[leader.id, down].sort().join(",")}} reachable ` +
      `(2 needed; not heard from: ${down}); bring them back or force the change`);
    expect(leader.confState().voters).toEqual(ids(1, 2, 3));
    c.restart(down);
    await runUntil(c, () => (d.sync(), stored.dones.length > 0), "the removal done once the voter is back");
    expect(stored.intent).toBeUndefined();
    expect(c.leader()!.node!.confState().voters).not.toContain(other);
    await d.stopAll();
  });

  it("a cancelled intent stops the run: nothing more is proposed, nothing reported done", async () => {
    const c = simGroup(3, 3);
    c.addNode(4 as NodeId);
    const leader = await leaderOf(c);
    const add = await settle(c, executeReplicaChange(leader, { kind: "addLearner", id: 4 as NodeId, address: addressOf(4 as NodeId) }, { clock: c.clock, pollMs: 20 }), "add 4");
    expect(add.error).toBeUndefined();
    // A learner that lags, not one that never answered (that one waits on another condition:
    // test/unit/replica-change.test.ts): the addition is done once committed by the voters, and the learner's first
    // answer may still be on its way then.
    await runUntil(c, () => (leader.memberStatuses().find((m) => m.id === 4)?.match ?? 0) > 0, "learner 4 to answer the leader");
    c.pause(4 as NodeId);
    await write(c, 60, "lag");
    const stored = new StoredIntent(c);
    stored.intent = { change: { kind: "promote", id: 4 as NodeId }, force: false };
    const d = drivers(c, stored);
    await runUntil(c, () => (d.sync(), /^cannot promote learner 4: its log reaches index \d+/.test(stored.intent?.blocked ?? "")), "the lag reported");
    stored.intent = undefined; // shardctl replica cancel
    const settleUntil = c.clock.nowMs() + 1000;
    await runUntil(c, () => (d.sync(), c.clock.nowMs() >= settleUntil), "the cancel seen");
    const calls = stored.progressCalls;
    c.resume(4 as NodeId);
    const until = c.clock.nowMs() + 3000;
    await runUntil(c, () => (d.sync(), c.clock.nowMs() >= until), "three seconds with the learner caught up");
    expect(c.leader()!.node!.confState().learners).toEqual(ids(4));
    expect(stored.dones).toEqual([]);
    expect(stored.progressCalls).toBe(calls); // nothing reported on a cancelled intent
    await d.stopAll();
  });

  it("with a long idle poll the leader looks only when kicked: a stored intent waits for the kick, then is carried out at once", async () => {
    const { c, stored, d } = await idleLeader(21);
    const reads = stored.reads;
    stored.intent = { change: replace34, force: false };
    const until = c.clock.nowMs() + 1000;
    await runUntil(c, () => (d.sync(), c.clock.nowMs() >= until), "an idle second");
    // At intentPollMs (100 ms) the leader would have looked 10 times and started the change.
    expect(stored.reads).toBe(reads);
    expect(c.leader()!.node!.confState().voters).toEqual(ids(1, 2, 3));
    d.kickAll();
    await runUntil(c, () => (d.sync(), stored.dones.length > 0), "the replacement done after the kick", 10_000);
    expect(stored.dones).toEqual([membersWant([1, 2, 4])]);
    await stopRunning(c, d);
  });

  it("a kick while a look is in flight is not lost: the leader looks again at once instead of waiting out the idle poll", async () => {
    const { c, stored, d } = await idleLeader(22);
    // The next look reads "none"; the intent is stored and the kick comes before its answer.
    stored.onRead = () => {
      stored.onRead = undefined;
      stored.intent = { change: replace34, force: false };
      queueMicrotask(() => d.kickAll());
    };
    d.kickAll();
    await runUntil(c, () => (d.sync(), stored.dones.length > 0), "the replacement done", 10_000);
    expect(stored.dones).toEqual([membersWant([1, 2, 4])]);
    await stopRunning(c, d);
  });

  /**
   * Seeded: while drivers carry out a stored replacement, one replica at a time (any of the
   * four, the leader included) is killed -9 and restarted after a random pause, for 3 virtual
   * seconds; then every replica runs. The change must be done within 30 virtual seconds, with
   * the Raft checkers (commit durable on a quorum of the configuration in effect, ...) silent
   * throughout. The seed replays the run: `REPLICA_DRIVER_SEEDS=FROM-TO npx vitest run
   * test/unit/replica-driver.test.ts -t seed` runs that range instead of the fixed 1-8.
   */
  for (const seed of driverSeeds()) {
    it(`seed ${seed}: a replacement amid crashes and restarts completes once the replicas run`, async () => {
      const c = simGroup(3, 100 + seed);
      const rng = new SimRng(seed);
      await write(c, 20, "before");
      c.addNode(4 as NodeId);
      const old = (1 + rng.int(3)) as NodeId;
      const stored = new StoredIntent(c);
      const change: ReplicaChange = { kind: "replace", oldId: old, newId: 4 as NodeId, address: addressOf(4 as NodeId) };
      stored.intent = { change, force: false };
      const d = drivers(c, stored);
      const end = c.clock.nowMs() + 3000;
      let down: NodeId | undefined;
      while (c.clock.nowMs() < end) {
        const at = c.clock.nowMs() + rng.between(50, 400);
        await runUntil(c, () => (d.sync(), c.clock.nowMs() >= at), "the next fault");
        if (down === undefined) {
          down = c.ids[rng.int(c.ids.length)]!;
          c.crash(down);
        } else {
          c.restart(down);
          down = undefined;
        }
      }
      if (down !== undefined) c.restart(down);
      await runUntil(c, () => (d.sync(), stored.dones.length > 0 && stored.intent === undefined), `replace ${old} by 4 done after the faults`);
      const leader = await leaderOf(c);
      expect(leader.confState().voters).toEqual(ids(1, 2, 3, 4).filter((i) => i !== old));
      expect(stored.dones.at(-1)).toEqual(membersWant([1, 2, 3, 4].filter((i) => i !== old)));
      await write(c, 5, "after");
      await d.stopAll();
    });
  }
});

/** The seeds of the seeded runs: 1-8, or the range `FROM-TO` in $REPLICA_DRIVER_SEEDS (development runs). */
function driverSeeds(): number[] {
  const range = process.env["REPLICA_DRIVER_SEEDS"];
  if (range === undefined || range === "") return [1, 2, 3, 4, 5, 6, 7, 8];
  const m = /^(\d+)-(\d+)$/.exec(range);
  if (m === null || Number(m[2]) < Number(m[1])) throw new Error(`invalid REPLICA_DRIVER_SEEDS: want FROM-TO (e.g. 1-1000), got ${JSON.stringify(range)}`);
  return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
}
