/**
 * The simulated network (FoundationDB's simulated `INetwork`): one `Transport` per node, every
 * message delivered after a seeded random delay (so messages reorder), dropped with
 * probability `dropRate`, duplicated with probability `dupRate`, and cut by partitions (a set
 * of directed node pairs; a cut link drops what it carries, including messages already in
 * flight when they arrive). Messages are deep-copied on send: the sender may mutate or reuse
 * what it sent (RaftNode fills a snapshot message's chunkData in place), and the receiver gets
 * its own objects, as it would from a wire.
 *
 * Liveness (Transport.peerReachable, the signal quiescence rests on: raft/core/quiesce.ts), as a
 * TCP transport with keepalive sees it: a peer with no live incarnation (crashed, not yet
 * restarted) is unreachable at once (its kernel closed the connection); a peer behind a cut
 * link (either way) or paused is unreachable once that lasted `livenessDetectMs` (the
 * keepalive timeout); a cut that heals, a resumed or restarted peer is reachable again at once.
 */
import type { NodeId } from "../../common/ids";
import type { Entry, Message } from "../../raft/core/types";
import { copySnapshotMeta } from "../../raft/core/conf-change";
import { isQuiesceContext } from "../../raft/core/quiesce";
import type { Transport, TransportStats } from "../../raft/transport/transport";
import type { SimClock } from "./clock";
import type { SimRng } from "./rng";

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  dupRate: number;
  /** Delivery delay, uniform integer milliseconds in [delayMinMs, delayMaxMs]. */
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability that a message takes a long detour: delay up to `longDelayMs` instead. */
  longDelayRate: number;
  longDelayMs: number;
}

export const reliableNetwork: NetworkFaults = {
  dropRate: 0, dupRate: 0, delayMinMs: 1, delayMaxMs: 5, longDelayRate: 0, longDelayMs: 0,
};

/**
 * How a seed draws a network's faults: each kind is on with probability `on` (and only in a
 * faulty seed), at a rate uniform in [0, max]; the delay spread and long detours in ms.
 */
export interface FaultDraws {
  readonly drop: { readonly on: number; readonly max: number };
  readonly dup: { readonly on: number; readonly max: number };
  /** delayMaxMs is delayMinMs plus 1..spreadMaxMs. */
  readonly spreadMaxMs: number;
  readonly long: { readonly on: number; readonly max: number };
  /** Long detours last longMinMs..longMaxMs. */
  readonly longMinMs: number;
  readonly longMaxMs: number;
}

/** The Raft groups' network faults in the Raft and controller modes. */
export const raftFaultDraws: FaultDraws = {
  drop: { on: 0.8, max: 0.2 }, dup: { on: 0.7, max: 0.1 }, spreadMaxMs: 30, long: { on: 0.5, max: 0.03 }, longMinMs: 50, longMaxMs: 400,
};

/** A seed's network faults drawn from `r` (in this order: drop, dup, delay spread, long detours). */
export function drawFaults(r: SimRng, faulty: boolean, delayMinMs: number, d: FaultDraws): NetworkFaults {
  return {
    dropRate: faulty && r.bool(d.drop.on) ? r.between(0, d.drop.max) : 0,
    dupRate: faulty && r.bool(d.dup.on) ? r.between(0, d.dup.max) : 0,
    delayMinMs,
    delayMaxMs: delayMinMs + r.range(1, d.spreadMaxMs),
    longDelayRate: faulty && r.bool(d.long.on) ? r.between(0, d.long.max) : 0,
    longDelayMs: r.range(d.longMinMs, d.longMaxMs),
  };
}

export interface NetworkStats extends TransportStats {
  duplicatedMessages: number;
  cutMessages: number;
  /** Quiesce heartbeats sent (raft/core/quiesce.ts): how often leaders quiesced, and resent. */
  quiesceHeartbeats: number;
  deliveredMessages: number;
}

/** Called for every message event (delivery or loss) so the simulator can trace it. */
export type NetworkTrace = (what: "deliver" | "drop" | "cut" | "dead", m: Message) => void;

export function copyMessage(m: Message): Message {
  return {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(copyEntry),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    rejectTerm: m.rejectTerm,
    context: m.context.length === 0 ? m.context : m.context.slice(),
    snapshot: m.snapshot ? copySnapshotMeta(m.snapshot) : undefined,
    chunk: m.chunk,
    chunkLast: m.chunkLast,
    chunkData: m.chunkData.length === 0 ? new Uint8Array(0) : m.chunkData.slice(),
  };
}

export function copyEntry(e: Entry): Entry {
  return { index: e.index, term: e.term, type: e.type, data: e.data.length === 0 ? e.data : e.data.slice() };
}

