/**
 * Prometheus's own `promtool` for tests that check the rules and dashboards in deploy/
 * (test/integration/observability-deploy.test.ts). Taken from PATH when installed; otherwise
 * from Debian's `prometheus` package, downloaded (`apt-get download`, no install: nothing is
 * started) and unpacked once into a cache directory outside the checkout.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const cacheRoot = join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "shardkv", "prometheus-deb");
const cached = join(cacheRoot, "usr", "bin", "promtool");

function onPath(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The path of a working promtool; downloads Debian's package into the cache when needed. */
export function promtool(): string {
  const found = onPath() ?? (existsSync(cached) ? cached : undefined);
  if (found !== undefined) return found;
  const work = mkdtempSync(join(homedir(), ".shardkv-promtool-"));
  try {
    const download = (): void => {
      execFileSync("apt-get", ["download", "prometheus"], { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
    };
    try {
      download();
    } catch {
      // The package lists may be missing on a fresh machine.
      execFileSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "pipe"] });
      download();
    }
    const deb = readdirSync(work).find((f) => f.startsWith("prometheus_") && f.endsWith(".deb"));
    if (deb === undefined) throw new Error("apt-get download prometheus left no .deb");
    const unpacked = join(work, "root");
    execFileSync("dpkg-deb", ["-x", join(work, deb), unpacked]);
    mkdirSync(join(cacheRoot, ".."), { recursive: true });
    rmSync(cacheRoot, { recursive: true, force: true });
    renameSync(unpacked, cacheRoot);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (!existsSync(cached)) throw new Error(`Debian's prometheus package has no ${cached}`);
  return cached;
}
