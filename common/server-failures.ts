/**
 * Why an operation against a replicated service (the controllers, or one shard group) has not
 * succeeded yet, in the user's terms. The retry loops of the client library and of the
 * controller client record the last failure of each server they try; when the deadline
 * passes, `reason()` sums them up in one line for the TimeoutError:
 *
 *   cannot reach controller 127.0.0.1:1: connection refused
 *   cannot reach group 2 (127.0.0.1:9001, 127.0.0.1:9002): connection refused
 *   cannot reach group 2 (127.0.0.1:9001: connection refused, 127.0.0.1:9002: no answer in time)
 *   no controller leader: 1 of 3 replicas reachable
 *   the leader of group 1 (127.0.0.1:9102): no answer in time (2 other replicas name it leader)
 *   group 1 (127.0.0.1:9101): wrong group for shard 4 (server at config 2)
 */
import { NotLeaderError, type ShardKVError, TimeoutError, UnreachableError } from "./errors";

/** How a replicated service is named in messages. */
export interface ServiceNaming {
  /** Some of its servers, or one: "controller a", "any controller (a, b)", "group 2 (a, b)". */
  servers(items: readonly string[]): string;
  /** The no-leader phrase: "no controller leader", "no leader in group 2". */
  readonly noLeader: string;
  /** Its leader at `address`: "the controller leader (a)", "the leader of group 2 (a)". */
  leader(address: string): string;
}

/** The controller replicas. */
export const controllerNaming: ServiceNaming = {
  servers: (items) => (items.length === 1 ? `controller ${items[0]}` : `any controller (${items.join(", ")})`),
  noLeader: "no controller leader",
  leader: (a) => `the controller leader (${a})`,
};

/** The replicas of shard group `gid`. */
export function groupNaming(gid: number): ServiceNaming {
  return {
    servers: (items) => `group ${gid} (${items.join(", ")})`, noLeader: `no leader in group ${gid}`, leader: (a) => `the leader of group ${gid} (${a})`,
  };
}

/** An attempt that got no answer in time (a transport or attempt deadline). */
const isSilent = (e: ShardKVError): boolean => e instanceof TimeoutError;
/** An attempt that reached nobody: refused, lost, or no answer in time. */
const isDown = (e: ShardKVError): boolean => e instanceof UnreachableError || isSilent(e);

/**
 * What one server's failure was, in a few words: "connection refused", "no answer in time",
 * else the error's message ("not the leader (leader hint: node 2)").
 */
export function shortReason(e: ShardKVError): string {
  return e instanceof UnreachableError ? e.reason : isSilent(e) ? "no answer in time" : e.message;
}

/** The last failure of each server tried by one operation; see the file comment. */
export class ServerFailures {
  /** Server address -> its last failure, in the order of the latest attempts (oldest first). */
  private readonly last = new Map<string, ShardKVError>();
  private latest: ShardKVError | undefined;

  /** `servers`: the service's servers, in the order messages list them. */
  constructor(readonly naming: ServiceNaming, private readonly servers: readonly string[]) {}

  /** Records `e`, the failure of the latest attempt at `server`. */
  record(server: string, e: ShardKVError): void {
    this.last.delete(server);
    this.last.set(server, e);
    this.latest = e;
  }

  /** The failure recorded last, if any (the TimeoutError's cause). */
  get cause(): ShardKVError | undefined {
    return this.latest;
  }

  /** One line summing up the failures; undefined when none was recorded. */
  reason(): string | undefined {
    const rank = (a: string): number => (this.servers.includes(a) ? this.servers.indexOf(a) : this.servers.length);
    const all = [...this.last].sort(([a], [b]) => rank(a) - rank(b));
    if (all.length === 0) return undefined;
    const down = all.filter(([, e]) => isDown(e));
    const answered = all.filter(([, e]) => !isDown(e));
    const others = [...this.last].filter(([, e]) => !isDown(e) && !(e instanceof NotLeaderError));
    if (others.length > 0) {
      // A server answered with something else than "not the leader": the latest such answer
      // is the news.
      const [server, e] = others[others.length - 1]!;
      return `${this.naming.servers([server])}: ${e.message}`;
    }
    if (answered.length > 0) {
      // The replicas that answered name a leader that did not answer (it is overloaded, or
      // gone since): say so, not "no leader" (a group with a slow leader has one).
      const named = new Set(answered.map(([, e]) => (e as NotLeaderError).leaderAddress).filter((a) => a !== undefined && a !== ""));
      const leader = down.find(([s]) => named.has(s));
      if (named.size === 1 && leader !== undefined) {
        const naming = answered.filter(([, e]) => (e as NotLeaderError).leaderAddress === leader[0]).length;
        return `${this.naming.leader(leader[0])}: ${shortReason(leader[1])} (${naming} other replica${naming === 1 ? "" : "s"} name${naming === 1 ? "s" : ""} it leader)`;
      }
      const n = Math.max(this.servers.length, all.length);
      return `${this.naming.noLeader}: ${answered.length} of ${n} replica${n === 1 ? "" : "s"} reachable`;
    }
    const reasons = new Set(down.map(([, e]) => shortReason(e)));
    if (reasons.size === 1) return `cannot reach ${this.naming.servers(down.map(([s]) => s))}: ${[...reasons][0]}`;
    return `cannot reach ${this.naming.servers(down.map(([s, e]) => `${s}: ${shortReason(e)}`))}`;
  }

  /** The TimeoutError of an operation `what` that gave up after `afterMs`, with the reason. */
  timeout(what: string, afterMs: number): TimeoutError {
    return new TimeoutError(what, afterMs, { reason: this.reason(), cause: this.latest });
  }
}
