/**
 * The shardkv client library (docs/design.md#6-client).
 *
 *   const kv = await ShardKV.connect({ controllers: ["h1:7000", "h2:7000"], nats: "nats://h:4222" });
 *   await kv.put("user:1", "alice");
 *   const v = await kv.getString("user:1");           // "alice"
 *   const { swapped } = await kv.cas("user:1", "alice", "bob");
 *   kv.close();
 *
 * Routing: a key's shard is shardOf(key, shardCount) (controller/shard-of.ts); the shard's
 * group is looked up in the latest config the client knows (Query(-1) on connect, again on
 * WrongGroup at most every `configRefreshMinMs`, concurrent refreshes sharing one query, and
 * on a NATS push on `shardkv.config` when `nats` is given). A leader is cached per group;
 * NotLeader hints (the leader's address) are followed; an unreachable server, or a second
 * timeout in a row at one server, moves on to the group's next server. Attempt deadlines
 * follow the answers seen (common/attempt-timer.ts), so a lost request or reply costs a few
 * round trips, not the 2 s cap.
 *
 * At most once: every write request (put, append, delete, cas, each per-shard part of a batch)
 * carries the client id (16 random bytes) and its own sequence number; a retry reuses both,
 * so the group executes it at most once. Many operations may be in flight at once; each
 * request also carries `acked_below` = the lowest sequence number not yet answered, so servers
 * can drop the saved replies below it.
 *
 * Failures: retryable errors are retried with jittered exponential backoff until the
 * operation's deadline (`deadlineMs`, default 10 s; per call `{ deadlineMs }`), which then fails
 * with TimeoutError (the operation may or may not have been applied) whose message says what
 * the servers answered, in the user's terms ("cannot reach group 2 (...): connection refused").
 * A call's `{ signal }` aborts it at once with AbortError. InvalidArgumentError and
 * PermissionDeniedError (the certificate does not allow the operation) are final and
 * never retried. Arguments are checked at the call: addresses as the CLIs check them, keys and
 * values are strings or Uint8Arrays (TypeError naming the argument otherwise).
 * Size limits (key, value, batch) are checked locally before anything is sent.
 *
 * Batches: `batch(ops)` splits the ops per shard; each shard's ops are applied atomically as
 * one log entry, but a batch touching several shards is NOT atomic across shards: some shards'
 * parts may be applied while another part fails.
 */
import type { NatsConnection } from "nats";
import { AttemptTimer } from "../common/attempt-timer";
import { buggifyAmount } from "../common/buggify";
import type { Clock, Rng } from "../common/env";
import { typeName, validateAddressList } from "../common/address";
import {
  type CallLimits, type CallOptions, abortable, callLimits, checkMs, sleepUnlessAborted, throwIfAborted,
} from "../common/call-options";
import {
  AbortError, BackpressureError, InternalError, NotLeaderError, ShardKVError, StoppedError, TimeoutError, WrongGroupError, isFinal,
} from "../common/errors";
import { checkCount, checkLimit, keyBytesMax, valueBytesMax, writeBytesMax, writeOpsMax } from "../common/limits";
import { ServerFailures, controllerNaming, groupNaming } from "../common/server-failures";
import type { GroupId, ShardId } from "../common/ids";
import { nextTurn, realClock, realRng } from "../common/real-env";
import type { Config } from "../controller/config";
import { shardOf } from "../controller/shard-of";
import { shardkv as kvpb } from "../proto/gen/shardkv.js";
import { configFromWire, decodeConfig } from "../controller/config-wire";
import { BatchChannel, type BatchChannelEnv, LateTimeoutError } from "./batch-channel";
import { checkBatchArg, checkBytesArg, checkExpectedArg } from "./call-args";
import { type TlsFiles, natsTls } from "../security/tls-files";
import { GrpcClientTransport } from "./grpc-transport";
import { type ClientTransport, asClientError } from "./transport";

