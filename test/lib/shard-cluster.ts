/**
 * Starts and controls a whole cluster as OS processes for real-process tests: a controller
 * group (test/lib/controller-cluster.ts) and shard groups of `shardkv-server` daemons
 * (shard-server/main.ts) on loopback ports, with per-replica log files, kill -9, restart,
 * graceful stop and Status polling. Also a minimal routing test client (TestKV) over raw
 * ShardKV stubs: it routes by shardOf and the controller's latest config, follows NotLeader,
 * refreshes the config on WrongGroup, retries with the same request id (at most once).
 * Every child is SIGKILLed when the test process exits.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { InvalidArgumentError, NotLeaderError, type ShardKVError, TimeoutError, WrongGroupError } from "../../common/errors";
import { fromServiceError } from "../../common/grpc-errors";
import type { GroupId } from "../../common/ids";
import { delay, realClock, wallClockMs } from "../../common/real-env";
import { ControllerClient } from "../../controller/client";
import type { Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import { daemonBin, repoRoot } from "../../deploy/local/process";
import { freePorts } from "../../deploy/raft-demo/cluster";
import type { shardkv } from "../../proto/gen/shardkv.js";
import { shardPb } from "../../shard-server/codec";
import { shardKVStub, type ShardKVStub } from "../../shard-server/grpc-service";
import { ControllerCluster } from "./controller-cluster";
import { waitFor } from "./wait";


const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export interface ShardReplica {
  readonly gid: number;
  readonly id: number;
  readonly address: string;
  readonly dataDir: string;
  readonly logFile: string;
  proc: ChildProcess | null;
  exited: Promise<void>;
  readonly exits: string[];
}

export type ShardStatus = shardkv.kv.StatusReply;

export interface ShardClusterOptions {
  readonly dir: string;
  /** Shard count of the controller group (the servers learn it from the controllers). */
  readonly shards: number;
  /** Raft tick of every process. Default 50. */
  readonly tickMs?: number;
  /** Extra command-line flags of every shard server (e.g. ["--dedup-ttl", "2s"]). */
  readonly serverArgs?: readonly string[];
  /** Extra command-line flags of every controller replica (e.g. ["--failpoints", "on"]). */
  readonly controllerArgs?: readonly string[];
}

export class ShardCluster {
  readonly groups = new Map<number, Map<number, ShardReplica>>();
  readonly controller: ControllerClient;
  private readonly stubs = new Map<string, ShardKVStub>();

  private constructor(private readonly opts: ShardClusterOptions, readonly controllers: ControllerCluster) {
    this.controller = new ControllerClient({ controllers: controllers.addresses, deadlineMs: 20000 });
  }

  static async start(opts: ShardClusterOptions): Promise<ShardCluster> {
    const controllers = await ControllerCluster.start({
      dir: join(opts.dir, "controllers"), shards: opts.shards, tickMs: opts.tickMs ?? 50, serverArgs: opts.controllerArgs,
    });
    try {
      await controllers.waitForLeader();
    } catch (e) {
      await controllers.stop(0); // no orphans: the caller gets no handle to stop them
      throw e;
    }
    mkdirSync(join(opts.dir, "logs"), { recursive: true });
    return new ShardCluster(opts, controllers);
  }

  /** Spawns group `gid` with `size` replicas (does not join it) and waits until each answers Status. */
  async startGroup(gid: number, size = 3): Promise<string[]> {
    if (this.groups.has(gid)) throw new Error(`group ${gid} already started`);
    const ports = await freePorts(size);
    const g = new Map<number, ShardReplica>();
    this.groups.set(gid, g);
    for (let i = 1; i <= size; i++) {
      g.set(i, {
        gid, id: i, address: `127.0.0.1:${ports[i - 1]}`, dataDir: join(this.opts.dir, `g${gid}n${i}`),
        logFile: join(this.opts.dir, "logs", `g${gid}n${i}.log`), proc: null, exited: Promise.resolve(), exits: [],
      });
    }
    for (const id of g.keys()) this.spawn(gid, id);
    await Promise.all([...g.keys()].map((id) => this.waitUp(gid, id)));
    return this.addresses(gid);
  }

  addresses(gid: number): string[] {
    return [...this.group(gid).values()].map((r) => r.address);
  }

  group(gid: number): Map<number, ShardReplica> {
    const g = this.groups.get(gid);
    if (!g) throw new Error(`no group ${gid}`);
    return g;
  }

  replica(gid: number, id: number): ShardReplica {
    const r = this.group(gid).get(id);
    if (!r) throw new Error(`no replica ${id} in group ${gid}`);
    return r;
  }

