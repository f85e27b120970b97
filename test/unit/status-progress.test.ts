/**
 * The pure parts of status and progress output: where migrations stand and how many bytes are
 * left (controller/migration-progress.ts), the progress line on a terminal and piped
 * (common/progress-line.ts), a data directory's size and its cache (common/dir-size.ts), and
 * the columns `shardctl status` and `shardkv-local status` print (controller/shardctl-lib.ts).
 */
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatMigrationProgress, type GroupView, migrationProgress } from "../../controller/migration-progress";
import { ProgressLine } from "../../common/progress-line";
import { DirSizeCache, dirBytes } from "../../common/dir-size";
import { formatSize } from "../../common/limits";
import { formatGroupStatus, formatShardSummary, formatUptime, type ServerStatus } from "../../controller/shardctl-lib";
import type { GroupId } from "../../common/ids";
import { ManualClock } from "../lib/manual-clock";
import { waitFor } from "../lib/wait";

const shard = (s: number, state: string, bytes = 0, keys = 0) => ({ shard: s, state, keys, bytes });
const led = (gid: number, configNum: number, shards: ReturnType<typeof shard>[]): GroupView => ({ gid, leader: { name: `g${gid}n1`, configNum, shards } });

describe("migrationProgress", () => {
  // Config 3: shards 0,1 to group 1, shards 2,3 to group 2 (which joined: it pulls them from group 1).
  const config = { num: 3, shards: [1, 1, 2, 2], gids: [1, 2] };

  it("bytes left: what the previous owner holds minus what the new owner has inserted", () => {
    const p = migrationProgress(config, [
      led(1, 3, [shard(0, "serving", 10), shard(1, "serving", 10), shard(2, "handoff", 5000), shard(3, "handoff", 3000)]),
      led(2, 3, [shard(2, "pulling", 1000), shard(3, "pulling", 0)]),
    ]);
    expect(p).toMatchObject({ serving: 2, moving: 2, bytesLeft: 4000 + 3000, bytesLeftKnown: true, gc: 0, done: false });
    expect(formatMigrationProgress(p)).toBe("config 3: 2/4 shards serving, 2 shards moving (6.8 KiB left)");
    expect(p.why).toContain("group 2 has shards pulling 2");
  });

  it("a shard whose previous owner did not answer: bytes left are a lower bound; a group without a leader has its shards moving", () => {
    const p = migrationProgress(config, [{ gid: 1 }, led(2, 3, [shard(2, "pulling", 100), shard(3, "gc", 300)])]);
    expect(p).toMatchObject({ moving: 3, bytesLeft: 0, bytesLeftKnown: false, gc: 1, done: false });
    expect(formatMigrationProgress(p)).toBe("config 3: 0/4 shards serving, 3 shards moving (at least 0 B left), 1 awaiting gc");
    expect(p.why).toContain("group 1 has no leader");
  });

  it("a group that left (not in the config) hands its shards off: asked as one of the others", () => {
    const p = migrationProgress({ num: 4, shards: [2, 2], gids: [2] }, [led(2, 4, [shard(0, "serving", 5), shard(1, "pulling", 0)])], [led(1, 4, [shard(1, "handoff", 2 * 1024 * 1024)])]);
    expect(p).toMatchObject({ serving: 1, moving: 1, bytesLeft: 2 * 1024 * 1024, done: false });
    expect(formatMigrationProgress(p)).toBe("config 4: 1/2 shards serving, 1 shard moving (2.0 MiB left)");
  });

  it("a new owner not yet pulling (not at the config yet): the whole of what the previous owner holds is left", () => {
    const p = migrationProgress(config, [led(1, 3, [shard(0, "serving"), shard(1, "serving"), shard(2, "handoff", 600), shard(3, "handoff", 400)]), led(2, 2, [])]);
    expect(p).toMatchObject({ serving: 2, moving: 2, bytesLeft: 1000, bytesLeftKnown: true });
    // The previous owner not at the config yet either: it still serves them, with their bytes
    // (and its own two shards: not moving, not serving at the config yet).
    const early = migrationProgress(config, [led(1, 2, [shard(0, "serving", 1), shard(1, "serving", 1), shard(2, "serving", 600), shard(3, "serving", 400)]), led(2, 2, [])]);
    expect(early).toMatchObject({ serving: 0, moving: 2, bytesLeft: 1000, bytesLeftKnown: true, done: false });
  });

  it("done: every shard serving at its owner, which is at the config", () => {
    const p = migrationProgress(config, [led(1, 3, [shard(0, "serving"), shard(1, "serving"), shard(2, "notOwned"), shard(3, "notOwned")]),
      led(2, 3, [shard(2, "serving"), shard(3, "serving")])]);
    expect(p).toMatchObject({ serving: 4, moving: 0, gc: 0, done: true, why: [] });
    expect(formatMigrationProgress(p)).toBe("config 3: 4/4 shards serving, no shards moving");
    // A group behind the config is not done, whatever its shards say.
    expect(migrationProgress(config, [led(1, 2, [shard(0, "serving"), shard(1, "serving")]), led(2, 3, [shard(2, "serving"), shard(3, "serving")])]).done).toBe(false);
  });
});

/** A stream that records what was written, as a terminal or a pipe. */
function output(isTTY: boolean): { isTTY: boolean; text: string; write(s: string): void } {
  return { isTTY, text: "", write(s: string) { this.text += s; } };
}