/**
 * The size limits, the servers' own (common/limits.ts): a key (4 KiB), a value (1 MiB), a
 * batch (3 MiB: the sum of its ops' key, value and expected bytes; a single put, append or
 * CAS always fits), and the ops of one batch.
 */
export { keyBytesMax, valueBytesMax, writeBytesMax as batchBytesMax, writeOpsMax as batchOpsMax } from "../common/limits";
/** Default deadline of one operation, retries included. */
export const deadlineMsDefault = 10_000;
/**
 * Default cap on the deadline of one attempt against one server. An attempt's own deadline
 * is sized to the answers seen so far (common/attempt-timer.ts: a few round trips, at least
 * 200 ms), doubled per timeout of the same operation after the first, up to this.
 */
export const attemptMsDefault = 2_000;
/** The config is re-queried at most this often (WrongGroup storms share one query). */
export const configRefreshMinMs = 50;
/** NATS subject on which the controller leader publishes each new config. */
import { configSubject } from "../controller/config";
/** The NATS subject of config pushes (the controller leader publishes each new config). */
export const natsConfigSubject = configSubject;
/** Bytes of a client id. */
export const clientIdBytes = 16;

export type Bytes = Uint8Array | string;

export type { CallOptions } from "../common/call-options";

export interface ShardKVOptions {
  /**
   * Addresses ("host:port") of the controller replicas, checked at once as the CLIs check
   * `--controllers` (InvalidArgumentError for "abc" or a port beyond 65535).
   */
  readonly controllers: readonly string[];
  /**
   * NATS server URL for config pushes (optional; the client works without it). A `tls://` URL
   * connects with TLS on the files of `tls` (one CA for the cluster and its NATS).
   */
  readonly nats?: string;
  /**
   * Deadline of one operation, retries included: connect and every call that does not give
   * its own `{ deadlineMs }`. Default 10000 ms.
   */
  readonly deadlineMs?: number;
  /** Aborts `connect` (AbortError); not kept for later calls, which take their own signal. */
  readonly signal?: AbortSignal;
  /**
   * Cap on the deadline of one attempt against one server (the deadline itself follows the
   * answers' round trips, see attemptMsDefault). Default min(2000, deadlineMs).
   */
  readonly attemptMs?: number;
  /**
   * Time: deadlines, backoff, the attempt timer. Default the real clock. With another clock
   * (a simulator's virtual time, a test's manual clock) the requests of one turn leave on its
   * timer of 0 ms rather than on the next macrotask.
   */
  readonly clock?: Clock;
  /** Randomness: the client id and backoff jitter. Default the real one (crypto-strong). */
  readonly rng?: Rng;
  /**
   * Mutual TLS: the CA certificate file, this client's certificate and its key (as
   * `shardctl certs issue client` writes them; the CLIs take them as --tls-ca, --tls-cert,
   * --tls-key or $SHARDKV_TLS_*). They are re-read when they change (a rotated certificate
   * is used for new connections). Without them the client connects without TLS, which a
   * secure cluster refuses (TlsHandshakeError, at once). Ignored with `transport`.
   */
  readonly tls?: TlsFiles;
  /**
   * The network (client/transport.ts). Default gRPC. The client owns it: `close` closes it.
   */
  readonly transport?: ClientTransport;
}

export type BatchOp =
  | { readonly type: "get"; readonly key: Bytes }
  | { readonly type: "put" | "append"; readonly key: Bytes; readonly value: Bytes }
  | { readonly type: "delete"; readonly key: Bytes }
  /** expected null: succeed only if the key is absent. */
  | { readonly type: "cas"; readonly key: Bytes; readonly expected: Bytes | null; readonly value: Bytes };

/**
 * The outcome of one batch op. get: found/value. delete: found = the key existed. cas: swapped,
 * and found/value = the key's value before the op. put/append: found/value are unspecified.
 */
export interface BatchResult {
  readonly found: boolean;
  readonly value: Uint8Array | undefined;
  readonly swapped: boolean;
}