  args(gid: number, id: number): string[] {
    const r = this.replica(gid, id);
    const peers = [...this.group(gid).values()].map((p) => `${p.id}=${p.address}`).join(",");
    return [
      "--gid", String(gid), "--id", String(id), "--listen", r.address, "--peers", peers, "--data", r.dataDir,
      "--controllers", this.controllers.addresses.join(","), "--tick-ms", String(this.opts.tickMs ?? 50),
      ...(this.opts.serverArgs ?? []),
    ];
  }

  private spawn(gid: number, id: number): void {
    const r = this.replica(gid, id);
    if (r.proc) throw new Error(`g${gid}n${id} is already running`);
    const log = openSync(r.logFile, "a");
    const proc = spawn(daemonBin.server, this.args(gid, id), { cwd: repoRoot, stdio: ["ignore", log, log] });
    closeSync(log);
    live.add(proc);
    r.proc = proc;
    r.exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        live.delete(proc);
        r.exits.push(signal ? `signal ${signal}` : `code ${code}`);
        if (r.proc === proc) r.proc = null;
        resolve();
      });
    });
  }

  stub(address: string): ShardKVStub {
    let s = this.stubs.get(address);
    if (!s) {
      s = shardKVStub(address);
      this.stubs.set(address, s);
    }
    return s;
  }

  /** Status of one replica (throws the typed error). */
  statusOf(address: string, timeoutMs = 1000): Promise<ShardStatus> {
    return new Promise((resolve, reject) => {
      this.stub(address).status({}, new grpc.Metadata(), { deadline: new Date(wallClockMs() + timeoutMs) }, (e, res) => {
        if (e) reject(fromServiceError(e));
        else resolve(res!);
      });
    });
  }

  async status(gid: number, id: number, timeoutMs = 1000): Promise<ShardStatus | undefined> {
    try {
      return await this.statusOf(this.replica(gid, id).address, timeoutMs);
    } catch {
      return undefined;
    }
  }

  async waitUp(gid: number, id: number, timeoutMs = 30000): Promise<void> {
    const r = this.replica(gid, id);
    await waitFor(async () => {
      if (!r.proc) throw new Error(`g${gid}n${id} exited (${r.exits.at(-1)}) while starting; log:\n${this.logTail(gid, id)}`);
      return (await this.status(gid, id, 500)) !== undefined;
    }, { timeoutMs, what: `g${gid}n${id} to answer Status`, intervalMs: 50 });
  }

  alive(gid: number): number[] {
    return [...this.group(gid).values()].filter((r) => r.proc !== null).map((r) => r.id);
  }

  /** Waits until one live replica of `gid` leads and a majority agrees; returns its id. */
  async waitForLeader(gid: number, timeoutMs = 20000): Promise<number> {
    let leader = 0;
    await waitFor(async () => {
      const ss = (await Promise.all(this.alive(gid).map((id) => this.status(gid, id)))).filter((s) => s !== undefined);
      const leaders = ss.filter((s) => s.role === "leader");
      if (leaders.length !== 1) return false;
      const l = leaders[0]!;
      if (ss.filter((s) => Number(s.leader) === Number(l.id) && Number(s.term) === Number(l.term)).length * 2 <= this.group(gid).size) return false;
      leader = Number(l.id);
      return true;
    }, { timeoutMs, what: `a leader of group ${gid}`, intervalMs: 50 });
    return leader;
  }

  async kill(gid: number, id: number): Promise<void> {
    const r = this.replica(gid, id);
    r.proc?.kill("SIGKILL");
    await r.exited;
  }

  async restart(gid: number, id: number): Promise<void> {
    this.spawn(gid, id);
    await this.waitUp(gid, id);
  }

  async stop(graceMs = 5000): Promise<void> {
    await Promise.all([...this.groups.values()].flatMap((g) => [...g.values()]).map(async (r) => {
      const p = r.proc;
      if (!p) return;
      p.kill("SIGTERM");
      const cancel = realClock.after(graceMs, () => p.kill("SIGKILL"));
      await r.exited;
      cancel();
    }));
    for (const s of this.stubs.values()) s.close();
    this.stubs.clear();
    this.controller.close();
    await this.controllers.stop();
  }

  logTail(gid: number, id: number, lines = 30): string {
    try {
      return readFileSync(this.replica(gid, id).logFile, "utf8").split("\n").slice(-lines - 1).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Every replica's log tail (for failure messages). */
  allLogTails(lines = 20): string {
    const out: string[] = [];
    for (const [gid, g] of this.groups) for (const id of g.keys()) out.push(`--- g${gid}n${id}\n${this.logTail(gid, id, lines)}`);
    return out.join("\n");
  }
}

/** Shard states of a Status reply, by name. */
export const shardStateName = (s: number | null | undefined): string =>
  ({ [shardPb.ShardState.SHARD_NOT_OWNED]: "notOwned", [shardPb.ShardState.SHARD_SERVING]: "serving",
    [shardPb.ShardState.SHARD_PULLING]: "pulling", [shardPb.ShardState.SHARD_HANDOFF]: "handoff",
    [shardPb.ShardState.SHARD_GC]: "gc" } as Record<number, string>)[s ?? 0] ?? `state${s}`;

/**
 * A minimal routing client over raw stubs (not the client library): one request at a time per
 * call, each write with its own (clientId, seq) kept across retries.
 */
export class TestKV {
  private readonly clientId = randomBytes(16);
  private seq = 0;
  private config: Config | undefined;
  private readonly leaders = new Map<GroupId, string>();
  private refreshing: Promise<Config> | undefined;
  /** Counts of retried failures by kind (for test diagnostics). */
  readonly retries = new Map<string, number>();

  constructor(private readonly cluster: ShardCluster, private readonly deadlineMs = 30000) {}

  private refresh(): Promise<Config> {
    this.refreshing ??= this.cluster.controller.query().then(
      (c) => {
        this.config = c;
        this.refreshing = undefined;
        return c;
      },
      (e) => {
        this.refreshing = undefined;
        throw e;
      },
    );
    return this.refreshing;
  }

  private async route<T>(key: Uint8Array, what: string, call: (stub: ShardKVStub, shard: number, deadline: Date) => Promise<T>): Promise<T> {
    const end = realClock.nowMs() + this.deadlineMs;
    let next = 0;
    let last: ShardKVError | undefined;
    let attempt = 0;
    while (realClock.nowMs() < end) {
      const cfg = this.config ?? await this.refresh();
      const shard = shardOf(key, cfg.shards.length);
      const gid = cfg.shards[shard]!;
      const servers = cfg.groups.get(gid) ?? [];
      if (gid === 0 || servers.length === 0) {
        await delay(100);
        await this.refresh();
        continue;
      }
      const target = this.leaders.get(gid) ?? servers[next++ % servers.length]!;
      try {
        const r = await call(this.cluster.stub(target), shard, new Date(wallClockMs() + 2000));
        this.leaders.set(gid, target);
        return r;
      } catch (e) {
        const err = fromServiceError(e);
        last = err;
        this.retries.set(err.code, (this.retries.get(err.code) ?? 0) + 1);
        if (err instanceof InvalidArgumentError) throw err;
        if (err instanceof NotLeaderError && err.leaderAddress && err.leaderAddress !== target) {
          this.leaders.set(gid, err.leaderAddress);
          continue;
        }
        this.leaders.delete(gid);
        attempt++;
        if (err instanceof WrongGroupError) await this.refresh().catch(() => undefined);
        await delay(Math.min(200, 10 * 2 ** Math.min(attempt, 5)));
      }
    }
    throw new TimeoutError(`${what}${last ? ` (last error: ${last.message})` : ""}`, this.deadlineMs);
  }

  async put(key: string, value: string | Uint8Array): Promise<void> {
    await this.write(key, shardPb.OpType.OP_PUT, value);
  }

  async append(key: string, value: string): Promise<void> {
    await this.write(key, shardPb.OpType.OP_APPEND, value);
  }

  private async write(key: string, type: shardkv.kv.OpType, value: string | Uint8Array): Promise<void> {
    const k = Buffer.from(key);
    const seq = ++this.seq; // one id for every retry
    await this.route(k, `write ${key}`, (stub, shard, deadline) => new Promise<void>((resolve, reject) => {
      stub.write(
        { id: { clientId: this.clientId, seq, ackedBelow: seq }, shard, ops: [{ type, key: k, value: typeof value === "string" ? Buffer.from(value) : value }] },
        new grpc.Metadata(), { deadline }, (e) => (e ? reject(e) : resolve()),
      );
    }));
  }

  async get(key: string): Promise<string | undefined> {
    const k = Buffer.from(key);
    return this.route(k, `get ${key}`, (stub, _shard, deadline) => new Promise<string | undefined>((resolve, reject) => {
      stub.get({ key: k }, new grpc.Metadata(), { deadline }, (e, res) => {
        if (e) reject(e);
        else resolve(res!.found ? Buffer.from(res!.value).toString() : undefined);
      });
    }));
  }
}
