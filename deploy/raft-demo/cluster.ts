/**
 * Starts and controls a Raft group of demo replicas as OS processes (deploy/raft-demo/
 * node-main.ts) on loopback: used by `npm start` (deploy/raft-demo.ts) and the real-process
 * test (test/integration/raft-processes.test.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { delay, realClock } from "../../common/real-env";

const nodeMain = join(dirname(fileURLToPath(import.meta.url)), "node-main.ts");

export interface DemoReply {
  req: number;
  ok: boolean;
  code?: string;
  message?: string;
  leaderHint?: number;
  index?: number;
  status?: { role: string; term: number; leader: number; commit: number; applied: number; lastIndex: number; snapshotIndex: number; firstIndex: number };
  values?: [number, string][];
}

interface Replica {
  id: number;
  address: string;
  dataDir: string;
  logFile: string;
  proc: ChildProcess | null;
  pending: Map<number, (r: DemoReply) => void>;
  exited: Promise<void>;
}

/** Finds `n` free loopback ports (bind to 0, read, close). */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

export class RaftDemoCluster {
  readonly replicas = new Map<number, Replica>();
  private reqSeq = 0;

  private constructor(readonly dir: string, private readonly extraArgs: string[]) {}

  /** Spawns `size` replicas with data under `dir` (logs in dir/logs/n<id>.log). */
  static async start(opts: { dir: string; size?: number; tickMs?: number; snapshotEvery?: number }): Promise<RaftDemoCluster> {
    const size = opts.size ?? 3;
    const ports = await freePorts(size);
    const extra = ["--tick-ms", String(opts.tickMs ?? 50), "--snapshot-every", String(opts.snapshotEvery ?? 2000)];
    const c = new RaftDemoCluster(opts.dir, extra);
    mkdirSync(join(opts.dir, "logs"), { recursive: true });
    for (let i = 1; i <= size; i++) {
      c.replicas.set(i, {
        id: i, address: `127.0.0.1:${ports[i - 1]}`, dataDir: join(opts.dir, `n${i}`), logFile: join(opts.dir, "logs", `n${i}.log`),
        proc: null, pending: new Map(), exited: Promise.resolve(),
      });
    }
    for (const id of c.replicas.keys()) await c.spawnReplica(id);
    return c;
  }

  get peersArg(): string {
    return [...this.replicas.values()].map((r) => `${r.id}=${r.address}`).join(",");
  }

  private async spawnReplica(id: number): Promise<void> {
    const r = this.replicas.get(id)!;
    const log = openSync(r.logFile, "a");
    const proc = spawn(process.execPath, ["--import", "tsx", nodeMain, "--id", String(id), "--listen", r.address,
      "--peers", this.peersArg, "--data", r.dataDir, ...this.extraArgs], { stdio: ["pipe", "pipe", log] });
    closeSync(log);
    r.proc = proc;
    r.pending = new Map();
    r.exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    let listening!: () => void;
    const up = new Promise<void>((resolve) => (listening = resolve));
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      let msg: DemoReply & { event?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.event === "listening") listening();
      if (typeof msg.req === "number") {
        const cb = r.pending.get(msg.req);
        r.pending.delete(msg.req);
        cb?.(msg);
      }
    });
    proc.once("exit", () => {
      for (const cb of r.pending.values()) cb({ req: -1, ok: false, code: "Stopped", message: `replica ${id} exited` });
      r.pending.clear();
      r.proc = null;
      listening();
    });
    await up;
  }

  /** Sends one request to replica `id`; resolves with its reply (ok false with code Stopped if it is down). */
  request(id: number, op: Record<string, unknown>): Promise<DemoReply> {
    const r = this.replicas.get(id)!;
    if (!r.proc || !r.proc.stdin!.writable) return Promise.resolve({ req: -1, ok: false, code: "Stopped", message: `replica ${id} is down` });
    const req = ++this.reqSeq;
    return new Promise((resolve) => {
      r.pending.set(req, resolve);
      r.proc!.stdin!.write(JSON.stringify({ req, ...op }) + "\n");
    });
  }

  alive(): number[] {
    return [...this.replicas.values()].filter((r) => r.proc !== null).map((r) => r.id);
  }

  /** Waits until exactly one live replica reports itself leader and the others agree; returns it. */
  async waitForLeader(timeoutMs = 20000): Promise<number> {
    const deadline = realClock.nowMs() + timeoutMs;
    while (realClock.nowMs() < deadline) {
      const statuses = await Promise.all(this.alive().map((id) => this.request(id, { op: "status" })));
      const leaders = statuses.filter((s) => s.ok && s.status!.role === "leader");
      if (leaders.length === 1) {
        const l = leaders[0]!.status!;
        const agree = statuses.filter((s) => s.ok && s.status!.leader === l.leader && s.status!.term === l.term).length;
        if (agree * 2 > this.replicas.size) return l.leader;
      }
      await delay(20);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /**
   * Proposes `data` on the leader, following NotLeader hints and retrying until `timeoutMs`.
   * A retry after an unknown outcome may commit the value twice; callers that care use unique
   * values and check.
   */
  async propose(data: string, timeoutMs = 20000): Promise<{ index: number; leader: number }> {
    const deadline = realClock.nowMs() + timeoutMs;
    let target = this.alive()[0] ?? 1;
    for (;;) {
      const r = await this.request(target, { op: "propose", data });
      if (r.ok) return { index: r.index!, leader: target };
      if (realClock.nowMs() > deadline) throw new Error(`propose ${data} failed: ${r.code}: ${r.message}`);
      if (r.code === "NotLeader" && r.leaderHint && this.replicas.get(r.leaderHint)?.proc) target = r.leaderHint;
      else {
        await delay(20);
        const live = this.alive();
        target = live[(live.indexOf(target) + 1) % live.length] ?? target;
      }
    }
  }

  async values(id: number): Promise<[number, string][]> {
    const r = await this.request(id, { op: "values" });
    if (!r.ok) throw new Error(`values on ${id}: ${r.message}`);
    return r.values!;
  }

  async status(id: number): Promise<NonNullable<DemoReply["status"]>> {
    const r = await this.request(id, { op: "status" });
    if (!r.ok) throw new Error(`status on ${id}: ${r.message}`);
    return r.status!;
  }

  /** SIGKILL: no shutdown, no flush (kill -9). */
  async kill(id: number): Promise<void> {
    const r = this.replicas.get(id)!;
    r.proc?.kill("SIGKILL");
    await r.exited;
  }

  async restart(id: number): Promise<void> {
    await this.spawnReplica(id);
  }

  /** SIGTERM every replica, SIGKILL after `graceMs`; no process is left behind. */
  async stop(graceMs = 3000): Promise<void> {
    await Promise.all([...this.replicas.values()].map(async (r) => {
      if (!r.proc) return;
      const p = r.proc;
      p.kill("SIGTERM");
      const cancel = realClock.after(graceMs, () => p.kill("SIGKILL"));
      await r.exited;
      cancel();
    }));
  }
}
