/**
 * The migration driver's config step (shard-server/migration-driver.ts nextConfig) with a
 * controller whose queries go unanswered, as on a network that loses them: a config the Watch
 * offers while a backstop query waits is proposed at once, not after the query gives up.
 * In-process fakes: a leader node whose proposals apply to a real ShardGroupCore, a config
 * source that never answers, no groups to pull from (the configs assign only this group).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Clock } from "../../common/env";
import { silentLogger } from "../../common/env";
import type { ConfigNum, GroupId, NodeId, Term } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { type Config, initialConfig } from "../../controller/config";
import type { ApplyResult } from "../../shard-server/apply";
import { decodeCommand } from "../../shard-server/codec";
import { MigrationDriver } from "../../shard-server/migration-driver";
import type { ShardNode } from "../../shard-server/service";
import { type Effects, ShardGroupCore } from "../../shard-server/state-machine";
import { waitFor } from "../lib/wait";

const gid = 1 as GroupId;
const shardCount = 4;

function configOf(num: number): Config {
  return { num: num as ConfigNum, shards: Array.from({ length: shardCount }, () => gid), groups: new Map([[gid, ["127.0.0.1:1"]]]) };
}

const drivers: MigrationDriver[] = [];
/** Fails the hanging queries (a stopping driver waits for its tasks). */
const hanging: ((e: Error) => void)[] = [];
afterEach(async () => {
  for (const fail of hanging.splice(0)) fail(new Error("test over"));
  for (const d of drivers.splice(0)) await d.stop();
});

describe("MigrationDriver config step", () => {
  it("a config offered while a backstop query is unanswered is proposed at once", async () => {
    const core = new ShardGroupCore({ gid, shardCount, config: initialConfig(shardCount), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
    const proposed: number[] = [];
    const node: ShardNode = {
      softState: () => ({ leader: 1 as NodeId, role: "leader", term: 1 as Term }),
      readBarrier: () => Promise.resolve(),
      propose: (data): Promise<ApplyResult> => {
        const { op } = decodeCommand(data);
        if (op.kind !== "reconfigure") return Promise.resolve(null);
        proposed.push(op.config.num);
        const fx: Effects = { writes: [], clearShards: [], metas: [], dedup: [] };
        return Promise.resolve({ kind: "reconfigure", accepted: core.applyReconfigure(op.config, fx) });
      },
    };
    let queries = 0;
    const clock: Clock = { nowMs: realClock.nowMs, after: realClock.after };
    const driver = new MigrationDriver(
      { gid, id: 1 as NodeId, logger: silentLogger, pollMs: 20, configPollMs: 60_000, clock, logClock: clock },
      { core }, node,
      { query: () => (queries++, new Promise<Config>((_, reject) => hanging.push(reject))) }, // lost: never answered
      { pullShard: () => { throw new Error("no pulls expected"); }, deleteShard: () => Promise.reject(new Error("no deletes expected")) },
    );
    drivers.push(driver);
    driver.start();
    // The first run of the loop queries (the backstop is due); that query hangs.
    await waitFor(() => queries === 1, { timeoutMs: 5000, what: "the backstop query" });
    driver.offer(configOf(1));
    await waitFor(() => core.config.num === 1, { timeoutMs: 2000, what: `config 1 applied (proposed: ${proposed.join(",")})` });
    // The next one too, while that step queries for config 2 and waits.
    await waitFor(() => queries === 2, { timeoutMs: 5000, what: "the query for config 2" });
    driver.offer(configOf(2));
    await waitFor(() => core.config.num === 2, { timeoutMs: 2000, what: "config 2 applied" });
    expect(proposed).toEqual([1, 2]);
  });
});
