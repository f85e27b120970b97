/**
 * One seeded run of the real client library against the real shard server request path, on
 * virtual time: 2-3 `ShardKV` clients (client/shardkv.ts, unchanged) over SimClientTransport
 * (sim-client-transport.ts) and SimRpcNet's faults (delays, drops, duplicated requests,
 * isolation of clients, servers and controllers), to shard groups whose every replica answers
 * with the real ShardService (shard-server/service.ts) through the real Batch server
 * (shard-server/batch-stream.ts) over the production state machine (RocksShardStateMachine
 * over the simulated storage, sim-kv.ts).
 *
 * The groups' Raft is a stand-in (shard-run.ts runs real RaftNodes): one log per group applied
 * by one state machine, a leader per term that the nemesis moves at will; a proposal commits
 * after a seeded delay, and one whose leader was deposed meanwhile fails with NotLeader
 * whether or not it committed (half of them do), as a real deposed leader's may. Replicas
 * crash (their streams and unsent answers die; they refuse connections while down), pause and
 * restart. The controller is two replicas answering Query with one config (one follower
 * answering NotLeader with the leader's address; the nemesis swaps them).
 *
 * Load: every value written is a unique token appended to one of a few keys ("c<client>.<n>;"),
 * by single appends and by batches of two (split per shard by the client), plus reads. Then
 * the liveness phase heals everything and requires a fresh append and read per client.
 *
 * Checks: every token in a final value (read from the state machines) appears once and was
 * written by someone to that key; every acknowledged append is in its key's final value; every
 * read is a prefix of its key's final value holding every append acknowledged before the read
 * began. Same seed, same code: same trace hash.
 */
import { createHash } from "node:crypto";
import { ShardKV } from "../../client/shardkv";
import { NotLeaderError } from "../../common/errors";
import type { ConfigNum, GroupId, LogIndex, NodeId, ShardId, Term } from "../../common/ids";
import { nextTurn } from "../../common/real-env";
import type { Config } from "../../controller/config";
import { configToWire } from "../../controller/config-wire";
import { shardOf } from "../../controller/shard-of";
import type { ApplyResult } from "../../shard-server/apply";
import type { BatchHandlers } from "../../shard-server/batch-stream";
import { decodeCommand, encodeCommand } from "../../shard-server/codec";
import { RocksShardStateMachine } from "../../shard-server/rocks-state";
import { ShardService } from "../../shard-server/service";
import { wireHandlers } from "../../shard-server/wire-handlers";
import { SimClock } from "./clock";
import { type NetworkFaults, reliableNetwork } from "./network";
import { type BuggifyStats, SimBuggify } from "./buggify";
import { SimRng } from "./rng";
import { SimRpcNet } from "./shard-rpc";
import { SimClientTransport } from "./sim-client-transport";
import { SimKvStorage } from "./sim-kv";

export interface SimClientRunOptions {
  /** Virtual length of the faulty phase (default 4000 ms). */
  readonly safetyMs?: number;
  readonly trace?: (line: string) => void;
  /**
   * freshSeqs: the servers see every delivery of a write under a new sequence number, so
   * their duplicate detection cannot recognise a retry (the checks must catch the doubles).
   * ackLost: a deposed leader answers success for a write whose entry was lost with it (the
   * checks must catch the acknowledged write missing).
   */
  readonly sabotage?: "freshSeqs" | "ackLost";
  /** BUGGIFY fault points in the production code (test/sim/buggify.ts). Default on. */
  readonly buggify?: boolean;
}

export interface SimClientRunResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: string;
  readonly traceHash: string;
  readonly stats: Record<string, number>;
  /** Each key's final value. */
  readonly finals: Record<string, string>;
  /** Which BUGGIFY points the run enabled and how often each fired. */
  readonly buggify: BuggifyStats;
}

