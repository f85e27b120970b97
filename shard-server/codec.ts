/**
 * Conversion between the shard group's domain types (shard-server/types.ts) and
 * proto/shardkv.proto, with validation at the edge: a malformed wire object becomes an
 * InvalidArgumentError naming the field, never a half-valid domain object.
 *
 * Client ids are 16 raw bytes on the wire and lowercase hex strings in the domain.
 */
import { shardkv } from "../proto/gen/shardkv.js";
import { InvalidArgumentError } from "../common/errors";
import type { ConfigNum, GroupId, ShardId } from "../common/ids";
import { configFromWire, configToWire } from "../controller/codec";
import type { ClientWrite, DedupRecord, KvOp, OpResult, OpType, PullPosition, ShardChunkIn, ShardCommand, ShardMeta, ShardOp, ShardState } from "./types";
import { asBuffer } from "../common/bytes";

const pb = shardkv.kv;
export { pb as shardPb };

/** Client ids are 16 random bytes (128 bits). */
export const clientIdBytes = 16;
/** Shard numbers are stored as u16 in RocksDB keys. */
export const shardIdLimit = 2 ** 16;

const none = new Uint8Array(0);

function uint(v: number | null | undefined, field: string): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(field, `must be a non-negative integer, got ${n}`);
  return n;
}

function shardFromWire(v: number | null | undefined, field: string): ShardId {
  const s = uint(v, field);
  if (s >= shardIdLimit) throw new InvalidArgumentError(field, `must be < ${shardIdLimit}, got ${s}`);
  return s as ShardId;
}

/** Validates and converts raw client id bytes to the domain's hex form. */
export function clientIdFromBytes(b: Uint8Array | null | undefined, field: string): string {
  const id = b ?? none;
  if (id.length !== clientIdBytes) throw new InvalidArgumentError(field, `must be ${clientIdBytes} bytes, got ${id.length}`);
  return asBuffer(id).toString("hex");
}

/** Client ids converted lately: every write converts its client's id two or three times. */
const clientIdBytesCache = new Map<string, Buffer>();
const clientIdBytesCacheMax = 4096;

/**
 * The 16 raw bytes of a hex client id (InvalidArgumentError if it is not 32 lowercase hex
 * digits). The result is shared between calls: read it, do not modify it.
 */
export function clientIdToBytes(clientId: string, field = "client_id"): Buffer {
  const hit = clientIdBytesCache.get(clientId);
  if (hit !== undefined) return hit;
  const b = Buffer.from(clientId, "hex");
  if (b.length !== clientIdBytes || b.toString("hex") !== clientId) {
    throw new InvalidArgumentError(field, `must be ${clientIdBytes} bytes as lowercase hex, got ${JSON.stringify(clientId)}`);
  }
  if (clientIdBytesCache.size >= clientIdBytesCacheMax) clientIdBytesCache.clear();
  clientIdBytesCache.set(clientId, b);
  return b;
}

// ------------------------------------------------------------------ ops and results

const opTypes: readonly OpType[] = ["get", "put", "append", "delete", "cas"];
const opTypeWire: Record<OpType, shardkv.kv.OpType> = {
  get: pb.OpType.OP_GET, put: pb.OpType.OP_PUT, append: pb.OpType.OP_APPEND, delete: pb.OpType.OP_DELETE, cas: pb.OpType.OP_CAS,
};

export function opToWire(op: KvOp): shardkv.kv.Op.$Properties {
  return { type: opTypeWire[op.type], key: op.key, value: op.value, expected: op.expected ?? none, expectAbsent: op.expectAbsent ?? false };
}

export function opFromWire(w: shardkv.kv.Op.$Properties, field = "ops"): KvOp {
  const t = w.type ?? 0;
  const type = opTypes[t];
  if (type === undefined || !Number.isInteger(t)) throw new InvalidArgumentError(`${field}.type`, `unknown op type ${t}`);
  const op: { -readonly [K in keyof KvOp]: KvOp[K] } = { type, key: w.key ?? none, value: w.value ?? none };
  if (type === "cas") {
    if (w.expectAbsent) op.expectAbsent = true;
    else op.expected = w.expected ?? none;
  }
  return op;
}

