/**
 * ShardService.write (shard-server/service.ts): a retry of a write this leader has proposed
 * and not yet seen settle joins that proposal instead of proposing the write again (the
 * 4 GiB restart row's fill: 1 MiB puts timed out and retried at the leader, each retry
 * proposed another copy, and no write completed in 120 s), and a retry of a write already
 * applied is answered from the duplicate table without a proposal (the restart-size fill
 * under load: retries that arrived after their write settled were proposed again, a growing
 * share of the log, until the fill stalled).
 */
import { describe, expect, it } from "vitest";
import { NotLeaderError, TimeoutError } from "../../common/errors";
import type { ConfigNum, GroupId, ShardId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { type Config, initialConfig } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import type { ApplyResult } from "../../shard-server/apply";
import { ShardService, type ShardNode, type ShardStateView } from "../../shard-server/service";
import { ShardGroupCore, emptyEffects } from "../../shard-server/state-machine";
import type { ClientWrite, OpResult } from "../../shard-server/types";

const shardCount = 8;

/** A leader whose proposals settle when the test says so. */
class FakeNode implements ShardNode {
  readonly proposals: { resolve: (r: ApplyResult) => void; reject: (e: Error) => void }[] = [];
  role: "leader" | "follower" = "leader";
  term = 1;
  softState() {
    return { role: this.role, leader: 1, term: this.term } as ReturnType<ShardNode["softState"]>;
  }
  propose(): Promise<ApplyResult> {
    return new Promise((resolve, reject) => this.proposals.push({ resolve, reject }));
  }
  readBarrier(): Promise<void> {
    return Promise.resolve();
  }
  wakeGroup(): void {}
  pass<T>(fn: () => T): T {
    return fn();
  }
}

const dedupTtlMs = 60_000;

/** The state of group 1, serving every shard (config 1), with no write applied yet. */
function servingCore(): ShardGroupCore {
  const core = new ShardGroupCore({ gid: 1 as GroupId, shardCount, config: initialConfig(shardCount), metas: [], dedup: new Map(), dedupTtlMs });
  const c1: Config = { num: 1 as ConfigNum, shards: Array.from({ length: shardCount }, () => 1 as GroupId), groups: new Map([[1 as GroupId, ["127.0.0.1:1"]]]) };
  core.applyReconfigure(c1, emptyEffects());
  return core;
}

function service(node: FakeNode, core = servingCore()): ShardService {
  const sm = { core } as unknown as ShardStateView;
  return new ShardService({ node, sm, clock: realClock, address: () => "127.0.0.1:1" });
}

const key = new TextEncoder().encode("k");
/** A 16-byte client id as the wire carries it (hex). */
const client = (c: string): string => c.repeat(16);
const put = (clientId: string, seq: number): ClientWrite => ({
  clientId, seq, ackedBelow: 1, shard: shardOf(key, shardCount) as ShardId, ops: [{ type: "put", key, value: new Uint8Array(1024) }],
});
const applied = (results: OpResult[]): ApplyResult => ({ kind: "write", outcome: { ok: true, results, duplicate: false } });
const result: OpResult[] = [{ found: false, swapped: false } as OpResult];

describe("ShardService.write retries", () => {
  it("a retry of a write in flight joins its proposal: one entry, both answered with its result", async () => {
    const node = new FakeNode();
    const svc = service(node);
    const first = svc.write(put(client("aa"), 7));
    const retry = svc.write(put(client("aa"), 7));
    expect(node.proposals).toHaveLength(1);
    node.proposals[0]!.resolve(applied(result));
    expect(await first).toBe(result);
    expect(await retry).toBe(result);
  });

  it("other writes (another seq, another client) are proposed on their own", () => {
    const node = new FakeNode();
    const svc = service(node);
    void svc.write(put(client("aa"), 7));
    void svc.write(put(client("aa"), 8));
    void svc.write(put(client("bb"), 7));
    expect(node.proposals).toHaveLength(3);
  });

  it("a retry of a write already applied is answered with its saved replies, and nothing is proposed", async () => {
    const node = new FakeNode();
    const core = servingCore();
    const svc = service(node, core);
    const w = put(client("aa"), 7);
    const first = svc.write(w);
    // Its entry commits and is applied: the duplicate table records its replies.
    const outcome = core.applyWrite(w, realClock.nowMs(), () => undefined, emptyEffects());
    expect(outcome.ok).toBe(true);
    node.proposals[0]!.resolve({ kind: "write", outcome });
    const results = await first;
    const retry = svc.write(put(client("aa"), 7));
    expect(node.proposals).toHaveLength(1);
    expect(await retry).toEqual(results);
  });

  it("a retry of a write whose reply its client acknowledged since is refused as the apply refuses it, and nothing is proposed", async () => {
    const node = new FakeNode();
    const core = servingCore();
    const svc = service(node, core);
    expect(core.applyWrite(put(client("aa"), 7), realClock.nowMs(), () => undefined, emptyEffects()).ok).toBe(true);
    // Its next write says it has every reply below 8: the reply of 7 is dropped.
    expect(core.applyWrite({ ...put(client("aa"), 8), ackedBelow: 8 }, realClock.nowMs(), () => undefined, emptyEffects()).ok).toBe(true);
    const late = svc.write(put(client("aa"), 7));
    expect(node.proposals).toHaveLength(0);
    await expect(late).rejects.toThrow(/request 7 was already acknowledged/);
  });

  it("a retry the duplicate table cannot answer is proposed again: its client's record expired, or the shard is not served", async () => {
    const node = new FakeNode();
    const core = servingCore();
    const svc = service(node, core);
    // Applied longer than the TTL ago (log time): applying it again would execute it again
    // too, so it is not answered here either.
    const old = put(client("aa"), 7);
    expect(core.applyWrite(old, realClock.nowMs() - dedupTtlMs - 1000, () => undefined, emptyEffects()).ok).toBe(true);
    void svc.write(put(client("aa"), 7));
    expect(node.proposals).toHaveLength(1);
    // The shard moved away after the write applied: the apply answers WrongGroup.
    const moved = put(client("bb"), 3);
    expect(core.applyWrite(moved, realClock.nowMs(), () => undefined, emptyEffects()).ok).toBe(true);
    const c2: Config = { num: 2 as ConfigNum, shards: Array.from({ length: shardCount }, () => 2 as GroupId), groups: new Map([[2 as GroupId, ["127.0.0.1:2"]]]) };
    core.applyReconfigure(c2, emptyEffects());
    void svc.write(put(client("bb"), 3));
    expect(node.proposals).toHaveLength(2);
  });


  it("a failed proposal fails the retries that joined it, and is forgotten", async () => {
    const node = new FakeNode();
    const svc = service(node);
    const first = svc.write(put(client("aa"), 7));
    const retry = svc.write(put(client("aa"), 7));
    node.proposals[0]!.reject(new TimeoutError("proposal", 0));
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
    await expect(retry).rejects.toBeInstanceOf(TimeoutError);
    void svc.write(put(client("aa"), 7));
    expect(node.proposals).toHaveLength(2);
  });

  it("leading again in a later term, a retry proposes anew (the earlier term's entry may have been cut from the log)", () => {
    const node = new FakeNode();
    const svc = service(node);
    void svc.write(put(client("aa"), 7));
    node.term = 3;
    void svc.write(put(client("aa"), 7));
    expect(node.proposals).toHaveLength(2);
  });

  it("a replica that stopped leading refuses a retry with NotLeader even while the proposal is pending", async () => {
    const node = new FakeNode();
    const svc = service(node);
    void svc.write(put(client("aa"), 7)).catch(() => undefined);
    node.role = "follower";
    await expect(svc.write(put(client("aa"), 7))).rejects.toBeInstanceOf(NotLeaderError);
    expect(node.proposals).toHaveLength(1);
  });
});
