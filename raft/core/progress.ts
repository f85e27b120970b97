/**
 * A leader's view of one follower (etcd-io/raft tracker/progress.go).
 *
 * States: probe (one append per heartbeat until the match point is found), replicate
 * (optimistic pipelining, bounded by `Inflights`), snapshot (sending a snapshot in chunks;
 * appends paused until the follower reports it installed).
 */
import { assert } from "../../common/assert";
import type { LogIndex } from "../../common/ids";
import type { SnapshotMeta } from "./types";

/** Bounded window of in-flight appends: (last index, bytes) per message, oldest first. */
export class Inflights {
  private readonly items: { index: LogIndex; bytes: number }[] = [];
  private bytes = 0;

  constructor(private readonly countMax: number, private readonly bytesMax: number) {}

  add(index: LogIndex, bytes: number): void {
    assert(!this.full(), "add to full inflights");
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Frees every in-flight append whose last index is <= `index`. */
  freeLE(index: LogIndex): void {
    let n = 0;
    while (n < this.items.length && this.items[n]!.index <= index) {
      this.bytes -= this.items[n]!.bytes;
      n++;
    }
    if (n > 0) this.items.splice(0, n);
  }

  /**
   * Frees the oldest in-flight append. Called when the follower answered a heartbeat while
   * the window was full: the appends in it may all have been lost, and no ack would ever
   * drain it (etcd-io/raft 3.5 Inflights.FreeFirstOne).
   */
  freeFirstOne(): void {
    const first = this.items.shift();
    if (first) this.bytes -= first.bytes;
  }

  full(): boolean {
    return this.items.length >= this.countMax || this.bytes >= this.bytesMax;
  }

  count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items.length = 0;
    this.bytes = 0;
  }
}

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  match = 0 as LogIndex;
  next: LogIndex;
  state: ProgressState = "probe";
  /** probe: an append was sent this heartbeat interval; wait for a reply or the next heartbeat. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  readonly inflights: Inflights;
  /** snapshot state: what is being sent, the next chunk, ticks without an answer. */
  pendingSnapshot: SnapshotMeta | null = null;
  snapshotChunk = 0;
  snapshotStallTicks = 0;
  /** Resends of the current chunk since the follower last made progress. */
  snapshotResends = 0;
  /**
   * replicate: a rejection rewound the window in this heartbeat interval (see maybeDecrTo).
   * Survives state changes; the leader clears it at every heartbeat.
   */
  rewound = false;

  constructor(next: LogIndex, inflightAppendsMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightAppendsMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.state = state;
    this.pendingSnapshot = null;
    this.snapshotChunk = 0;
    this.snapshotStallTicks = 0;
    this.snapshotResends = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    const fromSnapshot = this.pendingSnapshot;
    this.resetState("probe");
    this.next = (Math.max(this.match, fromSnapshot?.index ?? 0) + 1) as LogIndex;
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = (this.match + 1) as LogIndex;
  }

  becomeSnapshot(s: SnapshotMeta): void {
    this.resetState("snapshot");
    this.pendingSnapshot = s;
  }

  /** An append ack for `n`: returns whether it moved `match` forward. */
  maybeUpdate(n: LogIndex): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = (n + 1) as LogIndex;
    return updated;
  }

  /**
   * An append for `rejected` was refused; the follower hints its log matches at most up to
   * `matchHint` (the leader's index for the follower's `followerHint`, an index of the
   * follower's log at the time). Returns false for a stale rejection (etcd-io/raft
   * MaybeDecrTo), which changes nothing.
   *
   * In replicate, a rejection rewinds the window (next = match + 1; the caller moves to probe)
   * at most once per heartbeat interval. Appends reordered on the way are rejected by the
   * follower in bunches (each one that overtakes the append it follows), and rejections of a
   * window sent before the last rewind still arrive after it; etcd takes each as new ("a best
   * effort assuming message reordering is rare"), and every one then restarts the window: the
   * leader sent a whole window per rejection, many per round trip (test/sim/README.md finding
   * 10). One rewind covers the rejections of its interval; an append really lost is found by
   * the next interval's rejection or the heartbeat response's append. A rejection whose
   * `followerHint` is below `match` is stale whatever the interval: a fresh one hints at least
   * `match` (the follower's log holds the entries it acknowledged, whose terms are at most the
   * rejected entry's), so it predates an acknowledgement already counted.
   */
  maybeDecrTo(rejected: LogIndex, matchHint: LogIndex, followerHint: LogIndex): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match || followerHint < this.match || this.rewound) return false;
      this.rewound = true;
      this.next = (this.match + 1) as LogIndex;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1) as LogIndex;
    this.probeSent = false;
    return true;
  }

  /** Records that an append carrying entries up to `last` (bytes total) was sent. */
  sentEntries(count: number, last: LogIndex, bytes: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = (last + 1) as LogIndex;
        this.inflights.add(last, bytes);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  describe(): string {
    let s = `${this.state} match:${this.match} next:${this.next}`;
    if (this.state === "replicate") s += ` inflight:${this.inflights.count()}`;
    if (this.state === "snapshot") s += ` snap:${this.pendingSnapshot?.index} chunk:${this.snapshotChunk}`;
    return s;
  }
}
