/**
 * The controller's request handling (controller/service.ts) over an in-memory Raft node that
 * applies each proposal at once to the pure ControllerCore: leadership, the fast validation
 * and its ReadIndex barrier, the join check, de-duplication of retries, the RetryLater of a
 * change stacked on a pending join, the cluster id, Watch feeds, stop. No transport, no timers:
 * InitCluster's retry runs on a ManualClock.
 */
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../common/env";
import {
  BackpressureError, InvalidArgumentError, NotLeaderError, RetryLaterError, ServersUnansweredError, StoppedError, UnreachableError,
} from "../../common/errors";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId, Term } from "../../common/ids";
import { decodeLogEntry } from "../../controller/codec";
import { type Config, groupMembers, initialConfig } from "../../controller/config";
import type { IdentifyAnswer } from "../../controller/join-check";
import {
  type ControllerNode, type ControllerStateView, ControllerService, type RequestId, clusterInitRetryMs, watchStreamsMax,
} from "../../controller/service";
import { type CommandResult, ControllerCore, type ControllerOp } from "../../controller/state-machine";
import type { SoftState } from "../../raft/core/types";
import { ManualClock } from "../lib/manual-clock";
import { SimRng } from "../sim/rng";
import { waitFor } from "../lib/wait";
import { nextTurn } from "../../common/real-env";

const shardCount = 8;
const g = (n: number) => n as GroupId;
const addr = (gid: number, i: number) => `10.0.${gid}.${i}:7000`;
const peers = new Map<NodeId, string>([[1 as NodeId, "c1:7001"], [2 as NodeId, "c2:7002"], [3 as NodeId, "c3:7003"]]);

/** A Raft node of one: a proposal is applied at once (or fails as `failNext` says). */
class FakeNode implements ControllerNode, ControllerStateView {
  soft: SoftState = { role: "leader", leader: 1 as NodeId, term: 1 as Term };
  readonly core = new ControllerCore(initialConfig(shardCount), new Map());
  readonly configs: Config[] = [initialConfig(shardCount)];
  cluster: string | undefined;
  proposals: (ReturnType<typeof decodeLogEntry>)[] = [];
  barriers = 0;
  index = 0;
  /** The next proposals fail with these errors, in turn. */
  failNext: Error[] = [];
  onConfig: () => void = () => undefined;

  softState(): SoftState {
    return this.soft;
  }
  status() {
    return { ...this.soft, commit: this.index as LogIndex, applied: this.index as LogIndex, firstIndex: 1 as LogIndex, snapshotIndex: 0 as LogIndex };
  }
  async propose(data: Uint8Array): Promise<CommandResult> {
    const f = this.failNext.shift();
    if (f) throw f;
    if (this.soft.role !== "leader") throw new NotLeaderError(this.soft.leader);
    const e = decodeLogEntry(data);
    this.proposals.push(e);
    this.index++;
    if ("kind" in e) {
      this.cluster ??= e.clusterId;
      return { ok: false, field: "entry", reason: "cluster id entry" };
    }
    const out = this.core.apply(e, this.index as LogIndex);
    if (out.created) {
      this.configs.push(out.created);
      this.onConfig();
    }
    return out.result;
  }
  wakes = 0;
  wakeGroup(): void {
    this.wakes++;
  }
  async readBarrier(): Promise<void> {
    this.barriers++;
    if (this.soft.role !== "leader") throw new NotLeaderError(this.soft.leader);
  }
  shardCount() {
    return shardCount;
  }
  clusterId() {
    return this.cluster;
  }
  latest() {
    return this.core.latest;
  }
  latestNum() {
    return this.core.latest.num;
  }
  async config(num: number) {
    return this.configs[num];
  }
  pendingJoins() {
    return this.core.pendingJoins();
  }
  replicaState() {
    return this.core.replicaState();
  }
  stackingRefusal(op: ControllerOp) {
    return this.core.stackingRefusal(op);
  }
  dedupEntry(clientId: string) {
    return this.core.dedupEntries().get(clientId);
  }
}

/** A service over a FakeNode whose shard servers answer Identify as `servers` says (default: as replicas of their group). */
function setup(servers: (address: string) => IdentifyAnswer = identifyAsReplica, opts: { recordMembers?: boolean } = {}) {
  const node = new FakeNode();
  node.cluster = "ab".repeat(16);
  const clock = new ManualClock();
  const asked: string[] = [];
  const svc = new ControllerService({
    id: 1 as NodeId, node, sm: node, clock, rng: new SimRng(7), logger: silentLogger,
    members: peers, recordMembers: opts.recordMembers === true,
    identify: async (a) => {
      asked.push(a);
      return servers(a);
    },
  });
  node.onConfig = () => svc.onNewConfig();
  return { node, svc, clock, asked };
}

