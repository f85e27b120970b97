/**
 * The metrics a shard server records when it is given a registry (ShardServerOptions
 * .metricsRegistry; docs/operations.md "Service, shard and controller metrics"): the service
 * metrics of its ShardKV service (common/service-metrics.ts), its shards, and migrations.
 *
 * Shards, read at scrape time from the state machine (nothing is kept between scrapes):
 *   shardkv_shards{state}                       gauge: shards per state (every state, not_owned included)
 *   shardkv_shard_keys{state}                   gauge: keys of the shards held, summed per state
 *   shardkv_shard_bytes{state}                  gauge: key plus value bytes, summed per state
 *   shardkv_shard_keys_by_shard{shard,state}    gauge: one shard's keys, for at most shardSeriesMax shards
 *   shardkv_shard_bytes_by_shard{shard,state}   gauge: the same shards' bytes
 *   shardkv_shards_unlisted                     gauge: shards held but not in the *_by_shard series
 *   shardkv_shard_config_number                 gauge: the config the group has applied
 *   shardkv_service_dedup_clients               gauge: client records in the duplicate tables
 * The labels stay bounded whatever the shard count: per-state sums (six states), and per-shard
 * series only for shardSeriesMax shards: every shard that is not simply serving (pulling,
 * handoff, gc, held: what an operator watches during a migration) first, then the largest by
 * bytes. A group of 16,384 shards scrapes as small as one of 16.
 *
 * Migrations, as the leader pulls (shard-server/migration-driver.ts MigrationObserver) and as
 * any replica answers a pull:
 *   shardkv_migration_moved_bytes_total{direction}  counter: in = chunks inserted here, out = chunks sent
 *   shardkv_migration_in_flight_bytes               gauge: chunks received, not yet inserted (or refused)
 *   shardkv_migration_pace_bytes_per_second         gauge: the pace after the last insert (migration-pacer.ts;
 *                                                   0 before any, or when nothing paces)
 * Bytes are chunkBytes (keys, values and encoded duplicate records).
 */
import type { Registry } from "prom-client";
import type { ShardId } from "../common/ids";
import { type CounterCell, type Emit, MetricSet, type MetricSpec } from "../common/hot-metrics";
import { type OpMetrics, ServiceMetrics } from "../common/service-metrics";
import type { shardkv } from "../proto/gen/shardkv.js";
import type { BatchHandlers } from "./batch-stream";
import { ValueLimitError } from "./errors";
import type { MigrationObserver } from "./migration-driver";
import { type ShardGroupCore, type ShardStatusState, statusState } from "./state-machine";
import type { ShardCount } from "./state-keys";

/** The request types of a shard server (the `type` label). A write of several ops is a "batch". */
export const shardServiceTypes = ["get", "put", "append", "delete", "cas", "batch", "delete_shard", "pull_shard", "status", "identify"] as const;
export type ShardServiceType = (typeof shardServiceTypes)[number];

/** Most shards with series of their own (the *_by_shard gauges). */
export const shardSeriesMax = 32;

/** The `state` label of each shard state. */
const stateLabel: Readonly<Record<ShardStatusState, string>> = {
  notOwned: "not_owned", serving: "serving", pulling: "pulling", handoff: "handoff", gc: "gc", held: "held",
};
const heldStates: readonly ShardStatusState[] = ["serving", "pulling", "handoff", "gc", "held"];

const gauge = (name: string, help: string, labelNames: readonly string[] = []): MetricSpec => ({ name, help, labelNames });
const shardsSpec = gauge("shardkv_shards", "Shards of this group per state (not_owned, serving, pulling, handoff, gc, held)", ["state"]);
const keysSpec = gauge("shardkv_shard_keys", "Keys of the shards this group holds, per state", ["state"]);
const bytesSpec = gauge("shardkv_shard_bytes", "Key plus value bytes of the shards this group holds, per state", ["state"]);
const keysByShardSpec = gauge("shardkv_shard_keys_by_shard", `Keys of one shard, for at most ${shardSeriesMax} shards: those not serving first, then the largest`, ["shard", "state"]);
const bytesByShardSpec = gauge("shardkv_shard_bytes_by_shard", `Key plus value bytes of one shard, for the shards of shardkv_shard_keys_by_shard`, ["shard", "state"]);
const unlistedSpec = gauge("shardkv_shards_unlisted", "Shards this group holds that have no *_by_shard series (beyond the cap)");
const configSpec = gauge("shardkv_shard_config_number", "The config number this replica's group has applied");
const dedupSpec = gauge("shardkv_service_dedup_clients", "Client records in the duplicate tables of the shards this group holds");
const movedSpec: MetricSpec = {
  name: "shardkv_migration_moved_bytes_total",
  help: "Migration bytes moved: in = pulled chunks inserted by this replica (as leader), out = chunks this replica sent",
  labelNames: ["direction"],
};
const inFlightSpec = gauge("shardkv_migration_in_flight_bytes", "Bytes of pulled chunks received and not yet inserted");
const paceSpec = gauge("shardkv_migration_pace_bytes_per_second", "The pace of pulled chunk inserts after the last insert (0: none yet, or unpaced)");

