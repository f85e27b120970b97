// Compiles the commands to JavaScript in dist/, so that no command compiles TypeScript when it
// starts (tsx took most of a second per CLI call), with linked source maps
// (`node --enable-source-maps` shows TypeScript lines).
//
// Two kinds of command:
//   - The client commands and shardkv-local (clientCommands: run by people and scripts, once
//     per operation, so their start time matters) are each one CommonJS bundle,
//     dist/<name>.bundle.cjs, with the packages they use (gRPC, protobuf) inside, so Node
//     reads one file where it resolved a few hundred. Their entry, dist/<name>.cjs, runs the
//     bundle through dist/code-cache.cjs (scripts/code-cache.cjs), which keeps V8's compiled
//     code beside it: the next start skips parsing and compiling. A bundle's first line is its
//     code id (a hash of its content), which ties a cache to the code it was made from.
//   - The daemons (and shardkv-demo, `npm start`, and shardkv-dashboard) are ES modules, dist/<name>.mjs, with their
//     packages kept external (resolved from node_modules at run time). Code splitting is on:
//     modules shared by several of them, and each dynamic `import()` of a project module, are
//     chunks, dist/chunk-<hash>.mjs.
//
//   node scripts/build.mjs            builds when dist/ is missing or stale (quiet when current)
//   node scripts/build.mjs --force    builds unconditionally
//   node scripts/build.mjs --check    exits 1 when dist/ is missing or stale, builds nothing
//   node scripts/build.mjs --quiet    no output unless something fails (used by bin/*)
//
// Freshness: a build writes dist/.build-inputs, the files it read (esbuild's metafile: every
// bundled source, the generated proto code) plus package.json, tsconfig.json and the build's
// own scripts, one path a line, relative to the repository. Its mtime is set to the time the
// build started, so a file edited during a build is newer than it. dist/ is current when every
// listed file still exists and none is newer than that stamp (bin/lib/dist.sh does the same
// check in bash before every command; scripts/ensure-deps.mjs calls ensureBuilt() for the npm
// scripts; vitest's global setup calls it before any test spawns a command).
//
// A build leaves in dist/ exactly what it wrote (plus the code caches of its bundles, which the
// commands write): it builds into a temporary directory, renames every file into dist/ (each
// rename atomic; chunks and bundles before the entries that load them), writes the stamp, then
// deletes every other file, so `npm pack` ships no chunk of an earlier build. Builds take
// dist/.build-lock one at a time; processes that find dist/ stale at once build it only once.
// (A daemon that was starting during a rebuild and had yet to import one of its chunks can
// fail to find it; it loads every chunk while it starts, so running ones are not affected.)
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = join(root, "dist");
const stampFile = join(distDir, ".build-inputs");
const lockFile = join(distDir, ".build-lock");

/** Command name -> its TypeScript entry point. The names are the commands of package.json "bin". */
export const entryPoints = {
  "shardkv": "client/cli.ts",
  "shardctl": "controller/shardctl.ts",
  "shardkv-local": "deploy/local/main.ts",
  "shardkv-server": "shard-server/main.ts",
  "shardkv-controller": "controller/main.ts",
  "shardkv-failpoint": "deploy/failpoint-cli.ts",
  "shardkv-demo": "deploy/local/demo.ts",
  "shardkv-dashboard": "deploy/dashboard/main.ts",
};

/**
 * The commands whose start time matters (run by people and scripts, once per operation; the
 * local cluster's launcher included): each is one CommonJS bundle with its packages, run with
 * V8's code cache (see the header).
 */
const clientCommands = ["shardkv", "shardctl", "shardkv-local", "shardkv-failpoint"];

/** The file dist/ runs for command `name` (bin/* name the same). */
function entryFile(name) {
  return clientCommands.includes(name) ? `${name}.cjs` : `${name}.mjs`;
}

/** Packages never bundled: native code (the RocksDB addon) and build tools. */
const nativePackages = ["level-rocksdb", "rocksdb", "esbuild", "tsx"];

