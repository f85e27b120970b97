/**
 * The real transport between Raft replicas: one long-lived gRPC client stream
 * (RaftTransport.Send, proto/raft.proto; its definition is generated into
 * proto/gen/raft-grpc.ts) from each replica to each peer, carrying MessageBatch frames; the
 * server answers with one SendAck when the client half-closes (or when it shuts the stream
 * down).
 *
 * Sending side (GrpcTransport): `send()` encodes each message once, appends it to the peer's
 * bounded queue and returns; a microtask later (so everything sent in one event-loop turn
 * lands in one batch) the queue is drained into batches of at most `batchBytesMax` bytes and
 * written to the stream, respecting the stream's back-pressure. When the stream fails or the
 * peer is down, messages keep queueing up to the bound (then new ones are dropped and
 * counted: Raft retries) while the link reconnects with jittered exponential backoff.
 *
 * Receiving side (RaftTransportServer): one per grpc.Server; validates every message with
 * raft/codec.ts and routes each batch by (group, to) to the replica registered for it.
 *
 * Unreliable by contract (raft/transport/transport.ts): messages written to a stream that
 * then fails are lost; messages are never reordered within one peer link.
 */
import * as grpc from "@grpc/grpc-js";
import { shardkv } from "../../proto/gen/raft.js";
import { assert } from "../../common/assert";
import type { Cancel, Clock, Logger, Rng } from "../../common/env";
import { silentLogger } from "../../common/env";
import { InvalidArgumentError } from "../../common/errors";
import { MiB, overLimit, raftBatchBytesMax, transportMessageBytesMax } from "../../common/limits";
import type { GroupId, NodeId } from "../../common/ids";
import { messageFromWire, messageToWire } from "../codec";
import type { Message } from "../core/types";
import type { Transport, TransportStats } from "./transport";
import { type Security, logRefusedHandshakes } from "../../security/credentials";
import { asBuffer } from "../../common/bytes";
import { raftTransportService, type RaftTransportImplementation } from "../../proto/gen/raft-grpc";

const pb = shardkv.raft;

/**
 * Largest gRPC message (one MessageBatch frame) either side accepts, in bytes: 16 MiB
 * (common/limits.ts). Used for `grpc.max_send_message_length` /
 * `grpc.max_receive_message_length` on both the client channels and the server, and an upper
 * bound for `batchBytesMax`. Raft proposes no entry that would not fit in it
 * (`raftEntryBytesMax`), so every message Raft makes can be shipped.
 */
export const grpcMessageBytesMax = transportMessageBytesMax;

/** Default bound of one peer's send queue, in messages. */
export const peerQueueMessagesMax = 4096;
/** Default bound of one peer's send queue, in encoded bytes (64 MiB). */
export const peerQueueBytesMax = 64 * MiB;
/**
 * Default bound of one MessageBatch frame of several messages, in encoded bytes (4 MiB); a
 * larger single message goes alone in its frame.
 */
export const batchBytesMax = raftBatchBytesMax;
/**
 * Default bound of bytes handed to one gRPC stream whose write has not completed yet (8 MiB):
 * with the queue bound this caps the memory a slow peer can pin.
 */
export const streamBytesInflightMax = 8 * MiB;

/**
 * Options for the grpc.Server that hosts a RaftTransportServer: message size limits
 * consistent with the client channels. A server created with smaller limits rejects large
 * batches (grpc-js defaults to 4 MiB received).
 */
export const raftGrpcServerOptions: grpc.ServerOptions = {
  "grpc.max_receive_message_length": grpcMessageBytesMax,
  "grpc.max_send_message_length": grpcMessageBytesMax,
};

/** Byte and count limits of a GrpcTransport; every field has a default (the constants above). */
export interface GrpcTransportLimits {
  /** Messages queued per peer before new ones are dropped. Default `peerQueueMessagesMax`. */
  readonly peerQueueMessagesMax: number;
  /** Encoded bytes queued per peer before new messages are dropped. Default `peerQueueBytesMax`. */
  readonly peerQueueBytesMax: number;
  /**
   * Largest MessageBatch frame of several messages, in encoded bytes, <= `grpcMessageBytesMax`.
   * A single larger message goes alone in its frame (up to `grpcMessageBytesMax`). Default
   * `batchBytesMax`.
   */
  readonly batchBytesMax: number;
  /** Bytes written to a stream and not yet flushed by gRPC. Default `streamBytesInflightMax`. */
  readonly streamBytesInflightMax: number;
}