function identifyAsReplica(address: string): IdentifyAnswer {
  const m = /^10\.0\.(\d+)\.(\d+):/.exec(address)!;
  return { ok: true, identity: { gid: Number(m[1]), id: Number(m[2]), shardCount, clusterId: "ab".repeat(16), hasData: false } };
}

let seq = 0;
const client = "cd".repeat(16);
const id = (s = ++seq): RequestId => ({ clientId: client, seq: s });
const joinOp = (...gids: number[]) =>
  ({ kind: "join", groups: new Map(gids.map((x) => [g(x), [addr(x, 1), addr(x, 2), addr(x, 3)]])) }) as const;

describe("controller service: members and replica changes", () => {
  it("a checked join records the replica id each server gave; a forced one records them as unknown (0)", async () => {
    const { node, svc } = setup((a) => (a === addr(1, 3) ? { ok: false, error: "connection refused", answered: false } : identifyAsReplica(a)));
    expect(await svc.join(id(), joinOp(1))).toBe(1);
    expect(groupMembers(node.latest(), g(1)).map((m) => m.id)).toEqual([1, 2, 0]);
    await svc.ackJoin(id(), { kind: "ackJoin", gid: g(1), joinNum: 1 as ConfigNum });
    expect(await svc.join(id(), joinOp(2), { force: true })).toBe(2);
    expect(groupMembers(node.latest(), g(2)).map((m) => m.id)).toEqual([0, 0, 0]);
  });

  it("a leader records the controller group's members from its peers once (one entry, no config); Query returns them", async () => {
    const { node, svc } = setup(identifyAsReplica, { recordMembers: true });
    svc.onSoftState({ role: "leader", leader: 1 as NodeId, term: 1 as Term });
    await waitFor(() => node.replicaState().controllers.length === 3, { timeoutMs: 5000, what: "the controller members recorded" });
    expect(node.replicaState().controllers).toEqual([...peers].map(([i, address]) => ({ id: i, address, learner: false })));
    expect(node.latestNum()).toBe(0);
    const proposed = node.proposals.length;
    svc.onSoftState({ role: "leader", leader: 1 as NodeId, term: 2 as Term });
    await new Promise<void>((r) => nextTurn(r)); // the leader's check runs in a promise chain
    expect(node.proposals.length).toBe(proposed); // recorded: nothing proposed again
    expect((await svc.query(-1)).replicas.controllers).toHaveLength(3);
  });

  it("a replica change refused at the edge proposes nothing; a stored one is in Query's replica state", async () => {
    const { node, svc } = setup();
    await svc.join(id(), joinOp(1));
    await svc.ackJoin(id(), { kind: "ackJoin", gid: g(1), joinNum: 1 as ConfigNum });
    const before = node.proposals.length;
    await expect(svc.replica(id(), { kind: "replicaChange", gid: g(1), change: { kind: "promote", id: 2 as NodeId }, force: false }))
      .rejects.toThrow("invalid id: replica 2 of group 1 is a voter already; only a learner can be promoted");
    expect(node.proposals.length).toBe(before);
    expect(await svc.replica(id(), { kind: "replicaChange", gid: g(1), change: { kind: "remove", id: 3 as NodeId }, force: true })).toBe(1);
    expect((await svc.query(-1)).replicas.intents.get(g(1))).toEqual({ change: { kind: "remove", id: 3 }, force: true });
  });

  it("the controller leader reports on its own intent under its own request ids: progress stored, done records the members and clears it", async () => {
    const { node, svc } = setup(identifyAsReplica, { recordMembers: true });
    svc.onSoftState({ role: "leader", leader: 1 as NodeId, term: 1 as Term });
    await waitFor(() => node.replicaState().controllers.length === 3, { timeoutMs: 5000, what: "the controller members recorded" });
    const change = { kind: "replace", oldId: 3 as NodeId, newId: 4 as NodeId, address: "c4:7004" } as const;
    await svc.replica(id(), { kind: "replicaChange", gid: g(0), change, force: false });
    await svc.reportOwn({ kind: "replicaProgress", gid: g(0), blocked: "learner 4 at c4:7004 has not answered the leader" });
    expect(node.replicaState().intents.get(g(0))).toEqual({ change, force: false, blocked: "learner 4 at c4:7004 has not answered the leader" });
    const members = [1, 2, 4].map((i) => ({ id: i as NodeId, address: `c${i}:700${i}`, learner: false }));
    await svc.reportOwn({ kind: "replicaDone", gid: g(0), members });
    expect(node.replicaState().intents.has(g(0))).toBe(false);
    expect(node.replicaState().controllers).toEqual(members);
    // A refused report rejects with its one line (nothing pending any more).
    await expect(svc.reportOwn({ kind: "replicaProgress", gid: g(0), blocked: "x" })).rejects.toThrow("invalid gid: the controller group has no pending replica change");
    node.soft = { role: "follower", leader: 2 as NodeId, term: 2 as Term };
    await expect(svc.reportOwn({ kind: "replicaDone", gid: g(0), members })).rejects.toBeInstanceOf(NotLeaderError);
  });
});