export interface CasResult {
  readonly swapped: boolean;
  /** The key's value when the CAS was evaluated (before it); undefined = absent. */
  readonly current?: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const empty = new Uint8Array(0);

export const toBytes = (b: Bytes): Uint8Array => (typeof b === "string" ? encoder.encode(b) : b);

const opType: Record<BatchOp["type"], kvpb.kv.OpType> = {
  get: kvpb.kv.OpType.OP_GET,
  put: kvpb.kv.OpType.OP_PUT,
  append: kvpb.kv.OpType.OP_APPEND,
  delete: kvpb.kv.OpType.OP_DELETE,
  cas: kvpb.kv.OpType.OP_CAS,
};

function checkKey(key: Uint8Array): void {
  checkLimit("key", "key", key.length, keyBytesMax);
}

function checkValue(field: "value" | "expected", value: Uint8Array): void {
  checkLimit(field, field === "value" ? "value" : "expected value", value.length, valueBytesMax);
}

/** One op converted to the wire form and checked against the size limits. */
function wireOp(op: BatchOp): { op: kvpb.kv.Op.$Properties; key: Uint8Array; bytes: number } {
  const key = toBytes(op.key);
  checkKey(key);
  switch (op.type) {
    case "get":
    case "delete":
      return { op: { type: opType[op.type], key }, key, bytes: key.length };
    case "put":
    case "append": {
      const value = toBytes(op.value);
      checkValue("value", value);
      return { op: { type: opType[op.type], key, value }, key, bytes: key.length + value.length };
    }
    case "cas": {
      const value = toBytes(op.value);
      checkValue("value", value);
      const expected = op.expected === null ? undefined : toBytes(op.expected);
      if (expected) checkValue("expected", expected);
      return {
        op: { type: opType.cas, key, value, expected: expected ?? empty, expectAbsent: expected === undefined },
        key,
        bytes: key.length + value.length + (expected?.length ?? 0),
      };
    }
  }
}

/** A plain Uint8Array view (protobufjs decodes bytes as Buffers in Node). */
const plain = (b: Uint8Array | null | undefined): Uint8Array =>
  b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : empty;

const resultOf = (r: kvpb.kv.OpResult.$Properties | undefined): BatchResult => ({
  found: !!r?.found,
  value: r?.found ? plain(r.value) : undefined,
  swapped: !!r?.swapped,
});

export class ShardKV {
  /** This client's id (16 random bytes), sent with every write. */
  readonly clientId: Uint8Array;
  private config: Config | undefined;
  private nextSeq = 1;
  /** Lowest seq not yet answered; seqs below it are all done. */
  private lowUnacked = 1;
  /** Answered (or abandoned) seqs at or above lowUnacked. */
  private readonly doneAbove = new Set<number>();
  private readonly channels = new Map<string, BatchChannel>();
  private readonly transport: ClientTransport;
  /** What every BatchChannel of this client runs on. */
  private readonly channelEnv: BatchChannelEnv;
  private readonly leaders = new Map<GroupId, string>();
  private readonly nextServer = new Map<GroupId, number>();
  private ctlLeader: string | undefined;
  private ctlNext = 0;
  private refreshing: Promise<void> | undefined;
  private lastRefreshAt = -Infinity;
  private closed = false;
  private nc: NatsConnection | undefined;
  private readonly clock: Clock;
  private readonly rng: Rng;
  readonly deadlineMs: number;
  private readonly attemptMs: number;
  /** Attempt deadlines of shard server requests and of controller queries. */
  private readonly kvTimer: AttemptTimer;
  private readonly ctlTimer: AttemptTimer;

