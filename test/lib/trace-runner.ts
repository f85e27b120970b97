/**
 * Data-driven Raft traces (in the style of etcd-io/raft testdata/*.txt with
 * rafttest.InteractionEnv and cockroachdb/datadriven).
 *
 * A trace file is a sequence of blocks separated by blank lines; `#` lines between blocks are
 * comments. A block is one command line, a `----` line, and the expected output:
 *
 *     propose 1 x
 *     ----
 *     ok
 *
 * Output that contains blank lines is framed by a doubled separator (`----` / `----` before and
 * after). A command that prints nothing expects `ok`. Typed errors thrown by the core
 * (NotLeaderError, BackpressureError, ...) print as `error: <message>`; anything else thrown
 * (an AssertionFailure, a bad command) fails the test.
 *
 * Commands (ids are replica ids, 1-based; `a,b` or `(a,b)` lists):
 *   add-nodes <n> [preVote=true checkQuorum=true quiesce=false quiesceIdleBeats=3 electionTicks=10 heartbeatTicks=1 seed=1
 *                  snapshotChunkBytes=4 uncommittedBytesMax=.. inflightAppendsMax=.. ...]
 *   campaign <id>                 start an election now (PreVote first when enabled)
 *   propose <id> <data>           propose one entry
 *   read-index <id> <ctx>         start a linearizable read
 *   transfer-leader <from> <to>   ask leader <from> to hand leadership to <to>
 *   peer-down <id> <peer>         the driver's liveness signal: <id>'s transport finds <peer> unreachable
 *   add-node <id>                 start a new, empty replica in no configuration (to add as a learner)
 *   propose-conf-change <id> [joint] [autoLeave=false] <change>...
 *                                 propose a membership change: changes l<n> (add learner n),
 *                                 v<n> (promote n), r<n> (remove n); one change is a simple
 *                                 change unless `joint`; `leave-joint` alone leaves joint
 *   conf <id>...                  the configuration each replica has applied
 *   tick <id> [n]                 tick n times (default 1)
 *   tick-heartbeat <id>           tick heartbeatTicks times
 *   tick-election <id>            leader: tick electionTicks times (one CheckQuorum round);
 *                                 others: tick until the election timer fires (the node then
 *                                 has a Ready); fails if a Ready was already pending
 *   process-ready <id>...         handle one Ready of each node (persist, send, apply, advance)
 *   deliver-msgs [<id>...] [from=<id>,..] [type=<t>,..] [drop=<id>,..] [skip=n] [count=n]
 *                                 deliver pending messages to those recipients (all when none
 *                                 given), optionally only from those senders or of those types;
 *                                 drop= drops the messages to those recipients instead; of the
 *                                 matching messages (in send order) skip= leaves the first n in
 *                                 flight and count= takes at most n (reordering, one at a time)
 *   stabilize [<id>...]           process Readies and deliver messages until quiet
 *   leader-unreachable <id> <peer>  the transport tells <id> that <peer>'s connection was reset
 *                                 (RawNode.leaderUnreachable)
 *   isolate <id> / heal           partition a node away (messages to and from it sent or
 *                                 delivered while it is isolated are lost; they are printed
 *                                 as dropped when delivered) / remove every partition
 *   compact <id> [index]          snapshot the state machine at its applied index, drop the
 *                                 log up to index (default: the applied index)
 *   status <id>...                the replica's state; a leader adds each follower's progress
 *   raft-state                    one status line per node
 *   raft-log <id>                 the node's persisted entries (and snapshot)
 *   state-machine [<id>...]       the data applied so far on each node
 *   log-level none|all            none: the following commands print only `ok` or their error
 *   restart <id>                  crash and restart a node from what it persisted
 *   reset                         discard the cluster (a new add-nodes may follow)
 */
import { ShardKVError } from "../../common/errors";
import type { LogIndex, NodeId } from "../../common/ids";
import { raftDefaults } from "../../raft/core/config";
import { describeConfState, type ConfChange, type ConfChangeSingle } from "../../raft/core/conf-change";
import { describeBytes, describeEntry, describeSnapshotMeta, describeStatus, describeStatusLine } from "../../raft/core/describe";
import type { MessageType } from "../../raft/core/types";
import { RaftHarness, describeDelivery, type HarnessOptions } from "./raft-network";