export function opResultToWire(r: OpResult): shardkv.kv.OpResult.$Properties {
  return { found: r.found, value: r.value, swapped: r.swapped };
}

export function opResultFromWire(w: shardkv.kv.OpResult.$Properties): OpResult {
  return { found: w.found ?? false, value: w.value ?? none, swapped: w.swapped ?? false };
}

// ------------------------------------------------------------------ client writes

export function writeToWire(w: ClientWrite): shardkv.kv.WriteRequest.$Properties {
  return {
    id: { clientId: clientIdToBytes(w.clientId, "id.client_id"), seq: w.seq, ackedBelow: w.ackedBelow },
    shard: w.shard,
    ops: w.ops.map(opToWire),
  };
}

export function writeFromWire(w: shardkv.kv.WriteRequest.$Properties): ClientWrite {
  const clientId = clientIdFromBytes(w.id?.clientId, "id.client_id");
  const seq = uint(w.id?.seq, "id.seq");
  if (seq < 1) throw new InvalidArgumentError("id.seq", "must be >= 1");
  const ackedBelow = uint(w.id?.ackedBelow, "id.acked_below");
  const shard = shardFromWire(w.shard, "shard");
  const ops = (w.ops ?? []).map((o) => opFromWire(o));
  if (ops.length === 0) throw new InvalidArgumentError("ops", "a write needs at least one op");
  return { clientId, seq, ackedBelow, shard, ops };
}

// ------------------------------------------------------------------ dedup records

export function dedupRecordToWire(clientId: string, r: DedupRecord): shardkv.kv.DedupRecord.$Properties {
  const seqs = [...r.replies.keys()].sort((a, b) => a - b);
  return {
    clientId: clientIdToBytes(clientId, "dedup.client_id"),
    ackedBelow: r.ackedBelow,
    replies: seqs.map((seq) => ({ seq, results: r.replies.get(seq)!.map(opResultToWire) })),
    lastSeenMs: r.lastSeenMs,
  };
}

export function dedupRecordFromWire(w: shardkv.kv.DedupRecord.$Properties): [string, DedupRecord] {
  const clientId = clientIdFromBytes(w.clientId, "dedup.client_id");
  const replies = new Map<number, readonly OpResult[]>();
  for (const s of w.replies ?? []) {
    const seq = uint(s.seq, "dedup.replies.seq");
    if (seq < 1) throw new InvalidArgumentError("dedup.replies.seq", "must be >= 1");
    if (replies.has(seq)) throw new InvalidArgumentError("dedup.replies.seq", `seq ${seq} listed twice`);
    replies.set(seq, (s.results ?? []).map(opResultFromWire));
  }
  return [clientId, { ackedBelow: uint(w.ackedBelow, "dedup.acked_below"), replies, lastSeenMs: uint(w.lastSeenMs, "dedup.last_seen_ms") }];
}

export function encodeDedupRecord(clientId: string, r: DedupRecord): Uint8Array {
  return pb.DedupRecord.encode(dedupRecordToWire(clientId, r)).finish();
}

export function decodeDedupRecord(b: Uint8Array): [string, DedupRecord] {
  return dedupRecordFromWire(pb.DedupRecord.decode(b));
}

// ------------------------------------------------------------------ shard metadata

const stateWire: Record<ShardState, shardkv.kv.ShardState> = {
  notOwned: pb.ShardState.SHARD_NOT_OWNED, serving: pb.ShardState.SHARD_SERVING,
  pulling: pb.ShardState.SHARD_PULLING, handoff: pb.ShardState.SHARD_HANDOFF,
};

