/**
 * `--migration-rate` (ShardServerOptions.migrationBytesPerSec): a group pulling a shard inserts
 * at most that many bytes per second. One controller and two single-replica groups,
 * in-process, real gRPC and RocksDB: 2.4 MiB in each shard of group 1 (six 400 KiB values,
 * so three 1 MiB chunks of two values), then group 2 joins and takes some shards. Chunks are
 * spaced by bytes / rate over all pulls: at 400 KiB/s the moves cannot finish before (moved
 * bytes - one chunk) / rate; every value arrives intact.
 */
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../common/env";
import type { GroupId, NodeId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { ShardKV } from "../../client/shardkv";
import { ControllerClient } from "../../controller/client";
import { ControllerServer } from "../../controller/server";
import { shardOf } from "../../controller/shard-of";
import { freePorts } from "../../deploy/local/process";
import { shardPb } from "../../shard-server/codec";
import { ShardServer } from "../../shard-server/server";
import { waitFor } from "../lib/wait";
import { Security } from "../../security/credentials";

const shardCount = 4;
/** Bytes of each value: two fill a migration chunk (1 MiB), not three. */
const valueBytes = 400 * 1024;
const rate = 400 * 1024;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe("--migration-rate", () => {
  it("paces the insertion of a pulled shard to the rate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shardkv-rate-"));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const [cp, p1, p2] = await freePorts(3);
    const caddr = `127.0.0.1:${cp}`;
    const ctl = await ControllerServer.start({
      id: 1 as NodeId, listen: caddr, peers: new Map([[1 as NodeId, caddr]]), dataDir: join(dir, "c1"), shardCount, tickMs: 20, security: Security.insecure(), logger: silentLogger,
    });
    cleanup.push(() => ctl.stop());
    const servers = new Map<number, ShardServer>();
    for (const [gid, port] of [[1, p1], [2, p2]] as const) {
      const addr = `127.0.0.1:${port}`;
      const srv = await ShardServer.start({
        gid: gid as GroupId, id: 1 as NodeId, listen: addr, peers: new Map([[1 as NodeId, addr]]), dataDir: join(dir, `g${gid}`),
        controllers: [caddr], shardCount, tickMs: 20, migrationBytesPerSec: rate, security: Security.insecure(), logger: silentLogger,
      });
      cleanup.push(() => srv.stop());
      servers.set(gid, srv);
    }
    const kv = await ShardKV.connect({ controllers: [caddr] });
    cleanup.push(async () => kv.close());
    const client = new ControllerClient({ controllers: [caddr], security: Security.insecure() });
    cleanup.push(async () => client.close());

    await client.join(new Map([[1 as GroupId, [`127.0.0.1:${p1}`]]]));
    // Six 100 KiB values in one shard; which shard group 2 will get is decided below.
    const keysOf = (shard: number) => Array.from({ length: 1000 }, (_, i) => `k${i}`).filter((k) => shardOf(k, shardCount) === shard).slice(0, 6);
    const values = new Map<string, Buffer>();
    for (let s = 0; s < shardCount; s++) {
      for (const [i, k] of keysOf(s).entries()) {
        const v = Buffer.alloc(valueBytes, 97 + ((s * 6 + i) % 26));
        await kv.put(k, v);
        values.set(k, v);
      }
    }
    const t0 = realClock.nowMs();
    const num = await client.join(new Map([[2 as GroupId, [`127.0.0.1:${p2}`]]]));
    const cfg = await client.query(num);
    const moved = cfg.shards.flatMap((g, s) => (g === 2 ? [s] : []));
    expect(moved.length).toBeGreaterThan(0);
    await waitFor(async () => {
      const st = await servers.get(2)!.status();
      // Serving, or serving with group 1's deletion still pending (SHARD_GC).
      return moved.every((s) => {
        const state = st.shards?.find((x) => x.shard === s)?.state;
        return state === shardPb.ShardState.SHARD_SERVING || state === shardPb.ShardState.SHARD_GC;
      });
    }, { timeoutMs: 60_000, what: "group 2 to serve the shards it was given" });
    const elapsed = realClock.nowMs() - t0;
    // Each moved shard is 2.4 MiB in three chunks of two values; all pulls share one budget,
    // so the last chunk cannot start before (total bytes - its own) / rate.
    const lastChunk = 2 * (valueBytes + 6); // two values and their keys at most
    const floorMs = ((moved.length * 6 * valueBytes - lastChunk) / rate) * 1000;
    expect(elapsed).toBeGreaterThanOrEqual(floorMs * 0.95);
    for (const s of moved) for (const k of keysOf(s)) expect(Buffer.from((await kv.get(k))!).equals(values.get(k)!)).toBe(true);
  });
});
