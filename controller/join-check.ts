/**
 * The join check (docs/controller.md "The join check"): before the controller leader proposes
 * a Join, it asks every server of each new group who it is (ShardKV.Identify, all servers in
 * parallel, each for at most `joinCheckServerMs`) and refuses the join, with no new config,
 * unless a majority of each group's servers answer as distinct replicas of that gid with the
 * cluster's shard count (and the same cluster id when both sides know one). A group joined
 * with nothing behind its addresses would own shards nobody serves.
 *
 * The check also learns each counted server's replica id, which the Join records in the
 * group's members (0 for a server that did not count).
 *
 * This module decides; it does no I/O itself: the caller passes `identify` (over gRPC in
 * controller/identify-client.ts; a table in the unit tests). The verdict is one line naming
 * what each server that did not count said, and whether the join was refused only because
 * servers gave no answer (yet): then it may pass once they are up, and `shardctl join` asks
 * again for a while (ServersUnansweredError); a server that answered as something else makes
 * the refusal final.
 */
import type { UnansweredServer } from "../common/errors";
import type { GroupId, NodeId } from "../common/ids";
import { sortedGids, unknownMemberId } from "./config";

/**
 * How long the check tries one server (milliseconds): attempts of at most
 * `joinCheckAttemptMs`, one `joinCheckRetryMs` apart, until one answers or this passes, so a
 * dropped request or a server still binding its port is tried again.
 */
export const joinCheckServerMs = 2000;
/** Deadline of one Identify attempt within joinCheckServerMs. */
export const joinCheckAttemptMs = 500;
/** Pause between two Identify attempts at one server. */
export const joinCheckRetryMs = 100;

/** What a server said about itself (ShardKV.Identify). */
export interface ServerIdentity {
  readonly gid: number;
  /** Its replica id within its group. */
  readonly id: number;
  readonly shardCount: number;
  /** "" = not known. */
  readonly clusterId: string;
  readonly hasData: boolean;
}

/**
 * The outcome of asking one server: its identity, or why it gave none (user terms, e.g.
 * "connection refused"). `answered` false: the server gave no answer at all (nothing listens,
 * no reply in time, still starting), so a later check may find it up; true: something
 * answered, but not with an identity (not a shard server, an error).
 */
export type IdentifyAnswer =
  | { readonly ok: true; readonly identity: ServerIdentity }
  | { readonly ok: false; readonly error: string; readonly answered: boolean };

/** What the controller expects of a new group's servers. */
export interface JoinExpectation {
  readonly shardCount: number;
  /** The controller's cluster id; "" = not known (then any server's is accepted). */
  readonly clusterId: string;
}

/** Servers of a group of `n` that must answer as its replicas: a majority. */
export function joinQuorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Why the server at `address` does not count as a replica of group `gid`, or undefined when it
 * does. `seen` maps the replica ids already counted to their addresses (two addresses that
 * reach one replica count once).
 */
export function whyNotReplica(
  opts: { gid: GroupId; address: string; answer: IdentifyAnswer; expect: JoinExpectation; seen: ReadonlyMap<number, string> },
): string | undefined {
  const { gid, address, answer, expect, seen } = opts;
  if (!answer.ok) return `${address} ${answer.error}`;
  const who = answer.identity;
  const is = `${address} is replica ${who.id} of group ${who.gid}`;
  if (who.gid !== gid) return is;
  if (who.shardCount !== expect.shardCount) return `${is} but has ${who.shardCount} shards, the cluster ${expect.shardCount}`;
  if (who.clusterId !== "" && expect.clusterId !== "" && who.clusterId !== expect.clusterId) {
    return `${is} but of cluster ${JSON.stringify(who.clusterId)}, not ${JSON.stringify(expect.clusterId)}`;
  }
  const other = seen.get(who.id);
  if (other !== undefined) return `${is}, as is ${other}`;
  return undefined;
}

/**
 * Judges one group from its servers' answers (in the order of `servers`): undefined when a
 * majority counts as its replicas, else the reason, e.g. "group 7 needs 2 of 3 servers
 * answering as its replicas; 1 answered: 127.0.0.1:5555 connection refused; 127.0.0.1:5556 is
 * replica 1 of group 3". Pure.
 */
