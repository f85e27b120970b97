/**
 * Failpoints on Raft messages (docs/failpoints.md): a Transport that wraps the real one of a
 * replica and loses, delays and cuts messages as the daemon's Failpoints say, switchable at
 * run time. Raft's transport contract already allows all of it (transport.ts: unreliable,
 * may drop, delay or reorder).
 *
 *  - cut: messages to a cut peer are dropped before they are queued; messages from a cut peer
 *    are dropped on arrival (peers are matched by their address in the group's peer list), so
 *    cutting one replica off from the others partitions it in both directions.
 *  - drop-raft: each message sent or received is dropped with this probability. (The RPC
 *    rates drop-request and drop-reply do not apply here, so a leader that loses every client
 *    request or reply keeps leading its group.)
 *  - delay: each incoming batch is delivered 0..delay ms later, never before an earlier
 *    batch from the same peer (per-peer order is kept, as a slow link would).
 */
import type { Cancel } from "../../common/env";
import type { Failpoints } from "../../common/failpoints";
import type { NodeId } from "../../common/ids";
import type { Message } from "../core/types";
import type { Transport } from "./transport";

/** `inner` itself when `fp` is undefined (failpoints off), else the failpoint wrapper. */
export function failpointTransport(fp: Failpoints | undefined, inner: Transport, peers: ReadonlyMap<NodeId, string>): Transport {
  return fp === undefined ? inner : new FailpointTransport(fp, inner, peers);
}

/** Counters of what the failpoints dropped, for tests and logs. */
export interface FailpointTransportStats {
  droppedCutMessages: number;
  droppedSentMessages: number;
  droppedReceivedMessages: number;
  delayedBatches: number;
}

export class FailpointTransport implements Transport {
  private readonly timers = new Set<Cancel>();
  /** Per sender: the clock time its last delayed batch is due (keeps per-peer order). */
  private readonly dueMs = new Map<NodeId, number>();
  private closed = false;
  readonly stats: FailpointTransportStats = { droppedCutMessages: 0, droppedSentMessages: 0, droppedReceivedMessages: 0, delayedBatches: 0 };

  constructor(
    private readonly fp: Failpoints,
    private readonly inner: Transport,
    private readonly peers: ReadonlyMap<NodeId, string>,
  ) {}

  send(messages: readonly Message[]): void {
    const out = messages.filter((m) => {
      if (this.fp.isCut(this.peers.get(m.to))) return this.count("droppedCutMessages");
      if (this.fp.dropRaft()) return this.count("droppedSentMessages");
      return true;
    });
    if (out.length > 0) this.inner.send(out);
  }

  setReceiver(handler: (messages: Message[]) => void): void {
    this.inner.setReceiver((messages) => {
      const kept = messages.filter((m) => {
        if (this.fp.isCut(this.peers.get(m.from))) return this.count("droppedCutMessages");
        if (this.fp.dropRaft()) return this.count("droppedReceivedMessages");
        return true;
      });
      if (kept.length === 0) return;
      const from = kept[0]!.from; // a batch comes from one peer (grpc-transport.ts)
      const nowMs = this.fp.clock.nowMs();
      const dueMs = Math.max(nowMs + this.fp.delayMs(), this.dueMs.get(from) ?? 0);
      if (dueMs <= nowMs) {
        handler(kept);
        return;
      }
      this.dueMs.set(from, dueMs);
      this.stats.delayedBatches += 1;
      const cancel = this.fp.clock.after(dueMs - nowMs, () => {
        this.timers.delete(cancel);
        if (!this.closed) handler(kept);
      });
      this.timers.add(cancel);
    });
  }

  /** A cut peer is unreachable at once (a real partition shows after the keepalive timeout). */
  get peerReachable(): ((peer: NodeId) => boolean) | undefined {
    const inner = this.inner.peerReachable?.bind(this.inner);
    if (inner === undefined) return undefined;
    return (peer) => !this.fp.isCut(this.peers.get(peer)) && inner(peer);
  }

  /** Passed through: a peer that died is seen to die also through failpoints (a cut link is not a dead peer). */
  setPeerDownHandler(handler: (peer: NodeId) => void): void {
    this.inner.setPeerDownHandler?.((peer) => {
      if (!this.closed) handler(peer);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    return this.inner.close();
  }

  private count(kind: keyof FailpointTransportStats): false {
    this.stats[kind] += 1;
    return false;
  }
}