const shardCount = 8;
const replicas = 3;
const keys = ["k0", "k1", "k2", "k3", "k4", "k5"];
const groupAddress = (gid: number, id: number): string => `g${gid}n${id}.sim:7000`;
const ctlAddress = (id: number): string => `c${id}.sim:7001`;
const dec = new TextDecoder();
/** Deadline of one operation in the faulty phase (then its outcome is unknown). */
const opDeadlineMs = 3000;
const errorName = (e: unknown): string => (e as Error)?.constructor?.name ?? "?";

/** A shard group: replicas with the real ShardService, one log and one production state machine. */
class SimGroup {
  leader = 1 as NodeId;
  term = 1 as Term;
  readonly gens: number[] = new Array<number>(replicas + 1).fill(0);
  readonly down: boolean[] = new Array<boolean>(replicas + 1).fill(false);
  readonly paused: boolean[] = new Array<boolean>(replicas + 1).fill(false);
  readonly services: ShardService[] = [];
  private nextIndex = 2;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(readonly gid: GroupId, readonly sm: RocksShardStateMachine, private readonly w: World) {
    for (let id = 1; id <= replicas; id++) {
      const nid = id as NodeId;
      this.services[id] = new ShardService({
        node: {
          softState: () => ({ role: this.leader === nid ? "leader" : "follower", leader: this.leader, term: this.term }),
          propose: (data) => this.propose(nid, data),
          readBarrier: () => this.barrier(nid),
        },
        sm,
        clock: w.clock,
        address: (x) => (x === 0 ? undefined : groupAddress(gid, x)),
      });
    }
  }

  /** Opens the group's state machine with config 1 applied (its shards serving). */
  static async open(gid: GroupId, config: Config, storage: SimKvStorage, w: World): Promise<SimGroup> {
    const sm = await RocksShardStateMachine.open(`/g${gid}`, { gid, shardCount, dedupTtlMs: 60_000, storage });
    await sm.apply([{ index: 1 as LogIndex, term: 1 as Term, type: "normal", data: encodeCommand({ timestampMs: 0, op: { kind: "reconfigure", config } }) }]);
    return new SimGroup(gid, sm, w);
  }

  private notLeader(): NotLeaderError {
    return new NotLeaderError(this.leader);
  }

  private propose(id: NodeId, data: Uint8Array): Promise<ApplyResult> {
    if (this.leader !== id) return Promise.reject(this.notLeader());
    const term = this.term;
    return new Promise<ApplyResult>((resolve, reject) => {
      this.w.clock.after(this.w.rng.range(1, 8), () => {
        const deposed = this.term !== term;
        if (deposed && this.w.rng.bool(0.5)) {
          this.w.trace(`g${this.gid} entry of term ${term} lost with its leader`);
          if (this.w.opts.sabotage === "ackLost") resolve(fakeSuccess(data));
          else reject(this.notLeader());
          return;
        }
        const index = this.nextIndex++ as LogIndex;
        this.chain = this.chain.then(() => this.sm.apply([{ index, term, type: "normal", data }])).then(
          ([r]) => (deposed ? reject(this.notLeader()) : resolve(r!)),
          (e: Error) => {
            this.w.fail(`g${this.gid}: apply of entry ${index} failed: ${e.stack ?? e}`);
            reject(e);
          },
        );
      });
    });
  }

  private barrier(id: NodeId): Promise<void> {
    if (this.leader !== id) return Promise.reject(this.notLeader());
    const term = this.term;
    return new Promise<void>((resolve, reject) => {
      this.w.clock.after(this.w.rng.range(1, 5), () => (this.term === term && this.leader === id ? resolve() : reject(this.notLeader())));
    });
  }

  /** A new term with a seeded leader among the replicas that are up (maybe the same one). */
  elect(): void {
    const up = [1, 2, 3].filter((i) => !this.down[i]);
    this.term = (this.term + 1) as Term;
    this.leader = (up.length > 0 ? this.w.rng.pick(up) : 0) as NodeId;
    this.w.trace(`g${this.gid} term ${this.term} leader ${this.leader}`);
  }
}

