/**
 * The gRPC transport over real loopback gRPC (port 0). Conditions are awaited with a deadline
 * (waitFor), never with fixed sleeps.
 */
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { shardkv } from "../../proto/gen/raft.js";
import type { Logger } from "../../common/env";
import { realClock, realRng } from "../../common/real-env";
import { waitFor } from "../lib/wait";
import { groupId, logIndex, nodeId, term, type GroupId, type NodeId } from "../../common/ids";
import { encodeBatch, messageToWire } from "../../raft/codec";
import { makeMessage, type Message } from "../../raft/core/types";
import { raftTransportService } from "../../proto/gen/raft-grpc";
import {
  backoffDelayMs,
  GrpcTransport,
  grpcMessageBytesMax,
  listen,
  raftGrpcServerOptions,
  RaftTransportServer,
  type GrpcTransportLimits,
} from "../../raft/transport/grpc-transport";
import { Security } from "../../security/credentials";

const g1 = groupId(1);
const g2 = groupId(2);
const n1 = nodeId(1);
const n2 = nodeId(2);
const n3 = nodeId(3);
/** RaftTransport.Send as generated from proto/raft.proto: a raw client of it plays a peer. */
const send = raftTransportService.send;

/** Waits for `cond` with a deadline (never a fixed sleep). */
const until = (cond: () => boolean, what: string): Promise<void> => waitFor(cond, { what, timeoutMs: 10_000, intervalMs: 5 });

/** A logger that keeps warnings, so tests can assert on them. */
function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, debug() {}, debugEnabled: false, warn: (m) => void warnings.push(m) };
}

interface Host {
  server: grpc.Server;
  rts: RaftTransportServer;
  port: number;
  address: string;
  logger: ReturnType<typeof capturingLogger>;
}

