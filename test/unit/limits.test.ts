/**
 * The size limits hold on every path that creates data: the edge (validateWrite), the apply
 * path (an append's result, a write's reply, the saved replies), Raft's proposals, and the
 * messages of the limits in user terms.
 */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../common/errors";
import type { ConfigNum, GroupId, NodeId, ShardId } from "../../common/ids";
import {
  formatBytes, formatLimit, keyBytesMax, LimitExceededError, MiB, overLimit, raftEntryBytesMax, savedReplyBytesPerClientMax,
  transportMessageBytesMax, valueBytesMax, writeBytesMax, writeOpsMax, writeReplyBytesMax,
} from "../../common/limits";
import { initialConfig, type Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import { ValueLimitError } from "../../shard-server/errors";
import { validateWrite } from "../../shard-server/service";
import { ShardGroupCore, emptyEffects } from "../../shard-server/state-machine";
import type { ClientWrite, KvOp } from "../../shard-server/types";
import { RaftHarness } from "../lib/raft-network";

const N = 4;
const enc = (s: string) => new TextEncoder().encode(s);
const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

function config(num: number, shards: number[]): Config {
  const gids = [...new Set(shards.filter((x) => x !== 0))];
  return { num: num as ConfigNum, shards: shards.map((x) => x as GroupId), groups: new Map(gids.map((x) => [x as GroupId, [`127.0.0.1:${9000 + x}`]])) };
}

/** A serving one-group core over an in-memory map; `write` returns the outcome and the effects. */
function serving() {
  const core = new ShardGroupCore({ gid: 1 as GroupId, shardCount: N, config: initialConfig(N), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
  core.applyReconfigure(config(1, [1, 1, 1, 1]), emptyEffects());
  const data = new Map<string, Uint8Array>();
  let seq = 0;
  const write = (ops: KvOp[], clientId = "c1") => {
    const fx = emptyEffects();
    const w: ClientWrite = { clientId, seq: ++seq, ackedBelow: 0, shard: shardOf(ops[0]!.key, N), ops };
    const out = core.applyWrite(w, 1000, (_s, key) => data.get(Buffer.from(key).toString()), fx);
    for (const x of fx.writes) {
      if (x.value === undefined) data.delete(Buffer.from(x.key).toString());
      else data.set(Buffer.from(x.key).toString(), x.value);
    }
    return { out, fx };
  };
  return { core, data, write };
}

/** Keys that share shard 0, so that they fit in one write. */
function keysOfShard0(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (shardOf(`k${i}`, N) === 0) out.push(`k${i}`);
  return out;
}

describe("limit messages", () => {
  it("say the size with thousands separators and the limit in its unit, never a constant's name", () => {
    expect(overLimit("value", 2 * MiB, valueBytesMax)).toBe("value is 2,097,152 bytes; the limit is 1 MiB");
    expect(formatLimit(keyBytesMax)).toBe("4 KiB");
    expect(formatLimit(writeBytesMax)).toBe("3 MiB");
    expect(formatLimit(1000)).toBe("1,000 bytes");
    expect(formatBytes(1)).toBe("1 byte");
    const e = new LimitExceededError("value", "value", valueBytesMax + 1, valueBytesMax);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toBe("invalid value: value is 1,048,577 bytes; the limit is 1 MiB");
  });

  it("nest: a maximal write fits in a Raft entry, and an entry in a transport message", () => {
    expect(keyBytesMax + 2 * valueBytesMax).toBeLessThanOrEqual(writeBytesMax);
    expect(writeBytesMax + writeReplyBytesMax).toBeLessThan(raftEntryBytesMax);
    expect(savedReplyBytesPerClientMax).toBeLessThan(raftEntryBytesMax);
    expect(raftEntryBytesMax + 64 * 1024).toBeLessThan(transportMessageBytesMax);
  });
});

describe("validateWrite (the edge)", () => {
  const [k] = keysOfShard0(1) as [string];
  const w = (ops: KvOp[]): ClientWrite => ({ clientId: "c", seq: 1, ackedBelow: 0, shard: 0 as ShardId, ops });

  it("accepts exactly 1 MiB, a maximal key, and a CAS of a maximal key, expected and new value", () => {
    expect(() => validateWrite(w([{ type: "put", key: enc(k), value: bytes(valueBytesMax) }]), N)).not.toThrow();
    let big = "";
    for (let i = 0; ; i++) {
      big = `${i}`.padEnd(keyBytesMax, "x");
      if (shardOf(big, N) === 0) break;
    }
    const cas: KvOp = { type: "cas", key: enc(big), expected: bytes(valueBytesMax), value: bytes(valueBytesMax, 2) };
    expect(() => validateWrite(w([cas]), N)).not.toThrow();
  });

  it("refuses one byte more with the size and the limit in user terms", () => {
    expect(() => validateWrite(w([{ type: "put", key: enc(k), value: bytes(valueBytesMax + 1) }]), N))
      .toThrow("invalid value: value is 1,048,577 bytes; the limit is 1 MiB");
    expect(() => validateWrite(w([{ type: "put", key: bytes(keyBytesMax + 1), value: bytes(1) }]), N))
      .toThrow("invalid key: key is 4,097 bytes; the limit is 4 KiB");
    const ops = keysOfShard0(4).map((key): KvOp => ({ type: "put", key: enc(key), value: bytes(valueBytesMax) }));
    const many = Array.from({ length: writeOpsMax + 1 }, (): KvOp => ({ type: "get", key: enc(k), value: new Uint8Array(0) }));
    expect(() => validateWrite(w(many), N)).toThrow("invalid ops: write request has 100,001 ops; the limit is 100,000");
    expect(() => validateWrite(w(ops), N)).toThrow(/^invalid ops: write request \(keys, values and expected values\) is 4,194,\d{3} bytes; the limit is 3 MiB$/);
  });
});

describe("the apply path refuses what only applied state can tell", () => {
  it("an append whose result would exceed the value limit: typed error naming key and sizes; nothing changes", () => {
    const { core, data, write } = serving();
    const [k] = keysOfShard0(1) as [string];
    expect(write([{ type: "put", key: enc(k), value: bytes(1_000_000) }]).out.ok).toBe(true);
    const r = write([{ type: "append", key: enc(k), value: bytes(1_000_000) }]);
    expect(r.out.ok).toBe(false);
    const err = !r.out.ok ? r.out.error : undefined;
    expect(err).toBeInstanceOf(ValueLimitError);
    expect(err).toMatchObject({ currentBytes: 1_000_000, addedBytes: 1_000_000, limitBytes: valueBytesMax });
    expect(err!.message).toBe(`invalid value: appending 1,000,000 bytes to key "${k}" (now 1,000,000 bytes) would make its value 2,000,000 bytes; the limit is 1 MiB`);
    expect(r.fx.writes).toEqual([]);
    expect(r.fx.dedup).toEqual([]);
    expect(data.get(k)!.length).toBe(1_000_000);
    // Up to exactly the limit is fine.
    expect(write([{ type: "append", key: enc(k), value: bytes(valueBytesMax - 1_000_000) }]).out.ok).toBe(true);
    expect(data.get(k)!.length).toBe(valueBytesMax);
    expect(write([{ type: "append", key: enc(k), value: bytes(1) }]).out.ok).toBe(false);
    expect([...core.dedupOf(0 as ShardId).get("c1")!.replies.keys()]).toEqual([1, 3]); // refused writes save no reply
  });

  it("a batch is refused whole: earlier ops of it do not happen", () => {
    const { data, write } = serving();
    const [a, b] = keysOfShard0(2) as [string, string];
    const r = write([
      { type: "put", key: enc(a), value: enc("first") },
      { type: "put", key: enc(b), value: bytes(valueBytesMax) },
      { type: "append", key: enc(b), value: enc("!") },
    ]);
    expect(r.out.ok).toBe(false);
    expect(r.fx.writes).toEqual([]);
    expect(data.size).toBe(0);
  });

  it("a write whose reply (values of its gets and CASes) would exceed the reply limit", () => {
    const { data, write } = serving();
    const [k, other] = keysOfShard0(2) as [string, string];
    write([{ type: "put", key: enc(k), value: bytes(valueBytesMax) }]);
    const gets = Array.from({ length: writeReplyBytesMax / valueBytesMax + 1 }, (): KvOp => ({ type: "get", key: enc(k), value: new Uint8Array(0) }));
    const r = write([{ type: "put", key: enc(other), value: enc("x") }, ...gets]);
    expect(r.out.ok).toBe(false);
    expect(!r.out.ok && r.out.error.message).toBe("invalid ops: the reply (values returned by the gets and CASes of the write) is 5,242,880 bytes; the limit is 4 MiB");
    expect(data.has(other)).toBe(false);
    expect(write(gets.slice(1)).out.ok).toBe(true);
  });

  it("keeps at most savedReplyBytesPerClientMax of saved reply values per client, the newest always", () => {
    const { core, write } = serving();
    const [k] = keysOfShard0(1) as [string];
    write([{ type: "put", key: enc(k), value: bytes(valueBytesMax) }]);
    const get: KvOp = { type: "get", key: enc(k), value: new Uint8Array(0) };
    for (let i = 0; i < 12; i++) expect(write([get, get]).out.ok).toBe(true); // 2 MiB each, never acknowledged
    const replies = core.dedupOf(0 as ShardId).get("c1")!.replies;
    let saved = 0;
    for (const rs of replies.values()) for (const r of rs) saved += r.value.length + 8;
    expect(saved).toBeLessThanOrEqual(savedReplyBytesPerClientMax);
    expect(Math.max(...replies.keys())).toBe(13);
    expect([...replies.keys()]).toEqual([11, 12, 13]); // 4 x (2 MiB + 16) would exceed 8 MiB
  });

  it("counts each saved op result, so replies of many value-less ops are bounded too", () => {
    const { core, write } = serving();
    const [k] = keysOfShard0(1) as [string];
    const deletes = Array.from({ length: writeOpsMax }, (): KvOp => ({ type: "delete", key: enc(k), value: new Uint8Array(0) }));
    for (let i = 0; i < 12; i++) expect(write(deletes).out.ok).toBe(true); // 800,000 bytes each
    const replies = core.dedupOf(0 as ShardId).get("c1")!.replies;
    expect(replies.size).toBe(Math.floor(savedReplyBytesPerClientMax / (8 * writeOpsMax)));
    expect(Math.max(...replies.keys())).toBe(12);
  });
});

describe("Raft refuses at propose time an entry larger than a message can ship", () => {
  it("throws LimitExceededError and appends nothing; an entry at the bound is accepted", () => {
    const ids = [1, 2, 3] as NodeId[];
    const h = new RaftHarness(ids, { entryBytesMax: 1000 });
    h.node(1).raw.campaign();
    h.stabilize();
    const before = h.node(1).raw.status();
    expect(() => h.node(1).raw.propose([enc("small"), bytes(1001)])).toThrow(LimitExceededError);
    expect(() => h.node(1).raw.propose([bytes(1001)])).toThrow("invalid entry: the log entry is 1,001 bytes; the limit is 1,000 bytes");
    h.stabilize();
    expect(h.node(1).raw.status().lastIndex).toBe(before.lastIndex);
    h.node(1).raw.propose([bytes(1000, 65)]);
    h.stabilize();
    for (const id of ids) expect(h.node(id).sm.at(-1)).toBe("A".repeat(1000));
  });

  it("defaults to raftEntryBytesMax, under the transport's message bound", () => {
    const h = new RaftHarness([1, 2, 3] as NodeId[]);
    h.node(1).raw.campaign();
    h.stabilize();
    expect(() => h.node(1).raw.propose([new Uint8Array(raftEntryBytesMax + 1)])).toThrow(/the log entry is 15,728,641 bytes; the limit is 15 MiB/);
  });
});
