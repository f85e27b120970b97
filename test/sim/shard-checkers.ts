/**
 * The checkers of the whole-cluster simulation (shard-run.ts), fed by hooks:
 *
 * (a) one owner per shard per config: a group that applies a write of shard s (not a
 *     duplicate) or answers a read of s while at config n must own s in the controller's
 *     config n, and no two groups ever serve (s, n); the data a new owner holds when its pull of
 *     (s, n) completes is exactly what the previous owner froze when it handed s off for n.
 * (b) no acknowledged write lost: the final value of every key (read from its owner after the
 *     liveness phase) joins the history as a last read, so (d) requires it; every acknowledged
 *     append token is in its append-only key's final value.
 * (c) no write applied twice: tokens are unique per write; no value ever observed (reads,
 *     final values) holds a token twice, or a token nobody wrote; every acknowledged append to an
 *     append-only key is in its final value exactly once.
 * (d) linearizability of every key's history (test/lib/linearizability.ts); operations whose
 *     outcome is unknown are pending forever.
 */
import type { ConfigNum, GroupId, NodeId, ShardId } from "../../common/ids";
import type { Config } from "../../controller/config";
import { checkLinearizable, formatEntry, type HistoryEntry, type KvOperation } from "../../deploy/check/linearizability";
import type { ShardAppliedEntry, ShardObserver } from "./shard-replica";

const dec = new TextDecoder();

/** One operation of a client as recorded for linearizability (mutable until it returns). */
export interface PendingOp {
  readonly input: { readonly key: string };
  readonly callMs: number;
  output?: unknown;
  returnMs?: number;
}

export class ShardChecker implements ShardObserver {
  failure: string | undefined;
  /** (s@n) -> gid that served it. */
  private readonly servedBy = new Map<string, GroupId>();
  /** (s@n) -> the data the previous owner froze. */
  private readonly frozen = new Map<string, string>();
  /** (s@n) -> the data the new owner got (checked when both are known). */
  private readonly received = new Map<string, string>();
  readonly history: PendingOp[] = [];
  /** Every token written (put/append/cas values). */
  readonly written = new Set<string>();
  /** Tokens of acknowledged appends to append-only keys: key -> tokens. */
  readonly ackedAppends = new Map<string, Set<string>>();
  readonly stats = { writesApplied: 0, duplicateWrites: 0, reads: 0, handoffs: 0, inserts: 0, undecidedKeys: 0 };

  constructor(
    private readonly configOf: (num: number) => Config | undefined,
    /** Keys that only ever get appends (and reads): checked by checkAppendKey. */
    private readonly appendOnly: ReadonlySet<string> = new Set(),
  ) {}

  fail(msg: string): void {
    this.failure ??= msg;
  }

  private owner(shard: ShardId, num: number): GroupId | undefined {
    return this.configOf(num)?.shards[shard];
  }

  private served(gid: GroupId, shard: ShardId, num: ConfigNum, what: string): void {
    const owner = this.owner(shard, num);
    if (owner !== undefined && owner !== gid) this.fail(`(a) group ${gid} ${what} shard ${shard} at config ${num}, whose owner there is group ${owner}`);
    const k = `${shard}@${num}`;
    const prev = this.servedBy.get(k);
    if (prev === undefined) this.servedBy.set(k, gid);
    else if (prev !== gid) this.fail(`(a) groups ${prev} and ${gid} both served shard ${shard} at config ${num} (${what})`);
  }

  applied(gid: GroupId, node: NodeId, entries: readonly ShardAppliedEntry[]): void {
    for (const e of entries) {
      const r = e.result;
      if (r?.kind === "write" && e.cmd?.op.kind === "write") {
        if (r.outcome.ok && !r.outcome.duplicate) {
          this.stats.writesApplied++;
          this.served(gid, e.cmd.op.write.shard, e.configNum, `n${node} applied a write (index ${e.index}) of`);
        } else if (r.outcome.ok) this.stats.duplicateWrites++;
      }
      if (!e.shardData) continue;
      if (r?.kind === "reconfigure") {
        for (const [s, data] of e.shardData) {
          const k = `${s}@${e.configNum}`;
          if (this.frozen.has(k)) continue;
          this.stats.handoffs++;
          this.frozen.set(k, describeData(data));
          this.compare(k);
        }
      } else if (r?.kind === "insert" && e.cmd?.op.kind === "insert") {
        const k = `${e.cmd.op.chunk.shard}@${e.cmd.op.chunk.configNum}`;
        if (this.received.has(k)) continue;
        this.stats.inserts++;
        this.received.set(k, describeData(e.shardData.get(e.cmd.op.chunk.shard)!));
        this.compare(k);
      }
    }
  }

  private compare(k: string): void {
    const f = this.frozen.get(k);
    const r = this.received.get(k);
    if (f !== undefined && r !== undefined && f !== r) this.fail(`(a) shard@config ${k}: the new owner received ${r}, the previous owner froze ${f}`);
  }

  /** A replica answered a read of `shard` at its durable config `num`. */
  readServed(gid: GroupId, node: NodeId, shard: ShardId, num: ConfigNum): void {
    this.stats.reads++;
    this.served(gid, shard, num, `n${node} answered a read of`);
  }

  /** A client invokes an operation; returns the record to complete. */
  invoke(clientId: number, op: KvOperation, nowMs: number): PendingOp {
    const e = { ...op, clientId, callMs: nowMs } as unknown as PendingOp;
    this.history.push(e);
    if (op.op === "put" || op.op === "append" || op.op === "cas") this.written.add(op.input.value);
    return e;
  }

