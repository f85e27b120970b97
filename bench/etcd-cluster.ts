/**
 * A 3-member etcd cluster on loopback for the side-by-side benchmark (bench/run.ts):
 * Debian's `etcd-server` package (installed with apt-get when `etcd` is missing), data
 * directories under a given directory, free loopback ports (never the well-known ones, etcd's
 * 2379/2380 included), started together, healthy when every member answers /health with
 * "true", stopped with SIGTERM then SIGKILL. Every member is SIGKILLed when this process
 * exits, so no etcd outlives the benchmark.
 *
 * As a script: `npx tsx bench/etcd-cluster.ts [--dir DIR] [--members N]` starts a
 * cluster, prints its client endpoints, and stops it on Ctrl-C / SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError, exitUsage, flag, parseCommandLine } from "../common/cli-args";
import { delay, realClock } from "../common/real-env";
import { freePorts } from "../deploy/local/process";

/**
 * Ports never handed to a member: etcd's defaults (an etcd of the machine may run there) and
 * other well-known services'.
 */
const avoidedPorts: readonly number[] = [2379, 2380, 6379, 5432, 3306, 5672, 1883, 4222];

export interface EtcdMember {
  readonly name: string;
  /** "127.0.0.1:port" of the client API. */
  readonly clientAddr: string;
  readonly peerAddr: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** The etcd binary's version line ("3.4.23"), or undefined when etcd is not installed. */
export function etcdVersion(): string | undefined {
  const r = spawnSync("etcd", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version:\s*(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.split("\n")[0]?.trim();
}

/**
 * Makes sure `etcd` is on PATH: when missing, runs `apt-get update` and
 * `apt-get install -y etcd-server` (root needed). Throws with the reason when that fails.
 */
export function ensureEtcd(log: (line: string) => void = () => undefined): string {
  const v = etcdVersion();
  if (v !== undefined) return v;
  log("etcd is not installed: apt-get update && apt-get install -y etcd-server");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "etcd-server"]]) {
    const r = spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env });
    if (r.error || r.status !== 0) {
      throw new Error(`could not install etcd (apt-get ${args.join(" ")} ${r.error ? `failed: ${r.error.message}` : `exited ${r.status}`}); install the Debian package etcd-server, or pass --no-etcd`);
    }
  }
  const after = etcdVersion();
  if (after === undefined) throw new Error("apt-get installed etcd-server but `etcd --version` still fails");
  return after;
}

function healthy(clientAddr: string, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const req = get(`http://${clientAddr}/health`, { timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => done(res.statusCode === 200 && /"health"\s*:\s*"true"/.test(body)));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => done(false));
  });
}

export class EtcdCluster {
  private constructor(readonly dir: string, readonly members: readonly EtcdMember[]) {}

  /** Client endpoints, "127.0.0.1:port". */
  get endpoints(): string[] {
    return this.members.map((m) => m.clientAddr);
  }

  /** Member pids (for CPU accounting). */
  get pids(): number[] {
    return this.members.map((m) => m.proc.pid!).filter((p) => p !== undefined);
  }

  /** Starts `members` etcd processes under `dir` and waits until every one is healthy. */
  static async start(opts: { dir: string; members?: number; timeoutMs?: number }): Promise<EtcdCluster> {
    const n = opts.members ?? 3;
    const dir = resolve(opts.dir);
    mkdirSync(dir, { recursive: true });
    const ports: number[] = [];
    while (ports.length < 2 * n) {
      for (const p of await freePorts(2 * n - ports.length)) {
        if (!avoidedPorts.includes(p) && !ports.includes(p)) ports.push(p);
      }
    }
    const names = Array.from({ length: n }, (_, i) => `e${i + 1}`);
    const peer = (i: number) => `127.0.0.1:${ports[n + i]}`;
    const initialCluster = names.map((name, i) => `${name}=http://${peer(i)}`).join(",");
    const token = `shardkv-bench-${ports[0]}`;
    const members: EtcdMember[] = names.map((name, i) => {
      const clientAddr = `127.0.0.1:${ports[i]}`;
      const dataDir = join(dir, name);
      const logFile = join(dir, `${name}.log`);
      const log = openSync(logFile, "a");
      const proc = spawn("etcd", [
        "--name", name, "--data-dir", dataDir,
        "--listen-client-urls", `http://${clientAddr}`, "--advertise-client-urls", `http://${clientAddr}`,
        "--listen-peer-urls", `http://${peer(i)}`, "--initial-advertise-peer-urls", `http://${peer(i)}`,
        "--initial-cluster", initialCluster, "--initial-cluster-token", token, "--initial-cluster-state", "new",
        "--log-level", "warn",
      ], { stdio: ["ignore", log, log] });
      closeSync(log);
      live.add(proc);
      const exited = new Promise<void>((r) => proc.once("exit", () => {
        live.delete(proc);
        r();
      }));
      return { name, clientAddr, peerAddr: peer(i), dataDir, logFile, proc, exited };
    });
    const c = new EtcdCluster(dir, members);
    try {
      await c.waitHealthy(opts.timeoutMs ?? 30_000);
    } catch (e) {
      await c.stop(0);
      throw e;
    }
    return c;
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const end = realClock.nowMs() + timeoutMs;
    for (;;) {
      const dead = this.members.find((m) => m.proc.exitCode !== null || m.proc.signalCode !== null);
      if (dead) throw new Error(`etcd member ${dead.name} exited while starting; log ${dead.logFile}:\n${tail(dead.logFile)}`);
      const ok = await Promise.all(this.members.map((m) => healthy(m.clientAddr, 1000)));
      if (ok.every(Boolean)) return;
      if (realClock.nowMs() > end) {
        const bad = this.members.filter((_, i) => !ok[i]).map((m) => m.name);
        throw new Error(`etcd cluster not healthy after ${timeoutMs} ms (${bad.join(", ")} not healthy); logs in ${this.dir}`);
      }
      await delay(100);
    }
  }

  /** SIGTERM to every member, SIGKILL after `graceMs`; resolves when all have exited. */
  async stop(graceMs = 5000): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      if (m.proc.exitCode !== null || m.proc.signalCode !== null) return;
      m.proc.kill(graceMs > 0 ? "SIGTERM" : "SIGKILL");
      const cancel = realClock.after(graceMs, () => m.proc.kill("SIGKILL"));
      await m.exited;
      cancel();
    }));
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines - 1).join("\n");
  } catch {
    return "(no log)";
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const usageLine = "usage: etcd-cluster [--dir DIR] [--members 1-9]";
  let cl;
  try {
    cl = parseCommandLine(argv, { dir: flag.nonEmpty(), members: flag.int(1, 9) }, { positionals: 0 });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`etcd-cluster: ${e.message} (${usageLine})\n`);
    process.exitCode = exitUsage;
    return;
  }
  if (cl.help) {
    process.stdout.write(`${usageLine}\n`);
    return;
  }
  const dir = cl.values.dir;
  const members = cl.values.members ?? 3;
  const version = ensureEtcd((l) => process.stderr.write(`etcd-cluster: ${l}\n`));
  const c = await EtcdCluster.start({ dir: dir ?? mkdtempSync(join(tmpdir(), "shardkv-etcd-")), members });
  process.stdout.write(`etcd ${version}: ${members} members healthy; data in ${c.dir}\nendpoints: ${c.endpoints.join(",")}\n(Ctrl-C stops it)\n`);
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await c.stop();
  process.stdout.write("etcd cluster stopped\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
