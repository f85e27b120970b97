/**
 * The commands as a user gets them: bin/* run the JavaScript compiled into dist/ (and rebuild
 * it when a source changed, so no stale code runs, and a build leaves in dist/ only what it
 * wrote); the client commands keep V8's code cache beside their bundles; without node_modules
 * they say in one line what to run; `npx shardkv` works in a checkout; `npm pack` gives a
 * tarball of the current build that installs every command (package.json "bin") into a
 * prefix, where each runs.
 *
 * The copies of the repository are made in temporary directories (its tracked and untracked
 * files, not node_modules or dist/), so the checkout under test is never edited.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../deploy/local/process";
import { runCommand } from "../lib/run-command";

/** package.json "bin": every CLI and daemon. */
const commands = ["shardkv", "shardctl", "shardkv-local", "shardkv-server", "shardkv-controller", "shardkv-failpoint", "shardkv-dashboard"] as const;

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/**
 * The files of `dist` that nothing runs: not a command's entry (dist/<command>.cjs or .mjs),
 * not named by another file of dist/ (a chunk or bundle an entry loads, a source map, the code
 * cache loader), not the code cache of a bundle there. A build's leftovers from earlier builds.
 */
function unusedFiles(dist: string, files: readonly string[]): string[] {
  const texts = files.filter((f) => !f.endsWith(".map") && !f.endsWith(".v8cache")).map((f) => readFileSync(join(dist, f), "latin1"));
  const entries = new Set([...commands, "shardkv-demo"].flatMap((c) => [`${c}.cjs`, `${c}.mjs`]));
  return files.filter((f) => !entries.has(f) && !(f.endsWith(".v8cache") && files.includes(f.replace(/\.v8cache$/, ""))) &&
    !texts.some((t) => t.includes(`${f}"`) || t.includes(`sourceMappingURL=${f}\n`)));
}

/** The files of dist/ in `dir`, but for the build's own (dot) files. */
const distFiles = (dir: string): string[] => readdirSync(join(dir, "dist")).filter((f) => !f.startsWith("."));

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/** A copy of the repository's files (what git tracks or would track), without node_modules and dist/. */
function copyOfRepository(): string {
  const dir = tempDir("shardkv-copy-");
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" })
    .split("\0").filter((f) => f !== "" && f !== "node_modules" && existsSync(join(repoRoot, f)) && statSync(join(repoRoot, f)).isFile());
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(repoRoot, f), join(dir, f), { preserveTimestamps: true });
  }
  return dir;
}

