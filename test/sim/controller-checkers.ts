/**
 * Checkers of the controller simulation (docs/design.md section 8, the controller in the simulator with faults),
 * on top of the Raft checkers of checkers.ts. Fed by the production controller state machine
 * (every durable apply and restore, and what the storage holds at each start:
 * controller-replica.ts) and by the admin clients (every reply, completion and query,
 * controller-run.ts). The first violation is recorded in `failure` and thrown as a CheckFailure.
 *
 *  (a) identical histories: the first replica to make index i durable fixes what i is (its
 *      entry, result and created config: the canonical history); every other replica's report
 *      of i must match it, every replica's durable configs must be the canonical ones (numbers
 *      consecutive from 0) and as many as the canonical history has at its applied index, and
 *      a snapshot restore must bring exactly that. Durable applied never goes back.
 *  (b) the pure model: a ControllerCore fed the canonical entries in index order must produce
 *      the same result, config and replica state (intents, controller-group members) at every index (optional: the dedup sabotage test turns it
 *      off to show that (c) alone catches it). A completed change is reflected in its config
 *      (join: the groups with their servers; leave: gids absent; move: the shard's owner), and
 *      a Query(-1) started after any reply carrying config n returns a config numbered >= n,
 *      equal to the canonical config of that number; Query(n) returns config n.
 *  (c) at most once: a config is tagged with the (clientId, seq) whose apply created it; one
 *      request creates at most one config; every reply to one request (the first, the late
 *      ones, the ones the client pretended to lose, those of retries) is the same; a refused
 *      request created no config; an accepted one created exactly its config.
 */
import type { LogIndex, NodeId } from "../../common/ids";
import type { Entry } from "../../raft/core/types";
import { decodeLogEntry } from "../../controller/codec";
import { type Config, configsEqual, groupMembers, initialConfig, membersEqual, sortedGids } from "../../controller/config";
import { type CommandResult, type ControllerCommand, ControllerCore, type DedupEntry } from "../../controller/state-machine";
import { CheckFailure } from "./checkers";
import { describeReplicaChange } from "../../common/replica-change";
import { type ReplicaState, describeMembers } from "../../controller/replica-intents";
import { type AppliedEntry, clusterInitResult, type ControllerDurable, type ControllerObserver, noopResult } from "./controller-replica";

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

/** A stable text form of a result (for comparisons and messages). */
export function describeResult(r: CommandResult): string {
  return r.ok ? `ok config ${r.configNum}` : `refused ${r.field}: ${r.reason}`;
}

function sameResult(a: CommandResult, b: CommandResult): boolean {
  if (a.ok !== b.ok) return false;
  if (a.ok && b.ok) return a.configNum === b.configNum;
  return !a.ok && !b.ok && a.field === b.field && a.reason === b.reason;
}

/** A stable text form of a duplicate table. */
export function dedupSignature(d: ReadonlyMap<string, DedupEntry>): string {
  return [...d].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, e]) => `${id}:${e.seq}:${e.lastIndex}:${describeResult(e.result)}`).join("|");
}

export function describeConfig(c: Config): string {
  const groups = [...c.groups].map(([g, s]) => `${g}=${s.join(",")}`).join(" ");
  return `#${c.num} shards [${c.shards.join(",")}] groups {${groups}}`;
}

/** A stable text form of the replica state (intents by gid, the controller group's members). */
export function replicaSignature(r: ReplicaState): string {
  const intents = sortedGids(r.intents).map((g) => `${g}:${JSON.stringify(r.intents.get(g))}`).join("|");
  return `${intents} controllers ${describeMembers(r.controllers)}`;
}

/** Key of one request: the client id and the sequence number. */
export const requestKey = (clientId: string, seq: number): string => `${clientId}/${seq}`;

/** What the canonical history holds at one log index. */
interface CanonEntry {
  readonly data: string;
  readonly type: string;
  readonly result: CommandResult;
  readonly createdNum: number | undefined;
  readonly by: NodeId;
}

interface RequestState {
  readonly cmd: ControllerCommand;
  /** The first reply seen (any later one must equal it). */
  result: CommandResult | undefined;
  /** Config numbers created by this request (must be at most one). */
  created: number[];
  replies: number;
}