/** One command of a trace and where its expected output sits in the file. */
export interface TraceBlock {
  /** 1-based line of the command. */
  readonly line: number;
  readonly cmd: string;
  readonly expected: string;
  /** 0-based line range [start, end) of the block after the command line, separators included. */
  readonly start: number;
  readonly end: number;
}

/** A command the trace itself got wrong (unknown command, bad argument): fails the test. */
export class TraceUsageError extends Error {
  override name = "TraceUsageError";
}

export function parseTrace(text: string): { lines: string[]; blocks: TraceBlock[] } {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const blocks: TraceBlock[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.trim() === "" || l.startsWith("#")) { i++; continue; }
    const cmdLine = i;
    if (lines[i + 1] !== "----") throw new TraceUsageError(`line ${i + 1}: expected "----" after command ${JSON.stringify(l)}`);
    const start = i + 1;
    i += 2;
    const out: string[] = [];
    if (lines[i] === "----") {
      // Doubled separator: the output may contain blank lines and ends at "----" "----".
      i++;
      while (i < lines.length && !(lines[i] === "----" && lines[i + 1] === "----")) out.push(lines[i++]!);
      if (i >= lines.length) throw new TraceUsageError(`line ${cmdLine + 1}: unterminated "----" "----" block`);
      i += 2;
    } else {
      while (i < lines.length && lines[i]!.trim() !== "") out.push(lines[i++]!);
    }
    blocks.push({ line: cmdLine + 1, cmd: l, expected: out.join("\n"), start, end: i });
  }
  return { lines, blocks };
}

/** The file with every block's expected output replaced by `actual[i]`. */
export function rewriteTrace(lines: readonly string[], blocks: readonly TraceBlock[], actual: readonly string[]): string {
  const out: string[] = [];
  let at = 0;
  blocks.forEach((b, i) => {
    out.push(...lines.slice(at, b.start));
    const a = actual[i]!;
    if (a.split("\n").some((l) => l.trim() === "")) out.push("----", "----", a, "----", "----");
    else out.push("----", a);
    at = b.end;
  });
  out.push(...lines.slice(at));
  return out.join("\n") + "\n";
}

interface Args {
  readonly pos: string[];
  readonly kv: Map<string, string>;
}

function parseArgs(tokens: readonly string[]): Args {
  const pos: string[] = [];
  const kv = new Map<string, string>();
  for (const t of tokens) {
    const eq = t.indexOf("=");
    if (eq > 0) kv.set(t.slice(0, eq), t.slice(eq + 1).replace(/^\((.*)\)$/, "$1"));
    else pos.push(t);
  }
  return { pos, kv };
}

function int(s: string | undefined, what: string): number {
  if (s === undefined || !/^\d+$/.test(s)) throw new TraceUsageError(`${what}: expected a non-negative integer, got ${JSON.stringify(s)}`);
  return Number(s);
}

function bool(s: string, what: string): boolean {
  if (s !== "true" && s !== "false") throw new TraceUsageError(`${what}: expected true or false, got ${JSON.stringify(s)}`);
  return s === "true";
}

function idList(s: string, what: string): NodeId[] {
  return s.split(",").filter((x) => x !== "").map((x) => int(x, what) as NodeId);
}

const messageTypes: readonly MessageType[] = [
  "append", "appendResp", "vote", "voteResp", "preVote", "preVoteResp",
  "heartbeat", "heartbeatResp", "snapshot", "snapshotResp", "timeoutNow", "wake",
];

const enc = new TextEncoder();

