/**
 * Safety checkers of the simulation (Raft §5.2 election safety, §5.3 log matching, §5.4
 * leader completeness and state machine safety), fed incrementally by hooks on every durable
 * write, every Ready and every client outcome, so each event costs O(its own size). The
 * first violation is recorded in `failure` (and thrown as a CheckFailure from the hook); the
 * simulation stops there.
 *
 * Every check here must be sound for correct Raft: each says why below.
 */
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Entry, HardState } from "../../raft/core/types";
import type { SaveBatch } from "../../raft/storage/log-store";

export class CheckFailure extends Error {
  override name = "CheckFailure";
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");

interface CommittedEntry {
  readonly term: Term;
  readonly type: Entry["type"];
  readonly data: string;
  /** The term of the node that first reported it committed: it was committed in a term <= this. */
  readonly termBound: Term;
  readonly by: NodeId;
}

/** A node's log as the checker sees it: the term at each index, and its bounds. */
export interface LogView {
  readonly firstIndex: number;
  readonly lastIndex: number;
  term(i: number): Term | undefined;
}

export interface ClientAck {
  readonly value: string;
  /** 1-based position of the value in the applied sequence (the state machine's result). */
  readonly position: number;
}

export class Checker {
  failure: string | undefined;
  /** Counters for the run's stats. */
  readonly stats = { leaders: 0, committedEntries: 0, acked: 0, reads: 0, rejected: 0, unknown: 0 };

  /** term -> the one leader of that term (election safety). */
  private readonly leaders = new Map<number, NodeId>();
  /** "index/term" -> the one entry with that index and term, and its predecessor's term. */
  private readonly entriesByKey = new Map<string, { readonly type: Entry["type"]; readonly data: string; prevTerm: Term | undefined }>();
  /** index -> the entry committed there (it may never change). */
  private readonly committed = new Map<number, CommittedEntry>();
  /** Durable hard state per node: term never decreases, one vote per term, commit never decreases. */
  private readonly hardStates = new Map<NodeId, HardState>();
  /** Durable applied index per node: never decreases. */
  private readonly smApplied = new Map<NodeId, number>();
  /** The applied value sequence every replica must follow (position 0 = first value). */
  private readonly canonical: string[] = [];
  /** Applied index -> length of the value list at that index (all replicas agree). */
  private readonly lengthAt = new Map<number, number>();
  /** value -> the log index it was applied at (each proposal is applied at most once). */
  private readonly valueIndex = new Map<string, number>();
  /** Values proposed by clients (nothing else may be applied). */
  private readonly proposed = new Set<string>();
  /** Values a node refused definitively (NotLeader, Backpressure...): never applied. */
  private readonly rejected = new Set<string>();
  /** Highest position each node acknowledged to a client. */
  private readonly ackedOn = new Map<NodeId, number>();
  /** Acknowledged writes. */
  readonly acks: ClientAck[] = [];
  /** Highest acknowledged position so far (a read started now must see at least this many values). */
  maxAckedPosition = 0;

  private fail(msg: string): never {
    if (this.failure === undefined) this.failure = msg;
    throw new CheckFailure(msg);
  }