/** The answer of a write that succeeded, for an entry that was never applied (sabotage). */
function fakeSuccess(data: Uint8Array): ApplyResult {
  const { op } = decodeCommand(data);
  const n = op.kind === "write" ? op.write.ops.length : 0;
  const results = Array.from({ length: n }, () => ({ found: false, value: new Uint8Array(0), swapped: false }));
  return { kind: "write", outcome: { ok: true, results, duplicate: false } };
}

interface AppendRecord {
  readonly key: string;
  readonly token: string;
  acked: boolean;
  ackedMs: number;
}

interface ReadRecord {
  readonly key: string;
  readonly startMs: number;
  readonly value: string;
}

/** The run's world: clock, randomness, network, controller, groups, history. */
class World {
  readonly clock = new SimClock();
  readonly rng: SimRng;
  readonly net: SimRpcNet;
  readonly groups = new Map<GroupId, SimGroup>();
  readonly config: Config;
  ctlLeader = 1;
  failure: string | undefined;
  readonly appends: AppendRecord[] = [];
  readonly reads: ReadRecord[] = [];
  /** Deliveries of each write (client id/seq) to a server. */
  readonly deliveries = new Map<string, number>();
  private readonly hash = createHash("sha256");
  private freshSeq = 1_000_000;

  constructor(readonly seed: number, readonly opts: SimClientRunOptions, faults: NetworkFaults) {
    this.rng = new SimRng(seed).fork("sim-client");
    this.net = new SimRpcNet(this.clock, this.rng.fork("rpc"), faults, (l) => this.trace(l));
    const groups = new Map<GroupId, string[]>();
    for (const gid of [1, 2]) groups.set(gid as GroupId, [1, 2, 3].map((id) => groupAddress(gid, id)));
    this.config = { num: 1 as ConfigNum, shards: Array.from({ length: shardCount }, (_, s) => ((s % 2) + 1) as GroupId), groups };
  }

  trace(line: string): void {
    const l = `${this.clock.nowMs()} ${line}`;
    this.hash.update(l + "\n");
    this.opts.trace?.(l);
  }

  fail(why: string): void {
    this.failure ??= why;
  }

  traceHash(): string {
    return this.hash.digest("hex");
  }

  /** The Batch handlers of a replica: the real ones, counting each write's deliveries. */
  handlers(svc: ShardService): BatchHandlers {
    const h = wireHandlers(svc);
    return {
      ...h,
      write: (req) => {
        const id = `${Buffer.from(req.id?.clientId ?? []).toString("hex")}/${req.id?.seq}`;
        this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
        if (this.opts.sabotage === "freshSeqs" && req.id) req.id.seq = this.freshSeq++;
        return h.write(req);
      },
    };
  }
}

type Endpoint = { readonly svc: ShardService } | { readonly ctl: number };