/** Timing of a GrpcTransport, in milliseconds of the injected Clock. */
export interface GrpcTransportTiming {
  /** First reconnect delay (before jitter). Default 50 ms. */
  readonly backoffMinMs: number;
  /** Largest reconnect delay (before jitter); the delay doubles per failed attempt. Default 2000 ms. */
  readonly backoffMaxMs: number;
  /** A stream the peer has not accepted within this time is cancelled and retried. Default 5000 ms. */
  readonly handshakeTimeoutMs: number;
  /** `close()` waits this long for streams to end cleanly before cancelling them. Default 1000 ms. */
  readonly closeGraceMs: number;
}

/** The limits a GrpcTransport uses for every field its options leave out. */
export const defaultGrpcTransportLimits: GrpcTransportLimits = {
  peerQueueMessagesMax,
  peerQueueBytesMax,
  batchBytesMax,
  streamBytesInflightMax,
};

/** The timing a GrpcTransport uses for every field its options leave out. */
export const defaultGrpcTransportTiming: GrpcTransportTiming = {
  backoffMinMs: 50,
  backoffMaxMs: 2000,
  handshakeTimeoutMs: 5000,
  closeGraceMs: 1000,
};

/**
 * The reconnect delay before attempt `attempt + 1` (attempt 0 = first retry), in ms:
 * `min(backoffMaxMs, backoffMinMs * 2^attempt)` with +-20% jitter from `rng`, clamped to
 * [backoffMinMs, backoffMaxMs]. Pure given `rng`.
 */
export function backoffDelayMs(attempt: number, timing: Pick<GrpcTransportTiming, "backoffMinMs" | "backoffMaxMs">, rng: Rng): number {
  const base = Math.min(timing.backoffMaxMs, timing.backoffMinMs * 2 ** Math.min(attempt, 30));
  const jittered = base * (0.8 + 0.4 * rng.float());
  return Math.round(Math.min(timing.backoffMaxMs, Math.max(timing.backoffMinMs, jittered)));
}

/**
 * Counters of one GrpcTransport. `droppedMessages` (from TransportStats) is the sum of the
 * `dropped...` breakdown. `sentMessages`/`sentBatches` count what was handed to a gRPC stream
 * (a stream that then fails loses them, uncounted).
 */
export interface GrpcTransportStats extends TransportStats {
  /** Dropped by send() because the peer's queue was at its message or byte bound. */
  droppedQueueFullMessages: number;
  /**
   * Dropped by send() because the message alone exceeds `grpcMessageBytesMax` (never for what
   * Raft makes: it proposes no entry over `raftEntryBytesMax`).
   */
  droppedOversizedMessages: number;
  /** Dropped by send() because `to` is not a configured peer (or is this replica). */
  droppedUnknownPeerMessages: number;
  /** Still queued when close() ran, or sent after it. */
  droppedClosedMessages: number;
  /** Received while no receiver was set (or after close). */
  droppedNoReceiverMessages: number;
  /** Streams that became established after a previous one ended (reconnections). */
  reconnects: number;
}

/** The state of one peer link: `ready` = stream established, batches flow. */
export type PeerLinkState = "connecting" | "ready" | "backoff" | "closed";

/** A snapshot of one peer link, for status pages and tests. */
export interface PeerStatus {
  readonly id: NodeId;
  readonly address: string;
  readonly state: PeerLinkState;
  /** Whether a stream to the peer is established (state "ready"). */
  readonly connected: boolean;
  readonly queuedMessages: number;
  /** Encoded bytes queued, including per-message framing. */
  readonly queuedBytes: number;
  /** Streams opened so far (successful or not). */
  readonly connectAttempts: number;
}

