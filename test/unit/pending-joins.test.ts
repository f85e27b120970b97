/**
 * Pending joins and their abort in the controller's state machine (controller/pending-joins.ts,
 * controller/state-machine.ts): a join is pending until AckJoin; while pending, changes that
 * move its shards away or remove a group holding data it is to receive are refused as
 * retryable (and not remembered, so a retry is applied afresh); a Leave of the pending group
 * aborts it, giving each shard back to its previous holder (shards nobody held before to the
 * remaining groups, balanced) and recording the abort in the config; AckJoin after an abort
 * says so.
 */
import { describe, expect, it } from "vitest";
import type { ConfigNum, GroupId, LogIndex, ShardId } from "../../common/ids";
import { abortedJoinCovering, initialConfig } from "../../controller/config";
import { decodeConfig, encodeConfig } from "../../controller/codec";
import { ControllerCore, type ControllerOp } from "../../controller/state-machine";

const g = (n: number) => n as GroupId;
const join = (...gids: number[]): ControllerOp => ({ kind: "join", groups: new Map(gids.map((x) => [g(x), [`127.0.0.1:${7000 + x}`]])) });
const leave = (...gids: number[]): ControllerOp => ({ kind: "leave", gids: gids.map(g) });
const move = (shard: number, gid: number): ControllerOp => ({ kind: "move", shard: shard as ShardId, gid: g(gid) });
const ack = (gid: number, joinNum: number): ControllerOp => ({ kind: "ackJoin", gid: g(gid), joinNum: joinNum as ConfigNum });

function core(n = 6) {
  const c = new ControllerCore(initialConfig(n), new Map());
  let index = 0;
  let seq = 0;
  const client = "00".repeat(16);
  const run = (op: ControllerOp, s = ++seq) => c.apply({ clientId: client, seq: s, op, shardCount: n }, ++index as LogIndex);
  return { c, run };
}