/** Runs seed `seed`; never throws for a failed check (the result says it). */
export async function runSimClientSeed(seed: number, opts: SimClientRunOptions = {}): Promise<SimClientRunResult> {
  seed = seed >>> 0;
  const params = new SimRng(seed).fork("params");
  const faults: NetworkFaults = {
    dropRate: params.pick([0, 0.02, 0.05, 0.1]),
    dupRate: params.pick([0, 0.05, 0.1]),
    delayMinMs: 1,
    delayMaxMs: params.range(2, 20),
    longDelayRate: params.pick([0, 0.01, 0.03]),
    longDelayMs: 300,
  };
  const clientCount = params.range(2, 3);
  const sendWindow = params.pick([1, 2, 4]);
  const w = new World(seed, opts, faults);
  const { clock, net, rng } = w;
  const bug = SimBuggify.start(seed, opts.buggify);
  if (bug) bug.trace = (line) => w.trace(line);
  w.trace(`sim-client seed ${seed} faults ${JSON.stringify(faults)} clients ${clientCount} window ${sendWindow}${opts.sabotage ? ` SABOTAGE ${opts.sabotage}` : ""}`);

  const storage = new SimKvStorage(rng.fork("disk"));
  for (const gid of [1, 2] as GroupId[]) w.groups.set(gid, await SimGroup.open(gid, w.config, storage, w));
  for (const [gid, g] of w.groups) {
    for (let id = 1; id <= replicas; id++) {
      net.register<Endpoint>(groupAddress(gid, id), {
        service: () => (g.down[id] ? undefined : { svc: g.services[id]! }),
        generation: () => g.gens[id]!,
        paused: () => g.paused[id]!,
      });
    }
  }
  for (const id of [1, 2]) net.register<Endpoint>(ctlAddress(id), { service: () => ({ ctl: id }), generation: () => 0, paused: () => false });

  // ---------------------------------------------------------------- the event loop
  let events = 0;
  const drain = (): Promise<void> => new Promise((r) => nextTurn(r));
  const runUntil = async (until: () => boolean, limitMs: number): Promise<boolean> => {
    while (w.failure === undefined) {
      if (until()) return true;
      const next = clock.peekTime();
      if (next === undefined || next > limitMs) return false;
      try {
        clock.runNext();
      } catch (e) {
        w.fail(`uncaught in event: ${(e as Error).stack ?? e}`);
      }
      events++;
      await drain();
    }
    return false;
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => clock.after(ms, r));

  // ---------------------------------------------------------------- clients
  const transports: SimClientTransport<Endpoint, Endpoint>[] = [];
  const connect = (i: number): Promise<ShardKV> => {
    const t = new SimClientTransport<Endpoint, Endpoint>({
      net, clock, self: `client-${i}`, sendWindow, trace: (l) => w.trace(l),
      query: async (e) => {
        if (!("ctl" in e)) throw new Error("a query sent to a shard server");
        if (e.ctl !== w.ctlLeader) throw new NotLeaderError(w.ctlLeader as NodeId, ctlAddress(w.ctlLeader));
        return { config: configToWire(w.config) };
      },
      batch: (e) => {
        if (!("svc" in e)) throw new Error("a batch stream opened to a controller");
        return w.handlers(e.svc);
      },
    });
    transports.push(t);
    // The default deadline for connect: before its first answer a client allows a Query 1 s,
    // then 2 s (common/attempt-timer.ts), so two lost messages would fail a 3 s connect.
    return ShardKV.connect({ controllers: [ctlAddress(2), ctlAddress(1)], clock, rng: rng.fork(`client-${i}`), transport: t });
  };
  const kvs: ShardKV[] = [];
  let connected = 0;
  for (let i = 1; i <= clientCount; i++) {
    void connect(i).then((kv) => {
      kvs[i - 1] = kv;
      connected++;
    }, (e: Error) => w.fail(`client ${i}: connect failed: ${e.message}`));
  }
  await runUntil(() => connected === clientCount, 10_000);
  if (w.failure === undefined && connected !== clientCount) w.fail("the clients did not connect within 10 s");

  let stopping = false;
  const outcomes = new Map<string, number>();
  const count = (what: string): void => void outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const actor = async (kv: ShardKV, i: number, r: SimRng): Promise<void> => {
    let n = 0;
    const token = (): string => `c${i}.${++n};`;
    while (!stopping && w.failure === undefined) {
      const x = r.float();
      if (x < 0.3) {
        const key = r.pick(keys);
        const startMs = clock.nowMs();
        try {
          const value = (await kv.getString(key, { deadlineMs: opDeadlineMs })) ?? "";
          w.reads.push({ key, startMs, value });
          w.trace(`client ${i} get ${key} = ${value}`);
          count("get ok");
        } catch (e) {
          count(`get ${errorName(e)}`);
        }
      } else {
        const ops = (x < 0.45 ? [r.pick(keys), r.pick(keys)] : [r.pick(keys)]).map((key) => ({ key, token: token() }));
        const recs = ops.map((o) => ({ key: o.key, token: o.token, acked: false, ackedMs: 0 }));
        w.appends.push(...recs);
        try {
          if (ops.length === 1) await kv.append(ops[0]!.key, ops[0]!.token, { deadlineMs: opDeadlineMs });
          else await kv.batch(ops.map((o) => ({ type: "append" as const, key: o.key, value: o.token })), { deadlineMs: opDeadlineMs });
          for (const rec of recs) {
            rec.acked = true;
            rec.ackedMs = clock.nowMs();
          }
          w.trace(`client ${i} appended ${ops.map((o) => `${o.key}+${o.token}`).join(" ")}`);
          count("append ok");
        } catch (e) {
          w.trace(`client ${i} append ${ops.map((o) => o.token).join(" ")} unknown: ${(e as Error).message}`);
          count(`append ${errorName(e)}`);
        }
      }
      await sleep(r.range(0, 20));
    }
  };
  let actorsDone = 0;
  kvs.forEach((kv, j) => void actor(kv, j + 1, rng.fork(`actor-${j + 1}`)).then(() => actorsDone++, (e: Error) => w.fail(`actor ${j + 1}: ${e.stack ?? e}`)));

  // ---------------------------------------------------------------- nemesis
  let nemesisOn = true;
  const nem = rng.fork("nemesis");
  const addresses = [...[1, 2].flatMap((g) => [1, 2, 3].map((id) => groupAddress(g, id))), ctlAddress(1), ctlAddress(2), ...kvs.map((_, j) => `client-${j + 1}`)];
  const nemesis = (): void => {
    clock.after(nem.range(20, 300), () => {
      if (!nemesisOn) return;
      const g = w.groups.get(nem.pick([1, 2]) as GroupId)!;
      const id = nem.range(1, replicas);
      const x = nem.float();
      if (x < 0.3) g.elect();
      else if (x < 0.5 && !g.down[id]) {
        g.down[id] = true;
        g.gens[id]!++;
        w.trace(`crash g${g.gid}n${id}`);
        if (g.leader === id) g.elect();
        clock.after(nem.range(20, 600), () => {
          g.down[id] = false;
          w.trace(`restart g${g.gid}n${id}`);
          if (g.leader === 0) g.elect(); // every replica was down
        });
      } else if (x < 0.6 && !g.paused[id]) {
        g.paused[id] = true;
        w.trace(`pause g${g.gid}n${id}`);
        clock.after(nem.range(10, 300), () => {
          g.paused[id] = false;
          w.trace(`resume g${g.gid}n${id}`);
        });
      } else if (x < 0.75) net.isolate(nem.pick(addresses));
      else if (x < 0.95) net.heal();
      else {
        w.ctlLeader = 3 - w.ctlLeader;
        w.trace(`controller leader ${w.ctlLeader}`);
      }
      nemesis();
    });
  };
  nemesis();
  const safetyMs = opts.safetyMs ?? 4000;
  await runUntil(() => false, clock.nowMs() + safetyMs);

  // ---------------------------------------------------------------- liveness
  nemesisOn = false;
  stopping = true;
  net.heal();
  net.faults = { ...reliableNetwork };
  for (const g of w.groups.values()) {
    for (let id = 1; id <= replicas; id++) g.paused[id] = false;
  }
  w.trace("liveness: heal, reliable network");
  const livenessEnd = clock.nowMs() + 20_000;
  // Down replicas come back on their timers (at most 600 ms).
  await runUntil(() => actorsDone === kvs.length, livenessEnd);
  if (w.failure === undefined && actorsDone !== kvs.length) w.fail("liveness: the clients' operations did not end within 20 s");
  let probes = 0;
  kvs.forEach((kv, j) => {
    const token = `p${j + 1};`;
    const rec = { key: "k0", token, acked: false, ackedMs: 0 };
    w.appends.push(rec);
    void (async () => {
      await kv.append("k0", token);
      rec.acked = true;
      rec.ackedMs = clock.nowMs();
      const v = (await kv.getString("k0")) ?? "";
      if (!v.includes(token)) w.fail(`liveness: client ${j + 1} appended ${token} to k0 and then read ${JSON.stringify(v)}`);
      probes++;
    })().catch((e: Error) => w.fail(`liveness: client ${j + 1}'s fresh append and read failed: ${e.message}`));
  });
  await runUntil(() => probes === kvs.length, livenessEnd);
  if (w.failure === undefined && probes !== kvs.length) w.fail("liveness: the fresh appends and reads did not complete within 20 s");
  for (const kv of kvs) kv?.close();

  // ---------------------------------------------------------------- checks
  const finals: Record<string, string> = {};
  for (const key of keys) {
    const shard = shardOf(new TextEncoder().encode(key), shardCount) as ShardId;
    const v = await w.groups.get(w.config.shards[shard]!)!.sm.get(shard, new TextEncoder().encode(key));
    finals[key] = v === undefined ? "" : dec.decode(v);
    w.trace(`final ${key} = ${finals[key]}`);
  }
  if (w.failure === undefined) checkHistory(w, finals);
  const redelivered = [...w.deliveries.values()].filter((n) => n > 1).length;
  const stats: Record<string, number> = {
    events, virtualMs: clock.nowMs(), clients: clientCount,
    appends: w.appends.length, acked: w.appends.filter((a) => a.acked).length, reads: w.reads.length,
    writesDelivered: w.deliveries.size, writesRedelivered: redelivered,
    ...Object.fromEntries([...outcomes].sort()),
    rpcDropped: net.stats.dropped, rpcDuplicated: net.stats.duplicated, rpcCut: net.stats.cut,
    streamsOpened: transports.reduce((n, t) => n + t.stats.streamsOpened, 0),
    streamsBroken: transports.reduce((n, t) => n + t.stats.streamsBroken, 0),
    backpressured: transports.reduce((n, t) => n + t.stats.backpressured, 0),
  };
  w.trace(w.failure === undefined ? "ok" : `FAIL ${w.failure.split("\n")[0]}`);
  const traceHash = w.traceHash();
  const buggify = await SimBuggify.finish(bug);
  return { seed, ok: w.failure === undefined, failure: w.failure, traceHash, stats, finals, buggify };
}

