/**
 * The client side of `ShardKV.Batch` (proto/shardkv.proto, shard-server/batch-stream.ts): one
 * long-lived bidirectional stream per shard server, carrying every Get and Write the client
 * sends there. Requests made in the same event-loop turn leave as one message (split at
 * `batchSendBytesMax`); answers come back by request id, in any order.
 *
 * Deadlines without a timer per request: one sweep every `sweepMs` while anything is in
 * flight fails the requests whose deadline passed with TimeoutError(afterMs 0), the same
 * error a unary call's transport deadline gives (the caller treats it as "this attempt
 * timed out"). A request sent with `keepUntil` beyond its deadline fails with
 * LateTimeoutError instead and stays in flight until then: its answer, if it comes, settles
 * the error's `late` promise (an error answer is ignored), so a caller that retried the
 * request can take whichever answer comes first. Otherwise a late answer is dropped.
 *
 * A stream that fails or ends fails every request in flight on it (UnreachableError naming
 * the server for a refused or lost connection, StoppedError for a stopping server: the caller
 * retries, writes with the same request id); the next request opens a new stream.
 *
 * The stream comes from the client's transport (client/transport.ts); time from its clock
 * (deadlines are instants of that clock), and "the same turn" ends when `defer` runs its
 * callback (the real one: the next macrotask).
 */
import type { Cancel, Clock } from "../common/env";
import { InternalError, StoppedError, TimeoutError, UnreachableError, type ShardKVError } from "../common/errors";
import { kvStreamBatchBytesMax } from "../common/limits";
import { buggify } from "../common/buggify";
import { nextTurn, realClock } from "../common/real-env";
import { fromWireError } from "../common/wire-errors";
import type { shardkv } from "../proto/gen/shardkv.js";
import type { BatchStream, ClientTransport } from "./transport";

type Request = shardkv.kv.BatchRequest.IRequest;
type Response = shardkv.kv.BatchResponse.IResponse;

/** Key and value bytes per request message; a larger turn is split over several messages. */
export const batchSendBytesMax = kvStreamBatchBytesMax;
/** How often requests in flight are checked against their deadlines. */
export const sweepMs = 20;

interface Pending {
  /** Settles the caller's promise with `reply` of the answer. */
  readonly resolve: (v: never) => void;
  readonly reject: (e: ShardKVError) => void;
  /** The caller's part of an answer (throws for a malformed one). */
  readonly reply: (r: Response) => unknown;
  /** On the channel's clock (ms). */
  readonly deadline: number;
  /** The instant (the channel's clock, ms) until which a timed-out request still waits for a late answer (0: not). */
  readonly keepUntil: number;
}

/**
 * An attempt that timed out (afterMs 0, as a transport deadline) whose request is still in
 * flight: `late` resolves with its answer if one arrives before the `keepUntil` it was sent
 * with, and never settles otherwise.
 */
export class LateTimeoutError<T> extends TimeoutError {
  constructor(readonly late: Promise<T>) {
    super("call", 0);
  }
}

function getReplyOf(r: Response): shardkv.kv.GetReply {
  if (!r.get) throw new InternalError(`batch answer ${r.requestId} to a get carries no get reply`);
  return r.get as shardkv.kv.GetReply;
}

function writeReplyOf(r: Response): shardkv.kv.WriteReply {
  if (!r.write) throw new InternalError(`batch answer ${r.requestId} to a write carries no write reply`);
  return r.write as shardkv.kv.WriteReply;
}

/** Where a channel's stream, time and turns come from. */
export interface BatchChannelEnv {
  readonly transport: Pick<ClientTransport, "openBatch">;
  readonly clock: Clock;
  /** Runs `fn` once the current turn's requests are all queued (real: the next macrotask). */
  readonly defer: (fn: () => void) => void;
}

/** The real clock and turns, over `transport`. */
export const realChannelEnv = (transport: Pick<ClientTransport, "openBatch">): BatchChannelEnv =>
  ({ transport, clock: realClock, defer: nextTurn });

export class BatchChannel {
  private call: BatchStream | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private outbox: Request[] = [];
  private outboxBytes = 0;
  private flushQueued = false;
  /** Cancels the next sweep; set while anything is in flight. */
  private cancelSweep: Cancel | undefined;
  private closed = false;