/** Options of a GrpcTransport: one per replica (group, self). */
export interface GrpcTransportOptions {
  readonly group: GroupId;
  readonly self: NodeId;
  /** Address ("host:port") of every peer of the group; an entry for `self` is ignored. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** How links to peers connect (the process's one Security: mutual TLS or plaintext). */
  readonly security: Security;
  /** Backoff, handshake and close timers; never setTimeout directly. */
  readonly clock: Clock;
  /** Jitter of reconnect backoff. */
  readonly rng: Rng;
  readonly logger?: Logger;
  readonly limits?: Partial<GrpcTransportLimits>;
  readonly timing?: Partial<GrpcTransportTiming>;
}

/** Receives one validated batch: messages all from `from` to the registered replica, in wire order. */
export type BatchReceiver = (messages: Message[], from: NodeId) => void;

/** Counters of one RaftTransportServer. */
export interface RaftTransportServerStats {
  /** Batches delivered to a receiver (with at least one valid message). */
  receivedBatches: number;
  /** Messages delivered to a receiver. */
  receivedMessages: number;
  /** Messages of batches for a (group, to) no replica is registered for. */
  droppedUnroutedMessages: number;
  /** Messages that failed validation (raft/codec.ts), or whose batch header did. */
  droppedMalformedMessages: number;
  /** Send streams currently open. */
  activeStreams: number;
}

/** Bound on the set of routes an unrouted-batch warning was already logged for. */
const unroutedWarnedMax = 1024;

const routeKey = (group: number, id: number): string => `${group}/${id}`;

/** Validates a batch header id: a safe integer, >= 1 unless `zeroOk`. */
function headerId(v: number | null | undefined, field: string, zeroOk: boolean): number {
  const n = v ?? 0;
  if (!Number.isSafeInteger(n) || n < 0 || (!zeroOk && n === 0)) {
    throw new InvalidArgumentError(field, `must be a ${zeroOk ? "non-negative" : "positive"} safe integer, got ${n}`);
  }
  return n;
}

/**
 * Hosts the RaftTransport service on a grpc.Server (which may host other services on the same
 * port) and routes each received batch, by (group, to), to the receiver registered for that
 * replica. Batches for an unknown replica are dropped and counted; messages that fail
 * validation are dropped with a warning naming the field; neither ends the stream or the
 * server. Create the grpc.Server with `raftGrpcServerOptions` (or larger limits).
 *
 * Each accepted stream is acknowledged at once with response headers: the client treats them
 * as "connected" and only then starts writing, so nothing is written into a stream the server
 * never accepted.
 */
export class RaftTransportServer {
  private readonly receivers = new Map<string, BatchReceiver>();
  private readonly streams = new Set<() => void>();
  private readonly unroutedWarned = new Set<string>();
  private readonly logger: Logger;
  private closed = false;
  private readonly counters: RaftTransportServerStats = {
    receivedBatches: 0,
    receivedMessages: 0,
    droppedUnroutedMessages: 0,
    droppedMalformedMessages: 0,
    activeStreams: 0,
  };

  /** Adds the RaftTransport service to `server`; at most one RaftTransportServer per grpc.Server. */
  constructor(server: grpc.Server, options: { logger?: Logger } = {}) {
    this.logger = options.logger ?? silentLogger;
    const impl: RaftTransportImplementation = { send: (call, callback) => this.handleSend(call, callback) };
    server.addService(raftTransportService, impl);
  }

  /**
   * Routes batches for replica `id` of `group` to `receiver`. The receiver runs on the gRPC
   * event callback: it must not block or throw (enqueue and return). Returns the function that
   * unregisters it. Registering a route twice is a bug (asserted).
   */
  register(route: { group: GroupId; id: NodeId }, receiver: BatchReceiver): () => void {
    const key = routeKey(route.group, route.id);
    assert(!this.receivers.has(key), `raft transport route ${key} registered twice`);
    this.receivers.set(key, receiver);
    this.unroutedWarned.delete(key);
    return () => {
      if (this.receivers.get(key) === receiver) this.receivers.delete(key);
    };
  }

  /** A copy of the counters. */
  stats(): RaftTransportServerStats {
    return { ...this.counters, activeStreams: this.streams.size };
  }