/** The list-append checks of the module comment. */
function checkHistory(w: World, finals: Record<string, string>): void {
  const tokensOf = (v: string): string[] => v.split(";").filter((t) => t !== "").map((t) => `${t};`);
  const written = new Map<string, Set<string>>();
  for (const a of w.appends) {
    let s = written.get(a.key);
    if (!s) written.set(a.key, (s = new Set()));
    s.add(a.token);
  }
  for (const key of keys) {
    const seen = new Set<string>();
    for (const t of tokensOf(finals[key]!)) {
      if (seen.has(t)) return w.fail(`key ${key} holds token ${t} twice: ${finals[key]}`);
      if (!written.get(key)?.has(t)) return w.fail(`key ${key} holds token ${t} that nobody appended to it`);
      seen.add(t);
    }
  }
  for (const a of w.appends) {
    if (a.acked && !tokensOf(finals[a.key]!).includes(a.token)) return w.fail(`acknowledged append ${a.token} to ${a.key} is lost: final ${finals[a.key]}`);
  }
  for (const r of w.reads) {
    if (!finals[r.key]!.startsWith(r.value)) return w.fail(`read of ${r.key} at ${r.startMs} ms returned ${r.value}, not a prefix of the final ${finals[r.key]}`);
    const got = new Set(tokensOf(r.value));
    const missed = w.appends.find((a) => a.key === r.key && a.acked && a.ackedMs < r.startMs && !got.has(a.token));
    if (missed) return w.fail(`read of ${r.key} at ${r.startMs} ms missed ${missed.token}, acknowledged at ${missed.ackedMs} ms`);
  }
}

/** The message of a failed seed: what failed and how to replay it. */
export function simClientFailureReport(r: SimClientRunResult): string {
  return `FAIL seed=${r.seed}: ${r.failure}\nreproduce with SIM_CLIENT_SEED=${r.seed} npx vitest run test/unit/sim-client.test.ts ` +
    `(SIM_CLIENT_TRACE=1 prints the trace)\nstats ${JSON.stringify(r.stats)}\n`;
}
