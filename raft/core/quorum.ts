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