/** What the shard metrics read of the state machine (RocksShardStateMachine). */
export interface ShardMetricsView {
  readonly core: Pick<ShardGroupCore, "allMetas" | "config" | "dedupClientCount">;
  /** Per shard, keys and bytes as of the durable state. */
  shardCounts(): readonly ShardCount[];
}

/** One shard with series of its own. */
export interface ListedShard {
  readonly shard: ShardId;
  readonly state: ShardStatusState;
  readonly keys: number;
  readonly bytes: number;
}

/** What one scrape reports of the shards. */
export interface ShardSummary {
  readonly shards: ReadonlyMap<ShardStatusState, number>;
  readonly keys: ReadonlyMap<ShardStatusState, number>;
  readonly bytes: ReadonlyMap<ShardStatusState, number>;
  /** At most `max` shards, in the order of `listedBefore`. */
  readonly listed: readonly ListedShard[];
  readonly unlisted: number;
}

/** Whether `a` is listed before `b`: not serving first, then more bytes, then the lower shard. */
function listedBefore(a: ListedShard, b: ListedShard): boolean {
  const ma = a.state !== "serving";
  const mb = b.state !== "serving";
  if (ma !== mb) return ma;
  if (a.bytes !== b.bytes) return a.bytes > b.bytes;
  return a.shard < b.shard;
}

/** The per-state counts and the listed shards (at most `max`) of the shards in `view`. O(shards * max) at worst. */
export function summarizeShards(view: ShardMetricsView, max: number): ShardSummary {
  const shards = new Map<ShardStatusState, number>([["notOwned", 0]]);
  const keys = new Map<ShardStatusState, number>();
  const bytes = new Map<ShardStatusState, number>();
  for (const s of heldStates) {
    shards.set(s, 0);
    keys.set(s, 0);
    bytes.set(s, 0);
  }
  const counts = view.shardCounts();
  const listed: ListedShard[] = [];
  let held = 0;
  for (const m of view.core.allMetas()) {
    const state = statusState(m);
    shards.set(state, shards.get(state)! + 1);
    if (state === "notOwned") continue;
    held++;
    const c = counts[m.shard]!;
    keys.set(state, keys.get(state)! + c.keys);
    bytes.set(state, bytes.get(state)! + c.bytes);
    const s: ListedShard = { shard: m.shard, state, keys: c.keys, bytes: c.bytes };
    if (listed.length === max && (max === 0 || !listedBefore(s, listed[max - 1]!))) continue;
    // Insertion into the sorted list (short: at most max).
    let i = listed.length;
    while (i > 0 && listedBefore(s, listed[i - 1]!)) i--;
    listed.splice(i, 0, s);
    if (listed.length > max) listed.pop();
  }
  return { shards, keys, bytes, listed, unlisted: held - listed.length };
}

/** The metrics of one shard server (created when it is given a registry). */
export class ShardServerMetrics {
  private readonly set: MetricSet;
  readonly service: ServiceMetrics<ShardServiceType>;
  /** The single-op writes by wire op type (OP_GET = 0 ... OP_CAS = 4). */
  private readonly writeOps: readonly OpMetrics[];
  private readonly getOp: OpMetrics;
  private readonly batchOp: OpMetrics;
  private readonly movedIn: CounterCell;
  private readonly movedOut: CounterCell;
  private inFlightBytes = 0;
  private paceBytesPerSec = 0;
  /** The summary of the scrape in progress (every gauge of one scrape reads the same one). */
  private summary: ShardSummary | undefined;

