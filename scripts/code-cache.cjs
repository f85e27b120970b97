// Runs a CommonJS bundle of dist/ (a client command: scripts/build.mjs) with V8's code cache,
// so that a command does not parse and compile the same ~1 MB of JavaScript at every start
// (about a third of `shardkv get`'s CPU time before it). Copied by the build to
// dist/code-cache.cjs; each client command's entry, dist/<name>.cjs, is one call of
// runCached(dist/<name>.bundle.cjs).
//
// The cache is dist/<name>.bundle.cjs.v8cache, written when the process exits (so it holds
// every function that run compiled, not just the top level):
//   - when there was none, or V8 rejected it (another Node version or V8 flags: V8 checks both);
//   - when this run compiled clearly more code than the run that wrote it (a `get` after a
//     `--help`), measured by the bytecode on V8's heap, so the cache ends up holding the code
//     of the commands that talk to a cluster. Loading node:v8 to measure it costs 1-3 ms, so
//     only a run that also used clearly more CPU than the writer measures.
// V8 checks a cache against its source only by length, so the cache is also tied to the
// bundle's content: the build writes a code id (a hash of the bundle) on its first line, the
// cache file starts with the id it was made from, and a cache with another id is not used.
// Writing is atomic (a temporary file renamed over it) and best effort: an unwritable dist/
// (a package installed by another user) only means the code is compiled at every start.
// A cache that is unreadable, truncated or from another build is ignored silently.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const Module = require("node:module");

/** The first line of a bundle the build wrote: its code id. */
const codeIdLine = /^\/\/ code-id: ([0-9a-f]{32})\n/;
/**
 * A cache file: this header line (the bundle's code id; the heap's bytecode bytes and the
 * process's CPU microseconds when it was written), then V8's data.
 */
const headerLine = /^shardkv-v8cache ([0-9a-f]{32}) (\d+) (\d+)\n/;
/** A run that ends with this much more bytecode than the cache's writer had rewrites the cache. */
const rewriteGrowth = 1.25;
/** ... and only a run with this much more CPU time than the writer measures its bytecode. */
const measureCpuGrowth = 1.3;

/** The V8 data and the writer's bytecode bytes of `cacheFile` if it was made from code `id`, else null. */
function readCache(cacheFile, id) {
  let buf;
  try {
    buf = fs.readFileSync(cacheFile);
  } catch {
    return null;
  }
  const m = headerLine.exec(buf.subarray(0, 96).toString("latin1"));
  if (m === null || m[1] !== id) return null;
  return { data: buf.subarray(m[0].length), bytecodeBytes: Number(m[2]), cpuMicros: Number(m[3]) };
}

/** CPU time this process has used, user and system, in microseconds. */
function cpuMicros() {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** Bytes of bytecode on V8's heap: how much JavaScript this process has compiled. */
function bytecodeBytes() {
  return require("node:v8").getHeapCodeStatistics().bytecode_and_metadata_size;
}

/**
 * Writes the code cache of `script` (from code `id`) to `cacheFile`, if its directory is
 * writable; `cpu` is the process's CPU microseconds before it started writing.
 */
function writeCache(cacheFile, id, script, cpu) {
  const tmp = `${cacheFile}.tmp-${process.pid}`;
  try {
    // Checked first: making the cache data costs a few milliseconds.
    fs.accessSync(path.dirname(cacheFile), fs.constants.W_OK);
    const data = script.createCachedData();
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`shardkv-v8cache ${id} ${bytecodeBytes()} ${cpu}\n`, "latin1"), data]));
    fs.renameSync(tmp, cacheFile);
  } catch {
    // Best effort (see the header): an unwritable directory leaves the command uncached.
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Compiles the CommonJS file `file` (wrapped as Node wraps a module) with the code cache
 * beside it when that was made from the same code. `cache` is the cache offered to V8 (null:
 * none, or another build's); V8 may still reject it (`script.cachedDataRejected`).
 */
function compileCached(file) {
  const source = fs.readFileSync(file, "utf8");
  const id = codeIdLine.exec(source.slice(0, 64))?.[1];
  const cacheFile = `${file}.v8cache`;
  const cache = id === undefined ? null : readCache(cacheFile, id);
  // No importModuleDynamically: V8 drops it when the code comes from the cache, so the
  // bundles have no import() (the build turns each into a require()).
  const script = new vm.Script(Module.wrap(source), { filename: file, ...(cache !== null ? { cachedData: cache.data } : {}) });
  return { script, id, cache, cacheFile };
}

/**
 * Runs the CommonJS file `file` as the program (with its own `require`, `module`,
 * `__filename`, `__dirname`), compiled with its code cache, and writes the cache when the
 * process exits if it was missing, rejected or clearly smaller than this run's code (see the
 * header). Called once per process by a command's entry (dist/<name>.cjs).
 */
function runCached(file) {
  const { script, id, cache, cacheFile } = compileCached(file);
  if (id !== undefined) {
    process.once("exit", () => {
      const cpu = cpuMicros();
      const grown = () => cpu > cache.cpuMicros * measureCpuGrowth && bytecodeBytes() > cache.bytecodeBytes * rewriteGrowth;
      if (cache === null || script.cachedDataRejected === true || grown()) {
        writeCache(cacheFile, id, script, cpu);
      }
    });
  }
  const mod = new Module(file, null);
  mod.filename = file;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
}

module.exports = { compileCached, runCached };