  /** `server`: the server's address (the transport's, named in errors). */
  constructor(private readonly env: BatchChannelEnv, private readonly server: string) {}

  /** A linearizable read; `deadline` and `keepUntil` (see LateTimeoutError) are instants of the env's clock (ms). */
  get(req: shardkv.kv.GetRequest.$Properties, deadline: number, keepUntil = 0): Promise<shardkv.kv.GetReply> {
    return this.send({ get: req }, req.key?.length ?? 0, deadline, keepUntil, getReplyOf);
  }

  /** One write request; `deadline` and `keepUntil` as for get. */
  write(req: shardkv.kv.WriteRequest.$Properties, deadline: number, keepUntil = 0): Promise<shardkv.kv.WriteReply> {
    let bytes = 0;
    for (const op of req.ops ?? []) bytes += (op.key?.length ?? 0) + (op.value?.length ?? 0) + (op.expected?.length ?? 0);
    return this.send({ write: req }, bytes, deadline, keepUntil, writeReplyOf);
  }

  /** Fails everything in flight and closes the stream; later requests fail with StoppedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new StoppedError("shardkv client"));
    this.call?.end();
    this.call = undefined;
  }

  private send<T>(req: Omit<Request, "requestId">, bytes: number, deadline: number, keepUntil: number, reply: (r: Response) => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoppedError("shardkv client"));
    const requestId = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, reply, deadline, keepUntil: keepUntil > deadline ? keepUntil : 0 });
      if (this.outboxBytes + bytes > batchSendBytesMax) this.flush();
      this.outbox.push({ requestId, ...req });
      this.outboxBytes += bytes;
      if (buggify("client.batch.flush-each")) this.flush();
      else if (!this.flushQueued) {
        this.flushQueued = true;
        this.env.defer(() => this.flush());
      }
      this.armSweep();
    });
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.outbox.length === 0 || this.closed) return;
    const requests = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    this.stream().write({ requests });
  }

  private stream(): BatchStream {
    if (this.call) return this.call;
    let open = true;
    const broken = (e: ShardKVError): void => {
      if (!open) return;
      open = false;
      if (this.call === call) this.call = undefined;
      this.failAll(e);
    };
    const call = this.env.transport.openBatch(this.server, {
      onMessage: (msg) => {
        if (open) this.receive(msg);
      },
      onError: broken,
      onEnd: () => broken(new UnreachableError(this.server, "the server closed the connection")),
    });
    this.call = call;
    return call;
  }

  private receive(msg: shardkv.kv.BatchResponse.$Properties): void {
    for (const r of msg.responses ?? []) {
      const id = r.requestId ?? 0;
      const p = this.pending.get(id);
      if (!p) continue; // timed out meanwhile
      this.pending.delete(id);
      if (r.error) {
        p.reject(fromWireError(r.error));
        continue;
      }
      let v: unknown;
      try {
        v = p.reply(r);
      } catch (e) {
        p.reject(e as ShardKVError);
        continue;
      }
      p.resolve(v as never);
    }
    this.idle();
  }

  private armSweep(): void {
    this.cancelSweep ??= this.env.clock.after(sweepMs, () => {
      this.cancelSweep = undefined;
      this.sweep();
    });
  }

  private sweep(): void {
    const now = this.env.clock.nowMs();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      if (p.keepUntil > now) {
        // Still in flight for a late answer, which settles `late`; failures are dropped.
        let answered: (v: never) => void = () => undefined;
        const late = new Promise<unknown>((resolve) => (answered = resolve));
        this.pending.set(id, { resolve: answered, reject: () => undefined, reply: p.reply, deadline: p.keepUntil, keepUntil: 0 });
        p.reject(new LateTimeoutError(late));
        continue;
      }
      this.pending.delete(id);
      p.reject(new TimeoutError("call", 0));
    }
    if (this.pending.size > 0) this.armSweep();
  }

  /** Stops the sweep when nothing is in flight. */
  private idle(): void {
    if (this.pending.size > 0 || this.cancelSweep === undefined) return;
    this.cancelSweep();
    this.cancelSweep = undefined;
  }

  private failAll(e: ShardKVError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.outbox = [];
    this.outboxBytes = 0;
    for (const p of all) p.reject(e);
    this.idle();
  }
}
