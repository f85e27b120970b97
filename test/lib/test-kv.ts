/**
 * TestKV: a minimal routing client over raw ShardKV stubs (not the client library), for
 * real-process tests of a LocalCluster (deploy/local/cluster.ts). It routes by shardOf and the
 * controller's latest config, follows NotLeader, refreshes the config on WrongGroup, and
 * retries a write with the same request id (at most once).
 */
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { InvalidArgumentError, NotLeaderError, type ShardKVError, TimeoutError, WrongGroupError } from "../../common/errors";
import { fromServiceError } from "../../common/grpc-errors";
import type { GroupId } from "../../common/ids";
import { delay, realClock, wallClockMs } from "../../common/real-env";
import type { Config } from "../../controller/config";
import { shardOf } from "../../controller/shard-of";
import type { LocalCluster } from "../../deploy/local/cluster";
import type { shardkv } from "../../proto/gen/shardkv.js";
import { shardPb } from "../../shard-server/codec";
import type { ShardKVStub } from "../../shard-server/grpc-service";

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

  constructor(private readonly cluster: LocalCluster, private readonly deadlineMs = 30000) {}

  private refresh(): Promise<Config> {
    this.refreshing ??= this.cluster.controller().query().then(
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
        const r = await call(this.cluster.shardStub(target), shard, new Date(wallClockMs() + 2000));
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
