// Compiles the commands to JavaScript in dist/, so that no command compiles TypeScript when it
// starts (tsx took most of a second per CLI call). One esbuild bundle per command, ES module,
// with a linked source map (`node --enable-source-maps` shows TypeScript lines). The client
// commands (clientCommands) bundle their packages too; the daemons' bundles keep them external
// (resolved from node_modules at run time). Code splitting is on: a dynamic
// `import()` of a project module becomes a chunk, dist/chunk-<hash>.mjs, loaded only when the
// import runs (client/cli.ts imports the client library that way, so `shardkv --help` loads no
// gRPC, protobuf or NATS code); modules shared by several commands are chunks too.
//
//   node scripts/build.mjs            builds when dist/ is missing or stale (quiet when current)
//   node scripts/build.mjs --force    builds unconditionally
//   node scripts/build.mjs --check    exits 1 when dist/ is missing or stale, builds nothing
//   node scripts/build.mjs --quiet    no output unless something fails (used by bin/*)
//
// Freshness: a build writes dist/.build-inputs, the files it read (esbuild's metafile: every
// bundled source, the generated proto code) plus package.json, tsconfig.json and this script,
// one path a line, relative to the repository. Its mtime is set to the time the build
// started, so a file edited during a build is newer than it. dist/ is current when every
// listed file still exists and none is newer than that stamp (bin/lib/dist.sh does the same
// check in bash before every command; scripts/ensure-deps.mjs calls ensureBuilt() for the npm
// scripts; vitest's global setup calls it before any test spawns a command).
//
// Concurrent builds are safe: each writes into its own temporary directory and renames every
// file into dist/ (each rename atomic; the chunks, named by their content, before the commands
// that import them), the stamp last. A chunk that no build has written for an hour and the
// current build does not use is deleted (a process started before a rebuild may still import
// the chunks of its own build). ensureBuilt()
// also takes dist/.build-lock, so processes that find dist/ stale at once build it only once.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = join(root, "dist");
const stampFile = join(distDir, ".build-inputs");
const lockFile = join(distDir, ".build-lock");

/** dist/<name>.mjs -> its TypeScript entry point. The names are the commands of package.json "bin". */
export const entryPoints = {
  "shardkv": "client/cli.ts",
  "shardctl": "controller/shardctl.ts",
  "shardkv-local": "deploy/local/main.ts",
  "shardkv-server": "shard-server/main.ts",
  "shardkv-controller": "controller/main.ts",
  "shardkv-failpoint": "deploy/failpoint-cli.ts",
  "shardkv-demo": "deploy/local/demo.ts",
};

/**
 * The commands whose start time matters (run by people and scripts, once per operation): their
 * bundles include the dependencies (@grpc/grpc-js, protobufjs, nats), so that Node resolves and
 * reads one file where it read a few hundred. The daemons keep the packages external.
 */
const clientCommands = ["shardkv", "shardctl", "shardkv-failpoint"];

/** Packages never bundled: native code (the RocksDB addon) and build tools. */
const nativePackages = ["level-rocksdb", "rocksdb", "esbuild", "tsx"];

/**
 * Prepended to the client bundles: the CommonJS code of the bundled packages calls `require`
 * (Node built-ins) and reads `__dirname`, which an ES module does not have.
 */
const requireShim = [
  'import { createRequire as __shardkvCreateRequire } from "node:module";',
  'import { dirname as __shardkvDirname } from "node:path";',
  'import { fileURLToPath as __shardkvFileURLToPath } from "node:url";',
  "const require = __shardkvCreateRequire(import.meta.url);",
  "const __filename = __shardkvFileURLToPath(import.meta.url);",
  "const __dirname = __shardkvDirname(__filename);",
].join(" ");

/** What npm writes on every install: a build that bundled dependencies is stale after one. */
const installedLock = join("node_modules", ".package-lock.json");

/** Files that change a build without being bundled. */
const configInputs = ["package.json", "tsconfig.json", "scripts/build.mjs"];

/** How long an unused chunk is kept after it was last written (see the header). */
const unusedChunkKeepMs = 60 * 60 * 1000;

/** Deletes the chunks of dist/ that `used` does not name and no build wrote in the last hour. */
function removeUnusedChunks(used) {
  const nowMs = Date.now();
  for (const f of readdirSync(distDir)) {
    const chunk = f.replace(/\.map$/, "");
    if (!/^chunk-[A-Za-z0-9]+\.mjs$/.test(chunk) || used.has(chunk)) continue;
    try {
      if (nowMs - statSync(join(distDir, f)).mtimeMs > unusedChunkKeepMs) rmSync(join(distDir, f), { force: true });
    } catch {
      // Removed by a concurrent build.
    }
  }
}

