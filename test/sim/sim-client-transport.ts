/**
 * The client library's transport (client/transport.ts) over the simulator's RPC network
 * (shard-rpc.ts's SimRpcNet: seeded delays, drops, duplicates, isolation, paused and dead
 * processes), so the real `ShardKV` (client/shardkv.ts, client/batch-channel.ts) runs in a
 * simulation against the real server code: a Batch stream is served by
 * shard-server/batch-stream.ts's `serveBatch` over the handlers of the target's live service
 * (for a shard server: shard-server/wire-handlers.ts over its ShardService), a Query by the
 * controller handler given. Every message goes through its protobuf encoding, as on the wire;
 * errors through their wire form (common/wire-errors.ts). Time is the SimClock's, and
 * serveBatch's "end of the turn" is a timer of 0 ms on it.
 *
 * A Batch stream, as modelled:
 * - Opening it takes a one-way delay; a server that is down refuses it (the client sees
 *   UnreachableError "connection refused"); a paused one holds it, and every message, until it
 *   resumes.
 * - Messages each way arrive in order, each after its own seeded delay. A message may be lost
 *   alone (the network's drop rate: the same fault as the daemons' drop-request/drop-reply
 *   failpoints; the client times the request out and retries it) or, for requests, duplicated
 *   (the server runs its requests twice; duplicate detection must absorb it).
 * - A message that an isolation cuts breaks the stream `brokenAfterMs` later (gRPC keepalive
 *   notices a dead connection): the client sees UnreachableError "connection lost", the
 *   server its stream closed.
 * - A server incarnation that died takes its streams with it: its answers are never sent, and
 *   the next message either way breaks the stream ("connection reset").
 * - Back-pressure: the server's `write` returns false while `sendWindow` answer messages are
 *   in flight to the client; it drains as they arrive.
 */
import type { BatchStream, BatchStreamHandlers, ClientTransport } from "../../client/transport";
import { type ShardKVError, TimeoutError, UnreachableError } from "../../common/errors";
import { fromWireError, toWireError } from "../../common/wire-errors";
import { shardkv as ctlpb } from "../../proto/gen/controller.js";
import { shardkv as kvpb } from "../../proto/gen/shardkv.js";
import { type BatchHandlers, type BatchServerStream, type BatchSession, serveBatch } from "../../shard-server/batch-stream";
import type { SimClock } from "./clock";
import type { RpcEndpoint, SimRpcNet } from "./shard-rpc";

export interface SimClientTransportOptions<C, S> {
  readonly net: SimRpcNet;
  readonly clock: SimClock;
  /** The client's own address on the network (isolating it cuts its messages). */
  readonly self: string;
  /** Answers a Query at a controller replica's live service (what the address's endpoint serves). */
  readonly query: (ctl: C, req: ctlpb.controller.QueryRequest) => Promise<ctlpb.controller.QueryReply.$Properties>;
  /** The Batch handlers of a shard server's live service. */
  readonly batch: (server: S) => BatchHandlers;
  /** How long after a message a cut lost the stream breaks (default 1000 ms). */
  readonly brokenAfterMs?: number;
  /** Answer messages in flight to the client before the server's write reports back-pressure (default 4). */
  readonly sendWindow?: number;
  /** Whether the client process is alive (default always): a dead one receives nothing. */
  readonly alive?: () => boolean;
  readonly trace?: (line: string) => void;
}

/** What the transport did, for a run's summary. */
export interface SimClientTransportStats {
  streamsOpened: number;
  /** Streams broken by a cut, a dead server or a refused connection. */
  streamsBroken: number;
  requestMessages: number;
  answerMessages: number;
  /** Server writes that reported back-pressure. */
  backpressured: number;
  queries: number;
}

/** A protobuf message through its encoding and back (what the wire does to it). */
function wire<T, P>(type: { encode(m: P): { finish(): Uint8Array }; decode(b: Uint8Array): T }, m: P): T {
  return type.decode(type.encode(m).finish());
}

/** A typed error through its wire form. */
const wireError = (e: unknown): ShardKVError => fromWireError(toWireError(e));

