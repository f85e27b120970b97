/**
 * The `shardkv-server` command line (shard-server/main.ts) as a user meets it: `--help` lists
 * every flag; a bad value is one line on stderr naming the flag and what was sent, exit
 * status 2, before anything is opened or bound. Also the Node flags the daemon wrappers
 * (bin/shardkv-server, bin/shardkv-controller) start with.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "bin", "shardkv-server");
const base = ["--gid", "1", "--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--controllers", "127.0.0.1:2", "--insecure"];

function run(args: string[]) {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("shardkv-server command line", () => {
  it("--help documents --dedup-ttl, --snapshot-every, --migration-rate and --length-cache-keys with their defaults", () => {
    const r = run(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--dedup-ttl D .*\n.*default 10m/);
    expect(r.stdout).toMatch(/--snapshot-every N .*\n.*default 10000/);
    expect(r.stdout).toMatch(/--migration-rate R [^]*?default\s+0 = no cap/);
    expect(r.stdout).toMatch(/--length-cache-keys N\n(.*\n){2}.*100000; 0 = none/);
  });

  it("--length-cache-keys 0 is accepted (the next bad flag is the one named)", () => {
    const r = run([...base, "--data", join(root, ".no-such-shard-dir"), "--length-cache-keys", "0", "--failpoints", "bogus"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid --failpoints: unknown failpoint "bogus"/);
  });

  it.each([
    [["--dedup-ttl", "5x"], /invalid --dedup-ttl: want a duration like 500ms, 10s or 2m .*got "5x"/],
    [["--dedup-ttl", "0ms"], /invalid --dedup-ttl: .*got "0ms"/],
    [["--snapshot-every", "0"], /invalid --snapshot-every: want an integer in \[1, 100000000\], got "0"/],
    [["--snapshot-every", "ten"], /invalid --snapshot-every: .*got "ten"/],
    [["--migration-rate", "-1"], /invalid --migration-rate: want MiB per second, a number in \[0, 1048576\] \(0 = no cap\), got "-1"/],
    [["--migration-rate", "4MiB"], /invalid --migration-rate: .*got "4MiB"/],
    [["--length-cache-keys", "-1"], /invalid --length-cache-keys: want an integer in \[0, 100000000\], got "-1"/],
    [["--length-cache-keys", "100000001"], /invalid --length-cache-keys: .*got "100000001"/],
    [["--gid", "x"], /invalid --gid: want a positive integer, got "x"/],
    [["--nats", "localhost:4222"], /invalid --nats: want a URL like nats:\/\/host:4222/],
  ])("%j is refused with one line naming the flag, exit 2", (extra, want) => {
    const data = join(root, ".no-such-shard-dir");
    const args = [...base, "--data", data];
    // The bad flag replaces its valid value in `base`.
    const i = args.indexOf(extra[0]!);
    if (i >= 0) args.splice(i, 2);
    const r = run([...args, ...extra]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(want);
    expect(existsSync(data)).toBe(false);
  });

  describe("Node flags of the daemon wrappers (bin/lib/daemon-node-flags.sh)", () => {
    const flags = (env: NodeJS.ProcessEnv): string[] => {
      const r = spawnSync("bash", ["-c", `. "${join(root, "bin", "lib", "daemon-node-flags.sh")}"; printf '%s\\n' "\${daemon_node_flags[@]}"`], {
        encoding: "utf8", env: { PATH: process.env.PATH, ...env },
      });
      expect(r.status).toBe(0);
      return r.stdout.split("\n").filter((l) => l !== "");
    };

    it("default to a 256 MiB initial old space; SHARDKV_NODE_FLAGS replaces them", () => {
      expect(flags({})).toEqual(["--initial-old-space-size=256"]);
      expect(flags({ SHARDKV_NODE_FLAGS: "--cpu-prof --max-old-space-size=2048" })).toEqual(["--cpu-prof", "--max-old-space-size=2048"]);
      expect(flags({ SHARDKV_NODE_FLAGS: "" })).toEqual([]);
    });

    it.each(["shardkv-server", "shardkv-controller"])("%s starts node with them", (name) => {
      const r = spawnSync(join(root, "bin", name), ["--help"], { encoding: "utf8", timeout: 30000, env: { ...process.env, SHARDKV_NODE_FLAGS: "--no-such-node-flag" } });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/bad option: --no-such-node-flag/);
      const ok = spawnSync(join(root, "bin", name), ["--help"], { encoding: "utf8", timeout: 30000 });
      expect(ok.status).toBe(0);
    });
  });
});
