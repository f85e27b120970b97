/**
 * A client load on a test host (deploy/hosts/): test/lib/hosts-load-main.ts run on `host` with
 * the cluster's CLI environment, appending and reading while a test applies faults; `stop`
 * ends it and returns its checks (throws on a lost or doubled append or a stale read).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { execSpec, hostsCli } from "../../deploy/hosts/harness";
import type { AppendCheck } from "./append-load";
import { waitFor } from "./wait";

/** The load's counters, as it last printed them. */
export interface LoadProgress {
  readonly acked: number;
  readonly timedOut: number;
  readonly otherErrors: number;
  readonly reads: number;
  readonly readErrors: number;
  readonly violations: number;
}

export interface HostsLoadResult extends AppendCheck {
  readonly timedOut: number;
  readonly reads: number;
  readonly readErrors: number;
}

export interface HostsLoad {
  progress(): LoadProgress;
  /** Waits until `more` further appends are acknowledged (and the load has read since). */
  waitAcks(more: number, what: string, timeoutMs?: number): Promise<void>;
  /** Stops the load and returns its checks; throws the first violation. */
  stop(): Promise<HostsLoadResult>;
  /** Kills it (afterAll). */
  kill(): void;
}

const mainScript = join(import.meta.dirname, "hosts-load-main.ts");

/** Starts the load on `host` of the run in `dir`, keys prefixed `prefix`; resolves once it has printed progress. */
export async function startHostsLoad(dir: string, host: string, prefix: string): Promise<HostsLoad> {
  const { file, args, env, cwd } = execSpec(dir, host, [hostsCli[0], mainScript], { LOAD_PREFIX: prefix });
  const child = spawn(file, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
  let last: LoadProgress = { acked: 0, timedOut: 0, otherErrors: 0, reads: 0, readErrors: 0, violations: 0 };
  let final: string | undefined;
  let stderr = "";
  let partial = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  child.stdout.setEncoding("utf8").on("data", (s: string) => {
    const lines = (partial + s).split("\n");
    partial = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith("progress ")) last = JSON.parse(l.slice(9)) as LoadProgress;
      else if (l.startsWith("result ") || l.startsWith("violation ")) final = l;
    }
  });
  const exited = new Promise<number | null>((res) => child.once("exit", res));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitFor(() => {
    if (gone) throw new Error(`the load on ${host} exited: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    return last.acked > 0;
  }, { timeoutMs: 60_000, what: `the load on ${host} to make its first append`, intervalMs: 50 });
  return {
    progress: () => last,
    async waitAcks(more, what, timeoutMs = 60_000) {
      const target = last.acked + more;
      await waitFor(() => {
        if (gone) throw new Error(`the load on ${host} exited: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
        return last.acked >= target;
      }, { timeoutMs, what: `${more} more acknowledged appends ${what} (at ${last.acked})`, intervalMs: 50 });
    },
    async stop() {
      child.stdin.end("stop\n");
      const code = await exited;
      if (final?.startsWith("result ")) return JSON.parse(final.slice(7)) as HostsLoadResult;
      throw new Error(final?.startsWith("violation ") ? final.slice(10) : `the load on ${host} ended (exit ${code}) without a result: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    },
    kill() {
      if (!gone) child.kill("SIGKILL");
    },
  };
}