export class ControllerChecker implements ControllerObserver {
  failure: string | undefined;
  readonly stats = {
    changesCompleted: 0, changesOk: 0, changesRefused: 0, replies: 0, lateReplies: 0, lostReplies: 0,
    queries: 0, historicalQueries: 0, restores: 0,
    /** Reports of an index some replica had already applied (replicas compared). */
    replicaReports: 0,
    /** Log entries of a request already applied before (a retry the duplicate table answered). */
    duplicateEntries: 0,
    /** Restarts that found applies on disk the process never saw complete (crash after the write). */
    unreportedApplies: 0,
    /** Refusals before the log (the service's validation): not remembered, a retry may differ. */
    edgeRefusals: 0,
  };
  /** Requests applied at least once in the canonical history. */
  private readonly appliedRequests = new Set<string>();

  /** index -> the canonical entry (first durable report). */
  private readonly canon: CanonEntry[] = [];
  /** Highest index of the canonical history (it grows contiguously). */
  private canonApplied = 0;
  /** The canonical configs, by num. */
  readonly configs: Config[];
  /** index -> number of canonical configs once index is applied. */
  private readonly configsAt: number[] = [1];
  /** index -> duplicate table signature at that applied index (first replica reporting it there). */
  private readonly dedupAt = new Map<number, string>();
  /** index -> the pure model's duplicate table signature after that index. */
  private readonly modelDedupAt = new Map<number, string>();
  /** index -> replica state signature at that applied index (first replica reporting it there). */
  private readonly replicasAt = new Map<number, string>();
  /** index -> the pure model's replica state signature after that index. */
  private readonly modelReplicasAt = new Map<number, string>();
  /** config num -> the request that created it. */
  private readonly createdBy: string[] = [];
  /** Config objects of replicas already found equal to the history's config of their number. */
  private readonly matching = new WeakSet<Config>();
  /** Durable applied index per node (never goes back, not even across crashes). */
  private readonly durableApplied = new Map<NodeId, number>();
  /** Highest config number each node returned to a client (it must keep it across restarts). */
  private readonly repliedOn = new Map<NodeId, number>();
  private readonly requests = new Map<string, RequestState>();
  /** Highest config number any reply carried: a Query(-1) started later must see at least it. */
  maxRepliedNum = 0;

  /** The pure model (undefined when disabled). */
  private readonly model: ControllerCore;
  /** Whether (b) compares the replicas with the model (it is fed the history either way). */
  private readonly compareModel: boolean;
  private readonly modelDedup = new Map<string, DedupEntry>();

  constructor(readonly shardCount: number, opts: { model?: boolean } = {}) {
    this.configs = [initialConfig(shardCount)];
    this.model = new ControllerCore(this.configs[0]!, this.modelDedup);
    this.compareModel = opts.model !== false;
  }

  private fail(msg: string): never {
    if (this.failure === undefined) this.failure = msg;
    throw new CheckFailure(msg);
  }

  // ------------------------------------------------------------------ state machine reports

  /** ControllerObserver.applied: an apply batch became durable on `node`. */
  applied(node: NodeId, entries: readonly AppliedEntry[], state: ControllerDurable): void {
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    const old = this.durableApplied.get(node) ?? 0;
    if (first !== old + 1 && old !== 0) {
      // (Restarts resume at the durable applied index, so a durable apply always follows it.)
      this.fail(`node ${node}: durable apply of ${first}..${last} while its durable applied index is ${old}`);
    }
    this.durableApplied.set(node, last);
    for (const a of entries) this.appliedEntry(node, a);
    this.checkState(node, state, "apply");
  }

