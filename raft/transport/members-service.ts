/**
 * The RaftMembers service (proto/raft.proto): the members of the answering daemon's group as
 * its RaftNode knows them (role, address, joint half; on the leader their match index, lag
 * and recent activity). Always served, by both daemons: `shardkv-local status` reads the
 * controller group's members from it (a shard server's Status carries the same list).
 */
import * as grpc from "@grpc/grpc-js";
import type { Security } from "../../security/credentials";
import { StoppedError } from "../../common/errors";
import { fromServiceError, toServiceError } from "../../common/grpc-errors";
import type { NodeId } from "../../common/ids";
import { makeConfState, type ConfState } from "../core/conf-change";
import { wallClockMs } from "../../common/real-env";
import type { shardkv } from "../../proto/gen/raft.js";
import { type RaftMembersImplementation, RaftMembersStub, raftMembersService } from "../../proto/gen/raft-grpc";
import { raftMembersToWire } from "../daemon-node";
import type { RaftNode } from "../node";

/** What a RaftMembers reply says, for status pages. */
export type RaftMembersReply = shardkv.raft.RaftMembersReply;

/** Adds the RaftMembers service to `server`; `node()` is undefined until Raft runs (the call then fails Stopped). */
export function addRaftMembersService(
  server: grpc.Server, node: () => { node: RaftNode<unknown>; peers: ReadonlyMap<NodeId, string> } | undefined,
): void {
  const impl: RaftMembersImplementation = {
    members: (_call, callback) => {
      const n = node();
      if (n === undefined) {
        callback(toServiceError(new StoppedError("raft node")), null);
        return;
      }
      const s = n.node.status();
      callback(null, {
        id: s.id, role: s.role, term: s.term, leader: s.leader, confIndex: n.node.confIndex(),
        members: raftMembersToWire(n.node.memberStatuses(), n.peers), electedBy: n.node.leaderElectedBy() ?? "",
      });
    },
  };
  server.addService(raftMembersService, impl);
}

/** Asks the daemon at `address` for its group's members; throws the typed errors of common/grpc-errors.ts. */
export function raftMembers(address: string, timeoutMs: number, security: Security): Promise<RaftMembersReply> {
  const stub = new RaftMembersStub(address, security.channelCredentials());
  return new Promise<RaftMembersReply>((resolve, reject) => {
    stub.members({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs) }, (err, res) => {
      stub.close();
      if (err) reject(fromServiceError(err));
      else resolve(res!);
    });
  });
}

/**
 * The configuration a RaftMembers reply describes: its voters (the incoming half while
 * joint), learners, outgoing voters and addresses (autoLeave is not on the wire: false).
 */
export function confStateFromMembers(r: RaftMembersReply): ConfState {
  const ms = r.members ?? [];
  const ids = (pred: (m: (typeof ms)[number]) => boolean): NodeId[] => ms.filter(pred).map((m) => Number(m.id) as NodeId);
  const addresses: Record<number, string> = {};
  for (const m of ms) if (m.address) addresses[Number(m.id)] = m.address;
  const conf = makeConfState(ids((m) => m.role !== "learner" && m.joint !== "outgoing"), ids((m) => m.role === "learner"), addresses);
  const outgoing = ids((m) => m.joint === "outgoing" || m.joint === "both").sort((a, b) => a - b);
  return outgoing.length === 0 ? conf : { ...conf, votersOutgoing: outgoing };
}

/**
 * The group's members as its leader sees them: asks every address at once and returns the
 * reply of the one that leads in the highest term; without one, the reply holding the latest
 * configuration; undefined when none answers within `timeoutMs`.
 */
export async function leaderMembers(addresses: readonly string[], timeoutMs: number, security: Security): Promise<RaftMembersReply | undefined> {
  const replies = (await Promise.all(addresses.map((a) => raftMembers(a, timeoutMs, security).catch(() => undefined))))
    .filter((r): r is RaftMembersReply => r !== undefined);
  const leaders = replies.filter((r) => r.role === "leader").sort((a, b) => Number(b.term) - Number(a.term));
  return leaders[0] ?? replies.sort((a, b) => Number(b.confIndex) - Number(a.confIndex))[0];
}
