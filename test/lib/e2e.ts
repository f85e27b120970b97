/**
 * Shared pieces of the end-to-end suite (test/integration/e2e-*.test.ts, docs/testing.md "The end-to-end scenarios"): a whole
 * cluster started by the launcher (deploy/local/cluster.ts LocalCluster: real daemons, gRPC,
 * RocksDB, with or without NATS) in a temporary directory, stopped and removed afterwards
 * (kept with its logs when a test failed or SHARDKV_KEEP_LOGS=1), plus the checks the
 * scenarios share: every replica settled at the latest config, and no replica holding keys of
 * a shard it does not own.
 */
import { afterAll, beforeAll, expect, onTestFailed } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GroupId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import type { Config } from "../../controller/config";
import { LocalCluster, shardStateName, type LocalClusterOptions } from "../../deploy/local/cluster";
import { AppendLoad, type AppendLoadOptions } from "./append-load";
import { natsUrl, requireNats } from "./nats";
import { waitFor } from "./wait";

/** `npm run test:long` (SHARDKV_E2E_LONG=1): the long forms of the scenarios. */
export const e2eLong = process.env["SHARDKV_E2E_LONG"] === "1";

export interface E2eOptions extends Omit<LocalClusterOptions, "dir" | "nats"> {
  /** Start the daemons with NATS config pushes (the machine's NATS must be up: fails, never skips). */
  readonly nats: boolean;
}

export class E2e {
  private readonly t0 = realClock.nowMs();
  readonly phases: string[] = [];
  failed = false;

  private constructor(readonly name: string, readonly dir: string, readonly cluster: LocalCluster, readonly nats: string | undefined) {}

  static async up(name: string, opts: E2eOptions): Promise<E2e> {
    if (opts.nats) await requireNats();
    const dir = mkdtempSync(join(tmpdir(), `shardkv-e2e-${name}-`));
    const cluster = await LocalCluster.up({ tickMs: 50, ...opts, dir, nats: opts.nats ? natsUrl : null });
    const e = new E2e(name, dir, cluster, opts.nats ? natsUrl : undefined);
    e.mark("cluster up");
    return e;
  }

  /** Records a timed phase (printed at the end, and on failure with the logs). */
  mark(what: string): void {
    this.phases.push(`${((realClock.nowMs() - this.t0) / 1000).toFixed(1)}s ${what}`);
  }

  get controllers(): string[] {
    return this.cluster.controllerAddrs();
  }

  /** Server node names of group `gid` ("g1n1", ...). */
  servers(gid: number): string[] {
    return this.cluster.nodesOf(gid);
  }

  /** What to print when a test failed: the phases and every node's last log lines. */
  report(): string {
    const tails = this.cluster.nodeNames().map((n) => `--- ${n}\n${this.cluster.logOf(n).split("\n").slice(-25).join("\n")}`);
    return `e2e ${this.name} phases:\n${this.phases.join("\n")}\n${tails.join("\n")}\nlogs in ${this.dir}\n`;
  }

