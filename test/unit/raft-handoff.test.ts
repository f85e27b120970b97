/**
 * RaftNode.handOffLeadership on the simulator's real RaftNodes (virtual time, reliable
 * network): a leader hands leadership to a caught-up voter, which leads the next term and
 * records that it got it by a transfer (a leader elected by its own timeout says "election");
 * a follower has nothing to do; a lone voter has nobody to hand to; a hand-off whose voters
 * died gives up within its bound instead of hanging; writes go on after a hand-off.
 */
import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import { leaderOf, runUntil, settle, simGroup, write } from "../lib/sim-group";

describe("RaftNode.handOffLeadership", () => {
  it("hands leadership to a voter that leads the next term by transfer; writes go on", async () => {
    const c = simGroup(3);
    const old = await leaderOf(c);
    await write(c, 5, "before");
    const term = old.status().term;
    expect(old.leaderElectedBy()).toBe("election");
    const r = await settle(c, old.handOffLeadership(2000), "the hand-off");
    expect(r.error).toBeUndefined();
    expect(r.value).toMatchObject({ kind: "transferred", term: term + 1 });
    const to = (r.value as { to: NodeId }).to;
    expect(to).not.toBe(old.id);
    const now = await leaderOf(c);
    expect(now.id).toBe(to);
    expect(now.status().term).toBe(term + 1);
    expect(now.leaderElectedBy()).toBe("transfer");
    // The hand-off resolves on the core's state; the driver's view follows with the next Ready.
    await runUntil(c, () => old.softState().leader === to, "the old leader to follow the new one");
    expect(old.softState()).toMatchObject({ role: "follower", leader: to, term: term + 1 });
    expect(old.leaderElectedBy()).toBeUndefined();
    await write(c, 5, "after");
    expect(c.failures).toEqual([]);
  });

  it("a follower has nothing to hand off; a lone voter has nobody to hand it to", async () => {
    const c = simGroup(3);
    const leader = await leaderOf(c);
    const follower = c.live().find((h) => h.id !== leader.id)!.node!;
    const r = await settle(c, follower.handOffLeadership(2000), "a follower's hand-off");
    expect(r.value).toEqual({ kind: "notLeader", leader: leader.id, term: leader.status().term });

    const one = simGroup(1);
    const alone = await leaderOf(one);
    const r1 = await settle(one, alone.handOffLeadership(2000), "a lone voter's hand-off");
    expect(r1.value).toEqual({ kind: "noVoter", term: alone.status().term });
    expect(alone.softState().role).toBe("leader");
  });

  it("gives up within its bound when the voters died: never a hang, never a claimed transfer", async () => {
    const c = simGroup(3);
    const leader = await leaderOf(c);
    for (const h of c.live()) if (h.id !== leader.id) c.crash(h.id);
    const r = await settle(c, leader.handOffLeadership(2000), "a hand-off to dead voters");
    // The core gives the transfer up after an election timeout (failed), unless CheckQuorum
    // made the leader step down first (steppedDown: no leader is heard of).
    expect(["failed", "steppedDown"]).toContain(r.value?.kind);
  });
});
