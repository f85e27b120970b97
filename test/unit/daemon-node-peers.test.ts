/**
 * The daemon transport's peers for a configuration (raft/daemon-node.ts peerAddresses): the
 * members at the addresses the configuration records, --peers overriding an address on this
 * replica, non-members dropped, and --peers as is while a joining replica knows no configuration.
 */
import { describe, expect, it } from "vitest";
import type { NodeId } from "../../common/ids";
import { applyConfChange, emptyConfState, makeConfState } from "../../raft/core/conf-change";
import { peerAddresses } from "../../raft/daemon-node";

const ids = (...xs: number[]) => xs as NodeId[];
const map = (o: Record<number, string>) => new Map(Object.entries(o).map(([k, v]) => [Number(k) as NodeId, v]));

describe("peerAddresses", () => {
  const conf = applyConfChange(makeConfState(ids(1, 2, 3), [], { 1: "h:1", 2: "h:2", 3: "h:3" }),
    { kind: "simple", change: { type: "addLearner", node: 4 as NodeId, address: "h:4" } });
  it("the configuration's members at its addresses, a --peers address overriding, non-members dropped", () => {
    expect(peerAddresses(conf, map({ 1: "h:1", 2: "moved:2", 3: "h:3", 9: "h:9" }))).toEqual(map({ 1: "h:1", 2: "moved:2", 3: "h:3", 4: "h:4" }));
    const removed = applyConfChange(conf, { kind: "simple", change: { type: "remove", node: 3 as NodeId } });
    expect(peerAddresses(removed, map({ 1: "h:1" }))).toEqual(map({ 1: "h:1", 2: "h:2", 4: "h:4" }));
  });
  it("a replica that knows no configuration (joining) keeps --peers", () => {
    expect(peerAddresses(emptyConfState, map({ 1: "h:1", 4: "h:4" }))).toEqual(map({ 1: "h:1", 4: "h:4" }));
  });
});