describe("ProgressLine", () => {
  it("on a terminal: one line rewritten in place, other lines printed above it, a newline at the end", () => {
    const out = output(true);
    const p = new ProgressLine(out, new ManualClock(), { indent: "  " });
    p.update("a");
    p.update("a");
    p.update("b");
    p.say("joined group 3");
    p.done();
    expect(out.text).toBe("\r\x1b[2K  a\r\x1b[2K  b\r\x1b[2Kjoined group 3\n  b\n");
  });

  it("piped: plain lines, a changed one at most every plainEveryMs, the last state held back printed before another line or at the end", () => {
    const out = output(false);
    const clock = new ManualClock();
    const p = new ProgressLine(out, clock, { plainEveryMs: 3000 });
    p.update("1/4");
    p.update("2/4");
    clock.advance(1000);
    p.update("3/4");
    expect(out.text).toBe("1/4\n");
    clock.advance(2000);
    p.update("3/4");
    p.update("3/4");
    clock.advance(1000);
    p.update("4/4");
    p.say("done");
    p.done();
    expect(out.text).toBe("1/4\n3/4\n4/4\ndone\n");
  });

  it("piped: nothing printed twice, nothing extra at the end when the last state was printed", () => {
    const out = output(false);
    const clock = new ManualClock();
    const p = new ProgressLine(out, clock);
    p.update("x");
    p.update("x");
    p.done();
    expect(out.text).toBe("x\n");
    p.update("y");
    clock.advance(1);
    p.update("z");
    p.done();
    expect(out.text).toBe("x\nz\n");
  });
});

describe("data directory size", () => {
  it("sums the files below it; the cache answers from its last walk, walking again in the background after maxAgeMs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shardkv-dirsize-"));
    try {
      mkdirSync(join(dir, "raft", "sub"), { recursive: true });
      writeFileSync(join(dir, "IDENTITY"), "x".repeat(10));
      writeFileSync(join(dir, "raft", "000001.log"), Buffer.alloc(1000));
      writeFileSync(join(dir, "raft", "sub", "CURRENT"), "y".repeat(16));
      expect(await dirBytes(dir)).toBe(1026);
      expect(await dirBytes(join(dir, "missing"))).toBe(0);
      const clock = new ManualClock();
      const cache = new DirSizeCache(dir, clock, 10_000);
      expect(await cache.bytes()).toBe(1026);
      writeFileSync(join(dir, "state.sst"), Buffer.alloc(4000));
      clock.advance(9_999);
      expect(await cache.bytes()).toBe(1026);
      clock.advance(1);
      // Stale: the last figure at once (a Status never waits for a walk), the walk in the
      // background; its figure is answered once it ended.
      const walkedAt = cache.walkedAtMs;
      expect(await cache.bytes()).toBe(1026);
      await waitFor(() => cache.walkedAtMs > walkedAt, { timeoutMs: 10_000, what: "the background walk" });
      expect(await cache.bytes()).toBe(5026);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("status columns", () => {
  it("formatSize and formatUptime", () => {
    expect([0, 512, 1024, 1536, 12.34 * 1024 * 1024, 3 * 1024 ** 3].map(formatSize)).toEqual(["0 B", "512 B", "1.0 KiB", "1.5 KiB", "12.3 MiB", "3.0 GiB"]);
    expect([999, 45_000, 725_000, 3_725_000, 2 * 86_400_000 + 3 * 3_600_000].map(formatUptime)).toEqual(["0s", "45s", "12m05s", "1h02m", "2d03h"]);
  });

  it("a shard summary: states with counts, keys and bytes", () => {
    expect(formatShardSummary([shard(0, "serving", 1000, 3), shard(1, "serving", 48, 1), shard(2, "gc", 0, 0), shard(3, "notOwned", 0, 0)]))
      .toBe("serving 2, gc 1; 4 keys, 1.0 KiB");
    expect(formatShardSummary([shard(0, "notOwned")])).toBe("no shards; 0 keys, 0 B");
  });

  it("a group: title with the leader, LAG on the leader's word when it answered, one row per server", () => {
    const server = (address: string, id: number, role: string, extra: object = {}): ServerStatus => ({
      address,
      status: {
        id, role, term: 2, leader: 1, leaderAddress: "a:1", configNum: 3, commitIndex: 40, appliedIndex: 40, lag: 0,
        logEntries: 10, logBytes: 2048, snapshotIndex: 30, snapshotBytes: 0, dataDirBytes: 4096, uptimeMs: 61_000,
        shards: [{ shard: 0, state: "serving", configNum: 3, keys: 2, bytes: 100, dedupClients: 0 }], ...extra,
      },
    });
    const text = formatGroupStatus({
      gid: 2 as GroupId, configNum: 3,
      servers: [server("a:1", 1, "leader", { behindLeader: 0 }), server("a:2", 2, "follower", { behindLeader: 7 }), { address: "a:3", error: "connection refused" }],
    });
    const lines = text.split("\n");
    expect(lines[0]).toBe("group 2 (config 3): 2/3 up, leader a:1");
    expect(lines[1]).toMatch(/^ADDRESS +STATE +ID +ROLE +TERM +LEADER +APPLIED +CONFIG +LAG +LOG +SNAPSHOT +DATA +UPTIME +SHARDS +ERROR$/);
    expect(lines[2]).toMatch(/^a:1 +up +1 +leader +2 +1 +40 +3 +0 +10 \(2\.0 KiB\) +30 +4\.0 KiB +1m01s +serving 1; 2 keys, 100 B$/);
    expect(lines[3]).toMatch(/^a:2 +up +2 +follower .* 3 +7 +10 \(2\.0 KiB\)/);
    expect(lines[4]).toMatch(/^a:3 +down .* connection refused$/);
  });
});