  private appliedEntry(node: NodeId, a: AppliedEntry): void {
    const i = a.index;
    const data = latin1(a.entry.data);
    const c = this.canon[i];
    if (c === undefined) {
      if (i !== this.canonApplied + 1) this.fail(`node ${node} applied index ${i} before index ${this.canonApplied + 1} was applied anywhere`);
      this.extend(node, a, data);
      return;
    }
    this.stats.replicaReports++;
    if (c.data !== data || c.type !== a.entry.type) this.fail(`identical histories: node ${node} applied another entry at ${i} than node ${c.by}`);
    if (!sameResult(c.result, a.result)) {
      this.fail(`identical histories: node ${node} got ${describeResult(a.result)} at index ${i}, node ${c.by} got ${describeResult(c.result)}`);
    }
    const num = a.created?.num;
    if (num !== c.createdNum) this.fail(`identical histories: node ${node} created config ${num ?? "none"} at index ${i}, node ${c.by} ${c.createdNum ?? "none"}`);
    if (a.created && !configsEqual(a.created, this.configs[a.created.num]!)) {
      this.fail(`identical histories: node ${node} created ${describeConfig(a.created)} at index ${i}, node ${c.by} ${describeConfig(this.configs[a.created.num]!)}`);
    }
  }

  /**
   * Index `i` is applied for the first time anywhere: it joins the canonical history. With
   * `fromModel` (an apply no process reported, see restarted) the result and created config
   * are the model's.
   */
  private extend(node: NodeId, a: AppliedEntry, data: string, fromModel = false): void {
    const i = a.index;
    if (fromModel) a = { ...a, ...this.modelApply(a.entry) };
    const created = a.created;
    if (created) {
      if (created.num !== this.configs.length) this.fail(`node ${node} created config ${created.num} at index ${i}, the history has ${this.configs.length} configs`);
      this.configs.push(created);
      if (a.cmd === undefined) this.fail(`node ${node}: a noop created config ${created.num}`);
      // (c) at most one config per request.
      const key = requestKey(a.cmd.clientId, a.cmd.seq);
      this.createdBy[created.num] = key;
      const rq = this.request(a.cmd);
      rq.created.push(created.num);
      if (rq.created.length > 1) {
        this.fail(`at most once: request ${short(key)} created ${rq.created.length} configs (${rq.created.join(", ")}); ` +
          `the last at index ${i} on node ${node}`);
      }
      if (rq.result && !rq.result.ok) this.fail(`at most once: request ${short(key)} was refused (${describeResult(rq.result)}) but created config ${created.num} at index ${i}`);
    }
    // A refusal that waits for a pending group's acknowledgement is not remembered: the
    // request is applied afresh when retried.
    if (a.cmd && !(!a.result.ok && a.result.retryable)) {
      const key = requestKey(a.cmd.clientId, a.cmd.seq);
      if (this.appliedRequests.has(key)) this.stats.duplicateEntries++;
      else this.appliedRequests.add(key);
    }
    this.canon[i] = { data, type: a.entry.type, result: a.result, createdNum: created?.num, by: node };
    this.canonApplied = i;
    this.configsAt[i] = this.configs.length;
    if (!fromModel) this.checkModel(node, a, created);
  }

  /** The pure model's outcome of `entry` (the next in index order). */
  private modelApply(entry: Entry): { cmd: ControllerCommand | undefined; result: CommandResult; created: Config | undefined } {
    if (entry.type !== "normal") return { cmd: undefined, result: noopResult, created: undefined };
    const cmd = decodeLogEntry(entry.data);
    if ("kind" in cmd) return { cmd: undefined, result: clusterInitResult, created: undefined };
    const o = this.model.apply(cmd, entry.index);
    return { cmd, result: o.result, created: o.created };
  }

  /** (b) the pure model, fed the same entries in index order (compared unless turned off). */
  private checkModel(node: NodeId, a: AppliedEntry, created: Config | undefined): void {
    const i = a.index;
    const { result: want, created: wantCreated } = this.modelApply(a.entry);
    if (this.compareModel) {
      if (!sameResult(want, a.result)) this.fail(`model: at index ${i} node ${node} got ${describeResult(a.result)}, the pure model ${describeResult(want)}`);
      if (wantCreated?.num !== created?.num || (wantCreated && !configsEqual(wantCreated, created!))) {
        this.fail(`model: at index ${i} node ${node} created ${created ? describeConfig(created) : "nothing"}, the pure model ${wantCreated ? describeConfig(wantCreated) : "nothing"}`);
      }
      this.modelDedupAt.set(i, dedupSignature(this.modelDedup));
      this.modelReplicasAt.set(i, replicaSignature(this.model.replicaState()));
    }
  }

