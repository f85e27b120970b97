/**
 * Snapshots of a shard group's applied state (shard-server/rocks-state.ts), for Raft's
 * InstallSnapshot.
 *
 * A snapshot streams the whole database but the applied index (which is the snapshot's index)
 * from one iterator, i.e. a point-in-time view taken when the source is made, as chunks of
 * records `u32 keyLen ++ key ++ u32 valueLen ++ value`; the values are read through the
 * state machine's CheckedKvStore, so each is verified against its checksum as it is streamed
 * (a corrupt one fails the source, and the replica stops), and the staging database of a
 * restore is a CheckedKvStore too (the values are stored with checksums again). A restore writes the chunks as they
 * arrive into a staging database `${dir}.restore`; finishing stores the applied index there
 * (synced), then swaps directories (dir -> `${dir}.old`, staging -> dir, each rename durable)
 * and the state machine reloads. `recoverSwap` (at open) completes or discards an interrupted
 * swap, so a restore is atomic across crashes: the state is either the old one or the whole
 * snapshot.
 */
import { assert } from "../common/assert";
import { InternalError } from "../common/errors";
import type { LogIndex } from "../common/ids";
import type { KvOp, KvReader, KvStorage, KvStore } from "../common/kv-store";
import { openCheckedKv } from "../common/checked-kv";
import type { SnapshotMeta } from "../raft/core/types";
import { type SnapshotSink, type SnapshotSource, SnapshotRewindError } from "../raft/state-machine";
import { describeShardKey, readU64, shardKeys, u64 } from "./state-keys";
import { asBuffer } from "../common/bytes";

const stagingDir = (dir: string) => `${dir}.restore`;
const oldDir = (dir: string) => `${dir}.old`;

/** Completes or discards a restore's directory swap interrupted by a crash (see the header). */
export async function recoverSwap(storage: KvStorage, dir: string): Promise<void> {
  const [hasDir, hasOld, hasStaging] = await Promise.all([storage.exists(dir), storage.exists(oldDir(dir)), storage.exists(stagingDir(dir))]);
  if (!hasDir && hasOld) {
    // Crashed between the two renames: the staging database is complete (finishing synced it
    // before the first rename).
    assert(hasStaging, `${dir}: missing, with ${oldDir(dir)} but no ${stagingDir(dir)}`);
    await storage.rename(stagingDir(dir), dir);
  } else if (hasStaging) {
    // An unfinished (or aborted) restore: the old state stands.
    await storage.remove(stagingDir(dir));
  }
  if (hasOld) await storage.remove(oldDir(dir));
}

/**
 * The snapshot source of `db` (every write applied so far must be in it). The first record
 * of the view must be the applied index, which becomes the snapshot's index. A chunk holds
 * records up to `chunkBytes`; a larger record goes alone, so a snapshot message is never much
 * larger than its largest record.
 */
export async function snapshotSource(db: KvReader, chunkBytes: number): Promise<SnapshotSource> {
  const it = db.iterator({})[Symbol.asyncIterator]();
  const first = await it.next();
  assert(!first.done && first.value[0].equals(shardKeys.applied), "snapshot: applied index is not the first key");
  const index = readU64(first.value[1]) as LogIndex;
  let pending = await it.next();
  let lastN = -1;
  let lastChunk: { data: Uint8Array; last: boolean } | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  const build = async (): Promise<{ data: Uint8Array; last: boolean }> => {
    const parts: Buffer[] = [];
    let size = 0;
    while (!pending.done) {
      const [k, v] = pending.value;
      if (size > 0 && size + 8 + k.length + v.length > chunkBytes) break;
      const hdr = Buffer.alloc(4);
      hdr.writeUInt32BE(k.length);
      const vhdr = Buffer.alloc(4);
      vhdr.writeUInt32BE(v.length);
      parts.push(hdr, k, vhdr, v);
      size += 8 + k.length + v.length;
      pending = await it.next();
    }
    return { data: Buffer.concat(parts), last: pending.done === true };
  };
  const readChunk = async (n: number): Promise<{ data: Uint8Array; last: boolean }> => {
    if (n === lastN) return lastChunk!;
    // The view is streamed once: an earlier chunk would need a new iterator, which would see
    // later writes. A later one is built through: chunk boundaries depend only on the records.
    if (n < lastN) throw new SnapshotRewindError(`snapshot ${index}: chunk ${n} asked after chunk ${lastN}; this source reads forward only`);
    while (lastN < n) {
      if (lastChunk?.last) throw new InternalError(`snapshot ${index}: chunk ${n} asked, the last chunk is ${lastN}`);
      lastChunk = await build();
      lastN++;
    }
    return lastChunk!;
  };
  return {
    index,
    // Serialized: chunks are built from one iterator.
    readChunk: (n) => {
      const p = queue.then(() => readChunk(n));
      queue = p.catch(() => undefined);
      return p;
    },
    close: () => {
      void it.return?.(undefined).catch(() => undefined);
    },
  };
}