/** `propose-conf-change <id> [joint] [autoLeave=false] l4 v4 r1` or `... leave-joint`. */
function parseConfChange(a: Args): ConfChange {
  const words = a.pos.slice(1);
  for (const k of a.kv.keys()) if (k !== "autoLeave") throw new TraceUsageError(`propose-conf-change: unknown option ${k}`);
  if (words.length === 1 && words[0] === "leave-joint") return { kind: "leaveJoint" };
  const joint = words[0] === "joint";
  const changes = (joint ? words.slice(1) : words).map((w): ConfChangeSingle => {
    const m = /^([lvr])(\d+)$/.exec(w);
    if (!m) throw new TraceUsageError(`propose-conf-change: bad change ${JSON.stringify(w)} (l<n>, v<n>, r<n>)`);
    const type = m[1] === "l" ? "addLearner" : m[1] === "v" ? "promote" : "remove";
    return { type, node: Number(m[2]) as NodeId };
  });
  if (joint) return { kind: "enterJoint", changes, autoLeave: a.kv.has("autoLeave") ? bool(a.kv.get("autoLeave")!, "autoLeave") : true };
  if (changes.length !== 1) throw new TraceUsageError("propose-conf-change: several changes need `joint`");
  return { kind: "simple", change: changes[0]! };
}

/** Runs trace commands against one RaftHarness; each command returns its printed output. */
export class TraceEnv {
  private h: RaftHarness | undefined;
  private quiet = false;
  private restarts = 0;
  private electionTicks: number = raftDefaults.electionTicks;
  private heartbeatTicks: number = raftDefaults.heartbeatTicks;

  /** Runs one command line; returns its output ("ok" when it printed nothing). */
  run(cmdLine: string): string {
    const [name, ...rest] = cmdLine.trim().split(/\s+/);
    const args = parseArgs(rest);
    const out: string[] = [];
    try {
      this.dispatch(name!, args, out);
    } catch (e) {
      if (!(e instanceof ShardKVError)) throw e;
      // Printed even under `log-level none`, so a failing setup step cannot go unnoticed.
      if (this.quiet) return `error: ${e.message}`;
      out.push(`error: ${e.message}`);
    }
    if (this.quiet && name !== "log-level") return "ok";
    const text = out.map((l) => l.trimEnd()).join("\n");
    return text === "" ? "ok" : text;
  }

  private harness(): RaftHarness {
    if (!this.h) throw new TraceUsageError("add-nodes first");
    return this.h;
  }

  private id(s: string | undefined): NodeId {
    const id = int(s, "node id") as NodeId;
    if (!this.harness().nodes.has(id)) throw new TraceUsageError(`no node ${id}`);
    return id;
  }

  private dispatch(name: string, a: Args, out: string[]): void {
    switch (name) {
      case "add-nodes": return this.addNodes(a);
      case "reset":
        this.h = undefined;
        return;
      case "log-level": {
        const level = a.pos[0];
        if (level !== "none" && level !== "all") throw new TraceUsageError(`log-level none|all, got ${level}`);
        this.quiet = level === "none";
        return;
      }
      case "campaign": return this.harness().node(this.id(a.pos[0])).raw.campaign();
      case "propose": {
        const data = a.pos[1];
        if (data === undefined) throw new TraceUsageError("propose <id> <data>");
        this.harness().node(this.id(a.pos[0])).raw.propose([enc.encode(data)]);
        return;
      }
      case "read-index": {
        const ctx = a.pos[1];
        if (ctx === undefined) throw new TraceUsageError("read-index <id> <ctx>");
        this.harness().node(this.id(a.pos[0])).raw.readIndex(enc.encode(ctx));
        return;
      }
      case "peer-down": return this.harness().node(this.id(a.pos[0])).raw.peerDown(this.id(a.pos[1]));
      case "leader-unreachable": return this.harness().node(this.id(a.pos[0])).raw.leaderUnreachable(this.id(a.pos[1]));
      case "transfer-leader": {
        const to = this.id(a.pos[1]);
        this.harness().node(this.id(a.pos[0])).raw.transferLeader(to);
        return;
      }
      case "add-node": {
        const id = int(a.pos[0], "node id") as NodeId;
        if (this.harness().nodes.has(id)) throw new TraceUsageError(`node ${id} exists`);
        this.harness().addNode(id);
        return;
      }
      case "propose-conf-change": {
        this.harness().node(this.id(a.pos[0])).raw.proposeConfChange(parseConfChange(a));
        return;
      }
      case "tick": return this.harness().tick(this.id(a.pos[0]), a.pos[1] === undefined ? 1 : int(a.pos[1], "tick count"));
      case "tick-heartbeat": return this.harness().tick(this.id(a.pos[0]), this.heartbeatTicks);
      case "tick-election": return this.tickElection(this.id(a.pos[0]), out);
      case "process-ready": return this.processReady(a, out);
      case "deliver-msgs": return this.deliverMsgs(a, out);
      case "stabilize": {
        const ids = a.pos.length > 0 ? a.pos.map((p) => this.id(p)) : this.harness().ids;
        this.harness().stabilize(out, 1000, ids);
        return;
      }
      case "restart": {
        // Volatile state (role, leader, progress, an unprocessed Ready) is lost; the node comes
        // back from its persisted HardState, log and snapshot with a fresh Rng.
        const id = this.id(a.pos[0]);
        this.restarts++;
        this.harness().start(id, this.harness().seed * 1000 + id + 100 * this.restarts);
        return;
      }
      case "isolate": return this.harness().isolate(this.id(a.pos[0]));
      case "heal": return this.harness().heal();
      case "compact": {
        const id = this.id(a.pos[0]);
        const meta = this.harness().compact(id, a.pos[1] === undefined ? undefined : (int(a.pos[1], "compact index") as LogIndex));
        out.push(`snapshot ${describeSnapshotMeta(meta)}, log compacted to first index ${this.harness().node(id).raw.status().firstIndex}`);
        return;
      }
      case "status": case "raft-state": case "raft-log": case "state-machine": case "conf":
        return this.inspect(name, a, out);
      default:
        throw new TraceUsageError(`unknown command ${JSON.stringify(name)}`);
    }
  }