export class SimClientTransport<C, S> implements ClientTransport {
  readonly stats: SimClientTransportStats = { streamsOpened: 0, streamsBroken: 0, requestMessages: 0, answerMessages: 0, backpressured: 0, queries: 0 };
  private readonly streams = new Set<SimBatchStream<S>>();
  private closed = false;

  constructor(readonly opts: SimClientTransportOptions<C, S>) {}

  query(address: string, req: ctlpb.controller.QueryRequest.$Properties, timeoutMs: number): Promise<ctlpb.controller.QueryReply.$Properties> {
    this.stats.queries++;
    const o = this.opts;
    const sent = wire(ctlpb.controller.QueryRequest, req);
    return o.net.call<C, Uint8Array>(o.self, address, `query ${sent.num}`, async (ctl) => {
      try {
        return ctlpb.controller.QueryReply.encode(await o.query(ctl, sent)).finish();
      } catch (e) {
        throw wireError(e);
      }
    }, {
      timeoutMs,
      callerAlive: () => !this.closed && (o.alive?.() ?? true),
      // What client/grpc-transport.ts makes of a passed deadline and a refused connection.
      timeoutError: () => new TimeoutError(`call to controller ${address}`, 0),
      refusedError: () => new UnreachableError(`controller ${address}`, "connection refused"),
    }).then((b) => ctlpb.controller.QueryReply.decode(b));
  }

  openBatch(address: string, handlers: BatchStreamHandlers): BatchStream {
    this.stats.streamsOpened++;
    const s = new SimBatchStream<S>(this, address, handlers, () => this.streams.delete(s));
    this.streams.add(s);
    return s;
  }

  close(): void {
    this.closed = true;
    for (const s of [...this.streams]) s.break("the client closed the connection", 0);
  }

  /** Whether the client can receive (not closed, process alive). */
  receiving(): boolean {
    return !this.closed && (this.opts.alive?.() ?? true);
  }
}

/**
 * Messages one way on one stream: each after its own delay, never overtaking an earlier one.
 * `deliver` returning false holds the head (a paused receiver) and retries it every 10 ms.
 */
class Lane<T> {
  private readonly queue: { readonly at: number; readonly item: T }[] = [];
  private lastAt = 0;
  private retrying = false;

  constructor(private readonly clock: SimClock, private readonly deliver: (item: T) => boolean) {}

  push(item: T, delayMs: number): void {
    const at = Math.max(this.clock.nowMs() + delayMs, this.lastAt);
    this.lastAt = at;
    this.queue.push({ at, item });
    this.clock.after(at - this.clock.nowMs(), () => this.pump());
  }

  private pump(): void {
    while (this.queue.length > 0 && this.queue[0]!.at <= this.clock.nowMs()) {
      if (!this.deliver(this.queue[0]!.item)) {
        if (!this.retrying) {
          this.retrying = true;
          this.clock.after(10, () => {
            this.retrying = false;
            this.pump();
          });
        }
        return;
      }
      this.queue.shift();
    }
  }
}

type Up = { readonly open: true } | { readonly msg: Uint8Array } | { readonly end: true };
type Down = { readonly msg: Uint8Array } | { readonly end: true } | { readonly error: ShardKVError };

/** One Batch stream between the client and the server at `address`. */
class SimBatchStream<S> implements BatchStream {
  private readonly up: Lane<Up>;
  private readonly down: Lane<Down>;
  private session: BatchSession | undefined;
  private ep: RpcEndpoint<S> | undefined;
  /** The incarnation of the server that accepted the stream. */
  private gen = -1;
  private broken = false;
  /** Answer messages sent and not yet arrived (the server's back-pressure window). */
  private inFlight = 0;
  private blocked = false;

  constructor(
    private readonly t: SimClientTransport<never, S>,
    private readonly address: string,
    private readonly handlers: BatchStreamHandlers,
    private readonly onDone: () => void,
  ) {
    const clock = t.opts.clock;
    this.up = new Lane<Up>(clock, (i) => this.arrive(i));
    this.down = new Lane<Down>(clock, (i) => this.receive(i));
    this.trace(`open`);
    this.up.push({ open: true }, t.opts.net.delay());
  }

