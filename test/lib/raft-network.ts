/**
 * A tiny synchronous harness driving several RawNodes with an in-memory log and state machine:
 * used by unit tests and the data-driven trace tests (test/lib/trace-runner.ts).
 * Persist = keep in memory; apply = append the entry's data to `sm`; send = queue in `inflight`
 * until a test delivers it. Nothing happens unless the test asks: no timers, no randomness
 * beyond the seeded Rng handed to each replica.
 */
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Rng } from "../../common/env";
import { makeRaftConfig, type RaftConfigInput } from "../../raft/core/config";
import { describeMessage, describeReady } from "../../raft/core/describe";
import { RawNode } from "../../raft/core/raw-node";
import type { Entry, HardState, Message, ReadState, SnapshotMeta } from "../../raft/core/types";

/** A deterministic Rng (mulberry32) for tests. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const float = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { float, int: (n) => Math.floor(float() * n) };
}

export interface HarnessNode {
  id: NodeId;
  raw: RawNode;
  /** The "disk": what survives a restart. */
  hardState: HardState;
  snapshot: SnapshotMeta;
  compacted: { index: LogIndex; term: Term };
  entries: Entry[];
  applied: Entry[];
  /** The state machine: the data of every applied normal entry, in order. */
  sm: string[];
  readStates: ReadState[];
  /** Snapshot data being received. */
  restoring: Uint8Array[];
}

/** Harness options: Raft config overrides for every replica. */
export type HarnessOptions = Partial<Omit<RaftConfigInput, "id" | "voters" | "rng">>;