  /** The read-only commands: print state, change nothing. */
  private inspect(name: string, a: Args, out: string[]): void {
    const h = this.harness();
    const ids = a.pos.length > 0 ? a.pos.map((p) => this.id(p)) : h.ids;
    switch (name) {
      case "status":
        if (a.pos.length === 0) throw new TraceUsageError("status <id>...");
        for (const id of ids) out.push(...describeStatus(h.node(id).raw.status()));
        return;
      case "raft-state":
        for (const n of h.nodes.values()) {
          const line = describeStatusLine(n.raw.status());
          out.push(this.isolated(n.id) ? `${line} (isolated)` : line);
        }
        return;
      case "raft-log": return this.raftLog(this.id(a.pos[0]), out);
      case "conf":
        for (const id of ids) out.push(`${id}: ${describeConfState(h.node(id).raw.confState())}`);
        return;
      case "state-machine":
        for (const id of ids) {
          const sm = h.node(id).sm;
          out.push(`${id}: ${sm.length === 0 ? "(empty)" : sm.map((s) => describeBytes(enc.encode(s))).join(" ")}`);
        }
        return;
    }
  }

  private addNodes(a: Args): void {
    if (this.h) throw new TraceUsageError("add-nodes twice");
    const n = int(a.pos[0], "node count");
    const opts: { -readonly [K in keyof HarnessOptions]: HarnessOptions[K] } = {};
    let seed = 1;
    let chunkBytes: number | undefined;
    for (const [k, v] of a.kv) {
      switch (k) {
        case "preVote": case "checkQuorum": case "quiesce": opts[k] = bool(v, k); break;
        case "electionTicks": case "heartbeatTicks": case "appendBytesMax": case "inflightAppendsMax":
        case "inflightBytesMax": case "uncommittedBytesMax": case "applyBytesMax": case "readIndexPendingMax": case "quiesceIdleBeats":
          opts[k] = int(v, k); break;
        case "learnerLagEntriesMax": opts[k] = int(v, k); break;
        case "seed": seed = int(v, k); break;
        case "snapshotChunkBytes": chunkBytes = int(v, k); break;
        default: throw new TraceUsageError(`add-nodes: unknown option ${k}`);
      }
    }
    const ids = Array.from({ length: n }, (_, i) => (i + 1) as NodeId);
    this.h = new RaftHarness(ids, opts, seed);
    if (chunkBytes !== undefined) this.h.snapshotChunkBytes = chunkBytes;
    this.electionTicks = opts.electionTicks ?? raftDefaults.electionTicks;
    this.heartbeatTicks = opts.heartbeatTicks ?? raftDefaults.heartbeatTicks;
  }

