/**
 * Starts and controls a group of `shardkv-controller` daemons (controller/main.ts) as OS
 * processes on loopback ports, for real-process tests: spawn, kill -9, restart, graceful stop,
 * per-replica log files (stdout and stderr, appended across restarts), and status polling
 * through the Status RPC. Every child is also SIGKILLed when the test process exits, so a
 * failing test leaves no orphans.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { realClock } from "../../common/real-env";
import { ControllerClient, type ControllerStatus } from "../../controller/client";
import { daemonBin, repoRoot } from "../../deploy/local/process";
import { freePorts } from "../../deploy/raft-demo/cluster";
import { waitFor } from "./wait";


/** Children of this process still running (killed on exit). */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

export interface ControllerReplica {
  readonly id: number;
  readonly address: string;
  readonly dataDir: string;
  readonly logFile: string;
  proc: ChildProcess | null;
  exited: Promise<void>;
  /** How each run of the process ended ("code 0", "signal SIGKILL", ...), oldest first. */
  readonly exits: string[];
}

export interface ControllerClusterOptions {
  /** Data and logs go below it (dir/n<id>, dir/logs/n<id>.log). */
  readonly dir: string;
  readonly size?: number;
  /** Raft tick in ms. Default 50 (election timeout 0.5-1 s). */
  readonly tickMs?: number;
  readonly shards?: number;
  readonly natsUrl?: string;
  readonly snapshotEvery?: number;
  /** Extra command-line flags of every replica (e.g. ["--failpoints", "on"]). */
  readonly serverArgs?: readonly string[];
}

export class ControllerCluster {
  readonly replicas = new Map<number, ControllerReplica>();
  /** A client for Status calls (no leader following). */
  private readonly probe: ControllerClient;

  private constructor(private readonly opts: ControllerClusterOptions, addresses: string[]) {
    this.probe = new ControllerClient({ controllers: addresses });
  }

  /** Spawns `size` replicas (default 3) and waits until each answers Status. */
  static async start(opts: ControllerClusterOptions): Promise<ControllerCluster> {
    const size = opts.size ?? 3;
    const ports = await freePorts(size);
    const addresses = ports.map((p) => `127.0.0.1:${p}`);
    const c = new ControllerCluster(opts, addresses);
    mkdirSync(join(opts.dir, "logs"), { recursive: true });
    for (let i = 1; i <= size; i++) {
      c.replicas.set(i, {
        id: i, address: addresses[i - 1]!, dataDir: join(opts.dir, `n${i}`), logFile: join(opts.dir, "logs", `n${i}.log`),
        proc: null, exited: Promise.resolve(), exits: [],
      });
    }
    for (const id of c.replicas.keys()) c.spawn(id);
    try {
      await Promise.all([...c.replicas.keys()].map((id) => c.waitUp(id)));
    } catch (e) {
      // The caller gets no handle to stop them, and a vitest fork that is torn down does not
      // run the exit hook above: stop them here, leaving no orphans.
      await c.stop(0);
      throw e;
    }
    return c;
  }

  get addresses(): string[] {
    return [...this.replicas.values()].map((r) => r.address);
  }

  get peersArg(): string {
    return [...this.replicas.values()].map((r) => `${r.id}=${r.address}`).join(",");
  }

  /** The command-line arguments replica `id` runs with. */
  args(id: number): string[] {
    const r = this.replica(id);
    const o = this.opts;
    return [
      "--id", String(id), "--listen", r.address, "--peers", this.peersArg, "--data", r.dataDir,
      "--tick-ms", String(o.tickMs ?? 50),
      ...(o.shards !== undefined ? ["--shards", String(o.shards)] : []),
      ...(o.natsUrl !== undefined ? ["--nats", o.natsUrl] : []),
      ...(o.snapshotEvery !== undefined ? ["--snapshot-every", String(o.snapshotEvery)] : []),
      ...(o.serverArgs ?? []),
    ];
  }

  replica(id: number): ControllerReplica {
    const r = this.replicas.get(id);
    if (!r) throw new Error(`no controller replica ${id}`);
    return r;
  }

  private spawn(id: number): void {
    const r = this.replica(id);
    if (r.proc) throw new Error(`controller ${id} is already running`);
    const log = openSync(r.logFile, "a");
    const proc = spawn(daemonBin.controller, this.args(id), {
      cwd: repoRoot, stdio: ["ignore", log, log],
    });
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

  /** Waits until replica `id` answers Status (fails early if the process exits). */
  async waitUp(id: number, timeoutMs = 20000): Promise<void> {
    const r = this.replica(id);
    await waitFor(async () => {
      if (!r.proc) throw new Error(`controller ${id} exited (${r.exits.at(-1)}) while starting; log:\n${this.logTail(id)}`);
      try {
        await this.probe.status(r.address, 500);
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs, what: `controller ${id} to answer Status`, intervalMs: 50 });
  }

  /** Ids of replicas whose process is running. */
  alive(): number[] {
    return [...this.replicas.values()].filter((r) => r.proc !== null).map((r) => r.id);
  }

  /** Status of replica `id`, or undefined if it does not answer within `timeoutMs`. */
  async status(id: number, timeoutMs = 1000): Promise<ControllerStatus | undefined> {
    try {
      return await this.probe.status(this.replica(id).address, timeoutMs);
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until one live replica is leader and a majority of the group agrees on it (same
   * leader and term); returns its id.
   */
  async waitForLeader(timeoutMs = 20000): Promise<number> {
    let leader = 0;
    await waitFor(async () => {
      const ss = (await Promise.all(this.alive().map((id) => this.status(id)))).filter((s) => s !== undefined);
      const leaders = ss.filter((s) => s.role === "leader");
      if (leaders.length !== 1) return false;
      const l = leaders[0]!;
      const agree = ss.filter((s) => s.leader === l.id && s.term === l.term).length;
      if (agree * 2 <= this.replicas.size) return false;
      leader = l.id;
      return true;
    }, { timeoutMs, what: "a controller leader agreed by a majority", intervalMs: 50 });
    return leader;
  }

  /** SIGKILL (kill -9): no shutdown, no flush. Resolves once the process is gone. */
  async kill(id: number): Promise<void> {
    const r = this.replica(id);
    r.proc?.kill("SIGKILL");
    await r.exited;
  }

  /** Starts replica `id` again on the same address and data, and waits until it answers. */
  async restart(id: number): Promise<void> {
    this.spawn(id);
    await this.waitUp(id);
  }

  /** SIGTERM to every running replica, SIGKILL after `graceMs`; resolves when all are gone. */
  async stop(graceMs = 5000): Promise<void> {
    await Promise.all([...this.replicas.values()].map(async (r) => {
      const p = r.proc;
      if (!p) return;
      p.kill("SIGTERM");
      const cancel = realClock.after(graceMs, () => p.kill("SIGKILL"));
      await r.exited;
      cancel();
    }));
    this.probe.close();
  }

  /** The last `lines` lines of replica `id`'s log (for failure messages). */
  logTail(id: number, lines = 30): string {
    try {
      return readFileSync(this.replica(id).logFile, "utf8").split("\n").slice(-lines - 1).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** The whole log of replica `id`. */
  log(id: number): string {
    try {
      return readFileSync(this.replica(id).logFile, "utf8");
    } catch {
      return "";
    }
  }
}