  private constructor(private readonly opts: ShardKVOptions) {
    if (opts === null || typeof opts !== "object") throw new TypeError(`options must be an object, got ${typeName(opts)}`);
    validateAddressList("controllers", opts.controllers);
    if (opts.nats !== undefined && typeof opts.nats !== "string") throw new TypeError(`nats must be a URL string, got ${typeName(opts.nats)}`);
    this.clock = opts.clock ?? realClock;
    this.rng = opts.rng ?? realRng;
    this.transport = opts.transport ?? GrpcClientTransport.withFiles(opts.tls);
    const clock = this.clock;
    this.channelEnv = {
      transport: this.transport,
      clock,
      defer: clock === realClock ? nextTurn : (fn) => void clock.after(0, fn),
    };
    this.clientId = Uint8Array.from({ length: clientIdBytes }, () => this.rng.int(256));
    this.deadlineMs = opts.deadlineMs === undefined ? deadlineMsDefault : checkMs("deadlineMs", opts.deadlineMs);
    this.attemptMs = opts.attemptMs === undefined ? Math.min(attemptMsDefault, this.deadlineMs) : checkMs("attemptMs", opts.attemptMs);
    this.kvTimer = new AttemptTimer(this.attemptMs);
    this.ctlTimer = new AttemptTimer(this.attemptMs);
  }

  /**
   * Creates a client and loads the latest config. Rejects at once with a TypeError or
   * InvalidArgumentError for malformed options (addresses as the CLIs check them), with
   * TimeoutError if no controller answers within deadlineMs (the message says what they
   * answered: "cannot reach controller 127.0.0.1:7001: connection refused"), with AbortError
   * when `signal` aborts. NATS, when given, is connected in the background.
   */
  static async connect(opts: ShardKVOptions): Promise<ShardKV> {
    const kv = new ShardKV(opts);
    const limits = callLimits({ signal: opts.signal }, kv.deadlineMs);
    try {
      await kv.loadConfig(limits);
    } catch (e) {
      kv.close();
      throw e;
    }
    if (opts.nats !== undefined) kv.startNats(opts.nats);
    return kv;
  }

  /** The latest config this client knows. */
  get currentConfig(): Config {
    return this.config!;
  }

  /**
   * The value of `key`, or undefined if absent (a linearizable read). Every call takes
   * `opts`: `deadlineMs` replaces the client's deadline for this call, `signal` aborts it
   * (AbortError at once, no further attempts). A key or value that is not a string or a
   * Uint8Array is a TypeError naming the argument; nothing is sent.
   */
  async get(key: Bytes, opts?: CallOptions): Promise<Uint8Array | undefined> {
    checkBytesArg("key", key);
    const limits = callLimits(opts, this.deadlineMs);
    const k = toBytes(key);
    checkKey(k);
    const r = await this.onShard("get", this.shardOf(k), k.length, (ch, deadline, keepUntil) => ch.get({ key: k }, deadline, keepUntil), limits);
    return r.found ? plain(r.value) : undefined;
  }

  /** get, decoded as UTF-8. */
  async getString(key: Bytes, opts?: CallOptions): Promise<string | undefined> {
    const v = await this.get(key, opts);
    return v === undefined ? undefined : decoder.decode(v);
  }

  /**
   * Sets `key` to `value`. On TimeoutError or AbortError the write may or may not have been
   * applied (it is applied at most once).
   */
  async put(key: Bytes, value: Bytes, opts?: CallOptions): Promise<void> {
    checkBytesArg("key", key);
    checkBytesArg("value", value);
    await this.single({ type: "put", key, value }, opts);
  }

  /** Appends `value` to `key`'s value (absent: empty). Timeouts and aborts as for put. */
  async append(key: Bytes, value: Bytes, opts?: CallOptions): Promise<void> {
    checkBytesArg("key", key);
    checkBytesArg("value", value);
    await this.single({ type: "append", key, value }, opts);
  }

  /** Deletes `key`; resolves with whether it existed. Timeouts and aborts as for put. */
  async delete(key: Bytes, opts?: CallOptions): Promise<boolean> {
    checkBytesArg("key", key);
    return (await this.single({ type: "delete", key }, opts)).found;
  }

