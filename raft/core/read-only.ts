/**
 * ReadIndex bookkeeping on a leader (Raft thesis §6.4; etcd-io/raft read_only.go). Each
 * request records the commit index when it arrived; it is released once a quorum has
 * answered a heartbeat carrying its context (or a later one: rounds are ordered, so an ack
 * for a later round confirms every earlier one).
 */
import { byteKey } from "../../common/bytes";
import type { LogIndex, NodeId } from "../../common/ids";

interface ReadStatus {
  readonly ctx: Uint8Array;
  readonly index: LogIndex;
  readonly acks: Map<NodeId, boolean>;
}

const key = byteKey;

export class ReadOnly {
  private readonly pending = new Map<string, ReadStatus>();
  private readonly queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Records a request; a context already pending is ignored (the caller retries with a new one). */
  add(index: LogIndex, ctx: Uint8Array, self: NodeId): boolean {
    const k = key(ctx);
    if (this.pending.has(k)) return false;
    this.pending.set(k, { ctx, index, acks: new Map([[self, true]]) });
    this.queue.push(k);
    return true;
  }

  /** Records a heartbeat ack for `ctx`; returns the replicas that have acked it (none if unknown). */
  recvAck(from: NodeId, ctx: Uint8Array): ReadonlyMap<NodeId, boolean> {
    const rs = this.pending.get(key(ctx));
    if (!rs) return new Map();
    rs.acks.set(from, true);
    return rs.acks;
  }

  /** Removes and returns every request up to and including `ctx`, oldest first. */
  advance(ctx: Uint8Array): { ctx: Uint8Array; index: LogIndex }[] {
    const k = key(ctx);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const done = this.queue.splice(0, at + 1);
    return done.map((d) => {
      const rs = this.pending.get(d)!;
      this.pending.delete(d);
      return { ctx: rs.ctx, index: rs.index };
    });
  }

  /** Context of the newest pending request, carried by heartbeats. */
  lastPendingCtx(): Uint8Array | undefined {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? undefined : this.pending.get(k)!.ctx;
  }

  /** Drops everything (on losing leadership): the callers must retry elsewhere. */
  reset(): Uint8Array[] {
    const ctxs = this.queue.map((k) => this.pending.get(k)!.ctx);
    this.pending.clear();
    this.queue.length = 0;
    return ctxs;
  }
}
