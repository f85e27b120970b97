/**
 * Replica changes on the controller side: members in the config (recorded by Join from the
 * join check's ids, by ReplicaDone), stored intents (ReplicaChange, ReplicaCancel,
 * ReplicaProgress, ReplicaDone) in the pure state machine with their edge validation, their
 * wire forms, and their durability (RocksDB records, snapshots, directories of the previous
 * format).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigNum, GroupId, LogIndex, NodeId, Term } from "../../common/ids";
import type { Member, ReplicaChange } from "../../common/replica-change";
import { type Config, configsEqual, groupMembers, initialConfig, makeConfig } from "../../controller/config";
import {
  controllerPb, decodeCommand, decodeConfig, encodeCommand, encodeConfig, intentFromWire, intentToWire,
} from "../../controller/codec";
import { controllerKeys, RocksControllerStateMachine } from "../../controller/rocks-state";
import { ControllerCore, type ControllerOp } from "../../controller/state-machine";
import { intentSatisfied } from "../../controller/replica-intents";
import type { Entry } from "../../raft/core/types";
import type { SnapshotSource } from "../../raft/state-machine";
import { openRocksKv } from "../../raft/storage/rocks-kv";
import { formatKey } from "../../common/checked-kv";
import { recordPayload } from "../../common/record";

async function readAll(src: SnapshotSource): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let n = 0; ; n++) {
    const c = await src.readChunk(n);
    chunks.push(new Uint8Array(c.data));
    if (c.last) return chunks;
  }
}

const g = (n: number) => n as GroupId;
const id = (n: number) => n as NodeId;
const m = (i: number, address: string, learner = false): Member => ({ id: id(i), address, learner });
const addr = (gid: number, i: number) => `10.0.${gid}.${i}:7000`;
/** Group 7 with replicas 1..3 (ids learned by the join check). */
const join7: ControllerOp = {
  kind: "join", groups: new Map([[g(7), [addr(7, 1), addr(7, 2), addr(7, 3)]]]), ids: new Map([[g(7), [id(1), id(2), id(3)]]]),
};
const change = (gid: number, c: ReplicaChange, force = false): ControllerOp => ({ kind: "replicaChange", gid: g(gid), change: c, force });

function core(shards = 8) {
  const c = new ControllerCore(initialConfig(shards), new Map());
  let index = 0;
  let seq = 0;
  const client = "00".repeat(16);
  const run = (op: ControllerOp, s = ++seq) => c.apply({ clientId: client, seq: s, op, shardCount: shards }, ++index as LogIndex);
  run(join7);
  run({ kind: "ackJoin", gid: g(7), joinNum: 1 as ConfigNum });
  return { c, run };
}

describe("members in the config", () => {
  it("a Join records the ids the join check learned; groups (what clients route by) is derived from the members", () => {
    const { c } = core();
    expect(groupMembers(c.latest, g(7))).toEqual([m(1, addr(7, 1)), m(2, addr(7, 2)), m(3, addr(7, 3))]);
    expect(c.latest.groups.get(g(7))).toEqual([addr(7, 1), addr(7, 2), addr(7, 3)]);
  });

  it("a forced Join (no ids) records members of unknown id (0)", () => {
    const c = new ControllerCore(initialConfig(4), new Map());
    c.apply({ clientId: "00".repeat(16), seq: 1, op: { kind: "join", groups: new Map([[g(2), ["h:1", "h:2"]]]) }, shardCount: 4 }, 1 as LogIndex);
    expect(groupMembers(c.latest, g(2))).toEqual([m(0, "h:1"), m(0, "h:2")]);
  });

  it("the routing view lists voters first, then learners", () => {
    const c = makeConfig({ num: 1 as ConfigNum, shards: [g(3)], members: new Map([[g(3), [m(1, "a:1", true), m(2, "b:1"), m(3, "c:1")]]]) });
    expect(c.groups.get(g(3))).toEqual(["b:1", "c:1", "a:1"]);
  });

  it("round-trips through the wire with members; a config of the previous format (servers only) reads as voters of unknown id", () => {
    const c = makeConfig({ num: 2 as ConfigNum, shards: [g(3), g(3)], members: new Map([[g(3), [m(4, "a:1"), m(5, "b:1", true)]]]) });
    const back = decodeConfig(encodeConfig(c));
    expect(configsEqual(back, c)).toBe(true);
    expect(groupMembers(back, g(3))).toEqual([m(4, "a:1"), m(5, "b:1", true)]);
    // What an earlier version wrote: Group{gid, servers}.
    const old = controllerPb.Config.encode({ num: 1, shards: [3], groups: [{ gid: 3, servers: ["a:1", "b:1"] }] }).finish();
    const read = decodeConfig(old);
    expect(groupMembers(read, g(3))).toEqual([m(0, "a:1"), m(0, "b:1")]);
    expect(read.groups.get(g(3))).toEqual(["a:1", "b:1"]);
  });

  it("a Join's ids survive the log encoding", () => {
    const cmd = { clientId: "ab".repeat(16), seq: 3, op: join7, shardCount: 8 };
    const back = decodeCommand(encodeCommand(cmd));
    expect(back.op).toEqual(join7);
  });
});