/**
 * Packages the client bundles leave in node_modules because a client command loads them only
 * on request: nats (for `--nats`; about half the size of a bundle), @grpc/proto-loader
 * (grpc-js loads it only for its server-side channelz and ORCA services), and the X.509 code
 * of `shardctl certs` with the polyfill it needs (it would double shardctl's bundle). Fewer
 * bytes to read at every start.
 */
const clientLazyPackages = ["nats", "@grpc/proto-loader", "@peculiar/x509", "reflect-metadata"];

/** The code cache loader, copied into dist/ beside the bundles it runs. */
const codeCacheLoader = "code-cache.cjs";

/** Injected into the client bundles: stands for `import.meta.url`, which CommonJS does not have. */
const importMetaUrlShim = join(root, "scripts", "import-meta-url.mjs");

/**
 * The first line of a client bundle: its code id, a hash of the bundle, written over these
 * zeros once the bundle is made (the same length, so the source map stays right).
 */
const codeIdPlaceholder = "0".repeat(32);
const clientBanner = `// code-id: ${codeIdPlaceholder}`;

/**
 * `text` with every non-ASCII character replaced by "?". esbuild writes strings and names in
 * ASCII (charset "ascii") but keeps some comments as they are, and one "§" in a comment makes
 * Node read the whole bundle as a two-byte string (twice the memory, about twice as slow to
 * read). One "?" per UTF-16 unit, so columns, and the source map, stay right.
 */
const asciiOnly = (text) => text.replace(/[^\x00-\x7f]/g, "?");

/** `bundle` with its code id (a hash of the rest) written over the placeholder of its first line. */
const withCodeId = (bundle) => bundle.replace(codeIdPlaceholder, createHash("sha256").update(bundle).digest("hex").slice(0, 32));

/** A client command's entry, dist/<name>.cjs: runs its bundle with the code cache. */
const clientEntry = (name) =>
  `"use strict";\n// ${name}: runs ${name}.bundle.cjs with V8's code cache (${codeCacheLoader}; scripts/build.mjs).\n` +
  `require("./${codeCacheLoader}").runCached(require("node:path").join(__dirname, "${name}.bundle.cjs"));\n`;

/** What npm writes on every install: a build that bundled dependencies is stale after one. */
const installedLock = join("node_modules", ".package-lock.json");

/** Files that change a build without being bundled. */
const configInputs = ["package.json", "tsconfig.json", "scripts/build.mjs", `scripts/${codeCacheLoader}`];

/**
 * Deletes every file of dist/ that the build which wrote `written` did not write, but for the
 * code caches of its bundles and the build's own dot files (the stamp, the lock, a
 * temporary directory).
 */
function removeUnwritten(written) {
  for (const f of readdirSync(distDir)) {
    if (f.startsWith(".") || written.has(f) || written.has(f.replace(/\.v8cache$/, ""))) continue;
    rmSync(join(distDir, f), { recursive: true, force: true });
  }
}

/** Why dist/ must be rebuilt, or null when it is current. */
export function staleReason() {
  if (!existsSync(stampFile)) return "dist/ has not been built";
  const builtMs = statSync(stampFile).mtimeMs;
  const inputs = readFileSync(stampFile, "utf8").split("\n").filter((l) => l !== "");
  for (const name of Object.keys(entryPoints)) {
    if (!existsSync(join(distDir, entryFile(name)))) return `dist/${entryFile(name)} is missing`;
  }
  for (const f of inputs) {
    const p = join(root, f);
    if (!existsSync(p)) return `${f} was removed`;
    if (statSync(p).mtimeMs > builtMs) return `${f} changed`;
  }
  return null;
}

/** Moves `names` from directory `from` into dist/, each with a rename (atomic). */
function moveIntoDist(from, names) {
  for (const f of names) renameSync(join(from, f), join(distDir, f));
}