  /**
   * Ends every open Send stream (with an OK SendAck) and refuses new ones with UNAVAILABLE,
   * so that `grpc.Server.tryShutdown` can complete (it waits for open calls). Idempotent.
   */
  close(): void {
    this.closed = true;
    for (const end of [...this.streams]) end();
  }

  private handleSend(
    call: grpc.ServerReadableStream<shardkv.raft.MessageBatch, shardkv.raft.SendAck.$Properties>,
    callback: grpc.sendUnaryData<shardkv.raft.SendAck.$Properties>,
  ): void {
    if (this.closed) {
      callback({ code: grpc.status.UNAVAILABLE, details: "raft transport server is closed" }, null);
      return;
    }
    const peer = call.getPeer();
    let done = false;
    const forget = (): void => {
      done = true;
      this.streams.delete(end);
    };
    const end = (): void => {
      if (done) return;
      forget();
      callback(null, {});
    };
    this.streams.add(end);
    call.sendMetadata(new grpc.Metadata());
    call.on("data", (batch: shardkv.raft.MessageBatch) => this.handleBatch(batch, peer));
    call.on("end", end);
    call.on("cancelled", forget);
    call.on("error", (e: Error) => {
      this.logger.debug(`raft transport: stream from ${peer} failed: ${e.message}`);
      forget();
    });
  }

  private handleBatch(batch: shardkv.raft.MessageBatch, peer: string): void {
    const wire = batch.messages ?? [];
    let group: number, from: number, to: number;
    try {
      group = headerId(batch.group, "batch.group", true);
      from = headerId(batch.from, "batch.from", false);
      to = headerId(batch.to, "batch.to", false);
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      this.counters.droppedMalformedMessages += wire.length;
      this.logger.warn(`raft transport: dropped batch of ${wire.length} from ${peer}: invalid ${e.field}: ${e.reason}`);
      return;
    }
    const key = routeKey(group, to);
    const receiver = this.receivers.get(key);
    if (receiver === undefined) {
      this.counters.droppedUnroutedMessages += wire.length;
      this.warnUnrouted(key, `raft transport: dropped ${wire.length} message(s) from ${peer} for unknown replica ${to} of group ${group}`);
      return;
    }
    const messages: Message[] = [];
    for (const w of wire) {
      try {
        const m = messageFromWire(w);
        if (m.from !== from) throw new InvalidArgumentError("message.from", `${m.from} differs from batch.from ${from}`);
        if (m.to !== to) throw new InvalidArgumentError("message.to", `${m.to} differs from batch.to ${to}`);
        messages.push(m);
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        this.counters.droppedMalformedMessages += 1;
        this.logger.warn(`raft transport: dropped malformed message from ${peer} (group ${group}, ${from}->${to}): invalid ${e.field}: ${e.reason}`);
      }
    }
    if (messages.length === 0) return;
    this.counters.receivedBatches += 1;
    this.counters.receivedMessages += messages.length;
    receiver(messages, from as NodeId);
  }

  /** Warns once per route (bounded), then logs at debug level: a removed replica keeps being addressed. */
  private warnUnrouted(key: string, msg: string): void {
    if (this.unroutedWarned.has(key)) {
      this.logger.debug(msg);
      return;
    }
    if (this.unroutedWarned.size >= unroutedWarnedMax) this.unroutedWarned.clear();
    this.unroutedWarned.add(key);
    this.logger.warn(msg);
  }
}

/**
 * Binds `server` to `address` ("host:port"; port 0 picks a free port) with the credentials of
 * `security` and resolves with the bound port. grpc-js starts serving on bind. With `logger`,
 * every TLS handshake the server refuses is logged in one line (logRefusedHandshakes).
 */
