/**
 * Real processes on mutual TLS: leadership hand-off (raft/transport/leadership-service.ts).
 * A group leader stopped with SIGTERM, a shard server's and a controller's, first hands
 * leadership to a caught-up voter: the new leader leads the next term and says it won it by
 * a transfer (RaftMembers elected_by, which only a TimeoutNow from the old leader makes
 * "transfer": no election timeout and no PreVote round was needed), the old leader exited 0
 * after logging the hand-off, and writes go on. `shardctl handoff ADDR`, run with the
 * replica's own node certificate as a Kubernetes preStop hook runs it, does the same without
 * stopping the replica, does nothing on a follower, and is refused to a client certificate.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShardKV } from "../../client/shardkv";
import { LocalCluster } from "../../deploy/local/cluster";
import { nodeTlsDirOf } from "../../deploy/local/certs";
import { raftMembers } from "../../raft/transport/members-service";
import { runShardctl } from "../lib/run-cli";
import { waitFor } from "../lib/wait";

type GroupRef = "controllers" | number;

describe("leadership hand-off (real processes)", { timeout: 120_000 }, () => {
  let dir: string;
  let c: LocalCluster;
  let kv: ShardKV;

  const nameOf = (of: GroupRef, id: number): string => (of === "controllers" ? `c${id}` : `g${of}n${id}`);
  const membersOf = (name: string) => raftMembers(c.node(name).addr, 2000, c.controllerOptions().security);

  /** The group's leader agreed by a majority, with the term it leads and how it was elected. */
  async function leaderOf(of: GroupRef): Promise<{ name: string; id: number; term: number; electedBy: string }> {
    const id = await c.waitLeader(of);
    const r = await membersOf(nameOf(of, id));
    expect(r.role, `${nameOf(of, id)} answers as the leader`).toBe("leader");
    return { name: nameOf(of, id), id, term: Number(r.term), electedBy: r.electedBy };
  }

  /** `shardctl handoff` with node `name`'s own certificate (what the preStop hook runs). */
  function handoff(target: string, identity: string, extra: readonly string[] = []) {
    const d = nodeTlsDirOf(dir, identity);
    return runShardctl(["handoff", "--tls-ca", join(d, "ca.crt"), "--tls-cert", join(d, `${identity}.crt`), "--tls-key", join(d, `${identity}.key`),
      ...extra, c.node(target).addr]);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-handoff-"));
    c = await LocalCluster.up({ dir, tls: true, controllers: 3, groups: 1, replicas: 3, shards: 8, tickMs: 50 });
    kv = await ShardKV.connect(c.clientOptions());
    await kv.put("before", "1");
  });
  afterAll(async () => {
    kv?.close();
    await c?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const of of [1, "controllers"] as const) {
    const what = of === "controllers" ? "the controllers' leader" : "a shard group's leader";
    it(`${what}, stopped with SIGTERM, hands leadership to a voter that takes the next term by transfer; writes go on`, async () => {
      const old = await leaderOf(of);
      expect(await c.stop(old.name), `${old.name} stopped within the grace period\n${c.logTails()}`).toBe("term");
      expect(c.exits(old.name).at(-1)).toBe("code 0");
      const now = await leaderOf(of);
      expect(now.name).not.toBe(old.name);
      expect(now.term, `${now.name} leads the term right after ${old.name}'s`).toBe(old.term + 1);
      expect(now.electedBy, `${now.name} became leader by a transfer, not an election timeout`).toBe("transfer");
      expect(readFileSync(c.node(old.name).log, "utf8")).toContain(`stopping: handed leadership to n${now.id} (term ${now.term})`);
      await kv.put(`after-${old.name}`, "2");
      expect(await kv.getString("before")).toBe("1");
      expect(await kv.getString(`after-${old.name}`)).toBe("2");
      await c.restart(old.name);
      await waitFor(async () => Number((await membersOf(old.name).catch(() => undefined))?.leader) === now.id, {
        timeoutMs: 30_000, what: `${old.name} to follow ${now.name} again`,
      });
    });
  }

  it("shardctl handoff with the replica's own node certificate hands leadership off without stopping it; a follower has nothing to do", async () => {
    const old = await leaderOf(1);
    const follower = c.nodesOf(1).find((n) => n !== old.name)!;
    const idle = await handoff(follower, follower);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(new RegExp(`^replica \\d+ at ${c.node(follower).addr} does not lead \\(leader ${old.id}, term ${old.term}\\); nothing to hand off\\n$`));

    const r = await handoff(old.name, old.name, ["--timeout", "5s"]);
    expect(r.code, r.stderr).toBe(0);
    // Usually the new leader is heard of at once; on a slow machine the old one may only know
    // it stepped down (voted) within an election timeout. The new leader is checked below.
    const m = /^replica (\d+) at \S+ (?:handed leadership to replica (\d+) \(term (\d+)\)|stepped down for term (\d+); the group is electing its new leader)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBe(old.id);
    expect(Number(m![3] ?? m![4])).toBe(old.term + 1);
    const now = await leaderOf(1);
    if (m![2] !== undefined) expect(now.id).toBe(Number(m![2]));
    expect(now.term).toBe(old.term + 1);
    expect(now.electedBy).toBe("transfer");
    expect(c.isRunning(old.name)).toBe(true);
    expect((await membersOf(old.name)).role).toBe("follower");
    await kv.put("after-handoff", "3");
    expect(await kv.getString("after-handoff")).toBe("3");
  });

  it("shardctl handoff is refused to a client certificate, in one line, exit 3, and nothing changes", async () => {
    const before = await leaderOf("controllers");
    const tls = c.tlsFiles("client")!;
    const r = await runShardctl(["handoff", "--tls-ca", tls.ca, "--tls-cert", tls.cert, "--tls-key", tls.key, c.node(before.name).addr]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^shardctl: handoff \S+: permission denied: client "[^"]+" may not TransferLeader \(nodes and admins only\)\n$/);
    const after = await leaderOf("controllers");
    expect([after.name, after.term]).toEqual([before.name, before.term]);
  });
});
