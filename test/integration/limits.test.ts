/**
 * Limits end to end, over real processes (3 controllers and two groups of 3 `shardkv-server`s
 * started by the launcher, 4 shards), with the user's tools (`bin/shardkv`, `bin/shardctl`)
 * and the client library:
 *
 * - A value cannot be grown past the value limit by appends: `put grow <1,000,000 bytes>`,
 *   then `append grow -` of 1,000,000 bytes exits non-zero with one line naming the key, the
 *   sizes and the limit, and the value is unchanged (it used to reach 5,080,001 bytes).
 * - Exactly 1 MiB is a legal value, put and read back through the CLI and the library.
 * - A shard whose values are all at the limit, with duplicate tables holding replies at the
 *   limit (CASes and a batch of gets from clients that never acknowledged them), moves with
 *   `shardctl move`: every shard ends Serving, values intact, and no replica dropped a Raft
 *   message for its size (the receiving group used to be wedged for good).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import type { GroupId } from "../../common/ids";
import { MiB, valueBytesMax } from "../../common/limits";
import { ShardKV } from "../../client/shardkv";
import { shardOf } from "../../controller/shard-of";
import { type E2e, e2eSuite } from "../lib/e2e";
import { runShardctl, runShardkv } from "../lib/run-cli";

const shards = 4;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("limits end to end (real processes)", () => {
  const suite = e2eSuite("limits", { nats: false, groups: 2, shards });
  let e: E2e;
  let kv: ShardKV;

  beforeAll(async () => {
    e = suite.e;
    kv = await ShardKV.connect({ controllers: e.controllers, deadlineMs: 60_000 });
    suite.closeAfter(kv);
  }, 60_000);

  const shardkv = (args: readonly string[], input?: Buffer) => runShardkv(["--controllers", e.controllers.join(","), "--timeout", "60s", ...args], input);

  it("an append that would grow a value past 1 MiB is refused with one line; the value is unchanged", async () => {
    suite.onFail();
    const first = Buffer.alloc(1_000_000, 97);
    expect(await shardkv(["put", "grow", "-"], first)).toEqual({ code: 0, stdout: "", stderr: "" });
    const r = await shardkv(["append", "grow", "-"], Buffer.alloc(1_000_000, 98));
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      'shardkv: invalid value: appending 1,000,000 bytes to key "grow" (now 1,000,000 bytes) would make its value 2,000,000 bytes; the limit is 1 MiB\n',
    );
    expect(Buffer.from((await kv.get("grow"))!).equals(first)).toBe(true);
    // The library gets the same typed refusal, at once (final, not retried to the deadline).
    await expect(kv.append("grow", Buffer.alloc(1_000_000, 98))).rejects.toThrow(/would make its value 2,000,000 bytes; the limit is 1 MiB$/);
    // Up to exactly the limit is fine; one byte more is not.
    expect((await shardkv(["append", "grow", "-"], Buffer.alloc(valueBytesMax - 1_000_000, 99))).code).toBe(0);
    expect((await kv.get("grow"))!.length).toBe(valueBytesMax);
    const one = await shardkv(["append", "grow", "-"], Buffer.from("x"));
    expect(one.code).not.toBe(0);
    expect(one.stderr).toMatch(/^shardkv: invalid value: appending 1 byte to key "grow" \(now 1,048,576 bytes\) would make its value 1,048,577 bytes; the limit is 1 MiB\n$/);
    expect((await kv.get("grow"))!.length).toBe(valueBytesMax);
  }, 300_000);

  it("exactly 1 MiB is put and read back through the CLI and the library; one byte more is refused in user terms", async () => {
    suite.onFail();
    const v = Buffer.alloc(MiB, 65);
    expect(await shardkv(["put", "mib-cli", "-"], v)).toEqual({ code: 0, stdout: "", stderr: "" });
    const got = await shardkv(["get", "mib-cli"]);
    expect(got.code).toBe(0);
    expect(got.stdout.length).toBe(MiB + 1);
    expect(got.stdout).toBe(`${v.toString()}\n`);
    await kv.put("mib-lib", v);
    expect(Buffer.from((await kv.get("mib-lib"))!).equals(v)).toBe(true);
    expect(Buffer.from((await kv.get("mib-cli"))!).equals(v)).toBe(true);
    const over = await shardkv(["put", "over", "-"], Buffer.alloc(MiB + 1, 65));
    expect(over.code).not.toBe(0);
    expect(over.stderr).toBe("shardkv: invalid value: value is 1,048,577 bytes; the limit is 1 MiB\n");
  }, 300_000);

  it("shardctl move of a shard whose values and saved replies are at the limit completes", async () => {
    suite.onFail();
    const cfg = await e.cluster.controller().query();
    const shard = cfg.shards.findIndex((g) => g === 1);
    expect(shard).toBeGreaterThanOrEqual(0);
    const keys: string[] = [];
    for (let i = 0; keys.length < 6; i++) if (shardOf(`full${i}`, shards) === shard) keys.push(`full${i}`);
    const values = new Map<string, Buffer>();
    for (const [i, k] of keys.entries()) {
      const v = Buffer.alloc(valueBytesMax, 100 + i);
      await kv.put(k, v);
      values.set(k, v);
    }
    // Duplicate tables with replies at the limit: each fresh client's last reply is kept
    // (never acknowledged): CASes returning the 1 MiB value they replaced, and a batch of four
    // gets returning 4 MiB.
    for (const [i, k] of keys.entries()) {
      const c = await ShardKV.connect({ controllers: e.controllers, deadlineMs: 60_000 });
      try {
        const next = Buffer.alloc(valueBytesMax, 200 + i);
        const r = await c.cas(k, values.get(k)!, next);
        expect(r.swapped).toBe(true);
        expect(r.current?.length).toBe(valueBytesMax);
        values.set(k, next);
      } finally {
        c.close();
      }
    }
    const reader = await ShardKV.connect({ controllers: e.controllers, deadlineMs: 60_000 });
    try {
      const rs = await reader.batch(keys.slice(0, 4).map((key) => ({ type: "get" as const, key })));
      expect(rs.map((r) => r.value?.length)).toEqual([valueBytesMax, valueBytesMax, valueBytesMax, valueBytesMax]);
    } finally {
      reader.close();
    }
    e.mark(`shard ${shard}: ${keys.length} values of 1 MiB and 7 unacknowledged replies of 1-4 MiB written`);

    const mv = await runShardctl(["--controllers", e.controllers.join(","), "--timeout", "60s", "move", String(shard), "2"]);
    expect(mv, "shardctl move").toMatchObject({ code: 0 });
    await e.waitSettled(`after moving shard ${shard} to group 2`, 240_000);
    e.mark(`shard ${shard} moved to group 2; every shard serving`);
    expect((await e.cluster.controller().query()).shards[shard]).toBe(2 as GroupId);
    for (const [k, v] of values) expect(sha((await kv.get(k))!)).toBe(sha(v));
    // Still writable where it is now, and no replica dropped a Raft message for its size.
    await kv.put(keys[0]!, "after");
    expect(await kv.getString(keys[0]!)).toBe("after");
    for (const n of e.cluster.nodeNames()) expect(e.cluster.logOf(n), n).not.toMatch(/dropped (append|snapshot)/);
    expect(await e.foreignKeys()).toEqual([]);
  }, 400_000);
});