export function listen(server: grpc.Server, address: string, security: Security, logger?: Logger): Promise<number> {
  if (logger !== undefined && security.secure) logRefusedHandshakes(server, logger);
  return new Promise((resolve, reject) => {
    server.bindAsync(address, security.serverCredentials(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** A FIFO with O(1) amortized push and shift. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** One encoded message waiting in a peer queue. */
interface Queued {
  /** The encoded shardkv.raft.Message. */
  readonly bytes: Uint8Array;
  /** Its size inside a MessageBatch: tag, length varint and bytes. */
  readonly framedBytes: number;
}

/** Bytes of a protobuf varint encoding `n` (n >= 0). */
function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes += 1;
  }
  return bytes;
}

/** Tag of MessageBatch.messages (field 4, wire type 2 = length-delimited). */
const messagesFieldTag = (4 << 3) | 2;

/** Size of an encoded Message of `len` bytes as an element of MessageBatch.messages. */
const framedMessageBytes = (len: number): number => varintBytes(messagesFieldTag) + varintBytes(len) + len;

/** One attempt at a stream to the peer. Stale callbacks of an ended stream compare `link.stream !== s`. */
interface Stream {
  call?: grpc.ClientWritableStream<Uint8Array>;
  /** The server accepted the stream (response headers arrived). */
  ready: boolean;
  inflightBytes: number;
  waitingDrain: boolean;
  cancelHandshake?: Cancel;
}

/** What a PeerLink shares with its GrpcTransport. */
interface LinkContext {
  readonly group: GroupId;
  readonly self: NodeId;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly logger: Logger;
  readonly limits: GrpcTransportLimits;
  readonly timing: GrpcTransportTiming;
  readonly stats: GrpcTransportStats;
  readonly security: Security;
  /** Told when an established stream to a peer ends (Transport.setPeerDownHandler). */
  peerDown?: (peer: NodeId) => void;
}

/**
 * The sending half towards one peer: a bounded queue, a gRPC client and at most one stream.
 * States: connecting -> ready -> (stream ends) -> backoff -> connecting ...; any -> closed.
 * Invariant: `stream` is set exactly in states connecting and ready (and while closing).
 */
class PeerLink {
  private readonly client: grpc.Client;
  private readonly queue = new Fifo<Queued>();
  private queuedBytes = 0;
  /** Encoded MessageBatch header (group, from, to) size, constant per link. */
  readonly headerBytes: number;
  private state: PeerLinkState = "connecting";
  private stream: Stream | undefined;
  private attempt = 0;
  private connectAttempts = 0;
  private everReady = false;
  private cancelBackoff: Cancel | undefined;
  private flushScheduled = false;
  /** Whether the queue overflowed since it last accepted a message (warn once per episode). */
  private dropping = false;
  private closeWaiter: (() => void) | undefined;

  constructor(
    readonly id: NodeId,
    readonly address: string,
    private readonly ctx: LinkContext,
  ) {
    this.headerBytes = pb.MessageBatch.encode({ group: ctx.group, from: ctx.self, to: id }).len;
    this.client = new grpc.Client(address, ctx.security.channelCredentials(), {
      "grpc.max_send_message_length": grpcMessageBytesMax,
      "grpc.max_receive_message_length": grpcMessageBytesMax,
      // Keep gRPC's own reconnect backoff within ours, so a restarted peer is found promptly.
      "grpc.initial_reconnect_backoff_ms": ctx.timing.backoffMinMs,
      "grpc.max_reconnect_backoff_ms": ctx.timing.backoffMaxMs,
      // Detect a peer that vanished without closing the connection (power loss, partition).
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
    });
    this.connect();
  }

  status(): PeerStatus {
    return {
      id: this.id,
      address: this.address,
      state: this.state,
      connected: this.state === "ready",
      queuedMessages: this.queue.length,
      queuedBytes: this.queuedBytes,
      connectAttempts: this.connectAttempts,
    };
  }

  /** Appends one encoded message; false (nothing queued) when the queue is at its bound. */
  enqueue(item: Queued): boolean {
    const { peerQueueMessagesMax: messagesMax, peerQueueBytesMax: bytesMax } = this.ctx.limits;
    if (this.queue.length + 1 > messagesMax || this.queuedBytes + item.framedBytes > bytesMax) {
      if (!this.dropping) {
        this.dropping = true;
        this.ctx.logger.warn(
          `${this.describe()}: queue full (${this.queue.length} messages, ${this.queuedBytes} bytes; max ${messagesMax}, ${bytesMax}); dropping`,
        );
      }
      return false;
    }
    this.dropping = false;
    this.queue.push(item);
    this.queuedBytes += item.framedBytes;
    this.scheduleFlush();
    return true;
  }

  /** Ends the stream (waiting up to closeGraceMs for it to end cleanly) and closes the client. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    this.cancelBackoff?.();
    this.cancelBackoff = undefined;
    this.ctx.stats.droppedClosedMessages += this.queue.length;
    this.ctx.stats.droppedMessages += this.queue.length;
    this.queue.clear();
    this.queuedBytes = 0;
    const s = this.stream;
    if (s?.call !== undefined) {
      const call = s.call;
      await new Promise<void>((resolve) => {
        const cancelGrace = this.ctx.clock.after(this.ctx.timing.closeGraceMs, () => call.cancel());
        this.closeWaiter = () => {
          cancelGrace();
          resolve();
        };
        if (s.ready) call.end();
        else call.cancel();
      });
    }
    this.client.close();
  }

  private describe(): string {
    return `raft transport g${this.ctx.group} ${this.ctx.self}->${this.id} (${this.address})`;
  }

  private connect(): void {
    assert(this.state !== "closed" && this.stream === undefined, () => `${this.describe()}: connect in state ${this.state}`);
    this.state = "connecting";
    this.connectAttempts += 1;
    const s: Stream = { ready: false, inflightBytes: 0, waitingDrain: false };
    this.stream = s;
    const send = raftTransportService.send;
    const call = this.client.makeClientStreamRequest<Uint8Array, shardkv.raft.SendAck>(
      send.path,
      asBuffer, // frames are encoded MessageBatches already (see takeBatch)
      send.responseDeserialize,
      new grpc.Metadata(),
      {},
      (err) => this.handleStreamEnd(s, err),
    );
    s.call = call;
    call.on("metadata", () => this.handleStreamReady(s));
    call.on("error", (e: Error) => this.ctx.logger.debug(`${this.describe()}: stream error: ${e.message}`));
    s.cancelHandshake = this.ctx.clock.after(this.ctx.timing.handshakeTimeoutMs, () => {
      if (this.stream !== s || s.ready) return;
      this.ctx.logger.debug(`${this.describe()}: no handshake within ${this.ctx.timing.handshakeTimeoutMs} ms`);
      call.cancel();
    });
  }

  private handleStreamReady(s: Stream): void {
    if (this.stream !== s || s.ready || this.state === "closed") return;
    s.ready = true;
    s.cancelHandshake?.();
    this.state = "ready";
    this.attempt = 0;
    if (this.everReady) this.ctx.stats.reconnects += 1;
    this.everReady = true;
    this.ctx.logger.info(`${this.describe()}: connected`);
    this.flush();
  }

  private handleStreamEnd(s: Stream, err: grpc.ServiceError | null): void {
    if (this.stream !== s) return;
    s.cancelHandshake?.();
    this.stream = undefined;
    if (this.state === "closed") {
      this.closeWaiter?.();
      return;
    }
    const why = err ? err.message : "ended by the peer";
    if (s.ready) this.ctx.logger.warn(`${this.describe()}: disconnected: ${why}`);
    else this.ctx.logger.debug(`${this.describe()}: connect failed: ${why}`);
    // An established stream that ends is the first sign of a peer that died (its kernel
    // resets the connection at once): Raft need not wait out an election timeout for it.
    if (s.ready) this.ctx.peerDown?.(this.id);
    this.state = "backoff";
    const delayMs = backoffDelayMs(this.attempt, this.ctx.timing, this.ctx.rng);
    this.attempt += 1;
    this.cancelBackoff = this.ctx.clock.after(delayMs, () => {
      this.cancelBackoff = undefined;
      if (this.state === "backoff") this.connect();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes queued messages as batches while the stream is ready and accepts more. */
  private flush(): void {
    const s = this.stream;
    if (s === undefined || s.call === undefined || !s.ready || s.waitingDrain || this.state !== "ready") return;
    const call = s.call;
    while (this.queue.length > 0 && s.inflightBytes < this.ctx.limits.streamBytesInflightMax) {
      const { frame, count } = this.takeBatch();
      s.inflightBytes += frame.length;
      this.ctx.stats.sentBatches += 1;
      this.ctx.stats.sentMessages += count;
      const more = call.write(frame, () => {
        s.inflightBytes -= frame.length;
        if (this.stream === s) this.scheduleFlush();
      });
      if (!more) {
        s.waitingDrain = true;
        call.once("drain", () => {
          s.waitingDrain = false;
          if (this.stream === s) this.flush();
        });
        return;
      }
    }
  }

  /**
   * Removes the longest queue prefix that fits in one frame of at most batchBytesMax bytes,
   * and at least one message: a larger one goes alone (send() admitted it only if it fits in
   * a gRPC message). Encodes it as a MessageBatch: the header fields, then each pre-encoded
   * message as field 4.
   */
  private takeBatch(): { frame: Uint8Array; count: number } {
    const writer = pb.MessageBatch.encode({ group: this.ctx.group, from: this.ctx.self, to: this.id });
    let bytes = this.headerBytes;
    let count = 0;
    for (let item = this.queue.peek(); item !== undefined; item = this.queue.peek()) {
      if (count > 0 && bytes + item.framedBytes > this.ctx.limits.batchBytesMax) break;
      this.queue.shift();
      this.queuedBytes -= item.framedBytes;
      bytes += item.framedBytes;
      count += 1;
      writer.uint32(messagesFieldTag).bytes(item.bytes);
    }
    assert(count > 0 && bytes <= grpcMessageBytesMax, () => `${this.describe()}: frame of ${count} messages, ${bytes} bytes`);
    const frame = writer.finish();
    assert(frame.length === bytes, () => `${this.describe()}: batch is ${frame.length} bytes, computed ${bytes}`);
    return { frame, count };
  }
}

/**
 * The gRPC implementation of Transport for one replica (group, self): a PeerLink per peer for
 * sending, and a route on a shared RaftTransportServer for receiving. Links connect at
 * construction and reconnect until close(). See the file comment for the contract.
 */
export class GrpcTransport implements Transport {
  private readonly group: GroupId;
  private readonly self: NodeId;
  private readonly logger: Logger;
  private readonly limits: GrpcTransportLimits;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly unregister: () => void;
  private readonly counters: GrpcTransportStats = {
    sentMessages: 0,
    sentBatches: 0,
    droppedMessages: 0,
    receivedMessages: 0,
    droppedQueueFullMessages: 0,
    droppedOversizedMessages: 0,
    droppedUnknownPeerMessages: 0,
    droppedClosedMessages: 0,
    droppedNoReceiverMessages: 0,
    reconnects: 0,
  };
  private receiver: ((messages: Message[]) => void) | undefined;
  private closing: Promise<void> | undefined;
  private readonly ctx: LinkContext;

  /** Registers (group, self) on `server` and starts connecting to every peer. */
  constructor(options: GrpcTransportOptions, server: RaftTransportServer) {
    this.group = options.group;
    this.self = options.self;
    this.logger = options.logger ?? silentLogger;
    this.limits = { ...defaultGrpcTransportLimits, ...options.limits };
    const timing = { ...defaultGrpcTransportTiming, ...options.timing };
    const l = this.limits;
    assert(l.batchBytesMax > 0 && l.batchBytesMax <= grpcMessageBytesMax, `batchBytesMax ${l.batchBytesMax} not in (0, ${grpcMessageBytesMax}]`);
    assert(l.peerQueueMessagesMax > 0 && l.peerQueueBytesMax > 0 && l.streamBytesInflightMax > 0, "transport limits must be positive");
    assert(timing.backoffMinMs > 0 && timing.backoffMinMs <= timing.backoffMaxMs, "need 0 < backoffMinMs <= backoffMaxMs");
    const ctx: LinkContext = {
      group: this.group,
      self: this.self,
      clock: options.clock,
      rng: options.rng,
      logger: this.logger,
      limits: this.limits,
      timing,
      stats: this.counters,
      security: options.security,
    };
    this.ctx = ctx;
    this.setPeers(options.peers);
    this.unregister = server.register({ group: this.group, id: this.self }, (messages) => this.handleReceived(messages));
  }

  /**
   * Queues each message for its `to` peer and returns at once; the queues are flushed in a
   * microtask, so messages sent in one event-loop turn share batches. Drops and counts a
   * message whose peer is unknown, whose queue is full, or that alone exceeds the gRPC
   * message bound (a message over batchBytesMax but under that bound goes alone in a frame).
   * Every message must be from this replica (asserted).
   */
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      assert(m.from === this.self, () => `raft transport g${this.group}/${this.self}: sending a message from ${m.from}`);
      if (this.closing !== undefined) {
        this.drop("droppedClosedMessages");
        continue;
      }
      const link = this.links.get(m.to);
      if (link === undefined) {
        this.drop("droppedUnknownPeerMessages");
        this.logger.warn(`raft transport g${this.group}/${this.self}: dropped ${m.type} to unknown peer ${m.to}`);
        continue;
      }
      const bytes = pb.Message.encode(messageToWire(m)).finish();
      const framedBytes = framedMessageBytes(bytes.length);
      if (link.headerBytes + framedBytes > grpcMessageBytesMax) {
        this.drop("droppedOversizedMessages");
        this.logger.warn(
          `raft transport g${this.group}/${this.self}: dropped ${m.type} to ${m.to}: ${overLimit("the message", link.headerBytes + framedBytes, grpcMessageBytesMax)}`,
        );
        continue;
      }
      if (!link.enqueue({ bytes, framedBytes })) this.drop("droppedQueueFullMessages");
    }
  }

  /**
   * Makes `peers` the group's peers (an entry for `self` is ignored): a link is opened to each
   * new peer, the link to a peer no longer listed is closed (its queued messages dropped), and
   * a peer whose address changed gets a new link. The daemon calls it when a configuration
   * change is applied (docs/design.md §3 Raft, addresses). Nothing after close().
   */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closing !== undefined) return;
    for (const [id, link] of [...this.links]) {
      if (peers.get(id) === link.address) continue;
      this.links.delete(id);
      void link.close();
    }
    for (const [id, address] of peers) {
      if (id !== this.self && !this.links.has(id)) this.links.set(id, new PeerLink(id, address, this.ctx));
    }
  }

  /** Sets the handler for this replica's incoming batches (one call per batch, in wire order). */
  setReceiver(handler: (messages: Message[]) => void): void {
    this.receiver = handler;
  }

  /**
   * Sets the handler told when an established stream to a peer ends (reset by the peer's
   * kernel after a kill -9, closed at its shutdown, or broken by the network), on the gRPC
   * callback: it must only enqueue.
   */
  setPeerDownHandler(handler: (peer: NodeId) => void): void {
    this.ctx.peerDown = handler;
  }

  /** A copy of the counters. */
  stats(): GrpcTransportStats {
    return { ...this.counters };
  }

  /** The state of the link to `peer`, or undefined if it is not a configured peer. */
  peerStatus(peer: NodeId): PeerStatus | undefined {
    return this.links.get(peer)?.status();
  }

  /** Whether the stream to `peer` is established (Transport.peerReachable; false for an unknown peer). */
  peerReachable(peer: NodeId): boolean {
    return this.links.get(peer)?.status().connected ?? false;
  }

  /** The state of every peer link, by ascending id. */
  peerStatuses(): PeerStatus[] {
    return [...this.links.values()].map((l) => l.status()).sort((a, b) => a.id - b.id);
  }

  /**
   * Unregisters from the server, drops queued messages, ends every stream (waiting up to
   * closeGraceMs each), closes the clients and cancels all timers. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.unregister();
      this.receiver = undefined;
      await Promise.all([...this.links.values()].map((l) => l.close()));
    })();
    return this.closing;
  }

  private drop(kind: "droppedClosedMessages" | "droppedUnknownPeerMessages" | "droppedOversizedMessages" | "droppedQueueFullMessages"): void {
    this.counters[kind] += 1;
    this.counters.droppedMessages += 1;
  }

  private handleReceived(messages: Message[]): void {
    const receiver = this.receiver;
    if (receiver === undefined) {
      this.counters.droppedNoReceiverMessages += messages.length;
      this.counters.droppedMessages += messages.length;
      return;
    }
    this.counters.receivedMessages += messages.length;
    receiver(messages);
  }
}
