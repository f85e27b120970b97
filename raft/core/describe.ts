/**
 * One stable, human-readable description per message, entry and state, used in logs and in
 * the data-driven trace tests (test/unit/raft-trace). Changing a format rewrites the traces.
 */
import { decodeConfChangeEntry, describeConfChange } from "./conf-change";
import type { Entry, HardState, Message, Ready, SnapshotMeta, SoftState } from "./types";

const text = new TextDecoder("utf-8", { fatal: false });

/** Bytes as text when printable ASCII, else hex. */
export function describeBytes(b: Uint8Array): string {
  if (b.length === 0) return '""';
  let printable = true;
  for (const c of b) if (c < 0x20 || c > 0x7e) { printable = false; break; }
  if (printable) return JSON.stringify(text.decode(b));
  if (b.length > 16) return `0x${Buffer.from(b.subarray(0, 16)).toString("hex")}..(${b.length}B)`;
  return `0x${Buffer.from(b).toString("hex")}`;
}

export function describeEntry(e: Entry): string {
  if (e.type === "noop") return `${e.term}/${e.index} noop`;
  if (e.type === "confChange") return `${e.term}/${e.index} confChange(${describeConfChange(decodeConfChangeEntry(e.data).change)})`;
  return `${e.term}/${e.index} ${describeBytes(e.data)}`;
}

export function describeSnapshotMeta(s: SnapshotMeta): string {
  let out = `snap{index:${s.index} term:${s.term} voters:[${s.voters.join(",")}]`;
  if (s.votersOutgoing && s.votersOutgoing.length > 0) out += `&&[${s.votersOutgoing.join(",")}]`;
  if (s.learners && s.learners.length > 0) out += ` learners:[${s.learners.join(",")}]`;
  if (s.autoLeave) out += " autoLeave";
  return `${out}}`;
}

export function describeHardState(h: HardState): string {
  return `HardState{term:${h.term} vote:${h.vote} commit:${h.commit}}`;
}

export function describeSoftState(s: SoftState): string {
  return `SoftState{role:${s.role} leader:${s.leader} term:${s.term}}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} term:${m.term}`;
  switch (m.type) {
    case "append":
      s += ` logTerm:${m.logTerm} index:${m.index} commit:${m.commit}`;
      if (m.entries.length > 0) s += ` entries:[${m.entries.map(describeEntry).join(", ")}]`;
      break;
    case "appendResp":
      s += ` index:${m.index}`;
      if (m.reject) s += ` reject hint:${m.rejectHint}/${m.rejectTerm}`;
      break;
    case "vote":
    case "preVote":
      s += ` logTerm:${m.logTerm} index:${m.index}`;
      break;
    case "voteResp":
    case "preVoteResp":
      s += m.reject ? " reject" : " grant";
      break;
    case "heartbeat":
      s += ` commit:${m.commit}`;
      break;
    case "heartbeatResp":
      break;
    case "snapshot":
      s += ` ${m.snapshot ? describeSnapshotMeta(m.snapshot) : "snap{}"} chunk:${m.chunk}${m.chunkLast ? " last" : ""}`;
      if (m.chunkData.length > 0) s += ` data:${describeBytes(m.chunkData)}`;
      break;
    case "snapshotResp":
      s += ` ${m.snapshot ? describeSnapshotMeta(m.snapshot) : "snap{}"} next:${m.chunk}${m.chunkLast ? " installed" : ""}`;
      break;
    case "timeoutNow":
    case "wake":
      break;
  }
  if (m.context.length > 0) s += ` ctx:${describeBytes(m.context)}`;
  return s;
}

export function describeReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.softState) out.push(describeSoftState(rd.softState));
  if (rd.hardState) out.push(describeHardState(rd.hardState));
  if (rd.entries.length > 0) out.push(`Entries: ${rd.entries.map(describeEntry).join(", ")}`);
  for (const c of rd.snapshotChunks) out.push(`SnapshotChunk: ${describeSnapshotMeta(c.meta)} chunk:${c.chunk}${c.last ? " last" : ""} data:${describeBytes(c.data)}`);
  if (rd.snapshot) out.push(`Snapshot: ${describeSnapshotMeta(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) out.push(`CommittedEntries: ${rd.committedEntries.map(describeEntry).join(", ")}`);
  for (const r of rd.readStates) out.push(`ReadState: ctx:${describeBytes(r.ctx)} index:${r.index}`);
  for (const m of rd.messages) out.push(`Message: ${describeMessage(m)}`);
  return out;
}

/** What describeStatus needs of RawNode.status(). */
export interface StatusView {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly vote: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly progress: Readonly<Record<number, string>>;
}

/** One line per replica: role, term, vote, leader, commit/applied and the log's bounds. */
export function describeStatusLine(s: StatusView): string {
  let out = `${s.id}: ${s.role} term:${s.term} vote:${s.vote} lead:${s.leader} commit:${s.commit} applied:${s.applied}`;
  out += ` first:${s.firstIndex} last:${s.lastIndex}`;
  if (s.snapshotIndex > 0) out += ` snap:${s.snapshotIndex}`;
  return out;
}

/** describeStatusLine, then (on a leader) one indented line per follower's progress. */
export function describeStatus(s: StatusView): string[] {
  const out = [describeStatusLine(s)];
  for (const [id, pr] of Object.entries(s.progress)) {
    if (Number(id) !== s.id) out.push(`  ${id}: ${pr}`);
  }
  return out;
}
