/**
 * Real processes: the daemons take host names wherever they take addresses, as the
 * Kubernetes manifests need (pods listen on 0.0.0.0 and reach each other by DNS names,
 * deploy/k8s/): three controllers listening on 0.0.0.0, their --peers naming each other as
 * `localhost:PORT`, elect a leader, and shardctl reaches them by that name.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePorts, repoRoot } from "../../deploy/local/process";
import { runShardctl } from "../lib/run-cli";

describe("daemons addressed by host name (real processes)", { timeout: 120_000 }, () => {
  const procs: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), "shardkv-hostnames-"));
  const logs = new Map<number, string>();
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once("exit", r)))));
    rmSync(dir, { recursive: true, force: true });
  });

  it("controllers listening on 0.0.0.0 with --peers of host names elect a leader; shardctl reaches them by name", async () => {
    const ports = await freePorts(3);
    const peers = ports.map((p, i) => `${i + 1}=localhost:${p}`).join(",");
    for (const [i, port] of ports.entries()) {
      const p = spawn(join(repoRoot, "bin", "shardkv-controller"), [
        "--id", String(i + 1), "--listen", `0.0.0.0:${port}`, "--peers", peers, "--data", join(dir, `c${i + 1}`), "--insecure", "--tick-ms", "50",
      ], { stdio: ["ignore", "ignore", "pipe"] });
      logs.set(i + 1, "");
      p.stderr!.on("data", (b: Buffer) => logs.set(i + 1, logs.get(i + 1) + b.toString()));
      procs.push(p);
    }
    const controllers = ports.map((p) => `localhost:${p}`).join(",");
    // status waits up to --timeout for a leader (and retries unreachable controllers meanwhile).
    const r = await runShardctl(["--controllers", controllers, "--insecure", "--timeout", "60s", "--json", "status"]);
    expect(r.code, `${r.stderr}\n${[...logs.values()].join("\n")}`).toBe(0);
    expect(r.stdout).toContain("leader");
    for (const p of procs) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((res) => p.once("exit", res)))));
    expect(procs.map((p) => p.exitCode)).toEqual([0, 0, 0]);
  });
});
