/**
 * Leadership hand-off (proto/raft.proto, service RaftLeadership): a replica that leads its
 * group hands leadership to its most caught-up voter and waits until it follows the new
 * leader (RaftNode.handOffLeadership, Raft thesis §3.10). Both daemons serve the RPC (what
 * `shardctl handoff ADDR` and a Kubernetes preStop hook call) and do the same by themselves
 * when they stop gracefully (`handOffOnStop`), so a leader stopped with SIGTERM does not leave
 * its group waiting an election timeout for a new one (as etcd does on a graceful stop).
 */
import * as grpc from "@grpc/grpc-js";
import { StoppedError } from "../../common/errors";
import type { Logger } from "../../common/env";
import { fromServiceError, toServiceError } from "../../common/grpc-errors";
import { wallClockMs } from "../../common/real-env";
import type { shardkv } from "../../proto/gen/raft.js";
import { type RaftLeadershipImplementation, RaftLeadershipStub, raftLeadershipService } from "../../proto/gen/raft-grpc";
import type { LeadershipHandOff, RaftNode } from "../node";
import type { Security } from "../../security/credentials";

/** How long a hand-off waits for the new leader by default (a graceful stop, an RPC with timeout_ms 0). */
export const handOffMsDefault = 2000;

/** The longest hand-off an RPC may ask for. */
export const handOffMsMax = 60_000;

/** What a TransferLeader reply says. */
export type TransferLeaderReply = shardkv.raft.TransferLeaderReply;

/** A hand-off's outcome in wire terms (proto TransferLeaderReply). */
export function handOffToWire(id: number, r: LeadershipHandOff): shardkv.raft.TransferLeaderReply.$Properties {
  switch (r.kind) {
    case "transferred": return { outcome: "transferred", id, leader: r.to, term: r.term, reason: "" };
    case "steppedDown": return { outcome: "stepped_down", id, leader: 0, term: r.term, reason: "" };
    case "notLeader": return { outcome: "not_leader", id, leader: r.leader, term: r.term, reason: "" };
    case "noVoter": return { outcome: "no_voter", id, leader: id, term: r.term, reason: "no other voter was heard from within an election timeout" };
    case "failed": return { outcome: "failed", id, leader: 0, term: r.term, reason: r.reason };
  }
}

/** Adds the RaftLeadership service to `server`; `node()` is undefined until Raft runs (the call then fails Stopped). */
export function addLeadershipService(server: grpc.Server, node: () => RaftNode<unknown> | undefined, log: (line: string) => void): void {
  const impl: RaftLeadershipImplementation = {
    transferLeader: (call, callback) => {
      const n = node();
      if (n === undefined || n.isStopped()) {
        callback(toServiceError(new StoppedError("raft node")), null);
        return;
      }
      const asked = call.request.timeoutMs ?? 0;
      const timeoutMs = asked === 0 ? handOffMsDefault : Math.min(asked, handOffMsMax);
      n.handOffLeadership(timeoutMs).then(
        (r) => {
          if (r.kind !== "notLeader") log(describeHandOff(r, "asked to hand leadership off"));
          callback(null, handOffToWire(n.id, r));
        },
        (e: Error) => callback(toServiceError(e), null),
      );
    },
  };
  server.addService(raftLeadershipService, impl);
}

/** One log line for a hand-off: `<why>: handed leadership to n2 (term 5)`. */
export function describeHandOff(r: LeadershipHandOff, why: string): string {
  switch (r.kind) {
    case "transferred": return `${why}: handed leadership to n${r.to} (term ${r.term})`;
    case "steppedDown": return `${why}: stepped down for term ${r.term}, whose leader is being elected`;
    case "notLeader": return `${why}: not the leader (leader ${r.leader || "unknown"}, term ${r.term}); nothing to hand off`;
    case "noVoter": return `${why}: still the leader of term ${r.term}: no other voter was heard from within an election timeout`;
    case "failed": return `${why}: leadership hand-off failed: ${r.reason}`;
  }
}

/**
 * What a daemon does first when it stops gracefully: a leader hands leadership off and waits
 * (at most `handOffMsDefault`) before it stops Raft; any other replica goes on at once. Never
 * throws: a hand-off that fails only means the group elects a leader the slow way.
 */
export async function handOffOnStop<R>(node: RaftNode<R>, logger: Logger, name: string): Promise<void> {
  if (node.isStopped() || node.softState().role !== "leader") return;
  try {
    const r = await node.handOffLeadership(handOffMsDefault);
    if (r.kind !== "notLeader") logger.info(`${name}: ${describeHandOff(r, "stopping")}`);
  } catch (e) {
    logger.warn(`${name}: stopping: leadership hand-off failed: ${(e as Error).message}`);
  }
}

/**
 * Asks the daemon at `address` to hand its leadership off, waiting up to `timeoutMs` for the
 * new leader; throws the typed errors of common/grpc-errors.ts.
 */
export function transferLeader(address: string, timeoutMs: number, security: Security): Promise<TransferLeaderReply> {
  const stub = new RaftLeadershipStub(address, security.channelCredentials());
  return new Promise<TransferLeaderReply>((resolve, reject) => {
    // The call's deadline leaves the server its whole wait plus a margin to answer.
    stub.transferLeader({ timeoutMs }, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs + 5000) }, (err, res) => {
      stub.close();
      if (err) reject(fromServiceError(err));
      else resolve(res!);
    });
  });
}
