/**
 * Quiescence of an idle Raft group (CockroachDB's quiescence, TiKV's hibernate regions).
 *
 * An idle group costs one heartbeat per follower per heartbeat interval, forever. A leader
 * with nothing to do (nothing proposed, every member acknowledged its last index, which is
 * committed and applied, no read, transfer or configuration change in progress), and with
 * nothing appended or read for `quiesceIdleBeats` heartbeat intervals in a row (RaftConfig: a
 * group written to every few intervals stays awake instead of quiescing and waking between
 * the writes), sends each member one heartbeat carrying `quiesceContext` and its commit
 * index, and stops heartbeating. A follower that receives it with the leader's commit equal to its own last
 * index stops counting election ticks: it will not campaign while its leader is alive.
 *
 * Who wakes a quiesced replica (Raft.wake): on the leader, a proposal, a ReadIndex, a
 * transfer, a configuration change, a rejected quiesce heartbeat, or any message but a late
 * answer of its term (heartbeat responses, accepted append responses); on a follower, any
 * message but its leader's heartbeats (Raft.keepsQuiesced). And on either, the
 * driver's liveness signal (RawNode.peerDown): the transport says the leader (on a follower)
 * or a member (on the leader) is unreachable. And a client's request that a follower refuses
 * (RawNode.wakeGroup): the follower wakes and sends every other member a `wake` message,
 * which wakes them (a leader cut off silently, with no liveness signal until the transport's
 * keepalive gives up, is then replaced after an election timeout). A woken follower counts a
 * full election timeout from then on; a woken leader heartbeats at once and starts a fresh
 * CheckQuorum window.
 *
 * Safety does not rest on any of this: a quiesced leader commits nothing and confirms no
 * read without a quorum (ReadIndex sends a heartbeat round, which wakes the group; there are
 * no lease reads), and a follower that stops counting ticks only delays an election. What
 * rests on the liveness signal is liveness: a crashed leader of a quiesced group is replaced
 * once the followers' transports see its connection gone (a crash closes it at once; a
 * partition shows after the transport's keepalive timeout), once a client's request reaches
 * a follower, or once any replica campaigns (a restarted one does): its PreVote wakes
 * everyone it reaches.
 */
import type { LogIndex } from "../../common/ids";

/** Heartbeat context of a quiesce heartbeat (echoed by the follower's heartbeatResp). */
export const quiesceContext: Uint8Array = new TextEncoder().encode("quiesce");

/** Whether a heartbeat (or its response) context is the quiesce one. */
export function isQuiesceContext(ctx: Uint8Array): boolean {
  if (ctx.length !== quiesceContext.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== quiesceContext[i]) return false;
  return true;
}

/** What a leader checks before quiescing; each field false/0 means "nothing in progress". */
export interface LeaderIdleView {
  readonly lastIndex: LogIndex;
  readonly committed: LogIndex;
  readonly applied: LogIndex;
  /** An entry of the leader's term is committed (Raft §8: its commit index is current). */
  readonly committedInTerm: boolean;
  readonly transferring: boolean;
  readonly joint: boolean;
  readonly selfVoter: boolean;
  readonly confChangePending: boolean;
  readonly readsPending: boolean;
  readonly proposalsPending: boolean;
  /** Each other member: whether it matches lastIndex, is in replicate state and was heard from recently. */
  readonly members: readonly { readonly match: LogIndex; readonly replicating: boolean; readonly recentActive: boolean }[];
}

/** Whether a leader in state `v` may quiesce its group. */
export function leaderMayQuiesce(v: LeaderIdleView): boolean {
  if (!v.committedInTerm || v.transferring || v.joint || !v.selfVoter || v.confChangePending || v.readsPending || v.proposalsPending) return false;
  if (v.committed !== v.lastIndex || v.applied !== v.committed) return false;
  return v.members.every((m) => m.match === v.lastIndex && m.replicating && m.recentActive);
}