/** Builds dist/ unconditionally (the caller holds the lock); resolves with the number of input files. */
async function build() {
  const startedSec = Date.now() / 1000;
  const esbuild = await import(pathToFileURL(join(root, "node_modules", "esbuild", "lib", "main.js")).href);
  mkdirSync(distDir, { recursive: true });
  const tmp = join(distDir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const common = { absWorkingDir: root, outdir: tmp, bundle: true, platform: "node", target: "node20", sourcemap: "linked", metafile: true, logLevel: "warning" };
    const entries = (names) => Object.fromEntries(names.map((name) => [name, join(root, entryPoints[name])]));
    const daemons = Object.keys(entryPoints).filter((n) => !clientCommands.includes(n));
    const results = await Promise.all([
      esbuild.build({
        ...common, entryPoints: entries(clientCommands), format: "cjs", outExtension: { ".js": ".bundle.cjs" }, write: false,
        external: [...nativePackages, ...clientLazyPackages], banner: { js: clientBanner },
        inject: [importMetaUrlShim], define: { "import.meta.url": "importMetaUrl" },
        // import() of an external package becomes require(): V8 drops a script's import()
        // callback when it comes from the code cache, so a bundle must not use import().
        supported: { "dynamic-import": false },
      }),
      esbuild.build({ ...common, entryPoints: entries(daemons), format: "esm", outExtension: { ".js": ".mjs" }, splitting: true, chunkNames: "chunk-[hash]", packages: "external" }),
    ]);
    // A CommonJS bundle has no import.meta but for the url (importMetaUrlShim): esbuild would
    // leave the rest empty, and the command break.
    const importMeta = results[0].warnings.find((w) => w.text.includes("import.meta"));
    if (importMeta) throw new Error(`${importMeta.location?.file ?? "a client module"} uses import.meta, which the client commands' CommonJS bundles have only the url of`);
    for (const out of results[0].outputFiles) {
      writeFileSync(out.path, out.path.endsWith(".cjs") ? withCodeId(asciiOnly(out.text)) : out.text);
    }
    copyFileSync(join(root, "scripts", codeCacheLoader), join(tmp, codeCacheLoader));
    for (const name of clientCommands) writeFileSync(join(tmp, entryFile(name)), clientEntry(name));

    const inputs = new Set(configInputs);
    for (const r of results) {
      for (const i of Object.keys(r.metafile.inputs)) {
        const f = relative(root, join(root, i));
        // A dependency is bundled as the installed version: npm rewrites its lock on every install.
        inputs.add(f.startsWith(`node_modules${sep}`) || f.includes(`${sep}node_modules${sep}`) ? installedLock : f);
      }
    }
    // What the entries load first, the entries last, so that an entry never names a missing file.
    const written = readdirSync(tmp);
    const entryNames = new Set(Object.keys(entryPoints).flatMap((n) => [entryFile(n), `${entryFile(n)}.map`]));
    moveIntoDist(tmp, written.filter((f) => !entryNames.has(f)));
    moveIntoDist(tmp, written.filter((f) => entryNames.has(f)));
    const stampTmp = join(tmp, ".build-inputs");
    writeFileSync(stampTmp, [...inputs].sort().join("\n") + "\n");
    utimesSync(stampTmp, startedSec, startedSec);
    renameSync(stampTmp, stampFile);
    removeUnwritten(new Set(written));
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
 * Builds dist/ when it is missing or stale (always with `force`), holding dist/.build-lock;
 * `log` hears why and how long it took. Processes that find it stale at once (every daemon of
 * a cluster started after an edit) build it once: the others wait for that build and check
 * again.
 */
export async function ensureBuilt(log = (s) => process.stderr.write(`${s}\n`), { force = false } = {}) {
  for (;;) {
    if (!force && staleReason() === null) return false;
    if (!(await lockOrWait())) continue;
    try {
      // Built by another process between our check and our lock?
      const reason = force ? null : staleReason();
      if (!force && reason === null) return false;
      const t0 = Date.now();
      const n = await build();
      log(`build: ${reason === null ? "" : `${reason}; `}compiled ${Object.keys(entryPoints).length} commands from ${n} files into dist/ in ${Date.now() - t0} ms`);
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
    } else {
      await ensureBuilt(log, { force: args.includes("--force") });
    }
  } catch (e) {
    // esbuild has printed the compile errors themselves (logLevel "warning").
    process.stderr.write(`build: failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`);
    process.exit(1);
  }
}
