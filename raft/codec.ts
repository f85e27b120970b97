/**
 * The edge between the Raft core's domain types and the protobuf wire/storage form
 * (proto/raft.proto). Decoding validates: the core never sees a malformed message.
 */
import { shardkv } from "../proto/gen/raft.js";
import { InvalidArgumentError } from "../common/errors";
import type { LogIndex, NodeId, Term } from "../common/ids";
import type { Entry, EntryType, HardState, Message, MessageType, SnapshotMeta } from "./core/types";
import { emptyBytes } from "./core/types";

const pb = shardkv.raft;

const typeToWire: Record<MessageType, shardkv.raft.MessageType> = {
  append: pb.MessageType.MSG_APPEND,
  appendResp: pb.MessageType.MSG_APPEND_RESP,
  vote: pb.MessageType.MSG_VOTE,
  voteResp: pb.MessageType.MSG_VOTE_RESP,
  preVote: pb.MessageType.MSG_PRE_VOTE,
  preVoteResp: pb.MessageType.MSG_PRE_VOTE_RESP,
  heartbeat: pb.MessageType.MSG_HEARTBEAT,
  heartbeatResp: pb.MessageType.MSG_HEARTBEAT_RESP,
  snapshot: pb.MessageType.MSG_SNAPSHOT,
  snapshotResp: pb.MessageType.MSG_SNAPSHOT_RESP,
  timeoutNow: pb.MessageType.MSG_TIMEOUT_NOW,
  wake: pb.MessageType.MSG_WAKE,
};
const typeFromWire = new Map<number, MessageType>(
  Object.entries(typeToWire).map(([k, v]) => [v as number, k as MessageType]),
);

function u(n: number | null | undefined, field: string): number {
  const v = n ?? 0;
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(field, `must be a non-negative safe integer, got ${v}`);
  return v;
}

const entryTypeToWire: Record<EntryType, shardkv.raft.EntryType> = {
  normal: pb.EntryType.ENTRY_NORMAL,
  noop: pb.EntryType.ENTRY_NOOP,
  confChange: pb.EntryType.ENTRY_CONF_CHANGE,
};

export function entryToWire(e: Entry): shardkv.raft.Entry.$Properties {
  return { index: e.index, term: e.term, type: entryTypeToWire[e.type], data: e.data };
}

export function entryFromWire(e: shardkv.raft.Entry.$Properties): Entry {
  let type: EntryType;
  if (e.type === pb.EntryType.ENTRY_NOOP) type = "noop";
  else if (e.type === pb.EntryType.ENTRY_CONF_CHANGE) type = "confChange";
  else if ((e.type ?? 0) === pb.EntryType.ENTRY_NORMAL) type = "normal";
  else throw new InvalidArgumentError("entry.type", `unknown entry type ${e.type}`);
  return { index: u(e.index, "entry.index") as LogIndex, term: u(e.term, "entry.term") as Term, type, data: e.data ?? emptyBytes };
}

export function snapshotMetaToWire(s: SnapshotMeta): shardkv.raft.SnapshotMeta.$Properties {
  return {
    index: s.index, term: s.term, voters: [...s.voters],
    learners: [...(s.learners ?? [])], votersOutgoing: [...(s.votersOutgoing ?? [])], autoLeave: s.autoLeave === true,
    addresses: addressesToWire(s.addresses),
  };
}

type Addresses = Readonly<Record<number, string>>;

function addressesToWire(a: Addresses | undefined): shardkv.raft.MemberAddress.$Properties[] {
  return Object.entries(a ?? {}).map(([id, address]) => ({ id: Number(id), address })).sort((x, y) => x.id - y.id);
}

function addressesFromWire(ws: readonly shardkv.raft.MemberAddress.$Properties[] | null | undefined, field: string): Record<number, string> {
  const out: Record<number, string> = {};
  for (const w of ws ?? []) out[u(w.id, `${field}.id`)] = w.address ?? "";
  return out;
}

/** What the log store records when a data directory is first used (proto VoterSet). */
export interface VoterRecord {
  readonly voters: NodeId[];
  readonly addresses?: Addresses;
  readonly joined?: boolean;
}

/** Encodes the voter set the log store records (proto VoterSet). */
export function encodeVoters(r: VoterRecord): Uint8Array {
  return pb.VoterSet.encode({ voters: [...r.voters], addresses: addressesToWire(r.addresses), joined: r.joined === true }).finish();
}