export class RaftHarness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  /** Messages sent and not yet delivered, in send order. */
  inflight: Message[] = [];
  /**
   * Directed pairs "from-to" that are partitioned: a message between them is lost, whether the
   * partition exists when the message is sent or when it is delivered.
   */
  readonly cut = new Set<string>();
  /** Messages sent while their link was cut: lost even if the partition heals before delivery. */
  private readonly lost = new WeakSet<Message>();
  /** Size of the snapshot chunks a leader's "driver" cuts its snapshot data into. */
  snapshotChunkBytes = 4;
  /** Snapshot payloads taken by compact(), per node and snapshot index. */
  readonly snapshotData = new Map<NodeId, Map<number, string>>();

  /** Replicas started by addNode: they join with an empty configuration (no bootstrap voters). */
  private readonly joiners = new Set<NodeId>();

  constructor(readonly ids: NodeId[], readonly opts: HarnessOptions = {}, readonly seed = 1) {
    for (const id of ids) this.start(id, seed * 1000 + id);
  }

  /** Starts a new, empty replica `id` that is in no configuration yet (to be added as a learner). */
  addNode(id: NodeId): HarnessNode {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    this.joiners.add(id);
    this.ids.push(id);
    return this.start(id, this.seed * 1000 + id);
  }

  /** (Re)starts replica `id` from what it persisted (a restart loses only volatile state). */
  start(id: NodeId, seed: number): HarnessNode {
    const prev = this.nodes.get(id);
    const voters = this.joiners.has(id) ? [] : this.ids.filter((i) => !this.joiners.has(i));
    // No liveness signal here (RawNode.peerDown is the test's to call): quiescence only when
    // asked for, as RaftNode on a transport without one (raft/core/quiesce.ts).
    const cfg = makeRaftConfig({ quiesce: false, ...this.opts, id, voters, rng: seededRng(seed) });
    const n: HarnessNode = prev ?? {
      id, raw: undefined as unknown as RawNode,
      hardState: { term: 0 as Term, vote: 0 as NodeId, commit: 0 as LogIndex },
      snapshot: { index: 0 as LogIndex, term: 0 as Term, voters },
      compacted: { index: 0 as LogIndex, term: 0 as Term },
      entries: [], applied: [], sm: [], readStates: [], restoring: [],
    };
    n.raw = new RawNode(cfg, {
      hardState: n.hardState, snapshot: n.snapshot, compacted: n.compacted, entries: n.entries,
      applied: (n.applied.length > 0 ? n.applied[n.applied.length - 1]!.index : n.snapshot.index) as LogIndex,
    });
    this.nodes.set(id, n);
    return n;
  }

  node(id: number): HarnessNode {
    const n = this.nodes.get(id as NodeId);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /**
   * Takes one Ready of node `id` and carries it out in the documented order (persist, send,
   * apply, advance). Returns its description lines, or null when there was nothing to do.
   */
  handleReady(id: NodeId): string[] | null {
    const n = this.node(id);
    if (!n.raw.hasReady()) return null;
    const rd = n.raw.ready();
    for (const c of rd.snapshotChunks) {
      if (c.chunk === 0) n.restoring = [];
      n.restoring.push(c.data);
    }
    if (rd.snapshot) {
      const text = Buffer.concat(n.restoring).toString();
      n.sm = text.length > 0 ? text.split(",") : [];
      n.restoring = [];
      n.snapshot = rd.snapshot;
      n.compacted = { index: rd.snapshot.index, term: rd.snapshot.term };
      n.entries = [];
      n.applied = [];
    }
    if (rd.hardState) n.hardState = rd.hardState;
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      n.entries = n.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    for (const m of rd.messages) {
      if (m.type === "snapshot" && m.chunkData.length === 0) this.fillChunk(n, m);
      if (this.isCut(m)) this.lost.add(m);
      this.inflight.push(m);
    }
    for (const e of rd.committedEntries) {
      n.applied.push(e);
      if (e.type === "normal") n.sm.push(Buffer.from(e.data).toString());
    }
    for (const r of rd.readStates) n.readStates.push(r);
    const lines = describeReady(rd);
    n.raw.advance(rd);
    return lines;
  }

  /** Processes one Ready of node `id` if it has one; appends "id> line" to `log`. */
  processReady(id: NodeId, log?: string[]): boolean {
    const lines = this.handleReady(id);
    if (lines === null) return false;
    log?.push(...lines.map((l) => `${id}> ${l}`));
    return true;
  }

  /**
   * The leader's snapshot "driver": the snapshot data is the state machine as comma-joined
   * text, cut into chunks of `snapshotChunkBytes`; the last chunk is marked.
   */
  private fillChunk(n: HarnessNode, m: Message): void {
    const data = Buffer.from(this.snapshotData.get(n.id)?.get(m.snapshot!.index) ?? "");
    const size = this.snapshotChunkBytes;
    const count = Math.max(1, Math.ceil(data.length / size));
    m.chunkData = data.subarray(m.chunk * size, (m.chunk + 1) * size);
    m.chunkLast = m.chunk >= count - 1;
  }

  /** Takes a snapshot of `id`'s state machine at its applied index and compacts its log at `compactIndex` (default: there). */
  compact(id: NodeId, compactIndex?: LogIndex): SnapshotMeta {
    const n = this.node(id);
    const applied = n.raw.status().applied;
    const ci = compactIndex ?? applied;
    const meta = n.raw.compact(applied, ci);
    n.snapshot = meta;
    n.compacted = { index: ci, term: n.raw.termAt(ci) ?? n.compacted.term };
    n.entries = n.entries.filter((e) => e.index > ci);
    if (!this.snapshotData.has(id)) this.snapshotData.set(id, new Map());
    this.snapshotData.get(id)!.set(meta.index, n.sm.join(","));
    return meta;
  }

  isCut(m: Message): boolean {
    return this.cut.has(`${m.from}-${m.to}`) || this.lost.has(m);
  }

  /**
   * Removes the in-flight messages matching `filter` (all when absent), oldest first, and
   * steps each on its recipient unless the pair is partitioned or `drop` is set. Returns the
   * messages taken, each with whether it was dropped.
   */
  take(filter?: (m: Message) => boolean, drop = false): { m: Message; dropped: "no" | "drop" | "partition" }[] {
    const out: Message[] = [];
    const keep: Message[] = [];
    for (const m of this.inflight) (filter && !filter(m) ? keep : out).push(m);
    this.inflight = keep;
    return out.map((m) => {
      if (drop) return { m, dropped: "drop" as const };
      if (this.isCut(m)) return { m, dropped: "partition" as const };
      const n = this.nodes.get(m.to);
      if (n) n.raw.step(m);
      return { m, dropped: "no" as const };
    });
  }

  /** Delivers in-flight messages (all, or those matching `filter`); returns them. */
  deliver(filter?: (m: Message) => boolean): Message[] {
    return this.take(filter).map((d) => d.m);
  }

  /**
   * Processes Readies and delivers messages among `ids` (default all) until nothing changes
   * (etcd-io/raft rafttest Stabilize): each round every node with a Ready handles it, then
   * every node receives the messages addressed to it. Logs in the trace format:
   * "> 1 handling Ready" / "> 2 receiving messages" followed by indented lines.
   */
  stabilize(log?: string[], maxRounds = 1000, ids: readonly NodeId[] = this.ids): void {
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const id of ids) {
        const lines = this.handleReady(id);
        if (lines === null) continue;
        any = true;
        log?.push(`> ${id} handling Ready`, ...lines.map((l) => `  ${l}`));
      }
      for (const id of ids) {
        if (!this.inflight.some((m) => m.to === id)) continue;
        any = true;
        log?.push(`> ${id} receiving messages`);
        for (const d of this.take((m) => m.to === id)) log?.push(`  ${describeDelivery(d.m, d.dropped)}`);
      }
      if (!any) return;
    }
    throw new Error(`stabilize did not converge in ${maxRounds} rounds`);
  }

  /** Cuts every link between `id` and the others, both ways. */
  isolate(id: NodeId): void {
    for (const o of this.ids) if (o !== id) { this.cut.add(`${id}-${o}`); this.cut.add(`${o}-${id}`); }
  }

  heal(): void {
    this.cut.clear();
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).raw.tick();
  }

  leader(): NodeId | undefined {
    for (const [id, n] of this.nodes) if (n.raw.status().role === "leader") return id;
    return undefined;
  }
}

/** One delivered (or dropped) message as printed in traces. */
export function describeDelivery(m: Message, dropped: "no" | "drop" | "partition"): string {
  const s = describeMessage(m);
  return dropped === "no" ? s : `${s} (dropped${dropped === "partition" ? ": partitioned" : ""})`;
}