export function shardMetaToWire(m: ShardMeta): shardkv.kv.ShardMeta.$Properties {
  return {
    shard: m.shard,
    state: stateWire[m.state],
    configNum: m.configNum,
    pulledAfterKey: m.pulledAfterKey ?? none,
    pulledAny: m.pulledAfterKey !== undefined,
    gcConfigNum: m.gcConfigNum,
    held: m.held === true,
    pulledAfterClient: m.pulledAfterClient === undefined ? none : clientIdToBytes(m.pulledAfterClient, "meta.pulled_after_client"),
  };
}

export function shardMetaFromWire(w: shardkv.kv.ShardMeta.$Properties): ShardMeta {
  const s = w.state ?? 0;
  let state: ShardState;
  switch (s) {
    case pb.ShardState.SHARD_NOT_OWNED: state = "notOwned"; break;
    case pb.ShardState.SHARD_SERVING: state = "serving"; break;
    case pb.ShardState.SHARD_PULLING: state = "pulling"; break;
    case pb.ShardState.SHARD_HANDOFF: state = "handoff"; break;
    default: throw new InvalidArgumentError("meta.state", `unknown or status-only shard state ${s}`);
  }
  const m: { -readonly [K in keyof ShardMeta]: ShardMeta[K] } = {
    shard: shardFromWire(w.shard, "meta.shard"),
    state,
    configNum: uint(w.configNum, "meta.config_num") as ConfigNum,
    gcConfigNum: uint(w.gcConfigNum, "meta.gc_config_num") as ConfigNum,
  };
  if (w.pulledAny) m.pulledAfterKey = w.pulledAfterKey ?? none;
  if (w.pulledAfterClient && w.pulledAfterClient.length > 0) m.pulledAfterClient = clientIdFromBytes(w.pulledAfterClient, "meta.pulled_after_client");
  if (w.held) {
    if (state !== "notOwned") throw new InvalidArgumentError("meta.held", `set on a shard in state ${state}`);
    m.held = true;
  }
  return m;
}

export function encodeShardMeta(m: ShardMeta): Uint8Array {
  return pb.ShardMeta.encode(shardMetaToWire(m)).finish();
}

export function decodeShardMeta(b: Uint8Array): ShardMeta {
  return shardMetaFromWire(pb.ShardMeta.decode(b));
}

// ------------------------------------------------------------------ shard chunks

export function shardChunkToWire(c: ShardChunkIn): shardkv.kv.ShardChunk.$Properties {
  return {
    configNum: c.configNum,
    shard: c.shard,
    kvs: c.kvs.map((kv) => ({ key: kv.key, value: kv.value })),
    last: c.last,
    dedup: [...c.dedup].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, r]) => dedupRecordToWire(id, r)),
    ...(c.after === undefined ? {} : {
      continues: true,
      afterKey: c.after.key ?? none,
      afterAny: c.after.key !== undefined,
      afterClient: c.after.client === undefined ? none : clientIdToBytes(c.after.client, "chunk.after_client"),
    }),
  };
}

export function shardChunkFromWire(w: shardkv.kv.ShardChunk.$Properties): ShardChunkIn {
  const dedup = new Map<string, DedupRecord>();
  for (const d of w.dedup ?? []) {
    const [id, r] = dedupRecordFromWire(d);
    if (dedup.has(id)) throw new InvalidArgumentError("chunk.dedup.client_id", `client ${id} listed twice`);
    dedup.set(id, r);
  }
  const kvs = (w.kvs ?? []).map((kv) => ({ key: kv.key ?? none, value: kv.value ?? none }));
  for (let i = 1; i < kvs.length; i++) {
    if (Buffer.compare(kvs[i - 1]!.key, kvs[i]!.key) >= 0) throw new InvalidArgumentError("chunk.kvs", "keys must be strictly increasing");
  }
  const chunk = {
    configNum: uint(w.configNum, "chunk.config_num") as ConfigNum,
    shard: shardFromWire(w.shard, "chunk.shard"),
    kvs,
    last: w.last ?? false,
    dedup,
  };
  // An entry without a position (continues false) was written before positions existed.
  if (!w.continues) return chunk;
  const after: PullPosition = {
    key: w.afterAny ? w.afterKey ?? none : undefined,
    client: w.afterClient && w.afterClient.length > 0 ? clientIdFromBytes(w.afterClient, "chunk.after_client") : undefined,
  };
  if (after.key !== undefined && kvs.length > 0 && Buffer.compare(kvs[0]!.key, after.key) <= 0) {
    throw new InvalidArgumentError("chunk.kvs", "the first key must come after the key the chunk continues from");
  }
  if (after.client !== undefined && kvs.length > 0) throw new InvalidArgumentError("chunk.after_client", "set on a chunk with keys (records follow every key)");
  return { ...chunk, after };
}