export function judgeGroup(
  gid: GroupId, servers: readonly string[], answers: readonly IdentifyAnswer[], expect: JoinExpectation,
): string | undefined {
  return countReplicas(gid, servers, answers, expect).refusal;
}

/**
 * judgeGroup's verdict with the replica id of each server (parallel to `servers`; 0 for one
 * that did not count), the servers that gave no answer, and whether one that did not count
 * answered as something else.
 */
function countReplicas(
  gid: GroupId, servers: readonly string[], answers: readonly IdentifyAnswer[], expect: JoinExpectation,
): { refusal: string | undefined; ids: NodeId[]; unanswered: UnansweredServer[]; answeredOtherwise: boolean } {
  const seen = new Map<number, string>();
  const why: string[] = [];
  const unanswered: UnansweredServer[] = [];
  let answeredOtherwise = false;
  const ids = servers.map((address, i): NodeId => {
    const answer: IdentifyAnswer = answers[i] ?? { ok: false, error: "was not asked", answered: false };
    const reason = whyNotReplica({ gid, address, answer, expect, seen });
    if (reason !== undefined) {
      why.push(reason);
      if (!answer.ok && !answer.answered) unanswered.push({ address, reason: answer.error });
      else answeredOtherwise = true;
    } else if (answer.ok) {
      seen.set(answer.identity.id, address);
      return answer.identity.id as NodeId;
    }
    return unknownMemberId;
  });
  const need = joinQuorum(servers.length);
  if (seen.size >= need) return { refusal: undefined, ids, unanswered, answeredOtherwise };
  return {
    refusal: `group ${gid} needs ${need} of ${plural(servers.length, "server")} answering as its replicas; ` +
      `${seen.size} answered${why.length > 0 ? `: ${why.join("; ")}` : ""}`,
    ids,
    unanswered,
    answeredOtherwise,
  };
}

/** The outcome of the join check: the refusal (undefined: the join may go ahead) and the replica ids learned. */
export interface JoinVerdict {
  readonly refusal: string | undefined;
  /** gid -> the replica id of each of its servers, in the order given (0: did not count). */
  readonly ids: ReadonlyMap<GroupId, readonly NodeId[]>;
  /**
   * Set when the join is refused only because servers gave no answer: those servers of the
   * failing groups (in gid, then server order), each with what happened. Undefined when the
   * join passes, and when a server of a failing group answered as something else (another
   * group's or cluster's replica, a second address of a counted one, not a shard server): a
   * refusal that waiting cannot cure.
   */
  readonly unanswered: readonly UnansweredServer[] | undefined;
}

/**
 * Runs the check over every new group: asks every server at once, then judges each group.
 * The refusal is undefined when every group passes, else one line ("join refused: group 7
 * needs ..."; one clause per failing group, gid ascending).
 */
export async function checkJoin(
  groups: ReadonlyMap<GroupId, readonly string[]>,
  expect: JoinExpectation,
  identify: (address: string) => Promise<IdentifyAnswer>,
): Promise<JoinVerdict> {
  const gids = sortedGids(groups);
  const answers = await Promise.all(gids.map((g) => Promise.all(groups.get(g)!.map((a) => identify(a)))));
  const verdicts = gids.map((g, i) => countReplicas(g, groups.get(g)!, answers[i]!, expect));
  const ids = new Map(gids.map((g, i) => [g, verdicts[i]!.ids]));
  const failing = verdicts.filter((v) => v.refusal !== undefined);
  if (failing.length === 0) return { refusal: undefined, ids, unanswered: undefined };
  const refusal = `join refused: ${failing.map((v) => v.refusal).join("; ")} (start the servers first; shardctl join --force skips this check)`;
  // A failing group has fewer than a majority counted, so when every server of it that did not
  // count gave no answer, those are enough for a majority once they are up.
  const unanswered = failing.some((v) => v.answeredOtherwise) ? undefined : failing.flatMap((v) => v.unanswered);
  return { refusal, ids, unanswered };
}