const servers: grpc.Server[] = [];
const transports: GrpcTransport[] = [];
const rawClients: grpc.Client[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  for (const c of rawClients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function startHost(port = 0): Promise<Host> {
  const server = new grpc.Server(raftGrpcServerOptions);
  servers.push(server);
  const logger = capturingLogger();
  const rts = new RaftTransportServer(server, { logger });
  const bound = await listen(server, `127.0.0.1:${port}`, Security.insecure());
  return { server, rts, port: bound, address: `127.0.0.1:${bound}`, logger };
}

interface Replica {
  t: GrpcTransport;
  batches: Message[][];
  received: () => Message[];
  logger: ReturnType<typeof capturingLogger>;
}

function startReplica(opts: {
  host: Host;
  group: GroupId;
  self: NodeId;
  peers: Map<NodeId, string>;
  limits?: Partial<GrpcTransportLimits>;
}): Replica {
  const logger = capturingLogger();
  const t = new GrpcTransport(
    { group: opts.group, self: opts.self, peers: opts.peers, security: Security.insecure(), clock: realClock, rng: realRng, logger, limits: opts.limits },
    opts.host.rts,
  );
  transports.push(t);
  const batches: Message[][] = [];
  t.setReceiver((ms) => void batches.push(ms));
  return { t, batches, received: () => batches.flat(), logger };
}

/** Three hosts with one replica of group 1 each. */
async function threeReplicas(limits?: Partial<GrpcTransportLimits>): Promise<{ hosts: Host[]; replicas: Replica[] }> {
  const hosts = [await startHost(), await startHost(), await startHost()];
  const peers = new Map<NodeId, string>(hosts.map((h, i) => [nodeId(i + 1), h.address]));
  const replicas = hosts.map((host, i) => startReplica({ host, group: g1, self: nodeId(i + 1), peers, limits }));
  return { hosts, replicas };
}

async function allConnected(replicas: Replica[]): Promise<void> {
  await until(() => replicas.every((r) => r.t.peerStatuses().every((p) => p.connected)), "all links connected");
}

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs);

function appendMsg(from: NodeId, to: NodeId, index: number, dataBytes = 3): Message {
  const data = new Uint8Array(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (index * 31 + i) & 0xff;
  return makeMessage({
    type: "append",
    from,
    to,
    term: term(2),
    logTerm: term(2),
    index: logIndex(index - 1),
    commit: logIndex(index - 1),
    entries: [{ index: logIndex(index), term: term(2), type: "normal", data }],
  });
}

/** Normalizes decoded Buffers to plain Uint8Arrays so toEqual compares contents only. */
function plain(m: Message): Message {
  const u = (b: Uint8Array) => new Uint8Array(b);
  return {
    ...m,
    context: u(m.context),
    chunkData: u(m.chunkData),
    entries: m.entries.map((e) => ({ ...e, data: u(e.data) })),
  };
}

describe("backoffDelayMs", () => {
  it("grows exponentially from the minimum to the maximum, with bounded jitter", () => {
    const timing = { backoffMinMs: 50, backoffMaxMs: 2000 };
    const low = { float: () => 0, int: () => 0 };
    const high = { float: () => 0.999999, int: () => 0 };
    expect(backoffDelayMs(0, timing, low)).toBe(50);
    expect(backoffDelayMs(0, timing, high)).toBe(60);
    expect(backoffDelayMs(3, timing, low)).toBe(320);
    expect(backoffDelayMs(3, timing, high)).toBe(480);
    expect(backoffDelayMs(20, timing, low)).toBe(1600);
    expect(backoffDelayMs(20, timing, high)).toBe(2000);
    expect(backoffDelayMs(1000, timing, high)).toBe(2000);
  });
});

describe("GrpcTransport over loopback gRPC", { timeout: 30_000 }, () => {
  it("delivers messages between three replicas with every field intact", async () => {
    const { replicas } = await threeReplicas();
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const full = (from: NodeId, to: NodeId): Message =>
      makeMessage({
        type: "append",
        from,
        to,
        term: term(7),
        logTerm: term(6),
        index: logIndex(41),
        commit: logIndex(40),
        reject: true,
        rejectHint: logIndex(39),
        rejectTerm: term(5),
        context: bytes(0, 1, 2, 255),
        chunk: 3,
        chunkLast: true,
        chunkData: bytes(9, 8, 7),
        entries: [
          { index: logIndex(42), term: term(7), type: "noop", data: new Uint8Array(0) },
          { index: logIndex(43), term: term(7), type: "normal", data: bytes(0, 0xff, 0x80, 0, 0x7f, 10, 13) },
          { index: logIndex(2 ** 40), term: term(2 ** 33), type: "normal", data: new Uint8Array(3000).fill(0xab) },
        ],
      });
    const snap = (from: NodeId, to: NodeId): Message =>
      makeMessage({
        type: "snapshot",
        from,
        to,
        term: term(7),
        snapshot: { index: logIndex(100), term: term(6), voters: [n1, n2, n3] },
        chunk: 2,
        chunkLast: false,
        chunkData: new Uint8Array(512).map((_, i) => i & 0xff),
      });
    const snapResp = (from: NodeId, to: NodeId): Message =>
      makeMessage({ type: "snapshotResp", from, to, term: term(7), snapshot: { index: logIndex(100), term: term(6), voters: [] }, chunk: 3 });

    const from1 = [full(n1, n2), snap(n1, n2), full(n1, n3)];
    const from2 = [snapResp(n2, n1), makeMessage({ type: "voteResp", from: n2, to: n3, term: term(7), reject: true })];
    const from3 = [makeMessage({ type: "heartbeatResp", from: n3, to: n1, term: term(7), context: bytes(1, 2, 3) })];
    r1.t.send(from1);
    r2.t.send(from2);
    r3.t.send(from3);

    await until(() => r1.received().length === 2 && r2.received().length === 2 && r3.received().length === 2, "all six messages");
    expect(r1.received().map(plain)).toEqual([from2[0], from3[0]].map(plain));
    expect(r2.received().map(plain)).toEqual([from1[0], from1[1]].map(plain));
    expect(r3.received().map(plain)).toEqual([from1[2], from2[1]].map(plain));
    // Snapshot meta of a snapshotResp with no voters survives as an empty list.
    expect(r1.received()[0]!.snapshot).toEqual({ index: 100, term: 6, voters: [] });

    expect(r1.t.stats()).toMatchObject({ sentMessages: 3, droppedMessages: 0, receivedMessages: 2 });
    expect(r1.t.peerStatuses().map((p) => p.connected)).toEqual([true, true]);
  });

  it("setPeers: links open to new peers, close to removed ones, and move with a changed address", async () => {
    const [h1, h2, h3] = [await startHost(), await startHost(), await startHost()];
    const r1 = startReplica({ host: h1, group: g1, self: n1, peers: new Map([[n1, h1.address]]) });
    const r2 = startReplica({ host: h2, group: g1, self: n2, peers: new Map([[n1, h1.address]]) });
    const r3 = startReplica({ host: h3, group: g1, self: n3, peers: new Map([[n1, h1.address]]) });
    r1.t.send([appendMsg(n1, n2, 1)]);
    expect(r1.t.stats()).toMatchObject({ droppedUnknownPeerMessages: 1 });
    r1.t.setPeers(new Map([[n1, h1.address], [n2, h2.address]]));
    expect(r1.t.peerStatuses().map((p) => [p.id, p.address])).toEqual([[n2, h2.address]]);
    r1.t.send([appendMsg(n1, n2, 2)]);
    await until(() => r2.received().length === 1, "the message to the added peer");
    // Node 2's address now serves node 3's replica: the link moves, node 2 is unknown again.
    r1.t.setPeers(new Map([[n3, h3.address]]));
    expect(r1.t.peerStatuses().map((p) => [p.id, p.address])).toEqual([[n3, h3.address]]);
    r1.t.send([appendMsg(n1, n2, 3), appendMsg(n1, n3, 4)]);
    await until(() => r3.received().length === 1, "the message to the new peer");
    expect(r1.t.stats()).toMatchObject({ droppedUnknownPeerMessages: 2 });
    expect(r2.received().map((m) => m.entries[0]!.index)).toEqual([2]);
  });

  it("batches the messages sent in one turn", async () => {
    const { replicas } = await threeReplicas();
    const [r1, r2] = replicas as [Replica, Replica];
    await allConnected(replicas);
    const count = 500;
    for (let i = 1; i <= count; i++) r1.t.send([appendMsg(n1, n2, i)]);

    await until(() => r2.received().length === count, `${count} messages`);
    expect(r2.received().map((m) => m.entries[0]!.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(r2.batches.length).toBeLessThan(count);
    expect(r2.batches.length).toBeLessThanOrEqual(3);
    expect(r1.t.stats().sentBatches).toBe(r2.batches.length);
    expect(r1.t.stats().sentMessages).toBe(count);
  });

  it("never sends a batch over batchBytesMax and keeps per-peer order", async () => {
    const limit = 64 * 1024;
    const { replicas } = await threeReplicas({ batchBytesMax: limit });
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    const count = 60;
    const sizes = (i: number) => 5_000 + ((i * 7919) % 25_000);
    for (let i = 1; i <= count; i++) r1.t.send([appendMsg(n1, n2, i, sizes(i)), appendMsg(n1, n3, i, sizes(count - i))]);

    await until(() => r2.received().length === count && r3.received().length === count, "all large messages");
    for (const [r, peer] of [[r2, n2], [r3, n3]] as const) {
      expect(r.received().map((m) => m.entries[0]!.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      expect(r.batches.length).toBeGreaterThan(count * 5_000 / limit);
      for (const b of r.batches) expect(encodeBatch(g1, n1, peer, b).length).toBeLessThanOrEqual(limit);
    }
    // Contents survived too (a large entry's bytes, not just its index).
    expect(plain(r2.received()[9]!)).toEqual(plain(appendMsg(n1, n2, 10, sizes(10))));
  });

  it("ships a message larger than a batch alone in its frame, in order, dropping nothing", async () => {
    const limit = 16 * 1024;
    const { replicas } = await threeReplicas({ batchBytesMax: limit });
    const [r1, r2] = replicas as [Replica, Replica];
    r1.t.send([appendMsg(n1, n2, 1), appendMsg(n1, n2, 2, 20 * 1024), appendMsg(n1, n2, 3), appendMsg(n1, n2, 4, 5 * 1024 * 1024)]);

    await until(() => r2.received().length === 4, "all four messages");
    expect(r2.received().map((m) => m.entries[0]!.index)).toEqual([1, 2, 3, 4]);
    const big = r2.received()[3]!.entries[0]!.data;
    expect(Buffer.from(big).equals(appendMsg(n1, n2, 4, 5 * 1024 * 1024).entries[0]!.data)).toBe(true);
    expect(r1.t.stats()).toMatchObject({ droppedOversizedMessages: 0, droppedMessages: 0, sentMessages: 4 });
    // Small messages share frames up to the bound; each large one had a frame of its own.
    for (const b of r2.batches) {
      if (b.length > 1) expect(encodeBatch(g1, n1, n2, b).length).toBeLessThanOrEqual(limit);
    }
    expect(r2.batches.filter((b) => b.some((m) => m.entries[0]!.index === 2 || m.entries[0]!.index === 4)).every((b) => b.length === 1)).toBe(true);
  });

  it("drops and counts only a message over the gRPC message bound, saying its size and the limit", async () => {
    const { replicas } = await threeReplicas();
    const [r1, r2] = replicas as [Replica, Replica];
    r1.t.send([appendMsg(n1, n2, 1), appendMsg(n1, n2, 2, grpcMessageBytesMax), appendMsg(n1, n2, 3)]);

    await until(() => r2.received().length === 2, "the two small messages");
    expect(r2.received().map((m) => m.entries[0]!.index)).toEqual([1, 3]);
    expect(r1.t.stats()).toMatchObject({ droppedOversizedMessages: 1, droppedMessages: 1, sentMessages: 2 });
    expect(r1.logger.warnings.some((w) => /dropped append to 2: the message is 16,777,2\d\d bytes; the limit is 16 MiB/.test(w))).toBe(true);
  });

  it("drops and counts messages to an unknown peer", async () => {
    const { replicas } = await threeReplicas();
    const [r1, r2] = replicas as [Replica, Replica];
    r1.t.send([appendMsg(n1, nodeId(9), 1), appendMsg(n1, n2, 1)]);
    await until(() => r2.received().length === 1, "the message to a known peer");
    expect(r1.t.stats()).toMatchObject({ droppedUnknownPeerMessages: 1, droppedMessages: 1 });
  });

  it("tells the peer-down handler when an established link ends (the peer's server went away), not before, and not for a link never up", async () => {
    const { hosts, replicas } = await threeReplicas();
    await allConnected(replicas);
    const down: NodeId[] = [];
    replicas[0]!.t.setPeerDownHandler((p) => void down.push(p));
    replicas[0]!.t.send([appendMsg(n1, n2, 1), appendMsg(n1, n3, 1)]);
    await until(() => replicas[1]!.received().length === 1 && replicas[2]!.received().length === 1, "messages on both links");
    expect(down).toEqual([]);
    // Peer 2's process goes away: its server drops every connection at once.
    hosts[1]!.server.forceShutdown();
    await until(() => down.length > 0, "the handler to hear of peer 2");
    expect(down[0]).toBe(n2);
    // Reconnect attempts to the dead peer fail without a stream ever being up: no more calls.
    const attempts = replicas[0]!.t.peerStatus(n2)!.connectAttempts;
    await until(() => replicas[0]!.t.peerStatus(n2)!.connectAttempts >= attempts + 2, "further connect attempts");
    expect(down).toEqual([n2]);
    expect(replicas[0]!.t.peerStatus(n3)!.connected).toBe(true);
  });

  it("queues up to the bound while a peer is down and delivers once it is back on the same port", async () => {
    const h1 = await startHost();
    let h2 = await startHost();
    const peers = new Map<NodeId, string>([
      [n1, h1.address],
      [n2, h2.address],
    ]);
    const r1 = startReplica({ host: h1, group: g1, self: n1, peers, limits: { peerQueueMessagesMax: 10 } });
    let r2 = startReplica({ host: h2, group: g1, self: n2, peers });
    await allConnected([r1, r2]);
    // The liveness signal of quiescence (raft/core/quiesce.ts) follows the link.
    expect(r1.t.peerReachable(n2)).toBe(true);
    expect(r1.t.peerReachable(n3)).toBe(false); // not a peer
    r1.t.send([appendMsg(n1, n2, 100)]);
    await until(() => r2.received().length === 1, "a first message");

    // Peer 2 dies.
    await r2.t.close();
    h2.server.forceShutdown();
    await until(() => r1.t.peerStatus(n2)?.connected === false, "link 1->2 to notice the peer is down");
    expect(r1.t.peerReachable(n2)).toBe(false);

    for (let i = 1; i <= 25; i++) r1.t.send([appendMsg(n1, n2, i)]);
    expect(r1.t.peerStatus(n2)).toMatchObject({ connected: false, queuedMessages: 10 });
    expect(r1.t.stats()).toMatchObject({ droppedQueueFullMessages: 15, droppedMessages: 15 });
    expect(r1.logger.warnings.some((w) => w.includes("queue full"))).toBe(true);
    // Reconnect attempts keep failing while it is down; the queue stays intact.
    const attempts = r1.t.peerStatus(n2)!.connectAttempts;
    await until(() => r1.t.peerStatus(n2)!.connectAttempts >= attempts + 2, "further connect attempts");
    expect(r1.t.peerStatus(n2)!.queuedMessages).toBe(10);

    // Peer 2 restarts on the same port.
    h2 = await startHost(h2.port);
    r2 = startReplica({ host: h2, group: g1, self: n2, peers });
    await until(() => r2.received().length === 10, "the queued messages");
    expect(r2.received().map((m) => m.entries[0]!.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r1.t.peerStatus(n2)).toMatchObject({ connected: true, queuedMessages: 0 });
    expect(r1.t.peerReachable(n2)).toBe(true);
    expect(r1.t.stats().reconnects).toBeGreaterThanOrEqual(1);

    r1.t.send([appendMsg(n1, n2, 26)]);
    await until(() => r2.received().length === 11, "a message after the restart");
  });

  it("drops malformed messages with a warning and keeps serving", async () => {
    const { hosts, replicas } = await threeReplicas();
    const [h1] = hosts as [Host];
    const [r1, r2] = replicas as [Replica, Replica];
    const raw = new grpc.Client(h1.address, grpc.credentials.createInsecure());
    rawClients.push(raw);

    // A batch with an unknown message type, a message whose `to` disagrees with the batch,
    // and one valid message; then a batch whose header names node 0.
    const valid = appendMsg(n2, n1, 7);
    const acked = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = raw.makeClientStreamRequest(send.path, send.requestSerialize, send.responseDeserialize, (err) => resolve(err));
      call.write({
        group: g1,
        from: n2,
        to: n1,
        messages: [
          { type: 999 as shardkv.raft.MessageType, from: n2, to: n1, term: 1 },
          messageToWire(appendMsg(n2, n3, 8)),
          messageToWire(valid),
        ],
      });
      call.write({ group: g1, from: 0, to: n1, messages: [messageToWire(valid)] });
      call.end();
    });
    expect(await acked).toBeNull();
    await until(() => r1.received().length === 1, "the valid message");
    expect(plain(r1.received()[0]!)).toEqual(plain(valid));
    expect(h1.rts.stats()).toMatchObject({ droppedMalformedMessages: 3, receivedMessages: 1, receivedBatches: 1 });
    const warned = (field: string) => h1.logger.warnings.some((w) => w.includes(`invalid ${field}`));
    expect(warned("message.type")).toBe(true);
    expect(warned("message.to")).toBe(true);
    expect(warned("batch.from")).toBe(true);

    // Bytes that are not protobuf at all fail only that stream.
    const failed = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = raw.makeClientStreamRequest(send.path, (b: Buffer) => b, send.responseDeserialize, (err) => resolve(err));
      call.write(Buffer.from([0xff, 0xff, 0xff]));
    });
    expect((await failed)?.code).toBe(grpc.status.INTERNAL);

    r2.t.send([appendMsg(n2, n1, 9)]);
    await until(() => r1.received().length === 2, "a message after the malformed ones");
    expect(r1.received()[1]!.entries[0]!.index).toBe(9);
  });

  it("routes by group and replica on a shared server", async () => {
    const a = await startHost();
    const b = await startHost();
    const peers = new Map<NodeId, string>([
      [n1, a.address],
      [n2, b.address],
    ]);
    const a1 = startReplica({ host: a, group: g1, self: n1, peers });
    const a2 = startReplica({ host: a, group: g2, self: n1, peers });
    const b1 = startReplica({ host: b, group: g1, self: n2, peers });
    const b2 = startReplica({ host: b, group: g2, self: n2, peers });

    const tagged = (from: NodeId, to: NodeId, t: number): Message => makeMessage({ type: "heartbeat", from, to, term: term(t) });
    b1.t.send([tagged(n2, n1, 11), tagged(n2, n1, 12)]);
    b2.t.send([tagged(n2, n1, 21)]);
    a1.t.send([tagged(n1, n2, 13)]);
    a2.t.send([tagged(n1, n2, 22)]);

    await until(
      () => a1.received().length === 2 && a2.received().length === 1 && b1.received().length === 1 && b2.received().length === 1,
      "routed messages",
    );
    expect(a1.received().map((m) => m.term)).toEqual([11, 12]);
    expect(a2.received().map((m) => m.term)).toEqual([21]);
    expect(b1.received().map((m) => m.term)).toEqual([13]);
    expect(b2.received().map((m) => m.term)).toEqual([22]);

    // A batch for a group nobody hosts here is dropped and counted.
    const raw = new grpc.Client(a.address, grpc.credentials.createInsecure());
    rawClients.push(raw);
    const acked = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = raw.makeClientStreamRequest(send.path, send.requestSerialize, send.responseDeserialize, (err) => resolve(err));
      call.write({ group: 3, from: n2, to: n1, messages: [messageToWire(tagged(n2, n1, 31)), messageToWire(tagged(n2, n1, 32))] });
      call.end();
    });
    expect(await acked).toBeNull();
    expect(a.rts.stats()).toMatchObject({ droppedUnroutedMessages: 2 });
    expect(a.logger.warnings.some((w) => w.includes("unknown replica 1 of group 3"))).toBe(true);
    expect(a1.received()).toHaveLength(2);
    expect(a2.received()).toHaveLength(1);
  });

  it("close() ends streams so that the peer's server can shut down gracefully", async () => {
    const { hosts, replicas } = await threeReplicas();
    await allConnected(replicas);
    await Promise.all(replicas.map((r) => r.t.close()));
    for (const h of hosts) {
      expect(h.rts.stats().activeStreams).toBe(0);
      await new Promise<void>((resolve, reject) => h.server.tryShutdown((err) => (err ? reject(err) : resolve())));
    }
    expect(replicas[0]!.t.peerStatuses().every((p) => p.state === "closed")).toBe(true);
  });
});
