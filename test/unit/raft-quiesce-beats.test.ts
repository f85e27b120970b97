/**
 * When a leader quiesces (raft/core/quiesce.ts, RaftConfig.quiesceIdleBeats): only after
 * `quiesceIdleBeats` heartbeat intervals in a row with nothing appended or read. A group
 * written to (or read from) at every interval or every other one stays awake instead of
 * quiescing and waking between the writes (a quiesce heartbeat and its answers, then a
 * waking heartbeat round, per cycle); an idle one still quiesces.
 */
import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import { isQuiesceContext } from "../../raft/core/quiesce";
import { RaftHarness } from "../lib/raft-network";

const ids = [1, 2, 3] as NodeId[];
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A 3-replica group led by 1, quiescence on, and a counter of the quiesce heartbeats sent. */
function group(quiesceIdleBeats?: number): { h: RaftHarness; quiesceBeats: () => number; beat: () => void } {
  const h = new RaftHarness(ids, { quiesce: true, heartbeatTicks: 1, ...(quiesceIdleBeats === undefined ? {} : { quiesceIdleBeats }) });
  h.node(1).raw.campaign();
  h.stabilize();
  let n = 0;
  const beat = (): void => {
    for (const id of ids) h.tick(id);
    // Count before delivery: stabilize() takes the messages out of flight.
    for (let round = 0; round < 100; round++) {
      let busy = false;
      for (const id of ids) busy = h.processReady(id) || busy;
      n += h.inflight.filter((m) => m.type === "heartbeat" && isQuiesceContext(m.context)).length;
      if (h.inflight.length > 0) busy = true;
      h.deliver();
      if (!busy) break;
    }
  };
  return { h, quiesceBeats: () => n, beat };
}

describe("a leader quiesces after quiesceIdleBeats idle heartbeat intervals", () => {
  it("a write every other interval keeps the group awake (default 3); it quiesces once the writes stop", () => {
    const { h, quiesceBeats, beat } = group();
    for (let i = 0; i < 20; i++) {
      h.node(1).raw.propose([enc(`w${i}`)]);
      h.stabilize();
      beat();
      beat();
      expect(h.node(1).raw.isQuiesced()).toBe(false);
    }
    expect(quiesceBeats()).toBe(0);
    for (const id of ids) expect(h.node(id).sm).toHaveLength(20);
    for (let i = 0; i < 3; i++) beat();
    expect(h.node(1).raw.isQuiesced()).toBe(true);
    for (const id of ids) expect(h.node(id).raw.isQuiesced()).toBe(true);
    expect(quiesceBeats()).toBe(2);
  });

  it("a read every other interval keeps it awake too", () => {
    const { h, quiesceBeats, beat } = group();
    for (let i = 0; i < 10; i++) {
      h.node(1).raw.readIndex(enc(`r${i}`));
      h.stabilize();
      beat();
      beat();
    }
    expect(h.node(1).readStates).toHaveLength(10);
    expect(quiesceBeats()).toBe(0);
  });

  it("with quiesceIdleBeats 1 it quiesces at the first idle interval's end, between the writes", () => {
    const { h, quiesceBeats, beat } = group(1);
    for (let i = 0; i < 5; i++) {
      h.node(1).raw.propose([enc(`w${i}`)]);
      h.stabilize();
      beat();
      beat();
    }
    // Each write wakes it; the second interval after it (nothing appended in it) quiesces it again.
    expect(quiesceBeats()).toBe(10);
    expect(h.node(1).raw.isQuiesced()).toBe(true);
  });
});