describe("pending joins", () => {
  it("a joined group is pending until acknowledged; the ack is idempotent", () => {
    const { c, run } = core();
    expect(run(join(1)).result).toEqual({ ok: true, configNum: 1 });
    expect([...c.pendingJoins().keys()]).toEqual([1]);
    expect(c.pendingJoins().get(g(1))!.handedFrom).toEqual(new Map([0, 1, 2, 3, 4, 5].map((s) => [s, 0])));
    const a = run(ack(1, 1));
    expect(a.result).toEqual({ ok: true, configNum: 1 });
    expect(a.pendingChanged).toBe(true);
    expect(c.pendingJoins().size).toBe(0);
    const again = run(ack(1, 1));
    expect(again.result).toEqual({ ok: true, configNum: 1 });
    expect(again.pendingChanged).toBe(false);
  });

  it("refuses, retryably and without remembering it, a change moving shards away from a pending group", () => {
    const { c, run } = core();
    run(join(1));
    run(ack(1, 1));
    run(join(2)); // config 2: group 2 pending, shards 3-5 handed from group 1
    expect(c.pendingJoins().get(g(2))!.handedFrom).toEqual(new Map([[3, 1], [4, 1], [5, 1]]));
    const moved = run(move(3, 1), 10);
    expect(moved.result).toMatchObject({ ok: false, retryable: true });
    expect((moved.result as { reason: string }).reason).toMatch(/away from group 2: group 2 has not acknowledged its join \(config 2\)/);
    expect(moved.dedup).toBeUndefined();
    expect(c.latest.num).toBe(2);
    // A Leave of the group holding what group 2 is to receive waits too.
    expect(run(leave(1), 11).result).toMatchObject({ ok: false, retryable: true, reason: expect.stringMatching(/group 1 still holds shards 3,4,5 that group 2 is to receive/) });
    // A join whose rebalance takes shards from group 2 waits as well.
    expect(run(join(3), 12).result).toMatchObject({ ok: false, retryable: true });
    // Once acknowledged, the same request (same seq: it was not remembered) goes through.
    run(ack(2, 2), 13);
    expect(run(move(3, 1), 14).result).toEqual({ ok: true, configNum: 3 });
  });

  it("moves toward a pending group are allowed and recorded", () => {
    const { c, run } = core();
    run(join(1, 2));
    run(ack(1, 1));
    const before = c.latest.shards.findIndex((x) => x === 1);
    expect(run(move(before, 2)).result).toEqual({ ok: true, configNum: 2 });
    expect(c.pendingJoins().get(g(2))!.handedFrom.get(before as ShardId)).toBe(1);
  });

  it("a Leave of a pending group aborts its join: shards back to their previous holders, abort recorded, ack refused", () => {
    const { c, run } = core();
    run(join(1));
    run(ack(1, 1));
    const c1 = c.latest;
    run(join(7)); // config 2
    const r = run(leave(7));
    expect(r.result).toEqual({ ok: true, configNum: 3 });
    expect(c.latest.shards).toEqual(c1.shards);
    expect([...c.latest.groups.keys()]).toEqual([1]);
    expect(c.latest.abortedJoins).toEqual([{ gid: 7, joinNum: 2, abortNum: 3 }]);
    expect(c.pendingJoins().size).toBe(0);
    expect(abortedJoinCovering(c.latest, g(7), 2 as ConfigNum)).toEqual({ gid: 7, joinNum: 2, abortNum: 3 });
    expect(abortedJoinCovering(c.latest, g(7), 3 as ConfigNum)).toBeUndefined();
    expect(run(ack(7, 2)).result).toEqual({ ok: true, configNum: 3, abortedNum: 3 });
    // The abort travels with later configs and through the wire form.
    run(move(0, 1));
    expect(c.latest.abortedJoins).toEqual([{ gid: 7, joinNum: 2, abortNum: 3 }]);
    expect(decodeConfig(encodeConfig(c.latest))).toEqual(c.latest);
  });

  it("aborting a first join hands the shards nobody held before to the remaining groups, balanced; nothing else moves", () => {
    const { c, run } = core(9);
    // The cluster's first join: groups 1, 2 and 3 get shards 0-2, 3-5 and 6-8 from nobody.
    expect(run(join(1, 2, 3)).result).toEqual({ ok: true, configNum: 1 });
    run(ack(1, 1));
    run(ack(3, 1));
    expect(c.latest.shards).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
    // Group 2 never acknowledged: its shards had no holder before, so the rebalancer places
    // them among groups 1 and 3 (5 and 4 shards); shards 0-2 and 6-8 stay where they are.
    expect(run(leave(2)).result).toEqual({ ok: true, configNum: 2 });
    expect(c.latest.shards).toEqual([1, 1, 1, 1, 1, 3, 3, 3, 3]);
    expect([...c.latest.groups.keys()]).toEqual([1, 3]);
    expect(c.latest.abortedJoins).toEqual([{ gid: 2, joinNum: 1, abortNum: 2 }]);
  });

  it("a pending group handed a shard by an abort records it as from nobody, so its own abort places it again", () => {
    const { c, run } = core(6);
    run(join(1, 2, 3)); // config 1: two shards each, from nobody; all three pending
    run(ack(1, 1));
    expect(run(leave(2)).result).toEqual({ ok: true, configNum: 2 });
    expect(c.latest.shards).toEqual([1, 1, 1, 3, 3, 3]);
    // Group 3 (still pending) got shard 3 from the aborted group 2, which had it from nobody.
    expect(c.pendingJoins().get(g(3))!.handedFrom.get(3 as ShardId)).toBe(0);
    expect(run(leave(3)).result).toEqual({ ok: true, configNum: 3 });
    expect(c.latest.shards).toEqual([1, 1, 1, 1, 1, 1]);
    expect(c.latest.abortedJoins).toEqual([{ gid: 2, joinNum: 1, abortNum: 2 }, { gid: 3, joinNum: 1, abortNum: 3 }]);
  });

  it("aborting the only group's join returns every shard to unassigned", () => {
    const { c, run } = core();
    run(join(7));
    expect(run(leave(7)).result).toEqual({ ok: true, configNum: 2 });
    expect(c.latest.shards.every((x) => x === 0)).toBe(true);
    expect(c.latest.groups.size).toBe(0);
  });

  it("a Leave mixing a pending group with others is refused for good", () => {
    const { run } = core();
    run(join(1));
    run(ack(1, 1));
    run(join(7));
    expect(run(leave(1, 7)).result).toMatchObject({ ok: false, field: "gids", reason: expect.stringMatching(/group 7 has not acknowledged its join/) });
  });
});
