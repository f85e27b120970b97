/**
 * The demo state machine of the 3-process Raft demo and its real-process test: an
 * append-only list of applied commands kept in RocksDB. Each apply writes the entries' data
 * and the applied index in one synced batch (DESIGN.md §2.4), so a restart resumes from disk.
 */
import { assert } from "../../common/assert";
import type { LogIndex } from "../../common/ids";
import type { Entry, SnapshotMeta } from "../../raft/core/types";
import { bytesSnapshotSink, bytesSnapshotSource, type SnapshotSink, type SnapshotSource, type StateMachine } from "../../raft/state-machine";
import type { KvOp, KvStore } from "../../common/kv-store";
import { openRocksKv } from "../../raft/storage/rocks-kv";

const appliedKey = Buffer.from("a");
const entryPrefix = 0x65; // 'e'
/** Bytes per snapshot chunk sent to a lagging follower. */
export const demoSnapshotChunkBytes = 64 * 1024;

function entryKey(index: number): Buffer {
  const k = Buffer.alloc(9);
  k[0] = entryPrefix;
  k.writeBigUInt64BE(BigInt(index), 1);
  return k;
}

export class RocksLogStateMachine implements StateMachine<LogIndex> {
  private applied: LogIndex;

  private constructor(private readonly db: KvStore, applied: LogIndex) {
    this.applied = applied;
  }

  static async open(dir: string): Promise<RocksLogStateMachine> {
    const db = await openRocksKv(dir);
    let applied = 0;
    const v = await db.get(appliedKey);
    if (v !== undefined) {
      assert(v.length === 8, `${dir}: applied index record has ${v.length} bytes, want 8`);
      applied = Number(v.readBigUInt64BE(0));
    }
    return new RocksLogStateMachine(db, applied as LogIndex);
  }

  appliedIndex(): LogIndex {
    return this.applied;
  }

  async apply(entries: readonly Entry[]): Promise<LogIndex[]> {
    const ops: KvOp[] = [];
    for (const e of entries) {
      if (e.type === "normal") ops.push({ type: "put", key: entryKey(e.index), value: e.data });
    }
    const last = entries[entries.length - 1]!.index;
    const a = Buffer.alloc(8);
    a.writeBigUInt64BE(BigInt(last));
    ops.push({ type: "put", key: appliedKey, value: a });
    await this.db.write(ops, { sync: true });
    this.applied = last;
    return entries.map((e) => e.index);
  }

  /** Every applied command, in log order: [index, data]. */
  async values(): Promise<[number, Buffer][]> {
    const out: [number, Buffer][] = [];
    for await (const [k, v] of this.db.iterator({ gte: entryKey(0), lt: Buffer.from([entryPrefix + 1]) })) {
      out.push([Number(k.readBigUInt64BE(1)), v]);
    }
    return out;
  }

  async snapshot(): Promise<SnapshotSource> {
    const index = this.applied;
    const parts: Buffer[] = [];
    for (const [i, v] of await this.values()) {
      const h = Buffer.alloc(12);
      h.writeBigUInt64BE(BigInt(i), 0);
      h.writeUInt32BE(v.length, 8);
      parts.push(h, v);
    }
    return bytesSnapshotSource(index, Buffer.concat(parts), demoSnapshotChunkBytes);
  }

  restore(meta: SnapshotMeta): SnapshotSink {
    return bytesSnapshotSink(async (bytes) => {
      const ops: KvOp[] = [];
      for (const [i] of await this.values()) ops.push({ type: "del", key: entryKey(i) });
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let at = 0; at < buf.length; ) {
        assert(at + 12 <= buf.length, `snapshot ${meta.index}: truncated record header at byte ${at}`);
        const i = Number(buf.readBigUInt64BE(at));
        const len = buf.readUInt32BE(at + 8);
        assert(at + 12 + len <= buf.length, `snapshot ${meta.index}: truncated record at byte ${at}`);
        ops.push({ type: "put", key: entryKey(i), value: buf.subarray(at + 12, at + 12 + len) });
        at += 12 + len;
      }
      const a = Buffer.alloc(8);
      a.writeBigUInt64BE(BigInt(meta.index));
      ops.push({ type: "put", key: appliedKey, value: a });
      await this.db.write(ops, { sync: true });
      this.applied = meta.index;
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