  async down(): Promise<void> {
    await this.cluster.down().catch(() => undefined);
    if (this.failed || process.env["SHARDKV_KEEP_LOGS"] === "1") process.stderr.write(`e2e ${this.name}: logs kept in ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
    process.stderr.write(`e2e ${this.name} phases:\n${this.phases.join("\n")}\n`);
  }

  /**
   * True when every running server of every group in cluster.json has applied the
   * controller's latest config and each of its shards is Serving (owned) or NotOwned (no
   * Pulling, Handoff or Gc left).
   */
  async settled(): Promise<boolean> {
    let cfg: Config;
    try {
      cfg = await this.cluster.controller().query();
    } catch {
      return false;
    }
    for (const g of this.cluster.layout.groups) {
      for (const s of g.servers) {
        if (s.pid === null) continue;
        const st = await this.cluster.serverStatus(s.addr, 1000).catch(() => undefined);
        if (!st || Number(st.configNum) !== cfg.num) return false;
        for (const sh of st.shards) {
          const want = cfg.shards[Number(sh.shard)] === g.gid ? "serving" : "notOwned";
          if (shardStateName(sh.state) !== want) return false;
        }
      }
    }
    return true;
  }

  waitSettled(what: string, timeoutMs = 60000): Promise<void> {
    return waitFor(() => this.settled(), { timeoutMs, what: `every replica settled at the latest config ${what}`, intervalMs: 100 });
  }

  /**
   * Every running server's keys and bytes per shard it does not own in the latest config
   * (the garbage collection check: all zero once settled).
   */
  async foreignKeys(): Promise<{ node: string; shard: number; keys: number; bytes: number }[]> {
    const cfg = await this.cluster.controller().query();
    const out: { node: string; shard: number; keys: number; bytes: number }[] = [];
    for (const g of this.cluster.layout.groups) {
      for (const s of g.servers) {
        if (s.pid === null) continue;
        const st = await this.cluster.serverStatus(s.addr, 2000);
        for (const sh of st.shards) {
          if (cfg.shards[Number(sh.shard)] === g.gid) continue;
          if (Number(sh.keys) !== 0 || Number(sh.bytes) !== 0) out.push({ node: `g${g.gid}n${s.id}`, shard: Number(sh.shard), keys: Number(sh.keys), bytes: Number(sh.bytes) });
        }
      }
    }
    return out;
  }
}

/** What `e2eSuite` gives a describe block. */
export interface E2eSuite {
  /** The running cluster (set by the suite's beforeAll). */
  readonly e: E2e;
  /** Call first in each test: on failure, keep the directory and print the phases and logs. */
  onFail(): void;
  /** Things to close after the suite, before the cluster stops (clients, loads). */
  closeAfter(x: { close(): void }): void;
  /** Starts an append load (3 clients x 3 keys) with its own key prefix, closed after the suite. */
  startAppends(prefix: string, opts?: Partial<AppendLoadOptions>): Promise<AppendLoad>;
  /**
   * Stops the load, waits until every replica settled, runs the exact append check (more than
   * 50 acknowledged), and checks that no replica holds keys of a shard it does not own.
   */
  finishAppends(l: AppendLoad, what: string): Promise<void>;
}

/**
 * Registers, in the current describe block, a beforeAll that starts the cluster and an
 * afterAll that closes what was registered and stops it (see E2e.down).
 */
export function e2eSuite(name: string, opts: E2eOptions): E2eSuite {
  let e: E2e | undefined;
  const closers: { close(): void }[] = [];
  beforeAll(async () => {
    e = await E2e.up(name, opts);
  }, 180_000);
  afterAll(async () => {
    for (const x of closers) x.close();
    await e?.down();
  }, 60_000);
  return {
    get e(): E2e {
      if (!e) throw new Error(`e2e ${name}: the cluster did not start`);
      return e;
    },
    onFail: () => onTestFailed(() => {
      if (!e) return;
      e.failed = true;
      process.stderr.write(e.report());
    }),
    closeAfter: (x) => closers.push(x),
    async startAppends(prefix, o = {}) {
      const l = await AppendLoad.start({ controllers: this.e.controllers, clients: 3, keysPerClient: 3, prefix, nats: this.e.nats, deadlineMs: 8000, ...o });
      closers.push(l);
      return l;
    },
    async finishAppends(l, what) {
      const e = this.e;
      await l.stop();
      e.mark(`${what}: load stopped (${l.acked} acked, ${l.timedOut} timed out, ${l.otherErrors.length} other errors)`);
      await e.waitSettled(`after ${what}`, 90_000);
      const check = await l.verify();
      e.mark(`${what}: ${check.keys} keys hold their ${check.acked} acknowledged appends once each, in order; ${check.unackedApplied} of ${check.unacked} unacknowledged applied`);
      expect(check.acked).toBeGreaterThan(50);
      expect(await e.foreignKeys()).toEqual([]);
    },
  };
}

/**
 * Scenario 2 of docs/testing.md, join then leave under load, on a cluster of groups 1-3 (all
 * joined): group 3 leaves, an append load starts, then join 3, leave 1, join 1, each settled
 * under the load, and the exact append check. Run with NATS by e2e-reconfig and without it by
 * e2e-availability (on its cluster without NATS, after its own scenarios).
 */
export async function joinThenLeave(h: E2eSuite): Promise<void> {
  const g = (n: number) => n as GroupId;
  const e = h.e;
  const c = e.cluster;
  await c.controller().leave([g(3)]);
  await e.waitSettled("before the load");
  const l = await h.startAppends("s2-");
  await l.waitAcks(60, "before the join");
  await c.controller().join(new Map([[g(3), c.groupAddrs(3)]]));
  e.mark("join 3");
  await l.waitAcks(60, "during join 3");
  await e.waitSettled("after join 3");
  await c.controller().leave([g(1)]);
  e.mark("leave 1");
  await l.waitAcks(60, "during leave 1");
  await e.waitSettled("after leave 1");
  await c.controller().join(new Map([[g(1), c.groupAddrs(1)]]));
  e.mark("join 1");
  await l.waitAcks(60, "during join 1");
  await h.finishAppends(l, "join then leave");
}
