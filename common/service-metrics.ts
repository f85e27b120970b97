/**
 * The service metrics a shard server and a controller record for the requests they serve
 * (docs/operations.md "Service, shard and controller metrics"):
 *
 *   shardkv_service_operations_total{type,result}          counter
 *   shardkv_service_operation_duration_seconds{type}       histogram (every result)
 *   shardkv_service_request_bytes_total{type}              counter (keys, values, expected values)
 *   shardkv_service_refusals_total{reason,limit}           counter
 *
 * `type` is one of the fixed names the server declares (get, put, join, ...), `result` "ok"
 * or the error's code in snake case (not_leader, wrong_group, backpressure, ...: the closed
 * set of common/errors.ts; anything else is "internal"). A refusal's `reason` is not_leader,
 * wrong_group or limit; `limit` names the limit for reason=limit (a back-pressure limit such
 * as proposalQueueMax, or a size limit such as keyBytesMax; an unknown name is "other") and
 * is empty otherwise. No label ever holds a key, a client id or an address.
 *
 * Recording is a few field increments (common/hot-metrics.ts): the cells of each type and
 * result are made once, the first time they are needed.
 */
import { BackpressureError, type ErrorCode, NotLeaderError, ShardKVError, WrongGroupError } from "./errors";
import { type CounterCell, type HistogramCell, type HistogramSpec, latencyBucketsSeconds, type MetricSet, type MetricSpec } from "./hot-metrics";
import { LimitExceededError } from "./limits";

export const operationsTotal: MetricSpec = {
  name: "shardkv_service_operations_total",
  help: "Requests served, by type and result (ok, or the error code in snake case)",
  labelNames: ["type", "result"],
};

/** Latency buckets, in seconds: 100 µs to 10 s (common/hot-metrics.ts latencyBucketsSeconds). */
export const operationSecondsBuckets: readonly number[] = latencyBucketsSeconds;

export const operationDuration: HistogramSpec = {
  name: "shardkv_service_operation_duration_seconds",
  help: "Time from a request's arrival at the service to its answer, by type (every result)",
  labelNames: ["type"],
  buckets: operationSecondsBuckets,
};

export const requestBytesTotal: MetricSpec = {
  name: "shardkv_service_request_bytes_total",
  help: "Key, value and expected-value bytes of the requests received, by type",
  labelNames: ["type"],
};

export const refusalsTotal: MetricSpec = {
  name: "shardkv_service_refusals_total",
  help: "Requests refused: not_leader, wrong_group, or limit (with the limit's name)",
  labelNames: ["reason", "limit"],
};

/** The `result` label of each error code. */
const resultOfCode: Readonly<Record<ErrorCode, string>> = {
  NotLeader: "not_leader",
  Backpressure: "backpressure",
  Timeout: "timeout",
  InvalidArgument: "invalid_argument",
  Stopped: "stopped",
  Corruption: "corruption",
  LeadershipTransfer: "leadership_transfer",
  WrongGroup: "wrong_group",
  Internal: "internal",
  Unreachable: "unreachable",
  Aborted: "aborted",
  DataDir: "data_dir",
  RetryLater: "retry_later",
  PermissionDenied: "permission_denied",
};

/** The back-pressure limits (BackpressureError.limit) a refusal may name; others count as "other". */
export const backpressureLimitNames: readonly string[] = ["proposalQueueMax", "uncommittedBytesMax", "readIndexPendingMax", "watchStreamsMax"];

/**
 * The size limit (common/limits.ts) a LimitExceededError was over, by the field it names:
 * key -> keyBytesMax, value and expected -> valueBytesMax, entry -> raftEntryBytesMax, ops ->
 * writeBytesMax (the request) or writeReplyBytesMax (its reply, refused when applied).
 */
function sizeLimitName(e: LimitExceededError): string {
  switch (e.field) {
    case "key": return "keyBytesMax";
    case "value":
    case "expected": return "valueBytesMax";
    case "entry": return "raftEntryBytesMax";
    case "ops": return e.what.startsWith("the reply") ? "writeReplyBytesMax" : "writeBytesMax";
    default: return "other";
  }
}

/** The refusal counters of one service, shared by its types. */
class Refusals {
  private readonly notLeader: CounterCell;
  private readonly wrongGroup: CounterCell;
  private readonly limits = new Map<string, CounterCell>();

