/**
 * `npm start` stops its cluster when the npm process it started gets SIGINT or SIGTERM (what a
 * process manager or `kill` sends, not only a terminal's Ctrl-C, which reaches the whole
 * process group): npm forwards the signal to its script's process, which must be the demo
 * itself (`exec`), not a shell that dies and leaves the demo and its daemons running.
 *
 * Real processes: `npm start` with SHARDKV_DEMO_DIR in a temporary directory; the signal goes
 * to the npm pid once the demo is up (SIGINT: the demo has finished and holds the cluster;
 * SIGTERM: right after the cluster is up, while the demo is still writing and moving shards).
 * Then no process of that directory may be left (`pgrep -f DIR`, as the README says) and npm
 * exits 0. Before the signal, the dashboard it printed the URL of serves its page.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../deploy/local/process";
import { pidsMentioning } from "../lib/run-command";
import { waitFor } from "../lib/wait";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("npm start", () => {
  for (const [signal, upLine] of [["SIGINT", "the cluster keeps running"], ["SIGTERM", "cluster up: every shard Serving"]] as const) {
    it(`stops every daemon on ${signal} to the npm process`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "shardkv-npm-start-"));
      let out = "";
      const npm: ChildProcess = spawn("npm", ["start"], { cwd: repoRoot, env: { ...process.env, SHARDKV_DEMO_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
      const exited = new Promise<number | string>((resolve) => npm.once("exit", (code, sig) => resolve(code ?? sig ?? "?")));
      npm.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      npm.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      cleanups.push(() => {
        // Whatever a failed run left: only processes of this test's directory, by pid.
        npm.kill("SIGKILL");
        for (const pid of pidsMentioning(dir)) process.kill(pid, "SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      });

      await waitFor(() => out.includes(upLine) || npm.exitCode !== null, { timeoutMs: 240_000, what: `"${upLine}" from npm start` });
      expect(npm.exitCode, out).toBeNull();
      expect(pidsMentioning(dir).length, "daemons running").toBeGreaterThanOrEqual(12);
      // It serves the live dashboard and prints its URL (just after the cluster is up).
      const urlLine = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/;
      await waitFor(() => urlLine.test(out) || npm.exitCode !== null, { timeoutMs: 30_000, what: "the dashboard's URL from npm start" });
      const url = urlLine.exec(out)?.[1];
      expect(url, out).toBeDefined();
      expect(await (await fetch(url!)).text()).toContain("<title>shardkv dashboard</title>");

      npm.kill(signal);
      await waitFor(() => pidsMentioning(dir).length === 0, { timeoutMs: 30_000, what: `no process of ${dir} after ${signal}` });
      expect(await exited, out).toBe(0);
      expect(out).toContain(`${signal}: stopping every node`);
      expect(out).not.toContain("demo failed");
    }, 300_000);
  }
});
