/**
 * A tiny synchronous harness driving several RawNodes with an in-memory log and state machine:
 * used by unit tests and the data-driven trace tests. Persist = keep in memory; apply = record.
 */
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { Rng } from "../../common/env";
import { makeRaftConfig, type RaftConfigInput } from "../../raft/core/config";
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

export class RaftHarness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  /** Messages sent and not yet delivered, in send order. */
  inflight: Message[] = [];
  /** Pairs (from,to) whose messages are dropped. */
  readonly cut = new Set<string>();
  snapshotChunkBytes = 4;

  constructor(readonly ids: NodeId[], readonly opts: Partial<RaftConfigInput> = {}, seed = 1) {
    for (const id of ids) this.start(id, seed * 1000 + id);
  }

  start(id: NodeId, seed: number): HarnessNode {
    const prev = this.nodes.get(id);
    const cfg = makeRaftConfig({ id, voters: this.ids, rng: seededRng(seed), ...this.opts });
    const n: HarnessNode = prev ?? {
      id, raw: undefined as unknown as RawNode,
      hardState: { term: 0 as Term, vote: 0 as NodeId, commit: 0 as LogIndex },
      snapshot: { index: 0 as LogIndex, term: 0 as Term, voters: this.ids },
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
    return this.nodes.get(id as NodeId)!;
  }

  /** Processes every Ready of node `id`; returns printed lines. */
  processReady(id: NodeId, log?: string[]): boolean {
    const n = this.nodes.get(id)!;
    if (!n.raw.hasReady()) return false;
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
      this.inflight.push(m);
    }
    for (const e of rd.committedEntries) {
      n.applied.push(e);
      if (e.type === "normal") n.sm.push(Buffer.from(e.data).toString());
    }
    for (const r of rd.readStates) n.readStates.push(r);
    log?.push(...describeLines(id, rd));
    n.raw.advance(rd);
    return true;
  }

  /** The leader's snapshot data: the state machine as comma-joined text, cut into chunks. */
  private fillChunk(n: HarnessNode, m: Message): void {
    const data = Buffer.from(this.snapshotData.get(n.id) ?? "");
    const size = this.snapshotChunkBytes;
    const count = Math.max(1, Math.ceil(data.length / size));
    m.chunkData = data.subarray(m.chunk * size, (m.chunk + 1) * size);
    m.chunkLast = m.chunk >= count - 1;
  }

  /** Snapshot payloads taken by compact(), per node. */
  readonly snapshotData = new Map<NodeId, string>();

  /** Takes a snapshot of `id`'s state machine at its applied index and compacts its log there. */
  compact(id: NodeId, compactIndex?: LogIndex): SnapshotMeta {
    const n = this.nodes.get(id)!;
    const applied = n.raw.status().applied;
    const meta = n.raw.compact(applied, compactIndex ?? applied);
    n.snapshot = meta;
    const ci = compactIndex ?? applied;
    n.compacted = { index: ci, term: n.raw.termAt(ci) ?? n.compacted.term };
    n.entries = n.entries.filter((e) => e.index > ci);
    this.snapshotData.set(id, n.sm.join(","));
    return meta;
  }

  /** Delivers in-flight messages (all, or those matching `filter`); returns them. */
  deliver(filter?: (m: Message) => boolean): Message[] {
    const out: Message[] = [];
    const keep: Message[] = [];
    for (const m of this.inflight) {
      if (filter && !filter(m)) { keep.push(m); continue; }
      out.push(m);
    }
    this.inflight = keep;
    for (const m of out) {
      if (this.cut.has(`${m.from}-${m.to}`)) continue;
      const n = this.nodes.get(m.to);
      if (n) n.raw.step(m);
    }
    return out;
  }

  /** Process readies and deliver messages until nothing changes. */
  stabilize(log?: string[], maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const id of this.ids) if (this.processReady(id, log)) any = true;
      if (this.inflight.length > 0) {
        const msgs = this.deliver();
        for (const m of msgs) log?.push(`deliver ${describeMsg(m)}${this.cut.has(`${m.from}-${m.to}`) ? " (dropped)" : ""}`);
        any = true;
      }
      if (!any) return;
    }
    throw new Error("stabilize did not converge");
  }

  isolate(id: NodeId): void {
    for (const o of this.ids) if (o !== id) { this.cut.add(`${id}-${o}`); this.cut.add(`${o}-${id}`); }
  }

  heal(): void {
    this.cut.clear();
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.nodes.get(id)!.raw.tick();
  }

  leader(): NodeId | undefined {
    for (const [id, n] of this.nodes) if (n.raw.status().role === "leader") return id;
    return undefined;
  }
}

import { describeMessage, describeReady } from "../../raft/core/describe";
const describeMsg = describeMessage;
function describeLines(id: NodeId, rd: Parameters<typeof describeReady>[0]): string[] {
  return describeReady(rd).map((l) => `${id}> ${l}`);
}
