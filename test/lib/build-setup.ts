/**
 * vitest global setup: compiles the commands into dist/ (scripts/build.mjs) when a source
 * changed, once, before any test file runs. Tests start the daemons and CLIs from dist/
 * (bin/*, deploy/local/process.ts), so they must run the code under test; the bin/ wrappers
 * would rebuild a stale dist/ themselves, but then every process started at once would.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../deploy/local/process";

export default function setup(): void {
  const r = spawnSync(process.execPath, [join(repoRoot, "scripts", "build.mjs")], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`scripts/build.mjs failed (exit ${r.status ?? r.signal}): the commands cannot be compiled into dist/`);
}
