import { describe, expect, it } from "vitest";
import type { GroupId, LogIndex, ShardId } from "../../common/ids";
import { initialConfig, shardCounts } from "../../controller/config";
import { ControllerCore, dedupClientsMax, type ControllerCommand, type ControllerOp } from "../../controller/state-machine";
import { decodeCommand, encodeCommand, decodeConfig, encodeConfig } from "../../controller/codec";
import { shardOf, fnv1a32 } from "../../controller/shard-of";

const g = (n: number) => n as GroupId;
const join = (...gids: number[]): ControllerOp => ({ kind: "join", groups: new Map(gids.map((x) => [g(x), [`127.0.0.1:${7000 + x}`]])) });
const leave = (...gids: number[]): ControllerOp => ({ kind: "leave", gids: gids.map(g) });
const move = (shard: number, gid: number): ControllerOp => ({ kind: "move", shard: shard as ShardId, gid: g(gid) });

/**
 * A core and `run(op)`. After a join that created a config, each new group acknowledges it at
 * once (AckJoin from the group's own client), as a group whose servers run does: a pending
 * group would hold up the changes that follow (test/unit/pending-joins.test.ts covers that).
 */
function core(n = 10) {
  const c = new ControllerCore(initialConfig(n), new Map());
  let index = 0;
  let seq = 0;
  let ackSeq = 0;
  const client = "00".repeat(16);
  const run = (op: ControllerOp, id = client, s = ++seq) => {
    const out = c.apply({ clientId: id, seq: s, op, shardCount: n }, ++index as LogIndex);
    if (op.kind === "join" && out.result.ok && !out.duplicate) {
      for (const gid of op.groups.keys()) {
        const ack: ControllerOp = { kind: "ackJoin", gid, joinNum: out.result.configNum };
        c.apply({ clientId: "ff".repeat(16), seq: ++ackSeq, op: ack, shardCount: n }, ++index as LogIndex);
      }
    }
    return out;
  };
  return { c, run };
}

describe("controller state machine", () => {
  it("join, leave, move create consecutive configs", () => {
    const { c, run } = core();
    expect(run(join(1)).result).toEqual({ ok: true, configNum: 1 });
    expect(run(join(2, 3)).result).toEqual({ ok: true, configNum: 2 });
    expect([...shardCounts(c.latest).values()].sort()).toEqual([3, 3, 4]);
    expect(run(move(0, 3)).result).toEqual({ ok: true, configNum: 3 });
    expect(c.latest.shards[0]).toBe(3);
    expect(run(leave(1)).result).toEqual({ ok: true, configNum: 4 });
    expect(c.latest.groups.has(g(1))).toBe(false);
    expect(c.latest.shards.every((s) => s === 2 || s === 3)).toBe(true);
  });

  it("a retried request is applied once and returns the same result", () => {
    const { c, run } = core();
    const first = run(join(1), "aa".repeat(16), 7);
    const again = run(join(1), "aa".repeat(16), 7);
    expect(again.duplicate).toBe(true);
    expect(again.result).toEqual(first.result);
    expect(c.latest.num).toBe(1);
    // An older sequence number is refused without executing.
    const old = run(join(5), "aa".repeat(16), 6);
    expect(old.result.ok).toBe(false);
    expect(c.latest.num).toBe(1);
  });

  it("refuses bad input with the field and creates no config", () => {
    const { c, run } = core();
    run(join(1, 2));
    const cases: [ControllerOp, string, RegExp][] = [
      [join(1), "gid", /already in config 1/],
      [{ kind: "join", groups: new Map([[g(0), ["127.0.0.1:1"]]]) }, "gid", /positive integer, got 0/],
      [{ kind: "join", groups: new Map([[g(9), []]]) }, "servers", /empty server list/],
      [{ kind: "join", groups: new Map([[g(9), ["no-port"]]]) }, "servers of group 9", /host:port/],
      [leave(7), "gid", /not in config 1/],
      [leave(1, 2), "gids", /would orphan all 10 shards/],
      [move(10, 1), "shard", /\[0, 10\), got 10/],
      [move(-1, 1), "shard", /got -1/],
      [move(0, 7), "gid", /not in config/],
    ];
    for (const [op, field, reason] of cases) {
      const r = run(op).result;
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.field).toBe(field);
        expect(r.reason).toMatch(reason);
      }
    }
    expect(c.latest.num).toBe(1);
  });

  it("refuses (asserts) a command proposed for another shard count", () => {
    const { c } = core(10);
    expect(() => c.apply({ clientId: "00".repeat(16), seq: 1, op: join(1), shardCount: 64 }, 1 as LogIndex))
      .toThrow(/proposed for 64 shards but this replica has 10/);
  });

  it("rejoin of a gid that left", () => {
    const { c, run } = core();
    run(join(1, 2));
    run(leave(2));
    expect(run(join(2)).result.ok).toBe(true);
    expect(shardCounts(c.latest).get(g(2))).toBe(5);
  });

  it("bounds the duplicate table, evicting the least recently seen client", () => {
    const { c, run } = core();
    run(join(1));
    for (let i = 0; i < dedupClientsMax + 5; i++) run(move(0, 1), i.toString(16).padStart(32, "0"), 1);
    expect(c.dedupEntries().size).toBe(dedupClientsMax);
    expect(c.dedupEntries().has("0".repeat(32))).toBe(false);
  });

  it("commands and configs round-trip through protobuf", () => {
    const cmds: ControllerCommand[] = [
      { clientId: "ab".repeat(16), seq: 3, op: join(1, 2), shardCount: 10 },
      { clientId: "ab".repeat(16), seq: 4, op: leave(2), shardCount: 10 },
      { clientId: "ab".repeat(16), seq: 5, op: move(3, 1), shardCount: 10 },
    ];
    for (const cmd of cmds) expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const { c, run } = core();
    run(join(4, 2));
    expect(decodeConfig(encodeConfig(c.latest))).toEqual(c.latest);
  });
});

describe("shardOf", () => {
  it("is 32-bit FNV-1a of the UTF-8 bytes modulo the shard count (test vectors)", () => {
    expect(fnv1a32(new TextEncoder().encode(""))).toBe(0x811c9dc5);
    expect(fnv1a32(new TextEncoder().encode("a"))).toBe(0xe40c292c);
    expect(fnv1a32(new TextEncoder().encode("foobar"))).toBe(0xbf9cf968);
    expect(shardOf("foobar", 64)).toBe(0xbf9cf968 % 64);
    expect(shardOf("héllo", 10)).toBe(shardOf(new TextEncoder().encode("héllo"), 10));
  });
});