// ------------------------------------------------------------------ log commands

export function commandToWire(cmd: ShardCommand): shardkv.kv.Command.$Properties {
  const timestampMs = cmd.timestampMs;
  const op = cmd.op;
  switch (op.kind) {
    case "write":
      return { timestampMs, write: writeToWire(op.write) };
    case "reconfigure":
      return { timestampMs, reconfigure: configToWire(op.config) };
    case "insert":
      return { timestampMs, insert: shardChunkToWire(op.chunk) };
    case "deleteShard":
      return { timestampMs, deleteShard: { configNum: op.configNum, shard: op.shard } };
    case "gcDone":
      return { timestampMs, gcDone: { configNum: op.configNum, shard: op.shard } };
    case "abortHandoff":
      return { timestampMs, abortHandoff: { configNum: op.configNum, shard: op.shard, aborted: { ...op.aborted } } };
  }
}

export function encodeCommand(cmd: ShardCommand): Uint8Array {
  return pb.Command.encode(commandToWire(cmd)).finish();
}

export function commandFromWire(c: shardkv.kv.Command.$Properties): ShardCommand {
  const timestampMs = uint(c.timestampMs, "command.timestamp_ms");
  let op: ShardOp;
  if (c.write) op = { kind: "write", write: writeFromWire(c.write) };
  else if (c.reconfigure) op = { kind: "reconfigure", config: configFromWire(c.reconfigure) };
  else if (c.insert) op = { kind: "insert", chunk: shardChunkFromWire(c.insert) };
  else if (c.deleteShard) {
    op = { kind: "deleteShard", configNum: uint(c.deleteShard.configNum, "delete_shard.config_num") as ConfigNum, shard: shardFromWire(c.deleteShard.shard, "delete_shard.shard") };
  } else if (c.gcDone) {
    op = { kind: "gcDone", configNum: uint(c.gcDone.configNum, "gc_done.config_num") as ConfigNum, shard: shardFromWire(c.gcDone.shard, "gc_done.shard") };
  } else if (c.abortHandoff) {
    const a = c.abortHandoff.aborted ?? {};
    op = {
      kind: "abortHandoff",
      configNum: uint(c.abortHandoff.configNum, "abort_handoff.config_num") as ConfigNum,
      shard: shardFromWire(c.abortHandoff.shard, "abort_handoff.shard"),
      aborted: {
        gid: uint(a.gid, "abort_handoff.aborted.gid") as GroupId,
        joinNum: uint(a.joinNum, "abort_handoff.aborted.join_num") as ConfigNum,
        abortNum: uint(a.abortNum, "abort_handoff.aborted.abort_num") as ConfigNum,
      },
    };
  } else throw new InvalidArgumentError("command.op", "no operation");
  return { timestampMs, op };
}

export function decodeCommand(b: Uint8Array): ShardCommand {
  let c: shardkv.kv.Command;
  try {
    c = pb.Command.decode(b);
  } catch (e) {
    throw new InvalidArgumentError("command", `does not decode: ${(e as Error).message}`);
  }
  return commandFromWire(c);
}