/** Decodes a stored VoterSet; throws InvalidArgumentError on a malformed one. */
export function decodeVoters(b: Uint8Array): VoterRecord {
  const w = pb.VoterSet.decode(b);
  const addresses = addressesFromWire(w.addresses, "voters.addresses");
  return {
    voters: (w.voters ?? []).map((v) => u(v as number, "voters") as NodeId),
    ...(Object.keys(addresses).length > 0 ? { addresses } : {}),
    ...(w.joined ? { joined: true } : {}),
  };
}

export function snapshotMetaFromWire(s: shardkv.raft.SnapshotMeta.$Properties): SnapshotMeta {
  return {
    index: u(s.index, "snapshot.index") as LogIndex,
    term: u(s.term, "snapshot.term") as Term,
    voters: (s.voters ?? []).map((v) => u(v, "snapshot.voters") as NodeId),
    ...(s.learners && s.learners.length > 0 ? { learners: s.learners.map((v) => u(v, "snapshot.learners") as NodeId) } : {}),
    ...(s.votersOutgoing && s.votersOutgoing.length > 0 ? { votersOutgoing: s.votersOutgoing.map((v) => u(v, "snapshot.votersOutgoing") as NodeId) } : {}),
    ...(s.autoLeave ? { autoLeave: true } : {}),
    ...(s.addresses && s.addresses.length > 0 ? { addresses: addressesFromWire(s.addresses, "snapshot.addresses") } : {}),
  };
}

export function messageToWire(m: Message): shardkv.raft.Message.$Properties {
  return {
    type: typeToWire[m.type],
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToWire),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    rejectTerm: m.rejectTerm,
    context: m.context,
    snapshot: m.snapshot ? snapshotMetaToWire(m.snapshot) : null,
    chunk: m.chunk,
    chunkLast: m.chunkLast,
    chunkData: m.chunkData,
  };
}

export function messageFromWire(w: shardkv.raft.Message.$Properties): Message {
  const type = typeFromWire.get(w.type ?? 0);
  if (type === undefined) throw new InvalidArgumentError("message.type", `unknown message type ${w.type}`);
  const from = u(w.from, "message.from");
  const to = u(w.to, "message.to");
  if (from === 0 || to === 0) throw new InvalidArgumentError("message.from/to", `must be >= 1, got ${from}->${to}`);
  if ((type === "snapshot" || type === "snapshotResp") && !w.snapshot) {
    throw new InvalidArgumentError("message.snapshot", `${type} without snapshot meta`);
  }
  return {
    type,
    from: from as NodeId,
    to: to as NodeId,
    term: u(w.term, "message.term") as Term,
    logTerm: u(w.logTerm, "message.logTerm") as Term,
    index: u(w.index, "message.index") as LogIndex,
    entries: (w.entries ?? []).map(entryFromWire),
    commit: u(w.commit, "message.commit") as LogIndex,
    reject: w.reject ?? false,
    rejectHint: u(w.rejectHint, "message.rejectHint") as LogIndex,
    rejectTerm: u(w.rejectTerm, "message.rejectTerm") as Term,
    context: w.context ?? emptyBytes,
    snapshot: w.snapshot ? snapshotMetaFromWire(w.snapshot) : undefined,
    chunk: u(w.chunk, "message.chunk"),
    chunkLast: w.chunkLast ?? false,
    chunkData: w.chunkData ?? emptyBytes,
  };
}

export function encodeEntry(e: Entry): Uint8Array {
  return pb.Entry.encode(entryToWire(e)).finish();
}

export function decodeEntry(b: Uint8Array): Entry {
  return entryFromWire(pb.Entry.decode(b));
}

export function encodeHardState(h: HardState): Uint8Array {
  return pb.HardState.encode({ term: h.term, vote: h.vote, commit: h.commit }).finish();
}

export function decodeHardState(b: Uint8Array): HardState {
  const h = pb.HardState.decode(b);
  return { term: u(h.term, "hardState.term") as Term, vote: u(h.vote, "hardState.vote") as NodeId, commit: u(h.commit, "hardState.commit") as LogIndex };
}

export function encodeSnapshotMeta(s: SnapshotMeta): Uint8Array {
  return pb.SnapshotMeta.encode(snapshotMetaToWire(s)).finish();
}

export function decodeSnapshotMeta(b: Uint8Array): SnapshotMeta {
  return snapshotMetaFromWire(pb.SnapshotMeta.decode(b));
}

/** Encodes a batch of messages from one replica to another, for the transport. */
export function encodeBatch(group: number, from: number, to: number, messages: readonly Message[]): Uint8Array {
  return pb.MessageBatch.encode({ group, from, to, messages: messages.map(messageToWire) }).finish();
}

/** Size in bytes of one message on the wire (for batching under a message size limit). */
export function messageWireBytes(m: Message): number {
  return pb.Message.encode(messageToWire(m)).len;
}