/** Parses one snapshot chunk into puts; asserts every record is whole. */
function chunkOps(meta: SnapshotMeta, chunk: number, data: Uint8Array, checkRecord: (key: Buffer, value: Buffer) => void): KvOp[] {
  const buf = asBuffer(data);
  const ops: KvOp[] = [];
  for (let at = 0; at < buf.length;) {
    assert(at + 4 <= buf.length, `snapshot ${meta.index} chunk ${chunk}: truncated record`);
    const kl = buf.readUInt32BE(at);
    const key = Buffer.from(buf.subarray(at + 4, at + 4 + kl));
    const vl = buf.readUInt32BE(at + 4 + kl);
    const value = Buffer.from(buf.subarray(at + 8 + kl, at + 8 + kl + vl));
    assert(at + 8 + kl + vl <= buf.length && key.length === kl && value.length === vl, `snapshot ${meta.index} chunk ${chunk}: truncated record`);
    at += 8 + kl + vl;
    assert(!key.equals(shardKeys.applied), `snapshot ${meta.index}: contains an applied index record`);
    checkRecord(key, value);
    ops.push({ type: "put", key, value });
  }
  return ops;
}

export interface RestoreOptions {
  readonly storage: KvStorage;
  /** The live database's directory. */
  readonly dir: string;
  /** The group record ("!g") the snapshot must carry: a snapshot of another group never replaces ours. */
  readonly groupRecord: Buffer;
  /**
   * Swaps the staged database in: called once it is complete and durable; `swap` closes
   * nothing, the caller closes its live database first, calls `swap`, then reopens.
   */
  readonly install: (swap: () => Promise<void>) => Promise<void>;
}

/** The sink that stages snapshot `meta` and installs it (see the header). */
export function restoreSink(meta: SnapshotMeta, o: RestoreOptions): SnapshotSink {
  const staging = stagingDir(o.dir);
  let sdb: KvStore | undefined;
  let next = 0;
  let sawGroup = false;
  const discard = async () => {
    if (sdb) await sdb.close();
    sdb = undefined;
    await o.storage.remove(staging);
  };
  const checkRecord = (key: Buffer, value: Buffer) => {
    if (!key.equals(shardKeys.group)) return;
    assert(value.equals(o.groupRecord), `snapshot ${meta.index}: group record ${value.toString("hex")} is not ours (${o.groupRecord.toString("hex")})`);
    sawGroup = true;
  };
  const swap = async () => {
    await o.storage.rename(o.dir, oldDir(o.dir));
    await o.storage.rename(staging, o.dir);
    await o.storage.remove(oldDir(o.dir));
  };
  return {
    write: async (chunk, data) => {
      if (chunk === 0) {
        await discard();
        sdb = await openCheckedKv(o.storage, staging, describeShardKey);
        next = 0;
        sawGroup = false;
      }
      assert(sdb !== undefined && chunk === next, `snapshot ${meta.index}: chunk ${chunk}, want ${next}`);
      next++;
      const ops = chunkOps(meta, chunk, data, checkRecord);
      if (ops.length > 0) await sdb.write(ops, { sync: false });
    },
    finish: async () => {
      assert(sdb !== undefined, `snapshot ${meta.index}: finish without chunks`);
      assert(sawGroup, `snapshot ${meta.index}: no group record`);
      await sdb.write([{ type: "put", key: shardKeys.applied, value: u64(meta.index) }], { sync: true });
      await sdb.close();
      sdb = undefined;
      await o.install(swap);
    },
    abort: discard,
  };
}
