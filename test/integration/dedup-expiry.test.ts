/**
 * Duplicate detection stays bounded with many short-lived clients (docs/design.md#54-duplicate-detection), over real
 * processes: a controller group and one shard group of three `shardkv-server` daemons started
 * with `--dedup-ttl 12s --snapshot-every 40`.
 *  - 120 clients (the real client library) each write one key and close: every replica holds
 *    one duplicate record per client (Status: dedupClients summed over the shards). The
 *    clients connect first and then write together, so the writes' log times lie within a
 *    moment, far less than the TTL, however loaded the machine (connecting and writing
 *    30 clients at a time took longer than the TTL at load 30, and the first records expired
 *    before the last were written);
 *  - one client keeps writing; once the others have been idle for the TTL in log time (the
 *    leaders' timestamps carried in the entries), every replica has forgotten exactly the
 *    same records: only the live client's remain;
 *  - a replica that was down meanwhile catches up by snapshot (the log was compacted every 40
 *    entries) and ends with the same bounded table; so does a replica restarted with kill -9.
 *  - every key written by the short-lived clients still reads back.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ShardKV } from "../../client/shardkv";
import { realClock } from "../../common/real-env";
import { LocalCluster, serverName } from "../../deploy/local/cluster";
import { logTail } from "../../deploy/local/process";
import { waitFor } from "../lib/wait";

const shards = 4;
const shortLived = 120;
/** The servers' --dedup-ttl. */
const ttlMs = 12_000;

describe("duplicate records expire with leader timestamps (real processes)", () => {
  let dir: string;
  let cluster: LocalCluster | undefined;
  let failed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-dedup-"));
    cluster = await LocalCluster.up({ dir, shards, groups: 0, tickMs: 50, serverArgs: ["--dedup-ttl", `${ttlMs}ms`, "--snapshot-every", "40"] });
  });

  afterAll(async () => {
    await cluster?.down();
    if (failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`dedup-expiry test logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  /** Duplicate records of every shard on one replica (undefined while it does not answer). */
  async function dedupClients(id: number): Promise<number | undefined> {
    const s = await cluster!.replicaStatus(serverName(1, id));
    return s?.shards.reduce((n, sh) => n + Number(sh.dedupClients), 0);
  }

  it("120 short-lived clients: the table grows to them, then shrinks to the live client on every replica", async () => {
    onTestFailed(() => {
      failed = true;
      if (cluster) process.stderr.write(cluster.logTails(40) + "\n");
    });
    const c = cluster!;
    await c.addGroup({ gid: 1 }); // joined; returns once every shard is Serving
    await c.waitLeader(1);
    const controllers = c.controllerAddrs();

    // Short-lived clients: connected 30 at a time (a connect writes nothing), each reading its
    // key once so that its connection to the leader is up (a read leaves no record), then one
    // write each, all at once, and close.
    const written = new Map<string, string>();
    const clients: ShardKV[] = [];
    let burstMs = 0;
    try {
      for (let i = 0; i < shortLived; i += 30) {
        clients.push(...await Promise.all(Array.from({ length: Math.min(30, shortLived - i) }, async (_, j) => {
          const kv = await ShardKV.connect({ controllers, deadlineMs: 20000 });
          try {
            expect(await kv.get(`short-${i + j}`)).toBeUndefined();
          } catch (e) {
            kv.close();
            throw e;
          }
          return kv;
        })));
      }
      const burstStart = realClock.nowMs();
      await Promise.all(clients.map(async (kv, i) => {
        await kv.put(`short-${i}`, `v${i}`);
        written.set(`short-${i}`, `v${i}`);
      }));
      burstMs = realClock.nowMs() - burstStart;
    } finally {
      for (const kv of clients) kv.close();
    }
    // Records expire only when an entry's log time is more than the TTL past them, and log
    // time runs at most as fast as real time (docs/design.md 5.4): the writes' log times span
    // at most burstMs, far less than the TTL, so no write of the burst expired another's. And
    // nothing is written until the live client below starts, so the table stays as it is
    // however long the replicas take to show it.
    for (const id of [1, 2, 3]) {
      await waitFor(async () => (await dedupClients(id)) === shortLived, {
        timeoutMs: 30_000,
        what: `replica ${id} to hold ${shortLived} duplicate records (the writes took ${burstMs} ms, the TTL is ${ttlMs} ms)`,
      });
    }
    // Replica 3 goes down now: it misses the expiry and the snapshots after it.
    const lagging = Number((await c.replicaStatus(serverName(1, 3)))?.appliedIndex ?? 0);
    await c.kill(serverName(1, 3));

    // One live client keeps writing, so log time advances past the TTL.
    const live = await ShardKV.connect({ controllers, deadlineMs: 20000 });
    let stop = false;
    let n = 0;
    const writer = (async () => {
      while (!stop) await live.put("live", String(n++)); // one shard: one record
    })();
    try {
      for (const id of [1, 2]) {
        await waitFor(async () => (await dedupClients(id)) === 1, { timeoutMs: 40000, what: `replica ${id} forgets the idle clients` });
      }
      // The lagging replica catches up (by snapshot: the leader compacted its log) to the same table.
      // The expiry needs only log time, not entries: on a slow machine few entries may have
      // passed, so wait until replicas 1 and 2 applied far enough past replica 3 that a
      // snapshot (every 40 entries) compacted the log beyond it.
      for (const id of [1, 2]) {
        await waitFor(async () => Number((await c.replicaStatus(serverName(1, id)))?.appliedIndex ?? 0) >= lagging + 100,
          { timeoutMs: 40000, what: `replica ${id} applies 100 entries past replica 3's ${lagging}` });
      }
      await c.restart(serverName(1, 3));
      await waitFor(async () => (await dedupClients(3)) === 1, { timeoutMs: 30000, what: "replica 3 catches up to the bounded table" });
      // The replica logs the install once its log store recorded it, after the state machine
      // (which Status reads) was restored, and its output reaches us through a pipe: wait for it.
      await waitFor(async () => /installed the leader's snapshot at index/.test(logTail(c.node("g1n3").log, 200)),
        { timeoutMs: 10000, what: "replica 3 logs that it installed the leader's snapshot" });
      // A kill -9 and restart keeps the bounded table (it is durable state, not rebuilt).
      await c.kill(serverName(1, 2));
      await c.restart(serverName(1, 2));
      await waitFor(async () => (await dedupClients(2)) === 1, { timeoutMs: 30000, what: "replica 2 restarts with the bounded table" });
    } finally {
      stop = true;
      await writer;
    }
    expect(n).toBeGreaterThan(40);
    // Expiry forgot who wrote; it did not touch what was written.
    const kv = await ShardKV.connect({ controllers, deadlineMs: 20000 });
    try {
      for (const [k, v] of written) expect(await kv.getString(k)).toBe(v);
    } finally {
      kv.close();
      live.close();
    }
  });
});