  /** ControllerObserver.restored. */
  restored(node: NodeId, index: LogIndex, state: ControllerDurable): void {
    this.stats.restores++;
    const old = this.durableApplied.get(node) ?? 0;
    if (index < old || (index === old && old > 0)) this.fail(`node ${node}: snapshot restore at ${index}, its durable applied index was ${old}`);
    if (index > this.canonApplied) this.fail(`node ${node} restored a snapshot at ${index}, beyond anything applied anywhere (${this.canonApplied})`);
    this.durableApplied.set(node, index);
    this.checkState(node, state, "restore");
  }

  /**
   * (a) A node's durable state at its applied index: the canonical configs, as many as the
   * history has there, numbered from 0; the duplicate table the history has there.
   */
  checkState(node: NodeId, d: ControllerDurable, when: string): void {
    const want = this.configsAt[d.applied];
    if (want === undefined) this.fail(`node ${node} (${when}): applied index ${d.applied} is beyond the history (${this.canonApplied})`);
    if (d.configs.length !== want) {
      this.fail(`identical histories (${when}): node ${node} has ${d.configs.length} configs at applied index ${d.applied}, the history has ${want}`);
    }
    for (let n = 0; n < d.configs.length; n++) {
      const c = d.configs[n]!;
      if (c.num !== n) this.fail(`config numbers (${when}): node ${node} holds config ${c.num} at position ${n}`);
      // Configs are immutable: one found equal to the history's at its number stays so.
      if (c === this.configs[n] || this.matching.has(c)) continue;
      if (!configsEqual(c, this.configs[n]!)) {
        this.fail(`identical histories (${when}): node ${node} has config ${describeConfig(c)}, the history ${describeConfig(this.configs[n]!)}`);
      }
      this.matching.add(c);
    }
    const sig = dedupSignature(d.dedup);
    const seen = this.dedupAt.get(d.applied);
    if (seen === undefined) this.dedupAt.set(d.applied, sig);
    else if (seen !== sig) this.fail(`identical histories (${when}): node ${node}'s duplicate table at index ${d.applied} is {${sig}}, elsewhere {${seen}}`);
    const model = this.modelDedupAt.get(d.applied);
    if (model !== undefined && model !== sig) this.fail(`model (${when}): node ${node}'s duplicate table at index ${d.applied} is {${sig}}, the pure model's {${model}}`);
    // The replica intents and the controller group's members, as the duplicate table.
    const rsig = replicaSignature(d.replicas);
    const rseen = this.replicasAt.get(d.applied);
    if (rseen === undefined) this.replicasAt.set(d.applied, rsig);
    else if (rseen !== rsig) this.fail(`identical histories (${when}): node ${node}'s replica state at index ${d.applied} is {${rsig}}, elsewhere {${rseen}}`);
    const rmodel = this.modelReplicasAt.get(d.applied);
    if (rmodel !== undefined && rmodel !== rsig) this.fail(`model (${when}): node ${node}'s replica state at index ${d.applied} is {${rsig}}, the pure model's {${rmodel}}`);
  }

  /** (a) Every pair of replicas holds the same config for every number both hold. */
  compareHistories(states: readonly ControllerDurable[]): void {
    for (const d of states) this.checkState(d.node, d, "compare");
    for (let i = 0; i < states.length; i++) {
      for (let j = i + 1; j < states.length; j++) {
        const a = states[i]!;
        const b = states[j]!;
        const n = Math.min(a.configs.length, b.configs.length);
        for (let k = 0; k < n; k++) {
          if (!configsEqual(a.configs[k]!, b.configs[k]!)) {
            this.fail(`identical histories: nodes ${a.node} and ${b.node} differ at config ${k}: ${describeConfig(a.configs[k]!)} vs ${describeConfig(b.configs[k]!)}`);
          }
        }
      }
    }
  }