  /**
   * Sets `key` to `next` if its value is `expected` (null: if it is absent). Timeouts and
   * aborts as for put.
   */
  async cas(key: Bytes, expected: Bytes | null, next: Bytes, opts?: CallOptions): Promise<CasResult> {
    checkBytesArg("key", key);
    checkExpectedArg("expected", expected);
    checkBytesArg("next", next);
    const r = await this.single({ type: "cas", key, expected, value: next }, opts);
    return r.found ? { swapped: r.swapped, current: r.value } : { swapped: r.swapped };
  }

  /**
   * Runs `ops`, split per shard: each shard's ops (in their order) are one atomic write; the
   * per-shard writes run concurrently and are NOT atomic with each other. Results are in the
   * order of `ops`. If any part fails, the call rejects with the first failure once every part
   * has finished (the other parts may have been applied). `opts` as for get; an abort or a
   * deadline ends every part.
   */
  async batch(ops: readonly BatchOp[], opts?: CallOptions): Promise<BatchResult[]> {
    checkBatchArg(ops);
    const limits = callLimits(opts, this.deadlineMs);
    if (ops.length === 0) return [];
    checkCount("batch", "batch", ops.length, writeOpsMax, "ops");
    const wire = ops.map(wireOp);
    const total = wire.reduce((n, w) => n + w.bytes, 0);
    checkLimit("batch", "batch (keys, values and expected values)", total, writeBytesMax);
    this.checkOpen();
    const byShard = new Map<ShardId, number[]>();
    wire.forEach((w, i) => {
      const s = this.shardOf(w.key);
      const list = byShard.get(s);
      if (list) list.push(i);
      else byShard.set(s, [i]);
    });
    const results = new Array<BatchResult>(ops.length);
    const parts = await Promise.allSettled([...byShard].map(async ([shard, idx]) => {
      const rs = await this.write("batch", shard, idx.map((i) => wire[i]!.op), idx.reduce((n, i) => n + wire[i]!.bytes, 0), limits);
      idx.forEach((i, j) => (results[i] = resultOf(rs[j])));
    }));
    const failed = parts.find((p): p is PromiseRejectedResult => p.status === "rejected");
    if (failed) throw failed.reason;
    return results;
  }

  /** Stops NATS and closes every connection; later operations fail with StoppedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
    this.transport.close();
    void this.nc?.close().catch(() => undefined);
    this.nc = undefined;
  }

  // ---- internals ----

  private shardOf(key: Uint8Array): ShardId {
    return shardOf(key, this.config!.shards.length);
  }

  private checkOpen(): void {
    if (this.closed) throw new StoppedError("shardkv client");
  }

  private async single(op: BatchOp, opts: CallOptions | undefined): Promise<BatchResult> {
    const limits = callLimits(opts, this.deadlineMs);
    const w = wireOp(op);
    this.checkOpen();
    const rs = await this.write(op.type, this.shardOf(w.key), [w.op], w.bytes, limits);
    return resultOf(rs[0]);
  }

  /** One write request (one seq for every attempt) to the group serving `shard`. */
  private async write(
    what: string, shard: ShardId, ops: kvpb.kv.Op.$Properties[], bytes: number, limits: CallLimits,
  ): Promise<kvpb.kv.OpResult.$Properties[]> {
    const seq = this.nextSeq++;
    try {
      const r = await this.onShard(what, shard, bytes, (ch, deadline, keepUntil) => ch.write({
        id: { clientId: this.clientId, seq, ackedBelow: this.lowUnacked },
        shard,
        ops,
      }, deadline, keepUntil), limits);
      return r.results;
    } finally {
      // Answered, or abandoned at the deadline / on a final error: never sent again.
      this.doneAbove.add(seq);
      while (this.doneAbove.delete(this.lowUnacked)) this.lowUnacked++;
    }
  }

  /** Waits `ms`, or less when `signal` aborts (the caller then checks it). */
  private sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepUnlessAborted(this.clock, ms, signal);
  }

  private backoffMs(attempt: number, end: number): number {
    const ms = Math.min(500, 10 * 2 ** Math.min(attempt, 6)) * (0.5 + this.rng.float());
    return Math.min(ms, Math.max(0, end - this.clock.nowMs()));
  }