export class SimNetwork {
  faults: NetworkFaults;
  readonly stats: NetworkStats = {
    sentMessages: 0, sentBatches: 0, droppedMessages: 0, receivedMessages: 0,
    duplicatedMessages: 0, cutMessages: 0, deliveredMessages: 0, quiesceHeartbeats: 0,
  };
  /** Messages scheduled for delivery and not yet delivered (a storm detector watches it). */
  inFlight = 0;
  peakInFlight = 0;
  /** Directed links that are cut, as "from>to", and since when (clock ms). */
  private readonly cuts = new Map<string, number>();
  /** How long a cut or a pause lasts before peerReachable reports it (a keepalive timeout). */
  livenessDetectMs = 500;
  /** Per directed link "from>to": the latest time a message sent on it is due (link resets come after). */
  private readonly lastDueMs = new Map<string, number>();
  /** The current transport (incarnation) of each node. */
  private readonly endpoints = new Map<NodeId, SimTransport>();
  /** Paused nodes (SIGSTOP): what they would have received and sent, held until resumed. */
  private readonly paused = new Map<NodeId, { inbound: Message[]; outbound: Message[]; sinceMs: number }>();

  constructor(
    private readonly clock: SimClock,
    private readonly rng: SimRng,
    faults: NetworkFaults,
    private readonly trace?: NetworkTrace,
  ) {
    this.faults = { ...faults };
  }

  /** A fresh transport for (a new incarnation of) node `id`; replaces the previous one. */
  transport(id: NodeId): SimTransport {
    const old = this.endpoints.get(id);
    if (old) old.closed = true;
    const t = new SimTransport(this, id);
    this.endpoints.set(id, t);
    return t;
  }

  /** Node `id`'s process died: its endpoint is gone until a new incarnation takes a transport. */
  crashed(id: NodeId): void {
    const t = this.endpoints.get(id);
    if (t) t.closed = true;
  }

  // ------------------------------------------------------------------ partitions

  /** Cuts the link from `from` to `to` (and back unless `oneWay`). */
  cut(from: NodeId, to: NodeId, oneWay = false): void {
    this.addCut(`${from}>${to}`);
    if (!oneWay) this.addCut(`${to}>${from}`);
  }

  private addCut(link: string): void {
    if (!this.cuts.has(link)) this.cuts.set(link, this.clock.nowMs());
  }