  /**
   * A node starts with state `d` read from its storage: every config it returned to a client,
   * and its durable applied index never behind what it reported. It may be ahead: the crash
   * came after an apply's batch was written and before the process saw it complete (kill -9
   * keeps what was written; a power loss may). Entries of `log` (the node's durable Raft log)
   * that nobody reported join the history with the model's outcomes; then `d` must match it.
   */
  restarted(node: NodeId, d: ControllerDurable, log: () => readonly Entry[] = () => []): void {
    const replied = this.repliedOn.get(node) ?? 0;
    if (d.configs.length - 1 < replied) this.fail(`node ${node} restarted with ${d.configs.length - 1} as its latest config, but it replied config ${replied} to a client`);
    const old = this.durableApplied.get(node) ?? 0;
    if (d.applied < old) this.fail(`node ${node} restarted at applied index ${d.applied}, but it had made ${old} durable`);
    if (d.applied === old) return;
    this.stats.unreportedApplies++;
    this.durableApplied.set(node, d.applied);
    if (d.applied > this.canonApplied) {
      const byIndex = new Map(log().map((e) => [e.index as number, e]));
      for (let i = this.canonApplied + 1; i <= d.applied; i++) {
        const e = byIndex.get(i);
        if (e === undefined) this.fail(`node ${node} restarted at applied index ${d.applied}, but its log lacks entry ${i}, which nobody reported applied`);
        this.extend(node, { index: e.index, entry: e, cmd: undefined, result: noopResult, created: undefined }, latin1(e.data), true);
      }
    }
    this.checkState(node, d, "restart");
  }

  // ------------------------------------------------------------------ clients

  private request(cmd: ControllerCommand): RequestState {
    const key = requestKey(cmd.clientId, cmd.seq);
    let r = this.requests.get(key);
    if (!r) {
      r = { cmd, result: undefined, created: [], replies: 0 };
      this.requests.set(key, r);
    }
    return r;
  }

  /** A client is about to send (or resend) a request. */
  issuing(cmd: ControllerCommand): void {
    this.request(cmd);
  }

  /** Whether `cmd` has been applied (and remembered) anywhere: a retry sent now must get its outcome. */
  isApplied(cmd: ControllerCommand): boolean {
    return this.appliedRequests.has(requestKey(cmd.clientId, cmd.seq));
  }

  /**
   * A reply to request `cmd` from `node`: `kind` says whether the client took it ("reply"),
   * pretended it was lost ("lost"), or got it after giving up on that attempt ("late").
   * `appliedAtSend` (isApplied when the attempt was sent): a refusal of an attempt sent before
   * the request was applied may come from the service's validation before the log, which is
   * not remembered (the request may be accepted later): it is not compared with other replies.
   */
  reply(cmd: ControllerCommand, node: NodeId, result: CommandResult, kind: "reply" | "lost" | "late", appliedAtSend = true): void {
    const key = requestKey(cmd.clientId, cmd.seq);
    const rq = this.request(cmd);
    rq.replies++;
    this.stats.replies++;
    if (kind === "late") this.stats.lateReplies++;
    if (kind === "lost") this.stats.lostReplies++;
    if (!result.ok && !appliedAtSend) {
      this.stats.edgeRefusals++;
      return;
    }
    if (rq.result === undefined) rq.result = result;
    else if (!sameResult(rq.result, result)) {
      this.fail(`at most once: request ${short(key)} (${describeOp(cmd)}) got ${describeResult(rq.result)} and then, ${kind} from node ${node}, ${describeResult(result)}`);
    }
    if (result.ok && createsNoConfig(cmd.op, rq.created)) {
      // An acknowledgement, a stored intent, a ReplicaDone that changed no group's members
      // create no config; the number is the latest at the time.
    } else if (result.ok) {
      const n = result.configNum;
      const by = this.createdBy[n];
      if (by !== key) this.fail(`request ${short(key)} was told it created config ${n}, which ${by === undefined ? "no request" : `request ${short(by)}`} created`);
      if (n > this.maxRepliedNum) this.maxRepliedNum = n;
      if (n > (this.repliedOn.get(node) ?? 0)) this.repliedOn.set(node, n);
    } else if (rq.created.length > 0) {
      this.fail(`at most once: request ${short(key)} was refused (${describeResult(result)}) but created config ${rq.created.join(", ")}`);
    }
  }