  /** The Batch stream to the server at `address` (one per server, opened on first use). */
  private channel(address: string): BatchChannel {
    let c = this.channels.get(address);
    if (!c) {
      c = new BatchChannel(this.channelEnv, address);
      this.channels.set(address, c);
    }
    return c;
  }

  /**
   * Runs `call` against the group serving `shard` until it succeeds, fails finally
   * (InvalidArgument), the deadline passes (TimeoutError saying what the group's servers
   * answered) or the signal aborts (AbortError, at once; nothing more is sent). `bytes`: the
   * request's keys and values (its attempts get time for them).
   *
   * A timed-out attempt is most often a request or an answer lost on the way: the same server
   * is asked again at once, with the same deadline; a second timeout in a row there, or one
   * of a deadline already at the cap, moves on to the next server at once (a dead or stopping
   * server fails its stream at once instead). A timed-out attempt is not abandoned: it was
   * maybe only slow, and its answer, arriving while a later attempt is out, completes the
   * operation (every attempt carries the same request: for a write the same client id and
   * seq, whose one execution all answers report; a get's answer reads at a point inside the
   * operation's interval).
   */
  private async onShard<T>(
    what: string, shard: ShardId, bytes: number,
    call: (ch: BatchChannel, deadline: number, keepUntil: number) => Promise<T>, limits: CallLimits,
  ): Promise<T> {
    const { deadlineMs, signal } = limits;
    const end = this.clock.nowMs() + deadlineMs;
    const op = `${what} on shard ${shard}`;
    let attempt = 0;
    let hops = 0;
    let timedOut = 0;
    let timedOutAt: string | undefined;
    /** Timed-out attempts of this operation that may still be answered (LateTimeoutError). */
    const late: Promise<T>[] = [];
    /** The failures of the group tried last, or why no group was tried. */
    let failures: ServerFailures | undefined;
    let failuresGid = 0;
    let unassigned: string | undefined;
    const pause = (p: Promise<void>): Promise<void> => abortable(p, signal, op);
    for (;;) {
      this.checkOpen();
      throwIfAborted(signal, op);
      const now = this.clock.nowMs();
      if (now >= end) throw failures?.timeout(op, deadlineMs) ?? new TimeoutError(op, deadlineMs, { reason: unassigned });
      const cfg = this.config!;
      const gid = cfg.shards[shard] ?? (0 as GroupId);
      const servers = gid === 0 ? undefined : cfg.groups.get(gid);
      if (!servers || servers.length === 0) {
        // Unassigned in the config we know: a newer one may assign it.
        failures = undefined;
        unassigned = cfg.groups.size === 0
          ? `no group has joined the cluster yet (config ${cfg.num})`
          : `shard ${shard} is not assigned to any group (config ${cfg.num})`;
        await pause(this.refreshQuietly(end));
        await this.sleep(this.backoffMs(attempt++, end), signal);
        continue;
      }
      if (!failures || failuresGid !== gid) {
        failures = new ServerFailures(groupNaming(gid), servers);
        failuresGid = gid;
      }
      const target = this.leaders.get(gid) ?? servers[(this.nextServer.get(gid) ?? 0) % servers.length]!;
      // BUGGIFY: a deadline far too short (a timer misled by fast answers): the attempt times
      // out and the request is asked again with the same seq.
      const short = buggifyAmount("client.attempt.short", 50);
      const timerMs = this.kvTimer.attemptMs(bytes, timedOut);
      const sized = short > 0 ? Math.min(short, timerMs) : timerMs;
      const attemptMs = Math.max(1, Math.min(sized, end - now));
      try {
        const sent = call(this.channel(target), now + attemptMs, end);
        const r = await abortable(late.length === 0 ? sent : Promise.race([sent, ...late]), signal, op);
        // Karn's rule: once an attempt timed out, whose answer this is stays unknown.
        if (late.length === 0) this.kvTimer.observe(this.clock.nowMs() - now);
        this.leaders.set(gid, target);
        return r;
      } catch (e) {
        if (e instanceof AbortError) throw e;
        if (this.closed) throw new StoppedError("shardkv client");
        let err = asClientError(e, target);
        if (isFinal(err)) throw err;
        const lost = err instanceof TimeoutError && err.afterMs === 0;
        if (e instanceof LateTimeoutError) late.push(e.late as Promise<T>);
        if (lost) {
          // A transport deadline: say which attempt. One cut short by the caller's deadline
          // says nothing new; keep the previous failures for the final message.
          if (failures.cause && attemptMs < sized) continue;
          err = new TimeoutError(`attempt at ${target}`, attemptMs);
          timedOut++;
          if (timedOutAt !== target && sized < this.attemptMs) {
            // The first timeout here, of a deadline sized to the answers seen: most likely
            // a lost request or answer; ask the same server again at once.
            timedOutAt = target;
            failures.record(target, err);
            continue;
          }
        } else {
          // An answer (an error one): its round trip counts like a success's.
          this.kvTimer.observe(this.clock.nowMs() - now);
        }
        timedOutAt = undefined;
        failures.record(target, err);
        if (err instanceof NotLeaderError && err.leaderAddress && err.leaderAddress !== target && hops < 3) {
          // Follow the hint at once, a few hops in a row (stale hints fall through to backoff).
          hops++;
          this.leaders.set(gid, err.leaderAddress);
          continue;
        }
        hops = 0;
        if (err instanceof WrongGroupError) {
          const before = this.config!.num;
          await pause(this.refreshQuietly(end));
          // A newer config may route elsewhere: retry at once; otherwise wait for the
          // servers (or the controller) to catch up.
          if (this.config!.num > before) continue;
        } else if (!(err instanceof BackpressureError)) {
          // NotLeader without a usable hint, timeout, unreachable, internal: next server.
          this.leaders.delete(gid);
          const next = ((this.nextServer.get(gid) ?? 0) + 1) % servers.length;
          this.nextServer.set(gid, next);
          if (next === 0) {
            // Every server of the group failed in turn: the group may have left and been
            // stopped (it answers no WrongGroup then); a newer config routes elsewhere.
            const before = this.config!.num;
            await pause(this.refreshQuietly(end));
            if (this.config!.num > before) continue;
          }
        }
        // After a timeout the next server is asked at once: the wait was the timeout.
        if (!lost) await this.sleep(this.backoffMs(attempt++, end), signal);
      }
    }
  }