  /** Election safety (Raft §5.2): at most one leader per term, across the whole run. */
  leaderElected(node: NodeId, term: Term): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== node) this.fail(`election safety: nodes ${prev} and ${node} both leader in term ${term}`);
    if (prev === undefined) {
      this.leaders.set(term, node);
      this.stats.leaders++;
    }
  }

  /**
   * Leader completeness (Raft §5.4): a leader of term T holds every entry committed in a term
   * below T. An entry first seen committed by a node at term B was committed in a term <= B,
   * so leaders with T > B are checked; entries at or below the leader's compaction point are
   * covered by its snapshot.
   */
  leaderLog(node: NodeId, term: Term, log: LogView): void {
    for (const [i, c] of this.committed) {
      if (c.termBound >= term || i < log.firstIndex) continue;
      const t = i <= log.lastIndex ? log.term(i) : undefined;
      if (t !== c.term) {
        this.fail(`leader completeness: node ${node} became leader of term ${term} with ${t === undefined ? "no entry" : `term ${t}`} at ${i}, ` +
          `where ${c.term}/${i} was committed (reported by node ${c.by} at term ${c.termBound}); log ${log.firstIndex}..${log.lastIndex}`);
      }
    }
  }

  /**
   * Log matching (Raft §5.3), checked inductively on every durable write: all entries with the
   * same (index, term) have the same content and the same predecessor term. By induction on
   * the index, two logs holding the same (index, term) are then identical up to it.
   */
  logSaved(node: NodeId, batch: SaveBatch, prevTerm: Term | undefined, hs: HardState): void {
    let prev = prevTerm;
    for (const e of batch.entries) {
      const key = `${e.index}/${e.term}`;
      const data = latin1(e.data);
      const seen = this.entriesByKey.get(key);
      if (seen === undefined) {
        this.entriesByKey.set(key, { type: e.type, data, prevTerm: prev });
      } else {
        if (seen.type !== e.type || seen.data !== data) this.fail(`log matching: node ${node} stored a different entry ${key}`);
        if (prev !== undefined && seen.prevTerm !== undefined && seen.prevTerm !== prev) {
          this.fail(`log matching: node ${node} stored ${key} after term ${prev}, elsewhere it follows term ${seen.prevTerm}`);
        }
        if (seen.prevTerm === undefined && prev !== undefined) seen.prevTerm = prev; // first seen after a compaction point
      }
      prev = e.term;
    }
    const old = this.hardStates.get(node);
    if (old !== undefined) {
      if (hs.term < old.term) this.fail(`durable term of node ${node} went back from ${old.term} to ${hs.term}`);
      if (hs.term === old.term && old.vote !== 0 && hs.vote !== old.vote) {
        this.fail(`node ${node} voted for ${old.vote} and then ${hs.vote} in term ${hs.term}`);
      }
      if (hs.commit < old.commit) this.fail(`durable commit of node ${node} went back from ${old.commit} to ${hs.commit}`);
    }
    this.hardStates.set(node, hs);
  }

  /**
   * State machine safety (Raft §5.4.3): every entry applied, on any node, at any time, is the
   * one first applied at its index. `nodeTerm` is the node's current term. (Entries a Ready
   * lists as committed are not yet durable on this node: a single-node leader counts itself
   * before its fsync, and a crash before the fsync legitimately loses them. Once applied they
   * were durable on a majority.)
   */
  committedEntries(node: NodeId, nodeTerm: Term, entries: readonly Entry[]): void {
    for (const e of entries) {
      const c = this.committed.get(e.index);
      const data = latin1(e.data);
      if (c === undefined) {
        this.committed.set(e.index, { term: e.term, type: e.type, data, termBound: nodeTerm, by: node });
        this.stats.committedEntries++;
      } else if (c.term !== e.term || c.type !== e.type || c.data !== data) {
        this.fail(`state machine safety: node ${node} committed ${e.term}/${e.index} but node ${c.by} committed ${c.term}/${e.index} there`);
      }
    }
  }

  /** Within one incarnation, the commit index never goes back. */
  /**
   * A leader committed `index` without the entry being durable on a quorum of its
   * configuration (joint: of both halves; non-members do not count). Sound: Raft §5.3/§5.4
   * commit by counting durable replicas of voters only (Raft thesis §4.3 for joint).
   */
  quorumViolated(node: NodeId, index: LogIndex, detail: string): void {
    this.fail(`n${node} committed index ${index} without a quorum of its configuration: ${detail}`);
  }

  commitMoved(node: NodeId, from: LogIndex, to: LogIndex): void {
    if (to < from) this.fail(`commit index of node ${node} went back from ${from} to ${to}`);
  }

  /** Within one incarnation, the applied index never goes back. */
  appliedMoved(node: NodeId, from: LogIndex, to: LogIndex): void {
    if (to < from) this.fail(`applied index of node ${node} went back from ${from} to ${to}`);
  }

  /**
   * A node acknowledged (through a client) the write at `position` only once it was durable
   * there: a restart of that node must start with at least that many values.
   */
  ackedBy(node: NodeId, position: number): void {
    if (position > (this.ackedOn.get(node) ?? 0)) this.ackedOn.set(node, position);
  }

  restarted(node: NodeId, durableValues: number): void {
    const acked = this.ackedOn.get(node) ?? 0;
    if (durableValues < acked) this.fail(`node ${node} restarted with ${durableValues} durable values, but it acknowledged value #${acked}`);
  }

  /**
   * The state machine of `node` made (applied, values) durable: every replica applies the same
   * sequence (each list is a prefix of one canonical sequence and has the same length at the
   * same applied index), each value is applied at most once and only if proposed, and the
   * durable applied index never decreases (not even across crashes).
   */
  smSaved(node: NodeId, applied: LogIndex, values: readonly string[], appended: readonly { value: string; index: LogIndex }[], restored: boolean): void {
    const old = this.smApplied.get(node) ?? 0;
    if (applied < old || (restored && applied === old && applied > 0)) {
      this.fail(`applied index of node ${node} went back from ${old} to ${applied}${restored ? " (snapshot restore)" : ""}`);
    }
    this.smApplied.set(node, applied);
    const len = this.lengthAt.get(applied);
    if (len === undefined) this.lengthAt.set(applied, values.length);
    else if (len !== values.length) this.fail(`node ${node} has ${values.length} values at applied index ${applied}, another replica had ${len}`);
    if (restored) {
      for (let p = 0; p < values.length; p++) this.canonicalAt(node, p, values[p]!);
      return;
    }
    const base = values.length - appended.length;
    for (let k = 0; k < appended.length; k++) {
      const { value, index } = appended[k]!;
      this.canonicalAt(node, base + k, value);
      if (!this.proposed.has(value)) this.fail(`node ${node} applied ${JSON.stringify(value)} at ${index}, which no client proposed`);
      if (this.rejected.has(value)) this.fail(`node ${node} applied ${JSON.stringify(value)} at ${index}, whose proposal was refused definitively`);
      const at = this.valueIndex.get(value);
      if (at === undefined) this.valueIndex.set(value, index);
      else if (at !== index) this.fail(`${JSON.stringify(value)} applied twice: at index ${at} and at ${index} (node ${node})`);
    }
  }

  private canonicalAt(node: NodeId, p: number, value: string): void {
    const c = this.canonical[p];
    if (c === undefined) {
      if (p !== this.canonical.length) this.fail(`node ${node} applied value #${p + 1} before #${this.canonical.length + 1} is known`);
      this.canonical.push(value);
    } else if (c !== value) {
      this.fail(`replicas diverge: node ${node} has ${JSON.stringify(value)} as value #${p + 1}, another replica ${JSON.stringify(c)}`);
    }
  }

  // ------------------------------------------------------------------ clients

  proposing(value: string): void {
    this.proposed.add(value);
  }

  /** A write was acknowledged with its position: it must be there, and stay there. */
  acked(value: string, position: number): void {
    this.stats.acked++;
    if (!(position >= 1) || this.canonical[position - 1] !== value) {
      this.fail(`client acknowledged ${JSON.stringify(value)} at position ${position}, but value #${position} is ${JSON.stringify(this.canonical[position - 1])}`);
    }
    this.acks.push({ value, position });
    if (position > this.maxAckedPosition) this.maxAckedPosition = position;
  }

  /** A proposal refused definitively (the node said it never entered the log). */
  refused(value: string): void {
    this.stats.rejected++;
    if (this.valueIndex.has(value)) this.fail(`${JSON.stringify(value)} was refused (NotLeader/Backpressure) but was applied at ${this.valueIndex.get(value)}`);
    this.rejected.add(value);
  }

  unknown(): void {
    this.stats.unknown++;
  }

  /**
   * A linearizable read (readBarrier, then the local list) that started when `mustSee`
   * values were acknowledged saw `seen` values: it must see every write acknowledged before it
   * started (lists are canonical prefixes, so a length suffices).
   */
  readDone(node: NodeId, mustSee: number, seen: number): void {
    this.stats.reads++;
    if (seen < mustSee) this.fail(`stale read on node ${node}: saw ${seen} values, but value #${mustSee} was acknowledged before the read started`);
  }

  /** Final: every acknowledged write is in `values` (a replica's list). */
  allAckedIn(node: NodeId, values: readonly string[]): void {
    for (const a of this.acks) {
      if (values[a.position - 1] !== a.value) this.fail(`acknowledged ${JSON.stringify(a.value)} (#${a.position}) is missing on node ${node} (it has ${values.length} values)`);
    }
  }

  /** Full log matching between two logs (used at the end; the incremental check covers the rest). */
  compareLogs(a: NodeId, la: readonly Entry[], b: NodeId, lb: readonly Entry[]): void {
    const byIndex = new Map<number, Entry>();
    for (const e of lb) byIndex.set(e.index, e);
    let highest: Entry | undefined;
    for (const e of la) {
      const o = byIndex.get(e.index);
      if (o && o.term === e.term) highest = e;
    }
    if (!highest) return;
    for (const e of la) {
      if (e.index > highest.index) break;
      const o = byIndex.get(e.index);
      if (!o) continue; // compacted on b
      if (o.term !== e.term || o.type !== e.type || latin1(o.data) !== latin1(e.data)) {
        this.fail(`log matching: nodes ${a} and ${b} share ${highest.term}/${highest.index} but differ at ${e.index} (${e.term} vs ${o.term})`);
      }
    }
  }

  canonicalLength(): number {
    return this.canonical.length;
  }
}