/** Why dist/ must be rebuilt, or null when it is current. */
export function staleReason() {
  if (!existsSync(stampFile)) return "dist/ has not been built";
  const builtMs = statSync(stampFile).mtimeMs;
  const inputs = readFileSync(stampFile, "utf8").split("\n").filter((l) => l !== "");
  for (const name of Object.keys(entryPoints)) {
    if (!existsSync(join(distDir, `${name}.mjs`))) return `dist/${name}.mjs is missing`;
  }
  for (const f of inputs) {
    const p = join(root, f);
    if (!existsSync(p)) return `${f} was removed`;
    if (statSync(p).mtimeMs > builtMs) return `${f} changed`;
  }
  return null;
}

/** Builds dist/ unconditionally; resolves with the number of input files. */
export async function build() {
  const startedSec = Date.now() / 1000;
  const esbuild = await import(pathToFileURL(join(root, "node_modules", "esbuild", "lib", "main.js")).href);
  mkdirSync(distDir, { recursive: true });
  const tmp = join(distDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const common = {
      absWorkingDir: root,
      outdir: tmp,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      splitting: true,
      chunkNames: "chunk-[hash]",
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: "linked",
      metafile: true,
      logLevel: "warning",
    };
    const entries = (names) => Object.fromEntries(names.map((name) => [name, join(root, entryPoints[name])]));
    const results = await Promise.all([
      esbuild.build({ ...common, entryPoints: entries(clientCommands), external: [...nativePackages], banner: { js: requireShim } }),
      esbuild.build({ ...common, entryPoints: entries(Object.keys(entryPoints).filter((n) => !clientCommands.includes(n))), packages: "external" }),
    ]);
    const inputs = new Set(configInputs);
    for (const r of results) {
      for (const i of Object.keys(r.metafile.inputs)) {
        const f = relative(root, join(root, i));
        // A dependency is bundled as the installed version: npm rewrites its lock on every install.
        inputs.add(f.startsWith(`node_modules${sep}`) || f.includes(`${sep}node_modules${sep}`) ? installedLock : f);
      }
    }
    const chunks = readdirSync(tmp).filter((f) => f.startsWith("chunk-") && f.endsWith(".mjs"));
    for (const f of chunks) {
      for (const ext of [".map", ""]) renameSync(join(tmp, `${f}${ext}`), join(distDir, `${f}${ext}`));
    }
    for (const name of Object.keys(entryPoints)) {
      for (const ext of [".mjs.map", ".mjs"]) renameSync(join(tmp, `${name}${ext}`), join(distDir, `${name}${ext}`));
    }
    removeUnusedChunks(new Set(chunks));
    const stampTmp = join(tmp, ".build-inputs");
    writeFileSync(stampTmp, [...inputs].sort().join("\n") + "\n");
    utimesSync(stampTmp, startedSec, startedSec);
    renameSync(stampTmp, stampFile);
    return inputs.size;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Whether process `pid` exists. */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/**
 * Takes dist/.build-lock (holding our pid) and resolves true, or, when another live process
 * holds it, waits until it is released and resolves false (that process built; check again).
 * A lock left by a process that died is taken over.
 */
async function lockOrWait() {
  mkdirSync(distDir, { recursive: true });
  for (;;) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: "wx" });
      return true;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    const holder = Number.parseInt(readFileSync(lockFile, "utf8").trim(), 10);
    if (!(holder > 0) || !alive(holder)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    while (existsSync(lockFile) && alive(holder)) await new Promise((resolve) => setTimeout(resolve, 50));
    return false;
  }
}

/**
 * Builds dist/ when it is missing or stale; `log` hears why and how long it took. Processes
 * that find it stale at once (every daemon of a cluster started after an edit) build it once:
 * the others wait for that build and check again.
 */
export async function ensureBuilt(log = (s) => process.stderr.write(`${s}\n`)) {
  for (;;) {
    const reason = staleReason();
    if (reason === null) return false;
    if (!(await lockOrWait())) continue;
    try {
      // Built by another process between our check and our lock?
      if (staleReason() === null) return false;
      const t0 = Date.now();
      const n = await build();
      log(`build: ${reason}; compiled ${Object.keys(entryPoints).length} commands from ${n} files into dist/ in ${Date.now() - t0} ms`);
      return true;
    } finally {
      rmSync(lockFile, { force: true });
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const known = ["--force", "--check", "--quiet"];
  const unknown = args.filter((a) => !known.includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`build: unknown argument ${unknown[0]} (known: ${known.join(", ")})\n`);
    process.exit(2);
  }
  const log = args.includes("--quiet") ? () => undefined : (s) => process.stderr.write(`${s}\n`);
  try {
    if (args.includes("--check")) {
      const reason = staleReason();
      log(reason === null ? "build: dist/ is current" : `build: ${reason}`);
      process.exit(reason === null ? 0 : 1);
    } else if (args.includes("--force")) {
      const t0 = Date.now();
      const n = await build();
      log(`build: compiled ${Object.keys(entryPoints).length} commands from ${n} files into dist/ in ${Date.now() - t0} ms`);
    } else {
      await ensureBuilt(log);
    }
  } catch (e) {
    // esbuild has printed the compile errors themselves (logLevel "warning").
    process.stderr.write(`build: failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    process.exit(1);
  }
}
