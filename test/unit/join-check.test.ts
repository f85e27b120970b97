/**
 * The join check's decision (controller/join-check.ts) and the controller's description of a
 * server that gave no identity (controller/identify-client.ts): which answers count as a
 * group's replicas, the majority rule, and the one-line refusal naming what each server said.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { GroupId } from "../../common/ids";
import { describeIdentifyFailure, gaveNoAnswer } from "../../controller/identify-client";
import {
  type IdentifyAnswer, type JoinExpectation, type ServerIdentity, checkJoin, joinQuorum, judgeGroup,
} from "../../controller/join-check";

const g = (n: number) => n as GroupId;
const expect64: JoinExpectation = { shardCount: 64, clusterId: "" };
const replica = (gid: number, id: number, more: Partial<ServerIdentity> = {}): IdentifyAnswer =>
  ({ ok: true, identity: { gid, id, shardCount: 64, clusterId: "", hasData: false, ...more } });
const down = (error = "connection refused"): IdentifyAnswer => ({ ok: false, error, answered: false });
const addrs = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${5555 + i}`);

describe("joinQuorum", () => {
  it.each([[1, 1], [2, 2], [3, 2], [4, 3], [5, 3], [64, 33]])("%i servers need %i", (n, q) => {
    expect(joinQuorum(n)).toBe(q);
  });
});

describe("judgeGroup", () => {
  it("accepts a majority answering as the group's replicas; names the refusal otherwise", () => {
    expect(judgeGroup(g(7), addrs(3), [replica(7, 1), replica(7, 2), replica(7, 3)], expect64)).toBeUndefined();
    expect(judgeGroup(g(7), addrs(3), [replica(7, 1), down(), replica(7, 3)], expect64)).toBeUndefined();
    expect(judgeGroup(g(7), addrs(3), [down(), replica(3, 1), replica(7, 3)], expect64)).toBe(
      "group 7 needs 2 of 3 servers answering as its replicas; 1 answered: " +
      "127.0.0.1:5555 connection refused; 127.0.0.1:5556 is replica 1 of group 3");
  });

  it("nothing listening: every server named, none answered", () => {
    expect(judgeGroup(g(7), addrs(2), [down(), down("gave no answer within 2 s")], expect64)).toBe(
      "group 7 needs 2 of 2 servers answering as its replicas; 0 answered: " +
      "127.0.0.1:5555 connection refused; 127.0.0.1:5556 gave no answer within 2 s");
    expect(judgeGroup(g(7), addrs(1), [down()], expect64)).toBe(
      "group 7 needs 1 of 1 server answering as its replicas; 0 answered: 127.0.0.1:5555 connection refused");
  });

  it("a replica of the gid with another shard count does not count", () => {
    expect(judgeGroup(g(7), addrs(1), [replica(7, 1, { shardCount: 32 })], expect64)).toBe(
      "group 7 needs 1 of 1 server answering as its replicas; 0 answered: 127.0.0.1:5555 is replica 1 of group 7 but has 32 shards, the cluster 64");
  });

  it("cluster ids are compared only when both sides know one", () => {
    const known = { shardCount: 64, clusterId: "c-1" };
    expect(judgeGroup(g(7), addrs(1), [replica(7, 1, { clusterId: "c-1" })], known)).toBeUndefined();
    expect(judgeGroup(g(7), addrs(1), [replica(7, 1)], known)).toBeUndefined();
    expect(judgeGroup(g(7), addrs(1), [replica(7, 1, { clusterId: "c-2" })], expect64)).toBeUndefined();
    expect(judgeGroup(g(7), addrs(1), [replica(7, 1, { clusterId: "c-2" })], known)).toBe(
      'group 7 needs 1 of 1 server answering as its replicas; 0 answered: 127.0.0.1:5555 is replica 1 of group 7 but of cluster "c-2", not "c-1"');
  });

  it("two addresses reaching the same replica count once", () => {
    expect(judgeGroup(g(7), addrs(3), [replica(7, 1), replica(7, 1), down()], expect64)).toBe(
      "group 7 needs 2 of 3 servers answering as its replicas; 1 answered: " +
      "127.0.0.1:5556 is replica 1 of group 7, as is 127.0.0.1:5555; 127.0.0.1:5557 connection refused");
  });

  it("a replica holding data counts (a group joining again with its old directories)", () => {
    expect(judgeGroup(g(7), addrs(1), [replica(7, 1, { hasData: true })], expect64)).toBeUndefined();
  });
});

describe("checkJoin", () => {
  const table = (answers: Record<string, IdentifyAnswer>) => {
    const asked: string[] = [];
    const identify = async (a: string): Promise<IdentifyAnswer> => {
      asked.push(a);
      return answers[a] ?? down();
    };
    return { asked, identify };
  };

  it("asks every server of every group and passes when each group has a majority", async () => {
    const t = table({ "a:1": replica(1, 1), "a:2": replica(1, 2), "b:1": replica(2, 1) });
    const groups = new Map([[g(2), ["b:1"]], [g(1), ["a:1", "a:2", "a:3"]]]);
    const verdict = await checkJoin(groups, expect64, t.identify);
    expect(verdict.refusal).toBeUndefined();
    // The ids learned, in the order of each group's servers (0: did not count).
    expect([...verdict.ids]).toEqual([[1, [1, 2, 0]], [2, [1]]]);
    expect(t.asked.sort()).toEqual(["a:1", "a:2", "a:3", "b:1"]);
  });

  it("refuses in one line, one clause per failing group, gid ascending", async () => {
    const t = table({ "a:1": replica(1, 1), "c:1": replica(1, 2) });
    const groups = new Map([[g(9), ["c:1"]], [g(1), ["a:1", "a:2", "a:3"]], [g(8), ["b:1"]]]);
    const { refusal } = await checkJoin(groups, expect64, t.identify);
    expect(refusal).toBe(
      "join refused: group 1 needs 2 of 3 servers answering as its replicas; 1 answered: a:2 connection refused; a:3 connection refused; " +
      "group 8 needs 1 of 1 server answering as its replicas; 0 answered: b:1 connection refused; " +
      "group 9 needs 1 of 1 server answering as its replicas; 0 answered: c:1 is replica 2 of group 1 " +
      "(start the servers first; shardctl join --force skips this check)");
    expect(refusal).not.toContain("\n");
  });

  it("a refusal only for servers that gave no answer names them (of the failing groups): a later check may pass", async () => {
    const answers = { "a:1": replica(1, 1), "a:3": down("gave no answer within 2 s"), "c:1": replica(9, 1), "c:2": replica(3, 1) };
    const verdict = await checkJoin(new Map([[g(1), ["a:1", "a:2", "a:3"]], [g(8), ["b:1"]]]), expect64, table(answers).identify);
    expect(verdict.refusal).toMatch(/^join refused: group 1 needs 2 of 3 servers/);
    expect(verdict.unanswered).toEqual([
      { address: "a:2", reason: "connection refused" }, { address: "a:3", reason: "gave no answer within 2 s" }, { address: "b:1", reason: "connection refused" },
    ]);
    // Group 9 fails with c:2 answering as group 3's replica: final, though group 8 only waits for b:1.
    const final = await checkJoin(new Map([[g(9), ["c:1", "c:2"]], [g(8), ["b:1"]]]), expect64, table(answers).identify);
    expect(final.refusal).toMatch(/group 8 needs 1 of 1 .*; group 9 needs 2 of 2 .*c:2 is replica 1 of group 3/);
    expect(final.unanswered).toBeUndefined();
    // A group that passes does not count, whatever its other servers said: group 1 (a:1, a:6 of
    // 3) passes with c:2 answering as group 3's; group 8 waits for b:1.
    const passing = await checkJoin(new Map([[g(1), ["a:1", "a:6", "c:2"]], [g(8), ["b:1"]]]), expect64, table({ ...answers, "a:6": replica(1, 2) }).identify);
    expect(passing.refusal).toMatch(/^join refused: group 8 needs 1 of 1 server answering as its replicas; 0 answered: b:1 connection refused /);
    expect(passing.unanswered).toEqual([{ address: "b:1", reason: "connection refused" }]);
    // A join that passes has nothing to wait for.
    expect((await checkJoin(new Map([[g(1), ["a:1"]]]), expect64, table(answers).identify)).unanswered).toBeUndefined();
  });

  it("a server of a failing group that answered as something else makes the refusal final, whatever the others did", async () => {
    const notShardServer: IdentifyAnswer = { ok: false, error: "answers, but not as a shard server", answered: true };
    for (const [answer, why] of [
      [replica(3, 2), "a:2 is replica 2 of group 3"],
      [replica(1, 2, { shardCount: 32 }), "a:2 is replica 2 of group 1 but has 32 shards, the cluster 64"],
      [replica(1, 2, { clusterId: "other" }), 'a:2 is replica 2 of group 1 but of cluster "other", not "c"'],
      [replica(1, 1), "a:2 is replica 1 of group 1, as is a:1"],
      [notShardServer, "a:2 answers, but not as a shard server"],
    ] as const) {
      const verdict = await checkJoin(new Map([[g(1), ["a:1", "a:2", "a:3"]]]), { shardCount: 64, clusterId: "c" }, table({ "a:1": replica(1, 1), "a:2": answer }).identify);
      expect(verdict.refusal).toContain(`${why}; a:3 connection refused`);
      expect(verdict.unanswered).toBeUndefined();
    }
  });
});

describe("describeIdentifyFailure", () => {
  const err = (code: grpc.status, details: string, shardkvCode?: string): Partial<grpc.ServiceError> => {
    const metadata = new grpc.Metadata();
    if (shardkvCode) metadata.set("shardkv-code", shardkvCode);
    return { code, details, metadata };
  };

  it("speaks the user's language, never gRPC internals", () => {
    const refused = "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:5555. Resolution note: ";
    expect(describeIdentifyFailure(err(grpc.status.UNAVAILABLE, refused), 2000)).toBe("connection refused");
    expect(describeIdentifyFailure(err(grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded after 0.5s"), 2000)).toBe("gave no answer within 2 s");
    expect(describeIdentifyFailure(err(grpc.status.UNIMPLEMENTED, "The server does not implement the method /shardkv.kv.ShardKV/Identify"), 30))
      .toBe("answers, but not as a shard server");
    expect(describeIdentifyFailure(err(grpc.status.UNAVAILABLE, "shard server is stopped", "Stopped"), 30)).toBe("is starting or shutting down");
    expect(describeIdentifyFailure(err(grpc.status.UNAVAILABLE, "connect EHOSTUNREACH 10.0.0.1:1"), 30)).toBe("host unreachable");
    expect(describeIdentifyFailure(err(grpc.status.UNAVAILABLE, "something else"), 30)).toBe("unreachable");
  });

  it("tells a server that gave no answer (may be up later) from one that answered otherwise", () => {
    expect(gaveNoAnswer(err(grpc.status.UNAVAILABLE, "connect ECONNREFUSED 127.0.0.1:5555"))).toBe(true);
    expect(gaveNoAnswer(err(grpc.status.DEADLINE_EXCEEDED, "Deadline exceeded"))).toBe(true);
    expect(gaveNoAnswer(err(grpc.status.UNAVAILABLE, "shard server is stopped", "Stopped"))).toBe(true);
    expect(gaveNoAnswer(err(grpc.status.UNIMPLEMENTED, "The server does not implement the method"))).toBe(false);
    expect(gaveNoAnswer(err(grpc.status.PERMISSION_DENIED, "permission denied", "PermissionDenied"))).toBe(false);
    expect(gaveNoAnswer(err(grpc.status.INTERNAL, "boom"))).toBe(false);
  });
});