  /** Installs `c` if it is newer than the config we have. */
  private install(c: Config): void {
    if (c.shards.length === 0) return; // not a usable config (malformed reply)
    if (!this.config || c.num > this.config.num) this.config = c;
  }

  /**
   * Queries the latest config until it succeeds, the deadline passes (TimeoutError saying
   * what the controllers answered) or the signal aborts (AbortError).
   */
  private async loadConfig({ deadlineMs, signal }: CallLimits): Promise<void> {
    const end = this.clock.nowMs() + deadlineMs;
    const failures = new ServerFailures(controllerNaming, this.opts.controllers);
    let attempt = 0;
    for (;;) {
      throwIfAborted(signal, "connect");
      if (this.clock.nowMs() >= end) throw failures.timeout("connect", deadlineMs);
      try {
        this.install(await abortable(this.queryOnce(end, failures), signal, "connect"));
        if (this.config) return;
      } catch (e) {
        if (e instanceof AbortError || isFinal(e)) throw e;
      }
      await this.sleep(this.backoffMs(attempt++, end), signal);
    }
  }

  /**
   * Refreshes the config (errors swallowed: the caller retries anyway). Concurrent callers
   * share one query, and queries start at most every configRefreshMinMs.
   */
  private refreshQuietly(end: number): Promise<void> {
    if (this.refreshing) return this.refreshing;
    const p = (async () => {
      try {
        const wait = this.lastRefreshAt + configRefreshMinMs - this.clock.nowMs();
        if (wait > 0) await this.sleep(Math.min(wait, Math.max(0, end - this.clock.nowMs())));
        this.lastRefreshAt = this.clock.nowMs();
        this.install(await this.queryOnce(end));
      } catch {
        // Retried by the caller's loop.
      } finally {
        this.refreshing = undefined;
      }
    })();
    this.refreshing = p;
    return p;
  }