  constructor(private readonly set: MetricSet, private readonly limitOf: (e: unknown) => string | undefined) {
    this.notLeader = set.counter(refusalsTotal, { reason: "not_leader", limit: "" });
    this.wrongGroup = set.counter(refusalsTotal, { reason: "wrong_group", limit: "" });
  }

  note(e: unknown): void {
    if (e instanceof NotLeaderError) this.notLeader.value++;
    else if (e instanceof WrongGroupError) this.wrongGroup.value++;
    else if (e instanceof BackpressureError) this.limit(backpressureLimitNames.includes(e.limit) ? e.limit : "other");
    else if (e instanceof LimitExceededError) this.limit(sizeLimitName(e));
    else {
      const name = this.limitOf(e);
      if (name !== undefined) this.limit(name);
    }
  }

  private limit(name: string): void {
    let c = this.limits.get(name);
    if (c === undefined) this.limits.set(name, (c = this.set.counter(refusalsTotal, { reason: "limit", limit: name })));
    c.value++;
  }
}

/** The metrics of one request type: record with `start()`, then `ok(t0)` or `failed(t0, e)`. */
export class OpMetrics {
  private readonly okCount: CounterCell;
  private readonly failures = new Map<string, CounterCell>();
  private duration: HistogramCell | undefined;
  private bytes: CounterCell | undefined;

  constructor(
    private readonly set: MetricSet,
    readonly type: string,
    private readonly refusals: Refusals,
    private readonly nowMs: () => number,
  ) {
    // Made at once so that the series exists (at 0) before the first request.
    this.okCount = set.counter(operationsTotal, { type, result: "ok" });
  }

  /** The start time to hand to ok/failed. */
  start(): number {
    return this.nowMs();
  }

  /** Counts `n` request bytes (keys, values, expected values). */
  requestBytes(n: number): void {
    (this.bytes ??= this.set.counter(requestBytesTotal, { type: this.type })).value += n;
  }

  ok(startMs: number): void {
    this.okCount.value++;
    this.observe(startMs);
  }

  failed(startMs: number, e: unknown): void {
    const result = e instanceof ShardKVError ? resultOfCode[e.code] : "internal";
    let c = this.failures.get(result);
    if (c === undefined) this.failures.set(result, (c = this.set.counter(operationsTotal, { type: this.type, result })));
    c.value++;
    this.refusals.note(e);
    this.observe(startMs);
  }

  /** Resolves or rejects as `p` does, recording the outcome (measured from `startMs`). */
  settle<T>(startMs: number, p: Promise<T>): Promise<T> {
    return p.then(
      (r) => {
        this.ok(startMs);
        return r;
      },
      (e: unknown) => {
        this.failed(startMs, e);
        throw e;
      },
    );
  }

  private observe(startMs: number): void {
    (this.duration ??= this.set.histogram(operationDuration, { type: this.type })).observe((this.nowMs() - startMs) / 1000);
  }
}

export interface ServiceMetricsOptions<T extends string> {
  /** The request types: fixed names, the only values the `type` label takes. */
  readonly types: readonly T[];
  /** A monotonic clock in milliseconds (the real Env's). */
  readonly nowMs: () => number;
  /**
   * The limit a service-specific error was over, if it is a limit refusal (besides
   * BackpressureError and LimitExceededError, known here). A fixed name.
   */
  readonly limitOf?: (e: unknown) => string | undefined;
}

/** The service metrics of one server: one OpMetrics per type. */
export class ServiceMetrics<T extends string> {
  private readonly ops = new Map<string, OpMetrics>();

  constructor(set: MetricSet, { types, nowMs, limitOf = () => undefined }: ServiceMetricsOptions<T>) {
    const refusals = new Refusals(set, limitOf);
    for (const t of types) this.ops.set(t, new OpMetrics(set, t, refusals, nowMs));
  }

  op(type: T): OpMetrics {
    return this.ops.get(type)!;
  }

  /**
   * Runs `run` and records its outcome under `type` (`run` may also throw at once). Recording
   * nothing when `metrics` is undefined (a server without a registry).
   */
  static track<T extends string, R>(metrics: ServiceMetrics<T> | undefined, type: T, run: () => Promise<R>): Promise<R> {
    if (metrics === undefined) return run();
    const op = metrics.op(type);
    const t0 = op.start();
    let p: Promise<R>;
    try {
      p = run();
    } catch (e) {
      p = Promise.reject(e);
    }
    return op.settle(t0, p);
  }
}