describe("controller service", () => {
  it("a follower answers NotLeader with the leader's address and proposes nothing", async () => {
    const { node, svc } = setup();
    node.soft = { role: "follower", leader: 2 as NodeId, term: 3 as Term };
    for (const p of [svc.join(id(), joinOp(1)), svc.query(-1), svc.move(id(), { kind: "move", shard: 0 as ShardId, gid: g(1) })]) {
      const e = await p.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NotLeaderError);
      expect(e).toMatchObject({ leaderHint: 2, leaderAddress: "c2:7002" });
    }
    expect(node.proposals).toEqual([]);
    // Each refusal wakes a quiesced group (its leader may be cut off silently).
    expect(node.wakes).toBe(3);
    expect(svc.status()).toMatchObject({ id: 1, role: "follower", leader: 2, leaderAddress: "c2:7002", latestConfigNum: 0, shardCount });
  });

  it("a NotLeader from the node (leadership lost mid-request) gets the new leader's address", async () => {
    const { node, svc } = setup();
    node.failNext = [new NotLeaderError(3 as NodeId)];
    await expect(svc.join(id(), joinOp(1), { force: true })).rejects.toMatchObject({ leaderHint: 3, leaderAddress: "c3:7003" });
  });

  it("a join is checked with Identify and refused with no config unless a majority answers as replicas", async () => {
    const { node, svc, asked } = setup((a) => (a === addr(1, 1) ? identifyAsReplica(a) : { ok: false, error: "connection refused", answered: false }));
    const e = await svc.join(id(), joinOp(1)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as InvalidArgumentError).field).toBe("groups");
    expect((e as InvalidArgumentError).reason).toContain("group 1 needs 2 of 3 servers");
    expect(asked.sort()).toEqual([addr(1, 1), addr(1, 2), addr(1, 3)]);
    expect(node.proposals).toEqual([]);
    // --force skips the check.
    expect(await svc.join(id(), joinOp(1), { force: true })).toBe(1);
    expect(asked).toHaveLength(3);
  });

  it("a join refused only for servers that gave no answer says so (ServersUnansweredError naming them); one answering as another group's is a plain refusal", async () => {
    const refused = { ok: false, error: "connection refused", answered: false } as const;
    const { node, svc } = setup((a) => (a === addr(1, 1) ? identifyAsReplica(a) : refused));
    const e = await svc.join(id(), joinOp(1)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ServersUnansweredError);
    expect(e).toMatchObject({ field: "groups", unanswered: [{ address: addr(1, 2), reason: "connection refused" }, { address: addr(1, 3), reason: "connection refused" }] });
    expect(node.proposals).toEqual([]);

    // 10.0.1.2 answers as replica 2 of group 2: waiting for 10.0.1.3 cannot make group 1 whole.
    const other = setup((a) => (a === addr(1, 3) ? refused : a === addr(1, 2) ? identifyAsReplica(addr(2, 2)) : identifyAsReplica(a)));
    const final = await other.svc.join(id(), joinOp(1)).catch((x: unknown) => x);
    expect(final).toBeInstanceOf(InvalidArgumentError);
    expect(final).not.toBeInstanceOf(ServersUnansweredError);
    expect((final as InvalidArgumentError).reason).toContain(`${addr(1, 2)} is replica 2 of group 2; ${addr(1, 3)} connection refused`);
  });

  it("a retried join gets its config number back without the checks, and is applied once", async () => {
    const { node, svc, asked } = setup();
    const req = id();
    expect(await svc.join(req, joinOp(1))).toBe(1);
    expect(asked).toHaveLength(3);
    // The same request again (its reply was lost): group 1 is in the config now, which the
    // fast validation would refuse; the duplicate table answers instead.
    expect(await svc.join(req, joinOp(1))).toBe(1);
    expect(asked).toHaveLength(3);
    expect(node.latestNum()).toBe(1);
    expect(node.barriers).toBe(0);
    // A new request for the same group is refused, after a barrier, with nothing proposed.
    const before = node.proposals.length;
    await expect(svc.join(id(), joinOp(1), { force: true })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(node.barriers).toBe(1);
    expect(node.proposals.length).toBe(before);
  });

  it("a change that would move shards away from a pending group is RetryLater until it acknowledges", async () => {
    const { node, svc } = setup();
    expect(await svc.join(id(), joinOp(1))).toBe(1);
    const second = id();
    await expect(svc.join(second, joinOp(2))).rejects.toBeInstanceOf(RetryLaterError);
    expect(node.latestNum()).toBe(1);
    expect(await svc.ackJoin({ clientId: "ee".repeat(16), seq: 1 }, { kind: "ackJoin", gid: g(1), joinNum: 1 as ConfigNum })).toBe(0);
    expect(await svc.join(second, joinOp(2))).toBe(2);
  });

  it("a leave of a pending group aborts its join; its late AckJoin learns the abort config", async () => {
    const { svc } = setup();
    expect(await svc.join(id(), joinOp(1), { force: true })).toBe(1);
    expect(await svc.leave(id(), { kind: "leave", gids: [g(1)] })).toBe(2);
    expect(await svc.ackJoin({ clientId: "ee".repeat(16), seq: 1 }, { kind: "ackJoin", gid: g(1), joinNum: 1 as ConfigNum })).toBe(2);
  });

  it("query is linearizable (a barrier first), answers old and latest configs and refuses a bad number", async () => {
    const { node, svc } = setup();
    await svc.join(id(), joinOp(1), { force: true });
    const latest = await svc.query(-1);
    expect(latest.config.num).toBe(1);
    expect(latest.clusterId).toBe("ab".repeat(16));
    expect((await svc.query(0)).config.groups.size).toBe(0);
    expect((await svc.query(99)).config.num).toBe(1);
    expect(node.barriers).toBe(3);
    await expect(svc.query(-2)).rejects.toMatchObject({ field: "num" });
    await expect(svc.query(1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("a new leader with no cluster id proposes one, retrying on the clock; a query waits for it", async () => {
    const { node, svc, clock } = setup();
    node.cluster = undefined;
    node.failNext = [new UnreachableError("disk", "slow")];
    svc.onSoftState(node.soft);
    const q = svc.query(-1);
    await flush();
    expect(node.cluster).toBeUndefined();
    expect(clock.pending).toBe(1);
    clock.advance(clusterInitRetryMs);
    const r = await q;
    expect(r.clusterId).toMatch(/^[0-9a-f]{32}$/);
    expect(node.cluster).toBe(r.clusterId);
    expect(node.proposals.filter((p) => "kind" in p)).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it("a watch feed streams configs in order from its start, waits for new ones and ends when closed", async () => {
    const { svc } = setup();
    await svc.join(id(), joinOp(1), { force: true });
    const feed = svc.watch(1);
    expect((await feed.next())?.num).toBe(1);
    const waiting = feed.next();
    await svc.ackJoin({ clientId: "ee".repeat(16), seq: 1 }, { kind: "ackJoin", gid: g(1), joinNum: 1 as ConfigNum });
    await svc.join(id(), joinOp(2), { force: true });
    expect((await waiting)?.num).toBe(2);
    const end = feed.next();
    feed.close();
    expect(await end).toBeUndefined();
    expect(() => svc.watch(-1)).toThrow(InvalidArgumentError);
  });

  it(`at most ${watchStreamsMax} feeds at once; stop closes them and refuses every request`, async () => {
    const { svc } = setup();
    const feeds = Array.from({ length: watchStreamsMax }, () => svc.watch(0));
    expect(() => svc.watch(0)).toThrow(BackpressureError);
    feeds[0]!.close();
    feeds[0] = svc.watch(0);
    const waiting = feeds[1]!.next().then(() => feeds[1]!.next());
    svc.stop();
    expect(await waiting).toBeUndefined();
    expect(feeds.every((f) => !f.isOpen)).toBe(true);
    await expect(svc.query(-1)).rejects.toBeInstanceOf(StoppedError);
    await expect(svc.join(id(), joinOp(1))).rejects.toBeInstanceOf(StoppedError);
    expect(() => svc.status()).toThrow(StoppedError);
    expect(() => svc.watch(0)).toThrow(StoppedError);
  });
});

/** Lets pending promise callbacks run (no timers involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