  /** Cuts every link between different sides. */
  partition(sides: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < sides.length; i++) {
      for (let j = 0; j < sides.length; j++) {
        if (i === j) continue;
        for (const a of sides[i]!) for (const b of sides[j]!) this.addCut(`${a}>${b}`);
      }
    }
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.size > 0 && this.cuts.has(`${from}>${to}`);
  }

  /** Directed cut links, sorted (for traces). */
  describeCuts(): string {
    return [...this.cuts.keys()].sort().join(" ");
  }

  heal(): void {
    this.cuts.clear();
  }

  // ------------------------------------------------------------------ pauses

  /** Holds every message to and from `id` (its process is stopped, its sockets fill up). */
  pause(id: NodeId): void {
    if (!this.paused.has(id)) this.paused.set(id, { inbound: [], outbound: [], sinceMs: this.clock.nowMs() });
  }

  /** Whether `from`'s transport finds `to` reachable now (see the liveness rules above). */
  reachable(from: NodeId, to: NodeId): boolean {
    const dst = this.endpoints.get(to);
    if (dst === undefined || dst.closed) return false;
    const now = this.clock.nowMs();
    const longer = (since: number | undefined): boolean => since !== undefined && now - since >= this.livenessDetectMs;
    return !longer(this.cuts.get(`${from}>${to}`)) && !longer(this.cuts.get(`${to}>${from}`)) && !longer(this.paused.get(to)?.sinceMs);
  }

  /**
   * Lets the held messages go: outbound ones are sent now (with their faults and delays), and
   * inbound ones are redelivered after a fresh delay each (the resumed process reads its
   * socket buffers while doing other work). With `flush` false (it was killed) they are lost.
   */
  resume(id: NodeId, flush = true): void {
    const held = this.paused.get(id);
    if (!held) return;
    this.paused.delete(id);
    if (!flush) return; // the process died: what it held is gone
    const src = this.endpoints.get(id);
    if (src && !src.closed) this.sendFrom(src, held.outbound);
    for (const m of held.inbound) {
      this.inFlight++;
      this.clock.after(this.delay(), () => {
        this.inFlight--;
        this.deliver(m);
      });
    }
  }

  isPaused(id: NodeId): boolean {
    return this.paused.has(id);
  }

  // ------------------------------------------------------------------ link resets

  /**
   * Node `id`'s process died (kill -9): its kernel resets its connections, and every live peer
   * that reaches it sees its link end after a delivery delay (Transport.setPeerDownHandler).
   * Not a peer cut off from it (a partition carries no reset either) nor a paused one (a
   * stopped process reads nothing; it will find the link broken when it sends).
   */
  processDied(id: NodeId): void {
    for (const [peer, t] of this.endpoints) {
      if (peer === id || t.closed || this.isCut(id, peer) || this.paused.has(peer)) continue;
      this.resetAfterDelay(t, id);
    }
  }

  /**
   * A link from `to` to `from` breaks with both alive (a network blip, a middlebox): `to` is
   * told `from` went away although it did not (the hint is wrong; Raft must stay safe and
   * not lose its leader over it).
   */
  spuriousReset(from: NodeId, to: NodeId): void {
    const t = this.endpoints.get(to);
    if (t && !t.closed && !this.paused.has(to)) this.resetAfterDelay(t, from);
  }

  /**
   * The reset reaches `t` after a delivery delay, and after everything `peer` sent it before
   * (a connection delivers its data before its reset).
   */
  private resetAfterDelay(t: SimTransport, peer: NodeId): void {
    const now = this.clock.nowMs();
    const after = Math.max(now + this.delay(), (this.lastDueMs.get(`${peer}>${t.id}`) ?? 0) + 1);
    this.clock.after(after - now, () => {
      if (!t.closed && !this.paused.has(t.id)) t.peerDown?.(peer);
    });
  }

  // ------------------------------------------------------------------ delivery

  /** @internal Called by SimTransport.send. */
  sendFrom(src: SimTransport, messages: readonly Message[]): void {
    const held = this.paused.get(src.id);
    if (held) {
      for (const m of messages) held.outbound.push(copyMessage(m));
      return;
    }
    this.stats.sentBatches++;
    for (const m of messages) {
      this.stats.sentMessages++;
      if (m.from !== src.id) throw new Error(`node ${src.id} sent a message from ${m.from}`);
      if (m.type === "heartbeat" && isQuiesceContext(m.context)) this.stats.quiesceHeartbeats++;
      const f = this.faults;
      if (f.dropRate > 0 && this.rng.bool(f.dropRate)) {
        this.stats.droppedMessages++;
        this.trace?.("drop", m);
        continue;
      }
      const copies = f.dupRate > 0 && this.rng.bool(f.dupRate) ? 2 : 1;
      if (copies === 2) this.stats.duplicatedMessages++;
      for (let c = 0; c < copies; c++) {
        const copy = copyMessage(m);
        if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
        const delayMs = this.delay();
        const link = `${m.from}>${m.to}`;
        this.lastDueMs.set(link, Math.max(this.lastDueMs.get(link) ?? 0, this.clock.nowMs() + delayMs));
        this.clock.after(delayMs, () => {
          this.inFlight--;
          this.deliver(copy);
        });
      }
    }
  }

  private delay(): number {
    const f = this.faults;
    if (f.longDelayRate > 0 && this.rng.bool(f.longDelayRate)) return this.rng.range(f.delayMaxMs, Math.max(f.delayMaxMs, f.longDelayMs));
    return this.rng.range(f.delayMinMs, f.delayMaxMs);
  }

  private deliver(m: Message): void {
    if (this.isCut(m.from, m.to)) {
      this.stats.cutMessages++;
      this.trace?.("cut", m);
      return;
    }
    const held = this.paused.get(m.to);
    if (held) {
      held.inbound.push(m);
      return;
    }
    const dst = this.endpoints.get(m.to);
    if (!dst || dst.closed || !dst.receiver) {
      this.trace?.("dead", m);
      return;
    }
    this.stats.deliveredMessages++;
    this.stats.receivedMessages++;
    this.trace?.("deliver", m);
    dst.receiver([m]);
  }
}

/** One node's endpoint (one incarnation: a restarted node gets a new one). */
export class SimTransport implements Transport {
  closed = false;
  receiver: ((messages: Message[]) => void) | null = null;

  constructor(private readonly net: SimNetwork, readonly id: NodeId) {}

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    this.net.sendFrom(this, messages);
  }

  setReceiver(handler: (messages: Message[]) => void): void {
    this.receiver = handler;
  }

  /** Told when a link to a peer resets (SimNetwork.processDied, SimNetwork.spuriousReset). */
  peerDown: ((peer: NodeId) => void) | undefined;

  setPeerDownHandler(handler: (peer: NodeId) => void): void {
    this.peerDown = handler;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  peerReachable(peer: NodeId): boolean {
    return !this.closed && this.net.reachable(this.id, peer);
  }
}
