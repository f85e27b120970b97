/**
 * The migration driver's config step (shard-server/migration-driver.ts nextConfig) with a
 * controller whose queries go unanswered, as on a network that loses them: a config the Watch
 * offers while a backstop query waits is proposed at once, not after the query gives up; and a
 * handoff whose new owner's join an offered config aborted ends at once, not at the next
 * backstop query (e2e-recovery scenario 10: 10 s per aborted join, the old owner frozen).
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

/**
 * A leader driver of group `gid` over a real ShardGroupCore (reconfigure and abortHandoff
 * proposals apply at once), a 60 s backstop, and a controller whose queries are never answered.
 */
function lostQueryDriver(): { core: ShardGroupCore; driver: MigrationDriver; proposed: string[]; queries: () => number } {
  const core = new ShardGroupCore({ gid, shardCount, config: initialConfig(shardCount), metas: [], dedup: new Map(), dedupTtlMs: 60_000 });
  const proposed: string[] = [];
  const node: ShardNode = {
    softState: () => ({ leader: 1 as NodeId, role: "leader", term: 1 as Term }),
    readBarrier: () => Promise.resolve(),
    propose: (data): Promise<ApplyResult> => {
      const { op } = decodeCommand(data);
      const fx: Effects = { writes: [], clearShards: [], metas: [], dedup: [] };
      if (op.kind === "reconfigure") {
        proposed.push(`config ${op.config.num}`);
        return Promise.resolve({ kind: "reconfigure", accepted: core.applyReconfigure(op.config, fx) });
      }
      if (op.kind === "abortHandoff") {
        proposed.push(`abort handoff ${op.shard}`);
        return Promise.resolve({ kind: "abortHandoff", accepted: core.applyAbortHandoff(op.configNum, op.shard, op.aborted, fx) });
      }
      return Promise.resolve(null);
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
  return { core, driver, proposed, queries: () => queries };
}

describe("MigrationDriver config step", () => {
  it("a config offered while a backstop query is unanswered is proposed at once", async () => {
    const { core, driver, proposed, queries } = lostQueryDriver();
    driver.start();
    // The first run of the loop queries (the backstop is due); that query hangs.
    await waitFor(() => queries() === 1, { timeoutMs: 5000, what: "the backstop query" });
    driver.offer(configOf(1));
    await waitFor(() => core.config.num === 1, { timeoutMs: 2000, what: `config 1 applied (proposed: ${proposed.join(",")})` });
    // The next one too, while that step queries for config 2 and waits.
    await waitFor(() => queries() === 2, { timeoutMs: 5000, what: "the query for config 2" });
    driver.offer(configOf(2));
    await waitFor(() => core.config.num === 2, { timeoutMs: 2000, what: "config 2 applied" });
    expect(proposed).toEqual(["config 1", "config 2"]);
  });

  it("a handoff whose new owner's join an offered config aborted ends at once, while the backstop query is unanswered", async () => {
    const { core, driver, proposed } = lostQueryDriver();
    driver.start();
    driver.offer(configOf(1));
    await waitFor(() => core.config.num === 1, { timeoutMs: 5000, what: "config 1 applied" });
    // Config 2 joins group 2 with shards 0 and 1 (handed off from here); config 3, a Leave of
    // group 2 before its AckJoin, aborts that join and gives them back. The group cannot move
    // to config 3 until its handoffs end.
    const g2 = 2 as GroupId;
    const c2: Config = { num: 2 as ConfigNum, shards: [g2, g2, gid, gid], groups: new Map([[gid, ["127.0.0.1:1"]], [g2, ["127.0.0.1:2"]]]) };
    const c3: Config = { ...configOf(3), abortedJoins: [{ gid: g2, joinNum: 2 as ConfigNum, abortNum: 3 as ConfigNum }] };
    driver.offer(c2);
    driver.offer(c3);
    await waitFor(() => core.config.num === 3, { timeoutMs: 5000, what: "config 3 applied (the handoffs of config 2 ended)" }).catch((e: Error) => {
      throw new Error(`${e.message}; proposed: ${proposed.join(", ")}`);
    });
    expect(proposed).toEqual(["config 1", "config 2", "abort handoff 0", "abort handoff 1", "config 3"]);
  });
});