describe("stored intents", () => {
  it("ReplicaChange stores one intent per group (no config), Progress records why it is blocked, Cancel drops it", () => {
    const { c, run } = core();
    const add: ReplicaChange = { kind: "addLearner", id: id(4), address: addr(7, 4) };
    const out = run(change(7, add));
    expect(out.result).toEqual({ ok: true, configNum: 1 });
    expect(out.created).toBeUndefined();
    expect(out.intentsChanged).toBe(true);
    expect(c.replicaIntents().get(g(7))).toEqual({ change: add, force: false });
    expect(run({ kind: "replicaProgress", gid: g(7), blocked: "replica 4 at 10.0.7.4:7000 does not answer" }).result.ok).toBe(true);
    expect(c.replicaIntents().get(g(7))?.blocked).toBe("replica 4 at 10.0.7.4:7000 does not answer");
    expect(run({ kind: "replicaProgress", gid: g(7), blocked: "" }).result.ok).toBe(true);
    expect(c.replicaIntents().get(g(7))).toEqual({ change: add, force: false });
    expect(run({ kind: "replicaCancel", gid: g(7) }).result.ok).toBe(true);
    expect(c.replicaIntents().size).toBe(0);
    expect(c.latest.num).toBe(1);
  });

  it("a second intent while one is pending is refused, naming the pending one; nothing changes", () => {
    const { c, run } = core();
    run(change(7, { kind: "remove", id: id(3) }, true));
    const before = c.replicaIntents();
    const out = run(change(7, { kind: "addLearner", id: id(4), address: addr(7, 4) }));
    expect(out.result).toEqual({
      ok: false, field: "gid",
      reason: "group 7 already has a pending replica change (remove replica 3); wait for it or cancel it with shardctl replica cancel 7",
    });
    expect(out.intentsChanged).toBe(false);
    expect(c.replicaIntents()).toBe(before);
  });

  it("ReplicaDone makes a config with the same shards and the new members, and clears the intent it satisfies", () => {
    const { c, run } = core();
    const shards = [...c.latest.shards];
    run(change(7, { kind: "replace", oldId: id(3), newId: id(4), address: addr(7, 4) }));
    // A report of members that do not carry it out yet (the learner added): config made, intent kept.
    const midway = [m(1, addr(7, 1)), m(2, addr(7, 2)), m(3, addr(7, 3)), m(4, addr(7, 4), true)];
    const mid = run({ kind: "replicaDone", gid: g(7), members: midway });
    expect(mid.result).toEqual({ ok: true, configNum: 2 });
    expect(c.replicaIntents().has(g(7))).toBe(true);
    const done = [m(1, addr(7, 1)), m(2, addr(7, 2)), m(4, addr(7, 4))];
    const out = run({ kind: "replicaDone", gid: g(7), members: done });
    expect(out.result).toEqual({ ok: true, configNum: 3 });
    expect(out.created?.shards).toEqual(shards);
    expect(groupMembers(c.latest, g(7))).toEqual(done);
    expect(c.latest.groups.get(g(7))).toEqual([addr(7, 1), addr(7, 2), addr(7, 4)]);
    expect(c.replicaIntents().has(g(7))).toBe(false);
    // The same members again (another leader's report): no new config.
    const again = run({ kind: "replicaDone", gid: g(7), members: done });
    expect(again.result).toEqual({ ok: true, configNum: 3 });
    expect(again.created).toBeUndefined();
  });

  it("a retry (same client and seq) is answered from the duplicate table and stores nothing twice", () => {
    const { c, run } = core();
    const first = run(change(7, { kind: "remove", id: id(2) }), 50);
    run({ kind: "replicaCancel", gid: g(7) }, 51);
    const retry = run(change(7, { kind: "remove", id: id(2) }), 51);
    expect(retry.duplicate).toBe(true);
    expect(first.result.ok).toBe(true);
    expect(c.replicaIntents().size).toBe(0);
  });

  it("a Leave of the group drops its intent", () => {
    const { c, run } = core();
    run({ kind: "join", groups: new Map([[g(8), [addr(8, 1)]]]), ids: new Map([[g(8), [id(1)]]]) });
    run({ kind: "ackJoin", gid: g(8), joinNum: 2 as ConfigNum });
    run(change(8, { kind: "addLearner", id: id(2), address: addr(8, 2) }));
    expect(run({ kind: "leave", gids: [g(8)] }).result.ok).toBe(true);
    expect(c.replicaIntents().has(g(8))).toBe(false);
  });

  it("the controller group: members recorded by its first ReplicaDone (no config), then intents like any group's", () => {
    const { c, run } = core();
    const refused = run(change(0, { kind: "remove", id: id(3) }));
    expect(refused.result).toMatchObject({ ok: false, field: "gid", reason: expect.stringMatching(/controller group's members are not recorded yet/) });
    const members = [m(1, "c:1"), m(2, "c:2"), m(3, "c:3")];
    const out = run({ kind: "replicaDone", gid: g(0), members });
    expect(out.created).toBeUndefined();
    expect(out.intentsChanged).toBe(true);
    expect(c.controllerMembers()).toEqual(members);
    expect(run(change(0, { kind: "replace", oldId: id(3), newId: id(4), address: "c:4" })).result.ok).toBe(true);
    expect(run(change(0, { kind: "remove", id: id(1) })).result).toMatchObject({ ok: false, reason: expect.stringMatching(/^the controller group already has a pending replica change \(replace replica 3 by 4 at c:4\); .*shardctl controller cancel$/) });
  });

  describe("edge validation: one clear line, nothing changed", () => {
    const cases: [string, ControllerOp, string, RegExp][] = [
      ["unknown gid", change(9, { kind: "remove", id: id(1) }), "gid", /^group 9 is not in config 1$/],
      ["removing the last voter", change(7, { kind: "remove", id: id(1) }), "id", /./], // set up below with a one-voter group
      ["promoting an unknown id", change(7, { kind: "promote", id: id(9) }), "id", /^group 7 has no replica 9 in config 1 \(its replicas: 1 at 10\.0\.7\.1:7000, 2 at .*\)$/],
      ["promoting a voter", change(7, { kind: "promote", id: id(2) }), "id", /^replica 2 of group 7 is a voter already; only a learner can be promoted$/],
      ["adding an id already in the group", change(7, { kind: "addLearner", id: id(2), address: addr(7, 9) }), "id", /^group 7 already has a replica 2 \(at 10\.0\.7\.2:7000\)$/],
      ["adding an address already in the group", change(7, { kind: "addLearner", id: id(9), address: addr(7, 2) }), "address", /^group 7 already has a replica at 10\.0\.7\.2:7000 \(2 at 10\.0\.7\.2:7000\)$/],
      ["replace of an id not in the group", change(7, { kind: "replace", oldId: id(8), newId: id(9), address: addr(7, 9) }), "old_id", /^group 7 has no replica 8/],
      ["replace by an id already in the group", change(7, { kind: "replace", oldId: id(3), newId: id(1), address: addr(7, 9) }), "new_id", /^group 7 already has a replica 1/],
      ["a malformed address", change(7, { kind: "addLearner", id: id(4), address: "no-port" }), "address", /^want host:port, got "no-port"$/],
      ["id 0", change(7, { kind: "addLearner", id: id(0), address: addr(7, 9) }), "id", /^replica id must be a positive integer, got 0$/],
      ["cancel with nothing pending", { kind: "replicaCancel", gid: g(7) }, "gid", /^group 7 has no pending replica change$/],
      ["progress with nothing pending", { kind: "replicaProgress", gid: g(7), blocked: "x" }, "gid", /^group 7 has no pending replica change$/],
      ["done with no voter", { kind: "replicaDone", gid: g(7), members: [m(1, "a:1", true)] }, "members", /^group 7 lists no voter$/],
      ["done with an id twice", { kind: "replicaDone", gid: g(7), members: [m(1, "a:1"), m(1, "b:1")] }, "members.id", /^group 7 lists replica 1 twice$/],
      ["done with an unknown id", { kind: "replicaDone", gid: g(7), members: [m(0, "a:1")] }, "members.id", /positive integer, got 0/],
      ["done with no members", { kind: "replicaDone", gid: g(7), members: [] }, "members", /^group 7: empty member list$/],
    ];
    for (const [name, op, field, reason] of cases) {
      it(name, () => {
        const { c, run } = core();
        if (name === "removing the last voter") {
          run({ kind: "replicaDone", gid: g(7), members: [m(1, addr(7, 1)), m(2, addr(7, 2), true)] });
          const latest = c.latest;
          const out = run(change(7, { kind: "remove", id: id(1) }));
          expect(out.result).toEqual({ ok: false, field: "id", reason: "replica 1 is the last voter of group 7; add and promote another replica first" });
          expect(c.latest).toBe(latest);
          expect(c.replicaIntents().size).toBe(0);
          // The learner may go.
          expect(run(change(7, { kind: "remove", id: id(2) })).result.ok).toBe(true);
          return;
        }
        const latest = c.latest;
        const out = run(op);
        expect(out.result.ok).toBe(false);
        if (!out.result.ok) {
          expect(out.result.field).toBe(field);
          expect(out.result.reason).toMatch(reason);
          expect(out.result.reason).not.toContain("\n");
        }
        expect(c.latest).toBe(latest);
        expect(c.replicaIntents().size).toBe(0);
        expect(out.intentsChanged).toBe(false);
      });
    }
  });

  it("intentSatisfied: what each kind of change asks of the members", () => {
    const ms = [m(1, "a:1"), m(2, "b:1", true)];
    expect(intentSatisfied({ kind: "addLearner", id: id(2), address: "b:1" }, ms)).toBe(true);
    expect(intentSatisfied({ kind: "addLearner", id: id(2), address: "c:1" }, ms)).toBe(false);
    expect(intentSatisfied({ kind: "promote", id: id(2) }, ms)).toBe(false);
    expect(intentSatisfied({ kind: "promote", id: id(1) }, ms)).toBe(true);
    expect(intentSatisfied({ kind: "remove", id: id(3) }, ms)).toBe(true);
    expect(intentSatisfied({ kind: "remove", id: id(2) }, ms)).toBe(false);
    expect(intentSatisfied({ kind: "replace", oldId: id(3), newId: id(1), address: "a:1" }, ms)).toBe(true);
    expect(intentSatisfied({ kind: "replace", oldId: id(3), newId: id(2), address: "b:1" }, ms)).toBe(false);
  });
});

describe("wire forms", () => {
  const changes: ReplicaChange[] = [
    { kind: "addLearner", id: id(4), address: "h:4" },
    { kind: "promote", id: id(4) },
    { kind: "remove", id: id(2) },
    { kind: "replace", oldId: id(2), newId: id(5), address: "h:5" },
  ];
  it("every replica command round-trips through the log encoding", () => {
    const ops: ControllerOp[] = [
      ...changes.map((c, i) => change(i, c, i % 2 === 0)),
      { kind: "replicaCancel", gid: g(7) },
      { kind: "replicaDone", gid: g(0), members: [m(1, "c:1"), m(2, "c:2", true)] },
      { kind: "replicaProgress", gid: g(7), blocked: "learner 4 is 5000 entries behind" },
    ];
    for (const op of ops) {
      const cmd = { clientId: "cd".repeat(16), seq: 9, op, shardCount: 16 };
      expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    }
  });
  it("intents round-trip (blocked kept, empty blocked absent)", () => {
    for (const c of changes) {
      expect(intentFromWire(intentToWire(g(3), { change: c, force: true }))).toEqual([3, { change: c, force: true }]);
      expect(intentFromWire(intentToWire(g(3), { change: c, force: false, blocked: "why" }))).toEqual([3, { change: c, force: false, blocked: "why" }]);
    }
  });
  it("a ReplicaChange with no change is refused with a clear line", () => {
    const b = controllerPb.Command.encode({ id: { clientId: Buffer.alloc(16, 1), seq: 1 }, shardCount: 4, replicaChange: { gid: 3 } }).finish();
    expect(() => decodeCommand(b)).toThrow("invalid change: no replica change given (want add_learner, promote, remove or replace)");
  });
});

describe("durable: RocksDB records and snapshots", () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), "shardkv-intents-")); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const entry = (index: number, seq: number, op: ControllerOp): Entry => ({
    index: index as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ clientId: "aa".repeat(16), seq, op, shardCount: 8 }),
  });

  async function populated(path: string): Promise<RocksControllerStateMachine> {
    const sm = await RocksControllerStateMachine.open(path, 8);
    await sm.apply([entry(1, 1, join7), entry(2, 2, { kind: "ackJoin", gid: g(7), joinNum: 1 as ConfigNum })]);
    await sm.apply([
      entry(3, 3, { kind: "replicaDone", gid: g(0), members: [m(1, "c:1"), m(2, "c:2")] }),
      entry(4, 4, change(7, { kind: "remove", id: id(3) }, true)),
      entry(5, 5, { kind: "replicaProgress", gid: g(7), blocked: "replica 3 is the leader" }),
    ]);
    return sm;
  }

  it("intents and the controller group's members survive a restart and travel in snapshots", async () => {
    const a = join(dir, "a");
    let sm = await populated(a);
    const want = sm.replicaState();
    expect(want.intents.get(g(7))).toEqual({ change: { kind: "remove", id: 3 }, force: true, blocked: "replica 3 is the leader" });
    await sm.close();
    sm = await RocksControllerStateMachine.open(a);
    expect(sm.replicaState()).toEqual(want);
    expect(groupMembers(sm.latest(), g(7))).toEqual([m(1, addr(7, 1)), m(2, addr(7, 2)), m(3, addr(7, 3))]);

    const chunks = await readAll(await sm.snapshot());
    const b = await RocksControllerStateMachine.open(join(dir, "b"), 8);
    const sink = b.restore({ index: 5 as LogIndex, term: 1 as Term, voters: [] });
    for (let i = 0; i < chunks.length; i++) await sink.write(i, chunks[i]!);
    await sink.finish();
    expect(b.replicaState()).toEqual(want);
    expect(configsEqual(b.latest(), sm.latest())).toBe(true);
    // A cancel removes the record for good.
    await b.apply([entry(6, 6, { kind: "replicaCancel", gid: g(7) })]);
    await b.close();
    const c = await RocksControllerStateMachine.open(join(dir, "b"));
    expect(c.replicaState().intents.size).toBe(0);
    expect(c.replicaState().controllers).toEqual(want.controllers);
    await c.close();
    await sm.close();
  });

  it("a directory of the previous format (configs with servers only, no intent records) opens: voters of unknown id, nothing pending", async () => {
    const p = join(dir, "old");
    const sm = await RocksControllerStateMachine.open(p, 4);
    await sm.close();
    // Rewrite it as the previous version left it: config 1 with servers only, values without
    // checksums (no format marker: opening migrates the directory).
    const db = await openRocksKv(p);
    const old = controllerPb.Config.encode({ num: 1, shards: [2, 2, 2, 2], groups: [{ gid: 2, servers: ["h:1", "h:2"] }] }).finish();
    const rows: { key: Buffer; value: Buffer }[] = [];
    for await (const [key, value] of db.iterator({})) if (!key.equals(formatKey)) rows.push({ key, value: recordPayload(key, value)! });
    await db.write([
      { type: "del", key: formatKey },
      ...rows.map((r) => ({ type: "put" as const, key: r.key, value: r.value })),
      { type: "put", key: controllerKeys.config(1), value: Buffer.from(old) },
    ], { sync: true });
    await db.close();
    const re = await RocksControllerStateMachine.open(p);
    const latest: Config = re.latest();
    expect(latest.num).toBe(1);
    expect(groupMembers(latest, g(2))).toEqual([m(0, "h:1"), m(0, "h:2")]);
    expect(re.replicaState()).toEqual({ intents: new Map(), controllers: [] });
    await re.close();
  });
});