  /**
   * One Query(-1) round: the cached controller leader (or the next replica), following hints;
   * each replica's failure is recorded in `failures`. Throws the last failure.
   */
  private async queryOnce(end: number, failures?: ServerFailures): Promise<Config> {
    const ctls = this.opts.controllers;
    let last: ShardKVError | undefined;
    let timedOut = 0;
    // Attempts of at least 1 ms (a gRPC deadline must be in the future): none once less is left.
    for (let tries = 0; tries < ctls.length + 3 && end - this.clock.nowMs() >= 1; tries++) {
      this.checkOpen();
      const target = this.ctlLeader ?? ctls[this.ctlNext % ctls.length]!;
      const sent = this.clock.nowMs();
      const sized = this.ctlTimer.attemptMs(0, timedOut);
      const attemptMs = Math.max(1, Math.min(sized, end - sent));
      try {
        const r = await this.transport.query(target, { num: -1 }, attemptMs);
        this.ctlTimer.observe(this.clock.nowMs() - sent);
        this.ctlLeader = target;
        const c = configFromWire(r.config ?? {});
        if (c.shards.length === 0) throw new InternalError("the controller returned a config without shards");
        return c;
      } catch (e) {
        const err = asClientError(e, `controller ${target}`);
        if (isFinal(err)) throw err;
        if (err instanceof TimeoutError) {
          // An attempt cut short by the caller's deadline says nothing new: keep the
          // failures seen so far for the final message.
          if (attemptMs < sized && (last || failures?.cause)) break;
          timedOut++;
        } else {
          this.ctlTimer.observe(this.clock.nowMs() - sent);
        }
        last = err;
        failures?.record(target, err);
        if (err instanceof NotLeaderError && err.leaderAddress && err.leaderAddress !== target) {
          this.ctlLeader = err.leaderAddress;
          continue;
        }
        this.ctlLeader = undefined;
        this.ctlNext++;
      }
    }
    throw last ?? new TimeoutError("config query", this.deadlineMs);
  }

  /**
   * Subscribes to config pushes. NATS is only a hint: an unreachable server is retried in the
   * background with backoff, and a push only triggers a (rate-limited) Query of the
   * controllers (a push from another cluster on the same subject is harmless).
   */
  private startNats(url: string): void {
    let attempt = 0;
    const tryConnect = async (): Promise<void> => {
      if (this.closed) return;
      let nc: NatsConnection;
      try {
        // Loaded on first use: most clients (every CLI call without --nats) never need it, and
        // loading it costs about 80 ms of CPU, a fifth of a whole `shardkv get`.
        const { connect: natsConnect } = await import("nats");
        nc = await natsConnect({ servers: url, reconnect: true, maxReconnectAttempts: -1, timeout: 2000, ...natsTls(url, this.opts.tls) });
      } catch {
        attempt++;
        this.clock.after(Math.min(30_000, 200 * 2 ** Math.min(attempt, 8)) * (0.5 + this.rng.float()), () => void tryConnect());
        return;
      }
      if (this.closed) {
        void nc.close().catch(() => undefined);
        return;
      }
      this.nc = nc;
      nc.subscribe(natsConfigSubject, {
        callback: (err, msg) => {
          if (err || this.closed) return;
          let pushed: Config;
          try {
            pushed = decodeConfig(msg.data);
          } catch {
            return;
          }
          if (this.config && pushed.num > this.config.num) {
            void this.refreshQuietly(this.clock.nowMs() + this.deadlineMs);
          }
        },
      });
    };
    void tryConnect();
  }
}