  private isolated(id: NodeId): boolean {
    const h = this.harness();
    return h.ids.every((o) => o === id || (h.cut.has(`${id}-${o}`) && h.cut.has(`${o}-${id}`)));
  }

  private tickElection(id: NodeId, out: string[]): void {
    const h = this.harness();
    const raw = h.node(id).raw;
    if (raw.status().role === "leader") {
      h.tick(id, this.electionTicks);
      return;
    }
    if (raw.hasReady()) throw new TraceUsageError(`tick-election ${id}: node has a pending Ready; process it first`);
    // A randomized election timeout is < 2 * electionTicks.
    for (let t = 1; t < 2 * this.electionTicks; t++) {
      h.tick(id);
      if (raw.hasReady()) return;
    }
    out.push(`no election after ${2 * this.electionTicks - 1} ticks`);
  }

  private processReady(a: Args, out: string[]): void {
    const ids = a.pos.map((p) => this.id(p));
    if (ids.length === 0) throw new TraceUsageError("process-ready <id>...");
    for (const id of ids) {
      const lines = this.harness().handleReady(id) ?? ["<empty Ready>"];
      if (ids.length === 1) out.push(...lines);
      else out.push(`> ${id} handling Ready`, ...lines.map((l) => `  ${l}`));
    }
  }

  private deliverMsgs(a: Args, out: string[]): void {
    const to = a.pos.map((p) => this.id(p));
    const drop = a.kv.has("drop") ? idList(a.kv.get("drop")!, "drop") : undefined;
    const from = a.kv.has("from") ? idList(a.kv.get("from")!, "from") : undefined;
    const types = a.kv.has("type") ? a.kv.get("type")!.split(",") : undefined;
    for (const t of types ?? []) if (!messageTypes.includes(t as MessageType)) throw new TraceUsageError(`unknown message type ${t}`);
    for (const k of a.kv.keys()) if (!["drop", "from", "type", "skip", "count"].includes(k)) throw new TraceUsageError(`deliver-msgs: unknown option ${k}`);
    if (drop && to.length > 0) throw new TraceUsageError("deliver-msgs: give recipients or drop=, not both");
    const recipients = drop ?? to;
    let skip = a.kv.has("skip") ? int(a.kv.get("skip"), "skip") : 0;
    let count = a.kv.has("count") ? int(a.kv.get("count"), "count") : Infinity;
    const taken = this.harness().take((m) => {
      const match = (recipients.length === 0 || recipients.includes(m.to)) &&
        (from === undefined || from.includes(m.from)) &&
        (types === undefined || types.includes(m.type));
      if (!match) return false;
      if (skip > 0) {
        skip--;
        return false;
      }
      return count-- > 0;
    }, drop !== undefined);
    for (const d of taken) out.push(describeDelivery(d.m, d.dropped));
  }

  private raftLog(id: NodeId, out: string[]): void {
    const n = this.harness().node(id);
    if (n.snapshot.index > 0) out.push(`snapshot: ${describeSnapshotMeta(n.snapshot)}`);
    if (n.entries.length === 0) {
      out.push(`log is empty: first index=${n.compacted.index + 1}, last index=${n.compacted.index}`);
      return;
    }
    for (const e of n.entries) out.push(describeEntry(e));
  }
}

/** The outcome of running one trace: each block with its actual output. */
export interface TraceResult {
  readonly lines: string[];
  readonly blocks: TraceBlock[];
  readonly actual: string[];
}

/** Runs every block of a trace in order. A TraceUsageError or assertion names the command's line. */
export function runTrace(text: string, file = "<trace>"): TraceResult {
  const { lines, blocks } = parseTrace(text);
  const env = new TraceEnv();
  const actual: string[] = [];
  for (const b of blocks) {
    try {
      actual.push(env.run(b.cmd));
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      err.message = `${file}:${b.line}: ${b.cmd}: ${err.message}`;
      throw err;
    }
  }
  return { lines, blocks, actual };
}

/** A line diff of expected vs actual ("-" expected only, "+" actual only), via LCS. */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push(`  ${a[i]}`); i++; j++; }
    else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out.join("\n");
}