describe("bin/* in a checkout", () => {
  it("run dist/<command>.cjs or .mjs, building it on first use and again after a source edit, leaving only that build", async () => {
    const copy = copyOfRepository();
    symlinkSync(join(repoRoot, "node_modules"), join(copy, "node_modules"));
    const first = await runCommand(join(copy, "bin", "shardkv"), ["--help"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^usage: shardkv /);
    expect(existsSync(join(copy, "dist", "shardkv.cjs")), "dist/shardkv.cjs built").toBe(true);
    expect(readFileSync(join(copy, "dist", ".build-inputs"), "utf8")).toContain("client/cli-lib.ts\n");
    // The client commands' code cache, written when the command exits; the next call runs from it.
    expect(existsSync(join(copy, "dist", "shardkv.bundle.cjs.v8cache")), "code cache written").toBe(true);
    const cached = await runCommand(join(copy, "bin", "shardkv"), ["--help"]);
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout).toBe(first.stdout);
    expect(unusedFiles(join(copy, "dist"), distFiles(copy))).toEqual([]);
    const firstBuild = distFiles(copy);

    // Files an earlier build left (a chunk, a command since renamed): the next build deletes them.
    for (const f of ["chunk-EARLIER1.mjs", "chunk-EARLIER1.mjs.map", "shardkv-old.mjs"]) writeFileSync(join(copy, "dist", f), "// earlier build\n");

    // An edit of a bundled source: the next calls, four at once, run the edited code, not the
    // stale bundle or its code cache (one of them builds, the others wait for it), and leave
    // nothing behind.
    const cliLib = join(copy, "client", "cli-lib.ts");
    writeFileSync(cliLib, readFileSync(cliLib, "utf8").replace("usage: shardkv ", "usage: shardkv-edited "));
    const edited = await Promise.all([1, 2, 3, 4].map(() => runCommand(join(copy, "bin", "shardkv"), ["--help"])));
    for (const r of edited) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^usage: shardkv-edited /);
    }
    expect(readFileSync(join(copy, "dist", "shardkv.bundle.cjs"), "utf8")).toContain("usage: shardkv-edited ");
    expect(readdirSync(join(copy, "dist")).filter((f) => f.startsWith(".tmp-") || f === ".build-lock" || f.includes(".v8cache.tmp-"))).toEqual([]);
    const secondBuild = distFiles(copy);
    expect(secondBuild.filter((f) => f.includes("EARLIER") || f === "shardkv-old.mjs"), "an earlier build's files").toEqual([]);
    expect(unusedFiles(join(copy, "dist"), secondBuild)).toEqual([]);
    // Only the shardkv bundle changed: the same files (its chunks are named by content).
    expect(secondBuild.filter((f) => !f.endsWith(".v8cache")).sort()).toEqual(firstBuild.filter((f) => !f.endsWith(".v8cache")).sort());

    // The daemons run from dist/ too, with their Node flags.
    const server = await runCommand(join(copy, "bin", "shardkv-server"), ["--help"], { env: { ...process.env, SHARDKV_NODE_FLAGS: "--no-such-node-flag" } });
    expect(server.code).not.toBe(0);
    expect(server.stderr).toContain("--no-such-node-flag");
  });

  it("say in one line what to run when the dependencies are not installed", async () => {
    const copy = copyOfRepository();
    const runs = await Promise.all(commands.map((c) => runCommand(join(copy, "bin", c), ["--help"])));
    runs.forEach((r, i) => {
      expect(r.code, commands[i]).toBe(3);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`${commands[i]}: dependencies are not installed in ${copy}; run \`npm install\` there (or \`npm start\`)\n`);
    });
  });

  it("are npm commands: npx shardkv and npx shardkv-local run them in the checkout", async () => {
    for (const c of ["shardkv", "shardkv-local"]) {
      const r = await runCommand("npx", ["--no-install", c, "--help"], { cwd: repoRoot, timeoutMs: 120_000 });
      expect(r.code, `npx ${c} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${c} `));
    }
  }, 240_000);
});

describe("npm pack", () => {
  it("makes a tarball that installs every command into a prefix, where each runs", async () => {
    const out = tempDir("shardkv-pack-");
    const pack = await runCommand("npm", ["pack", "--json", "--pack-destination", out], { cwd: repoRoot, timeoutMs: 120_000 });
    expect(pack.code, pack.stderr).toBe(0);
    const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const paths = packed!.files.map((f) => f.path);
    for (const c of commands) expect(paths).toContain(`bin/${c}`);
    expect(paths).toContain("bin/lib/dist.sh");
    expect(paths.filter((p) => p.endsWith(".ts")), "no TypeScript is shipped").toEqual([]);
    // Exactly the current build: what it wrote (no code cache: that is for one Node version and machine).
    const shipped = paths.filter((p) => p.startsWith("dist/")).map((p) => p.slice("dist/".length));
    expect(shipped).toContain("code-cache.cjs");
    expect(shipped.sort()).toEqual(distFiles(repoRoot).filter((f) => !f.endsWith(".v8cache")).sort());
    expect(unusedFiles(join(repoRoot, "dist"), shipped)).toEqual([]);

    // Dependencies come from npm's cache when it has them (the checkout's install filled it),
    // else from the registry.
    const prefix = join(out, "prefix");
    const install = await runCommand("npm", ["install", "--global", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund",
      "--loglevel=error", join(out, packed!.filename)], { cwd: out, timeoutMs: 300_000 });
    expect(install.code, install.stderr).toBe(0);
    const runs = await Promise.all(commands.map((c) => runCommand(join(prefix, "bin", c), ["--help"], { cwd: out })));
    runs.forEach((r, i) => {
      expect(r.code, `${commands[i]} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout + r.stderr).toMatch(new RegExp(`usage: ${commands[i]} `));
    });
  }, 420_000);
});
