/**
 * Group membership as replicated state (Raft thesis §4; etcd-io/raft confchange/ and
 * ConfChangeV2). A configuration (ConfState) is the voters, the learners and, while joint, the
 * outgoing voters. It changes only through conf-change entries in the log, and a change takes
 * effect when its entry is APPLIED (as in etcd), never on append: see docs/design.md §3 Raft.
 *
 * A conf-change entry carries the changes and the configuration they produce. The leader
 * computes the result from the configuration it has applied; since it proposes a change only
 * after applying every entry of its log (one change at a time), the result equals the fold of
 * every committed change before it. Carrying it lets a replica that joins with an empty
 * configuration learn the whole configuration from the first conf-change entry it applies.
 */
import { InvalidArgumentError } from "../../common/errors";
import type { LogIndex, NodeId, Term } from "../../common/ids";
import type { SnapshotMeta } from "./types";

/** A group's configuration. Ids sorted ascending; the three sets are disjoint. */
export interface ConfState {
  /** The (incoming) voters. */
  readonly voters: readonly NodeId[];
  /** Receive the log and snapshots; never vote, count for commit or ReadIndex, nor campaign. */
  readonly learners: readonly NodeId[];
  /** While joint: the previous voters (elections and commit need a majority of both sets). */
  readonly votersOutgoing: readonly NodeId[];
  /** While joint: the leader proposes leave-joint by itself once the enter-joint applied. */
  readonly autoLeave: boolean;
  /**
   * Where each member serves (host:port), for the ones whose address the group knows; opaque
   * to the core, which only carries it (the driver's transport reads it). Omitted when empty
   * (a group bootstrapped without addresses: the simulator). Only members have one.
   */
  readonly addresses?: AddressMap;
}

/** Member id -> "host:port". */
export type AddressMap = Readonly<Record<number, string>>;

/**
 * One change of one member. `address` (addLearner only): where the new replica serves; it
 * becomes part of the configuration, so every replica learns it when the entry is applied.
 */
export type ConfChangeSingle = { readonly type: "addLearner" | "promote" | "remove"; readonly node: NodeId; readonly address?: string };

/**
 * One membership change. `simple`: one change that alters at most one voter (add a learner,
 * promote one, remove one); `enterJoint`: any set of changes through a joint configuration;
 * `leaveJoint`: finish the joint configuration (the outgoing voters are dropped).
 */
export type ConfChange =
  | { readonly kind: "simple"; readonly change: ConfChangeSingle }
  | { readonly kind: "enterJoint"; readonly changes: readonly ConfChangeSingle[]; readonly autoLeave: boolean }
  | { readonly kind: "leaveJoint" };

/** What a conf-change entry's data holds. */
export interface ConfChangeEntry {
  readonly change: ConfChange;
  /** The configuration once this entry is applied. */
  readonly result: ConfState;
}

const sorted = (ids: Iterable<NodeId>): NodeId[] => [...ids].sort((a, b) => a - b);

export function makeConfState(voters: readonly NodeId[], learners: readonly NodeId[] = [], addresses: AddressMap = {}): ConfState {
  return withAddresses({ voters: sorted(voters), learners: sorted(learners), votersOutgoing: [], autoLeave: false }, addresses);
}

/**
 * `c` with the addresses of its members taken from `addresses` (others dropped; the field
 * omitted when none is left), so a configuration never names a non-member's address.
 */
export function withAddresses(c: ConfState, addresses: AddressMap | undefined): ConfState {
  const { addresses: _old, ...rest } = c;
  const kept: Record<number, string> = {};
  for (const id of members(c)) {
    const a = addresses?.[id];
    if (a !== undefined) kept[id] = a;
  }
  return Object.keys(kept).length > 0 ? { ...rest, addresses: kept } : rest;
}

/** The address configuration `c` records for member `id`, if any. */
export function addressOf(c: ConfState, id: NodeId): string | undefined {
  return c.addresses?.[id];
}

export const emptyConfState: ConfState = makeConfState([]);

export function isJoint(c: ConfState): boolean {
  return c.votersOutgoing.length > 0;
}

/** Whether `id` votes in either half of the configuration. */
export function isVoter(c: ConfState, id: NodeId): boolean {
  return c.voters.includes(id) || c.votersOutgoing.includes(id);
}

/** Every replica the leader replicates to: voters, outgoing voters and learners, sorted. */
export function members(c: ConfState): NodeId[] {
  return sorted(new Set([...c.voters, ...c.votersOutgoing, ...c.learners]));
}