  /** The client accepted `result` as the outcome of `cmd`: a created config reflects the change. */
  completed(cmd: ControllerCommand, result: CommandResult): void {
    this.stats.changesCompleted++;
    if (!result.ok) {
      this.stats.changesRefused++;
      return;
    }
    this.stats.changesOk++;
    if (createsNoConfig(cmd.op, this.request(cmd).created)) return;
    const c = this.configs[result.configNum];
    if (!c) this.fail(`request ${short(requestKey(cmd.clientId, cmd.seq))} completed with config ${result.configNum}, which is not in the history`);
    const op = cmd.op;
    const bad: (what: string) => never = (what) => this.fail(`completed ${describeOp(cmd)} is not reflected in config ${describeConfig(c)}: ${what}`);
    switch (op.kind) {
      case "join":
        for (const [gid, servers] of op.groups) {
          const have = c.groups.get(gid);
          if (!have) bad(`group ${gid} is missing`);
          if (have.join(",") !== servers.join(",")) bad(`group ${gid} has servers ${have.join(",")}, the join sent ${servers.join(",")}`);
        }
        break;
      case "leave":
        for (const gid of op.gids) {
          if (c.groups.has(gid)) bad(`group ${gid} is still there`);
          if (c.shards.includes(gid)) bad(`group ${gid} still owns shards`);
        }
        break;
      case "move":
        if (c.shards[op.shard] !== op.gid) bad(`shard ${op.shard} is owned by ${c.shards[op.shard]}`);
        break;
      case "replicaDone":
        if (!membersEqual(groupMembers(c, op.gid), op.members)) bad(`group ${op.gid} has members ${describeMembers(groupMembers(c, op.gid))}`);
        if (c.shards.join(",") !== this.configs[c.num - 1]!.shards.join(",")) bad("the shard assignment changed");
        break;
    }
  }

  /**
   * A Query(num) that started when `mustSee` was the highest config number replied, and
   * returned `config` from `node` (-1: the latest).
   */
  queryDone(node: NodeId, num: number, mustSee: number, config: Config): void {
    this.stats.queries++;
    if (num < 0) {
      if (config.num < mustSee) this.fail(`stale Query(-1) on node ${node}: returned config ${config.num}, but config ${mustSee} was replied before the query started`);
    } else {
      this.stats.historicalQueries++;
      if (config.num !== num) this.fail(`Query(${num}) on node ${node} returned config ${config.num}`);
    }
    const want = this.configs[config.num];
    if (!want) this.fail(`Query on node ${node} returned config ${config.num}, which is not in the history (${this.configs.length - 1} is the latest)`);
    if (!configsEqual(want, config)) this.fail(`Query on node ${node} returned ${describeConfig(config)}, the history has ${describeConfig(want)}`);
  }

  /** Number of configs created by each request (checker (c)'s tally, for tests). */
  createdPerRequest(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [k, r] of this.requests) m.set(k, r.created.length);
    return m;
  }

  canonicalApplied(): number {
    return this.canonApplied;
  }
}

function short(key: string): string {
  const [id, seq] = key.split("/");
  return `${id!.slice(0, 6)}/${seq}`;
}

/** True when `op` created no config: an AckJoin, an intent op, a ReplicaDone whose request created none (`created`). */
function createsNoConfig(op: ControllerCommand["op"], created: readonly number[]): boolean {
  switch (op.kind) {
    case "ackJoin": case "replicaChange": case "replicaCancel": case "replicaProgress": return true;
    case "replicaDone": return created.length === 0;
    default: return false;
  }
}

export function describeOp(cmd: ControllerCommand): string {
  const op = cmd.op;
  const id = `${cmd.clientId.slice(0, 6)}/${cmd.seq}`;
  switch (op.kind) {
    case "join": return `join ${[...op.groups].map(([g, s]) => `${g}=${s.join(",")}`).join(" ")} (${id})`;
    case "leave": return `leave ${op.gids.join(",")} (${id})`;
    case "move": return `move ${op.shard}->${op.gid} (${id})`;
    case "ackJoin": return `ack join ${op.gid}@${op.joinNum} (${id})`;
    case "replicaChange": return `replica change ${op.gid}: ${describeReplicaChange(op.change)}${op.force ? " --force" : ""} (${id})`;
    case "replicaCancel": return `replica cancel ${op.gid} (${id})`;
    case "replicaDone": return `replica done ${op.gid}: ${describeMembers(op.members)} (${id})`;
    case "replicaProgress": return `replica progress ${op.gid}: ${JSON.stringify(op.blocked)} (${id})`;
  }
}