  write(msg: kvpb.kv.BatchRequest.$Properties): void {
    if (this.broken) return;
    this.t.stats.requestMessages++;
    const net = this.t.opts.net;
    const bytes = kvpb.kv.BatchRequest.encode(msg).finish();
    const copies = net.duplicate() ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.lost(this.t.opts.self, this.address)) continue;
      this.up.push({ msg: bytes }, net.delay());
    }
  }

  end(): void {
    if (this.broken) return;
    this.up.push({ end: true }, this.t.opts.net.delay());
    this.done();
  }

  /** Breaks the stream `afterMs` from now: the client sees UnreachableError(reason), the server its stream closed. */
  break(reason: string, afterMs: number): void {
    if (this.broken) return;
    this.broken = true;
    this.t.stats.streamsBroken++;
    this.trace(`broken in ${afterMs} ms: ${reason}`);
    this.t.opts.clock.after(afterMs, () => {
      this.session?.closed();
      if (this.t.receiving()) this.handlers.onError(new UnreachableError(this.address, reason));
    });
    this.done();
  }

  private done(): void {
    this.onDone();
  }

  private trace(what: string): void {
    this.t.opts.trace?.(`batch ${this.t.opts.self}->${this.address} ${what}`);
  }

  /** Whether one message is lost; a cut one breaks the stream later. */
  private lost(from: string, to: string): boolean {
    const net = this.t.opts.net;
    if (!net.lost(from, to)) return false;
    if (net.cut(from, to)) this.break("connection lost", this.t.opts.brokenAfterMs ?? 1000);
    return true;
  }

  /** Whether the incarnation that accepted the stream is still the live one. */
  private serverLive(): boolean {
    return this.ep !== undefined && this.ep.generation() === this.gen && this.ep.service() !== undefined;
  }

  /** A message at the server; false: the server is paused (held). */
  private arrive(i: Up): boolean {
    if (this.broken) return true;
    const net = this.t.opts.net;
    if ("open" in i) {
      const ep = net.endpoint<S>(this.address);
      if (ep?.paused()) return false;
      const svc = ep?.service();
      if (ep === undefined || svc === undefined) {
        this.break("connection refused", net.delay());
        return true;
      }
      this.ep = ep;
      this.gen = ep.generation();
      const clock = this.t.opts.clock;
      this.session = serveBatch(this.serverSide(), this.t.opts.batch(svc), { defer: (fn) => void clock.after(0, fn) });
      return true;
    }
    if (this.ep?.paused()) return false;
    if (!this.serverLive()) {
      this.break("connection reset", net.delay());
      return true;
    }
    if ("end" in i) this.session!.clientEnded();
    else this.session!.receive(kvpb.kv.BatchRequest.decode(i.msg));
    return true;
  }

  /** The server's end of the stream, as serveBatch sees it. */
  private serverSide(): BatchServerStream {
    const net = this.t.opts.net;
    const window = this.t.opts.sendWindow ?? 4;
    const send = (d: Down): boolean => {
      if (this.broken) return true;
      if (!this.serverLive()) {
        // A dead incarnation sends nothing; the client learns it at its next message.
        return true;
      }
      if (this.lost(this.address, this.t.opts.self)) return this.inFlight < window;
      this.inFlight++;
      this.down.push(d, net.delay());
      if (this.inFlight < window) return true;
      this.t.stats.backpressured++;
      this.blocked = true;
      return false;
    };
    return {
      write: (msg) => {
        this.t.stats.answerMessages++;
        return send({ msg: kvpb.kv.BatchResponse.encode(msg).finish() });
      },
      end: () => void send({ end: true }),
      fail: (e) => void send({ error: wireError(e) }),
    };
  }

  /** A message at the client. */
  private receive(d: Down): boolean {
    this.inFlight--;
    if (this.blocked && this.inFlight < (this.t.opts.sendWindow ?? 4)) {
      this.blocked = false;
      this.session?.drained();
    }
    if (this.broken || !this.t.receiving()) return true;
    if ("msg" in d) this.handlers.onMessage(kvpb.kv.BatchResponse.decode(d.msg));
    else {
      this.broken = true;
      this.done();
      if ("end" in d) this.handlers.onEnd();
      else this.handlers.onError(d.error);
    }
    return true;
  }
}