  /** Scans an observed value for duplicated or unknown tokens (c). */
  observed(key: string, value: string | undefined, where: string): void {
    if (value === undefined || value === "") return;
    const seen = new Set<string>();
    for (const t of value.split(";")) {
      if (t === "") continue;
      const tok = `${t};`;
      if (seen.has(tok)) this.fail(`(c) ${where}: key ${key} holds token ${tok} twice: ${value}`);
      seen.add(tok);
      if (!this.written.has(tok)) this.fail(`(c) ${where}: key ${key} holds token ${tok} that no client wrote: ${value}`);
    }
  }

  ackedAppend(key: string, token: string): void {
    let s = this.ackedAppends.get(key);
    if (!s) this.ackedAppends.set(key, (s = new Set()));
    s.add(token);
  }

  /** The end: final values (from the owners) join the history; (b), (c), (d). */
  finish(finals: ReadonlyMap<string, string | undefined>, nowMs: number): void {
    for (const [key, v] of finals) {
      this.observed(key, v, "final value");
      this.history.push({ op: "get", input: { key }, output: { value: v }, clientId: "final", callMs: nowMs, returnMs: nowMs } as PendingOp);
    }
    for (const [key, toks] of this.ackedAppends) {
      const v = finals.get(key) ?? "";
      for (const t of toks) if (!v.includes(t)) this.fail(`(b) acknowledged append ${t} to ${key} is lost: final value ${JSON.stringify(v)}`);
    }
    if (this.failure !== undefined) return;
    // Append-only keys: the list-append check below (exact, and cheap where the general search
    // explodes on long concurrent appends); every other key: the general search, with a
    // deterministic step budget (a count of clock reads, not time).
    const general = this.history.filter((e) => !this.appendOnly.has(e.input.key));
    for (const key of this.appendOnly) {
      this.checkAppendKey(key, this.history.filter((e) => e.input.key === key), finals.get(key));
      if (this.failure !== undefined) return;
    }
    let ticks = 0;
    const stepClock = { nowMs: () => ticks++, after: () => () => {} };
    const r = checkLinearizable(general as unknown as HistoryEntry[], { minimize: false, timeoutMs: linearizabilityBudget, clock: stepClock });
    if (r.ok === "unknown") {
      // Deterministic (the budget counts steps), so the seed replays; an exhausted search often
      // means a violation the search could not refute quickly.
      this.stats.undecidedKeys++;
      this.fail(`(d) key ${r.key}: linearizability undecided within the search budget (${linearizabilityBudget * 4096} steps)`);
    }
    if (r.ok === false) {
      const ops = general.filter((e) => e.input.key === r.key).sort((a, b) => a.callMs - b.callMs);
      this.fail(`(d) key ${r.key} is not linearizable: ${r.reason}\n${ops.slice(-40).map((e) => `  ${formatEntry(e as unknown as HistoryEntry)}`).join("\n")}`);
    }
  }

  /**
   * Linearizability of an append-only key whose appends write unique tokens (Elle-style list
   * append): the final value fixes the order of the appends that took effect, and a read
   * returning n tokens sits between the n-th and the (n+1)-th. That order is a linearization
   * iff every read is a prefix of the final value and it respects real time pairwise:
   * an append or read that returned before another op was invoked comes before it.
   */
  private checkAppendKey(key: string, ops: readonly PendingOp[], final: string | undefined): void {
    const toks = (v: string | undefined): string[] => (v ?? "").split(";").filter((t) => t !== "").map((t) => `${t};`);
    const order = toks(final);
    const pos = new Map(order.map((t, i) => [t, i]));
    // Each op's place in the order: appends at pos + 0.5 (after the reads that do not see them), reads at n.
    type Placed = { at: number; callMs: number; returnMs: number; what: string };
    const placed: Placed[] = [];
    for (const e of ops) {
      const op = e as unknown as { op: string; input: { value?: string }; output?: { value?: string } };
      const returnMs = e.output === undefined ? Infinity : e.returnMs!;
      if (op.op === "append") {
        const p = pos.get(op.input.value!);
        if (p === undefined) {
          if (e.output !== undefined) this.fail(`(b) acknowledged append ${op.input.value} to ${key} is not in its final value`);
          continue; // never took effect (its outcome was unknown)
        }
        placed.push({ at: p + 0.5, callMs: e.callMs, returnMs, what: `append ${op.input.value} [${e.callMs}, ${returnMs}]` });
      } else if (op.op === "get") {
        if (e.output === undefined) continue;
        const v = toks(op.output!.value);
        if (v.some((t, i) => order[i] !== t)) {
          this.fail(`(d) key ${key}: a read returned ${JSON.stringify(op.output!.value)} [${e.callMs}, ${returnMs}], not a prefix of the final value ${JSON.stringify(final)}`);
          return;
        }
        placed.push({ at: v.length, callMs: e.callMs, returnMs, what: `get -> ${v.length} tokens [${e.callMs}, ${returnMs}]` });
      } else {
        this.fail(`(d) key ${key} is append-only, but saw a ${op.op}`);
        return;
      }
    }
    for (const a of placed) {
      for (const b of placed) {
        if (a.returnMs < b.callMs && a.at > b.at) {
          this.fail(`(d) key ${key} is not linearizable: ${a.what} returned before ${b.what} was invoked, but comes after it (final value ${JSON.stringify(final)})`);
          return;
        }
      }
    }
  }
}

/** Clock reads (one per 4096 search steps: about 4M steps, a few seconds) the general linearizability search may take. */
export const linearizabilityBudget = 1_000;

export function describeData(data: ReadonlyMap<string, Uint8Array>): string {
  return JSON.stringify([...data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, dec.decode(v)]));
}