/** Every voter of either half, sorted. */
export function allVoters(c: ConfState): NodeId[] {
  return sorted(new Set([...c.voters, ...c.votersOutgoing]));
}

export function confStateEqual(a: ConfState, b: ConfState): boolean {
  const eq = (x: readonly NodeId[], y: readonly NodeId[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  const addrs = (c: ConfState) => JSON.stringify(Object.entries(c.addresses ?? {}).sort(([x], [y]) => Number(x) - Number(y)));
  return eq(a.voters, b.voters) && eq(a.learners, b.learners) && eq(a.votersOutgoing, b.votersOutgoing) && a.autoLeave === b.autoLeave &&
    addrs(a) === addrs(b);
}

export function describeConfState(c: ConfState): string {
  let s = `voters:[${c.voters.join(",")}]`;
  if (c.votersOutgoing.length > 0) s += `&&[${c.votersOutgoing.join(",")}]`;
  if (c.learners.length > 0) s += ` learners:[${c.learners.join(",")}]`;
  if (c.autoLeave) s += " autoLeave";
  return s;
}

export function describeConfChange(cc: ConfChange): string {
  const one = (c: ConfChangeSingle) => `${c.type} ${c.node}${c.address !== undefined ? `@${c.address}` : ""}`;
  switch (cc.kind) {
    case "simple": return one(cc.change);
    case "enterJoint": return `enterJoint(${cc.changes.map(one).join(", ")})${cc.autoLeave ? " autoLeave" : ""}`;
    case "leaveJoint": return "leaveJoint";
  }
}

function bad(reason: string): never {
  throw new InvalidArgumentError("confChange", reason);
}

/** Applies one single change to mutable voter, learner and address sets; throws InvalidArgumentError. */
function applySingle(voters: Set<NodeId>, learners: Set<NodeId>, addresses: Record<number, string>, c: ConfChangeSingle): void {
  if (!Number.isSafeInteger(c.node) || c.node < 1) bad(`node id must be >= 1, got ${c.node}`);
  if (c.address !== undefined && c.type !== "addLearner") bad(`only addLearner carries an address (${c.type} ${c.node} has ${c.address})`);
  switch (c.type) {
    case "addLearner":
      if (voters.has(c.node) || learners.has(c.node)) bad(`node ${c.node} is already in the group`);
      if (c.address !== undefined) {
        if (c.address === "") bad(`node ${c.node}: empty address`);
        const holder = Object.entries(addresses).find(([, a]) => a === c.address);
        if (holder !== undefined) bad(`address ${c.address} is already node ${holder[0]}'s`);
        addresses[c.node] = c.address;
      }
      learners.add(c.node);
      return;
    case "promote":
      if (voters.has(c.node)) bad(`node ${c.node} is already a voter`);
      if (!learners.has(c.node)) bad(`node ${c.node} is not a learner of the group (add it as a learner first)`);
      learners.delete(c.node);
      voters.add(c.node);
      return;
    case "remove":
      if (!voters.has(c.node) && !learners.has(c.node)) bad(`node ${c.node} is not in the group`);
      voters.delete(c.node);
      learners.delete(c.node);
      return;
  }
}

/**
 * The configuration `cc` produces from `cur` (etcd confchange.Changer). Throws
 * InvalidArgumentError for a change that is not allowed: a simple change altering more than
 * one voter, entering joint while joint, leaving joint while not joint, a change that leaves no
 * voter, an unknown or duplicate node.
 */
export function applyConfChange(cur: ConfState, cc: ConfChange): ConfState {
  if (cc.kind === "leaveJoint") {
    if (!isJoint(cur)) bad("the group is not in a joint configuration");
    return withAddresses({ voters: cur.voters, learners: cur.learners, votersOutgoing: [], autoLeave: false }, cur.addresses);
  }
  if (isJoint(cur)) bad("the group is in a joint configuration; leave it first");
  const voters = new Set(cur.voters);
  const learners = new Set(cur.learners);
  const addresses: Record<number, string> = { ...cur.addresses };
  const changes = cc.kind === "simple" ? [cc.change] : cc.changes;
  if (changes.length === 0) bad("no changes");
  for (const c of changes) applySingle(voters, learners, addresses, c);
  if (voters.size === 0) bad("it would remove the last voter");
  if (cc.kind === "simple") {
    const diff = [...voters].filter((v) => !cur.voters.includes(v)).length + cur.voters.filter((v) => !voters.has(v)).length;
    if (diff > 1) bad("a simple change may alter at most one voter; use a joint change");
    return withAddresses({ voters: sorted(voters), learners: sorted(learners), votersOutgoing: [], autoLeave: false }, addresses);
  }
  // While joint the outgoing voters keep their addresses (they still vote); leave-joint drops them.
  return withAddresses({ voters: sorted(voters), learners: sorted(learners), votersOutgoing: [...cur.voters], autoLeave: cc.autoLeave }, addresses);
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Entry data of a conf-change entry. */
export function encodeConfChangeEntry(e: ConfChangeEntry): Uint8Array {
  return enc.encode(JSON.stringify(e));
}

const idList = (v: unknown): NodeId[] => {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= 1)) bad("malformed node id list");
  return v as NodeId[];
};

function decodeSingle(v: unknown): ConfChangeSingle {
  const o = v as { type?: unknown; node?: unknown };
  if (o === null || typeof o !== "object" || !["addLearner", "promote", "remove"].includes(o.type as string)) bad("malformed change");
  if (!Number.isSafeInteger(o.node) || (o.node as number) < 1) bad("malformed node id");
  const address = (v as { address?: unknown }).address;
  if (address !== undefined && typeof address !== "string") bad("malformed address");
  return { type: o.type as ConfChangeSingle["type"], node: o.node as NodeId, ...(address !== undefined ? { address } : {}) };
}

/** Decodes an address map (JSON object: id -> "host:port"); throws InvalidArgumentError when malformed. */
function addressMap(v: unknown): AddressMap {
  if (v === undefined) return {};
  if (v === null || typeof v !== "object" || Array.isArray(v)) bad("malformed address map");
  const out: Record<number, string> = {};
  for (const [k, a] of Object.entries(v as Record<string, unknown>)) {
    const id = Number(k);
    if (!Number.isSafeInteger(id) || id < 1 || typeof a !== "string") bad("malformed address map");
    out[id] = a;
  }
  return out;
}

/** Decodes a conf-change entry's data; throws InvalidArgumentError when malformed. */
export function decodeConfChangeEntry(data: Uint8Array): ConfChangeEntry {
  let o: { change?: { kind?: unknown; change?: unknown; changes?: unknown; autoLeave?: unknown }; result?: Record<string, unknown> };
  try {
    o = JSON.parse(dec.decode(data)) as typeof o;
  } catch {
    bad("entry data is not a conf change");
  }
  const c = o.change;
  const r = o.result;
  if (!c || !r) bad("entry data is not a conf change");
  let change: ConfChange;
  if (c.kind === "simple") change = { kind: "simple", change: decodeSingle(c.change) };
  else if (c.kind === "enterJoint" && Array.isArray(c.changes)) change = { kind: "enterJoint", changes: c.changes.map(decodeSingle), autoLeave: c.autoLeave === true };
  else if (c.kind === "leaveJoint") change = { kind: "leaveJoint" };
  else bad(`unknown conf change kind ${String(c.kind)}`);
  const result = withAddresses({
    voters: idList(r["voters"]), learners: idList(r["learners"]), votersOutgoing: idList(r["votersOutgoing"]), autoLeave: r["autoLeave"] === true,
  }, addressMap(r["addresses"]));
  return { change, result };
}

/** The configuration a snapshot's meta records. */
export function confStateOfSnapshot(s: SnapshotMeta): ConfState {
  return withAddresses({
    voters: sorted(s.voters), learners: sorted(s.learners ?? []), votersOutgoing: sorted(s.votersOutgoing ?? []), autoLeave: s.autoLeave === true,
  }, s.addresses);
}

/** A snapshot's meta recording configuration `c` (empty sets omitted). */
export function snapshotMetaWith(index: LogIndex, term: Term, c: ConfState): SnapshotMeta {
  return {
    index, term, voters: [...c.voters],
    ...(c.learners.length > 0 ? { learners: [...c.learners] } : {}),
    ...(c.votersOutgoing.length > 0 ? { votersOutgoing: [...c.votersOutgoing] } : {}),
    ...(c.autoLeave ? { autoLeave: true } : {}),
    ...(c.addresses !== undefined ? { addresses: { ...c.addresses } } : {}),
  };
}

/** A deep copy of a snapshot's meta (every field, so no copy drops part of the configuration). */
export function copySnapshotMeta(s: SnapshotMeta): SnapshotMeta {
  return snapshotMetaWith(s.index, s.term, confStateOfSnapshot(s));
}
