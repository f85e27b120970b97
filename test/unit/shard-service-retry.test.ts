/**
 * ShardService.write (shard-server/service.ts): a retry of a write this leader has proposed
 * and not yet seen settle joins that proposal instead of proposing the write again (the
 * 4 GiB restart row's fill: 1 MiB puts timed out and retried at the leader, each retry
 * proposed another copy, and no write completed in 120 s).
 */
import { describe, expect, it } from "vitest";
import { NotLeaderError, TimeoutError } from "../../common/errors";
import type { ShardId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { shardOf } from "../../controller/shard-of";
import type { ApplyResult } from "../../shard-server/apply";
import { ShardService, type ShardNode, type ShardStateView } from "../../shard-server/service";
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
}

function service(node: FakeNode): ShardService {
  const sm = { core: { shardCount } } as unknown as ShardStateView;
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

  it("once the proposal settled, a retry proposes again (the duplicate table answers it)", async () => {
    const node = new FakeNode();
    const svc = service(node);
    const first = svc.write(put(client("aa"), 7));
    node.proposals[0]!.resolve(applied(result));
    await first;
    void svc.write(put(client("aa"), 7));
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