  constructor(registry: Registry, private readonly view: ShardMetricsView, nowMs: () => number) {
    this.set = new MetricSet(registry);
    this.service = new ServiceMetrics(this.set, {
      types: shardServiceTypes, nowMs, limitOf: (e) => (e instanceof ValueLimitError ? "valueBytesMax" : undefined),
    });
    const op = (t: ShardServiceType) => this.service.op(t);
    this.writeOps = [op("get"), op("put"), op("append"), op("delete"), op("cas")];
    this.getOp = op("get");
    this.batchOp = op("batch");
    this.movedIn = this.set.counter(movedSpec, { direction: "in" });
    this.movedOut = this.set.counter(movedSpec, { direction: "out" });
    this.set.gauge(inFlightSpec, (emit) => emit({}, this.inFlightBytes));
    this.set.gauge(paceSpec, (emit) => emit({}, this.paceBytesPerSec));
    this.set.gauge(configSpec, (emit) => emit({}, this.view.core.config.num));
    this.set.gauge(dedupSpec, (emit) => emit({}, this.view.core.dedupClientCount()));
    const perState = (read: (s: ShardSummary) => ReadonlyMap<ShardStatusState, number>) => (emit: Emit) => {
      for (const [state, n] of read(this.scrape())) emit({ state: stateLabel[state] }, n);
    };
    this.set.gauge(shardsSpec, perState((s) => s.shards));
    this.set.gauge(keysSpec, perState((s) => s.keys));
    this.set.gauge(bytesSpec, perState((s) => s.bytes));
    const perShard = (read: (l: ListedShard) => number) => (emit: Emit) => {
      for (const l of this.scrape().listed) emit({ shard: String(l.shard), state: stateLabel[l.state] }, read(l));
    };
    this.set.gauge(keysByShardSpec, perShard((l) => l.keys));
    this.set.gauge(bytesByShardSpec, perShard((l) => l.bytes));
    this.set.gauge(unlistedSpec, (emit) => emit({}, this.scrape().unlisted));
  }

  /** What the migration driver reports to. */
  readonly migration: MigrationObserver = {
    received: (bytes) => {
      this.inFlightBytes += bytes;
    },
    settled: (bytes, inserted) => {
      this.inFlightBytes -= bytes;
      if (inserted) this.movedIn.value += bytes;
    },
    paced: (bytesPerSec) => {
      this.paceBytesPerSec = Number.isFinite(bytesPerSec) ? bytesPerSec : 0;
    },
  };

  /** A chunk of `bytes` (chunkBytes) was sent to a puller. */
  sent(bytes: number): void {
    this.movedOut.value += bytes;
  }

  /** `h` with every Get and Write recorded (type, result, duration, request bytes). */
  observe(h: BatchHandlers): BatchHandlers {
    return {
      get: (req) => {
        const op = this.getOp;
        const t0 = op.start();
        op.requestBytes(req.key?.length ?? 0);
        return op.settle(t0, h.get(req));
      },
      write: (req) => {
        const op = this.writeOp(req);
        const t0 = op.start();
        let n = 0;
        for (const o of req.ops) n += (o.key?.length ?? 0) + (o.value?.length ?? 0) + (o.expected?.length ?? 0);
        op.requestBytes(n);
        return op.settle(t0, h.write(req));
      },
      describe: (e) => h.describe(e),
      stopping: () => h.stopping(),
      ...(h.pass ? { pass: (fn: () => void) => h.pass!(fn) } : {}),
    };
  }

  /** Takes this server's values out of the registry (the server stopped). */
  close(): void {
    this.set.close();
  }

  /** A write's type: its op's, or "batch" for several (or none). */
  private writeOp(req: shardkv.kv.WriteRequest): OpMetrics {
    if (req.ops.length !== 1) return this.batchOp;
    return this.writeOps[req.ops[0]!.type ?? 0] ?? this.batchOp;
  }

  /**
   * The shard summary of the scrape in progress: the registry reads every gauge in one
   * synchronous pass, so the first computes it and a microtask forgets it after the pass.
   */
  private scrape(): ShardSummary {
    if (this.summary === undefined) {
      this.summary = summarizeShards(this.view, shardSeriesMax);
      queueMicrotask(() => (this.summary = undefined));
    }
    return this.summary;
  }
}
