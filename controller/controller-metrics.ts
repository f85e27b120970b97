/**
 * The metrics a controller replica records when it is given a registry
 * (ControllerServerOptions.metricsRegistry; docs/operations.md "Service, shard and controller
 * metrics"): the service metrics of its Controller service (common/service-metrics.ts: Join,
 * Leave, Move, Query, ... by result) and, read at scrape time from its applied state:
 *
 *   shardkv_controller_config_number                     gauge: the latest config
 *   shardkv_controller_groups                            gauge: groups in it
 *   shardkv_controller_shards{group}                     gauge: shards per group, for at most groupSeriesMax groups (the largest)
 *   shardkv_controller_unassigned_shards                 gauge: shards of no group
 *   shardkv_controller_pending_joins                     gauge: groups whose join is not acknowledged yet
 *   shardkv_controller_replica_intents{kind,state}       gauge: stored replica changes by kind and state
 *
 * An intent's `kind` is addLearner, promote, remove or replace; its `state` running or blocked
 * (the group's leader reported why it cannot progress). The step an intent is at (adding,
 * catching up, joint) is known to the group's leader, not to the controller.
 */
import type { Registry } from "prom-client";
import { MetricSet, type MetricSpec } from "../common/hot-metrics";
import type { ReplicaChange } from "../common/replica-change";
import { ServiceMetrics } from "../common/service-metrics";
import { shardCounts } from "./config";
import type { ControllerStateView } from "./service";

/** The request types of a controller (the `type` label). */
export const controllerServiceTypes = [
  "join", "leave", "move", "ack_join", "query", "status", "watch", "watch_intent", "replica_change", "replica_cancel", "replica_done", "replica_progress",
] as const;
export type ControllerServiceType = (typeof controllerServiceTypes)[number];

/** Most groups with a shardkv_controller_shards series (the groups owning the most shards). */
export const groupSeriesMax = 64;

const gauge = (name: string, help: string, labelNames: readonly string[] = []): MetricSpec => ({ name, help, labelNames });
const configSpec = gauge("shardkv_controller_config_number", "The latest config number this controller replica has applied");
const groupsSpec = gauge("shardkv_controller_groups", "Groups in the latest config");
const shardsSpec = gauge("shardkv_controller_shards", `Shards per group in the latest config (at most ${groupSeriesMax} groups: those owning the most)`, ["group"]);
const unassignedSpec = gauge("shardkv_controller_unassigned_shards", "Shards the latest config gives to no group");
const pendingSpec = gauge("shardkv_controller_pending_joins", "Groups joined whose join no replica has acknowledged yet");
const intentsSpec = gauge("shardkv_controller_replica_intents", "Stored replica changes, by kind and state (running, blocked)", ["kind", "state"]);

const intentKinds: readonly ReplicaChange["kind"][] = ["addLearner", "promote", "remove", "replace"];

/** What the controller metrics read of the state machine. */
export type ControllerMetricsView = Pick<ControllerStateView, "latest" | "pendingJoins" | "replicaState">;

/** The metrics of one controller replica (created when it is given a registry). */
export class ControllerMetrics {
  private readonly set: MetricSet;
  readonly service: ServiceMetrics<ControllerServiceType>;

  constructor(registry: Registry, view: ControllerMetricsView, nowMs: () => number) {
    this.set = new MetricSet(registry);
    this.service = new ServiceMetrics(this.set, { types: controllerServiceTypes, nowMs });
    this.set.gauge(configSpec, (emit) => emit({}, view.latest().num));
    this.set.gauge(groupsSpec, (emit) => emit({}, view.latest().groups.size));
    this.set.gauge(shardsSpec, (emit) => {
      const largest = [...shardCounts(view.latest())].sort(([ga, a], [gb, b]) => b - a || ga - gb).slice(0, groupSeriesMax);
      for (const [gid, n] of largest) emit({ group: String(gid) }, n);
    });
    this.set.gauge(unassignedSpec, (emit) => emit({}, view.latest().shards.filter((g) => g === 0).length));
    this.set.gauge(pendingSpec, (emit) => emit({}, view.pendingJoins().size));
    this.set.gauge(intentsSpec, (emit) => {
      const n = new Map<string, number>();
      for (const intent of view.replicaState().intents.values()) {
        const key = `${intent.change.kind} ${intent.blocked ? "blocked" : "running"}`;
        n.set(key, (n.get(key) ?? 0) + 1);
      }
      for (const kind of intentKinds) {
        for (const state of ["running", "blocked"]) emit({ kind, state }, n.get(`${kind} ${state}`) ?? 0);
      }
    });
  }

  /** Takes this replica's values out of the registry (the replica stopped). */
  close(): void {
    this.set.close();
  }
}
