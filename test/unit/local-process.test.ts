/**
 * deploy/local/process.ts against real processes: a pid is "ours" only while its command line
 * names the node's data directory (a reused pid is never signalled); running, paused (SIGSTOP)
 * and gone are told apart; stopNode ends a process that ignores SIGTERM with SIGKILL, and by
 * default gives one that writes a profile (Node's --cpu-prof) a longer grace period;
 * freePorts hands out distinct loopback ports that can be bound.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  defaultGraceMs, freePorts, graceMsDefault, procState, profilingGraceMsDefault, signalNode, stopNode, waitGone,
} from "../../deploy/local/process";
import { waitFor } from "../lib/wait";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

/**
 * A node process that runs until killed, `--data DIR` on its command line like a daemon;
 * resolves with its pid once it has installed its handlers (it says "up").
 */
function fakeDaemon(dataDir: string, ignoreTerm = false, opts: { nodeFlags?: string[]; onTerm?: string } = {}): Promise<number> {
  const onTerm = ignoreTerm ? "process.on('SIGTERM', () => {});" : opts.onTerm ? `process.on('SIGTERM', () => { ${opts.onTerm} });` : "";
  const code = `${onTerm} setInterval(() => {}, 1000); process.stdout.write('up\\n');`;
  const c = spawn(process.execPath, [...(opts.nodeFlags ?? []), "-e", code, "--", "--data", dataDir], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(c);
  return new Promise((resolve, reject) => {
    c.stdout!.once("data", () => resolve(c.pid!));
    c.once("exit", () => reject(new Error("fake daemon exited")));
  });
}

describe("local cluster processes", () => {
  it("tells running, paused and gone apart, and ignores a pid of another program", async () => {
    const pid = await fakeDaemon("/tmp/shardkv-fake/data/c1");
    expect(procState(pid, "/tmp/shardkv-fake/data/c1")).toBe("running");
    // Same pid, another data directory: not ours (as after pid reuse); never signalled.
    expect(procState(pid, "/tmp/shardkv-fake/data/c2")).toBe("gone");
    expect(signalNode(pid, "/tmp/shardkv-fake/data/c2", "SIGKILL")).toBe(false);
    expect(procState(pid, "/tmp/shardkv-fake/data/c1")).toBe("running");
    expect(procState(null, "/tmp/shardkv-fake/data/c1")).toBe("gone");

    expect(signalNode(pid, "/tmp/shardkv-fake/data/c1", "SIGSTOP")).toBe(true);
    await waitFor(() => procState(pid, "/tmp/shardkv-fake/data/c1") === "paused", { timeoutMs: 5000, what: "paused" });
    signalNode(pid, "/tmp/shardkv-fake/data/c1", "SIGCONT");
    await waitFor(() => procState(pid, "/tmp/shardkv-fake/data/c1") === "running", { timeoutMs: 5000, what: "running" });

    expect(await stopNode(pid, "/tmp/shardkv-fake/data/c1", 5000)).toBe("term");
    expect(procState(pid, "/tmp/shardkv-fake/data/c1")).toBe("gone");
    expect(await stopNode(pid, "/tmp/shardkv-fake/data/c1", 5000)).toBe("none");
  });

  it("SIGKILLs a process that does not stop within the grace period, also a paused one", async () => {
    const pid = await fakeDaemon("/tmp/shardkv-fake/data/g1n1", true);
    await waitFor(() => procState(pid, "/tmp/shardkv-fake/data/g1n1") === "running", { timeoutMs: 5000, what: "running" });
    signalNode(pid, "/tmp/shardkv-fake/data/g1n1", "SIGSTOP");
    await waitFor(() => procState(pid, "/tmp/shardkv-fake/data/g1n1") === "paused", { timeoutMs: 5000, what: "paused" });
    expect(await stopNode(pid, "/tmp/shardkv-fake/data/g1n1", 300)).toBe("kill");
    expect(await waitGone(pid, "/tmp/shardkv-fake/data/g1n1", 1000)).toBe(true);
  });

  it("a daemon started with --cpu-prof gets a longer grace period by default, and its profile is written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shardkv-prof-"));
    try {
      const plain = await fakeDaemon("/tmp/shardkv-fake/data/g1n2");
      expect(defaultGraceMs(plain, "/tmp/shardkv-fake/data/g1n2")).toBe(graceMsDefault);
      expect(await stopNode(plain, "/tmp/shardkv-fake/data/g1n2")).toBe("term");
      // Slower to stop than the plain default (as a daemon writing a large profile on a loaded
      // machine): it exits 1 s after the default grace period would have ended.
      const profiling = await fakeDaemon("/tmp/shardkv-fake/data/g1n3", false, {
        nodeFlags: ["--cpu-prof", "--cpu-prof-dir", dir], onTerm: `setTimeout(() => process.exit(0), ${graceMsDefault + 1000})`,
      });
      expect(defaultGraceMs(profiling, "/tmp/shardkv-fake/data/g1n3")).toBe(profilingGraceMsDefault);
      expect(await stopNode(profiling, "/tmp/shardkv-fake/data/g1n3")).toBe("term");
      expect(readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).length).toBe(1);
      // A grace period asked for is kept.
      const asked = await fakeDaemon("/tmp/shardkv-fake/data/g1n4", true, { nodeFlags: ["--cpu-prof", "--cpu-prof-dir", dir] });
      expect(await stopNode(asked, "/tmp/shardkv-fake/data/g1n4", 200)).toBe("kill");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("freePorts: distinct loopback ports, each free to listen on", async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
    for (const p of ports) {
      expect(p).toBeGreaterThan(0);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(p, "127.0.0.1", () => resolve());
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
