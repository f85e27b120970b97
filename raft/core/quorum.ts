/** Majority quorum math (etcd-io/raft quorum/majority.go). Pure. */
import type { LogIndex, NodeId } from "../../common/ids";

/** Votes needed for a majority of `n` voters. */
export function quorumSize(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index acknowledged by a majority: sort the voters' match indexes descending and
 * take the quorum-th. Voters missing from `match` count as 0.
 */
export function committedIndex(voters: readonly NodeId[], match: (id: NodeId) => LogIndex): LogIndex {
  const m = voters.map(match).sort((a, b) => b - a);
  return m[quorumSize(voters.length) - 1] ?? (0 as LogIndex);
}

export type VoteResult = "won" | "lost" | "pending";

/** Outcome of an election given the votes received so far (true = granted). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === true) granted++;
    else if (g === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return "won";
  if (rejected > voters.length - q) return "lost";
  return "pending";
}

/**
 * Joint quorums (Raft thesis §4.3; etcd-io/raft quorum/joint.go): while a configuration is
 * joint, a decision needs a majority of the incoming AND of the outgoing voters. A half with
 * no voters (the outgoing one outside a joint configuration) agrees with anything.
 */
export interface JointVoters {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
}

/** The largest index acknowledged by both majorities: the smaller of the two. */
export function jointCommittedIndex(c: JointVoters, match: (id: NodeId) => LogIndex): LogIndex {
  const inc = c.voters.length === 0 ? Number.MAX_SAFE_INTEGER : committedIndex(c.voters, match);
  const out = c.votersOutgoing.length === 0 ? Number.MAX_SAFE_INTEGER : committedIndex(c.votersOutgoing, match);
  const m = Math.min(inc, out);
  return (m === Number.MAX_SAFE_INTEGER ? 0 : m) as LogIndex;
}

/** Won only if both halves won; lost if either lost; else pending. */
export function jointVoteResult(c: JointVoters, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const half = (vs: readonly NodeId[]): VoteResult => (vs.length === 0 ? "won" : voteResult(vs, votes));
  const a = half(c.voters);
  const b = half(c.votersOutgoing);
  if (a === "won" && b === "won") return "won";
  if (a === "lost" || b === "lost") return "lost";
  return "pending";
}
