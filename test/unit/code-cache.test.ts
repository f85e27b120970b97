/**
 * scripts/code-cache.cjs (dist/code-cache.cjs), which runs the client commands' bundles with
 * V8's code cache, in real Node processes: the first run writes the cache at exit and the next
 * one compiles from it; a cache made from other code (even of the same length, which V8 alone
 * would accept), a corrupt one or one that cannot be written never changes what runs or what
 * it prints; a run that compiles clearly more code than the cache holds rewrites it, and one
 * that does not leaves it alone.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../deploy/local/process";

const loader = join(repoRoot, "scripts", "code-cache.cjs");

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** A bundle as the build writes one: the code id on its first line, then the code. */
function writeBundle(dir: string, id: string, code: string): string {
  const file = join(dir, "cmd.bundle.cjs");
  writeFileSync(file, `// code-id: ${id}\n"use strict";\n${code}`);
  return file;
}

/** `node -e <script>` with the loader at hand (`loader`): its exit code and output. */
function node(script: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["-e", `const loader = require(${JSON.stringify(loader)});\n${script}`], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `file` as a command's entry (dist/<name>.cjs) does, from an entry beside it. */
function run(file: string, args: readonly string[] = []): { code: number | null; stdout: string; stderr: string } {
  const entry = join(dirname(file), "cmd.cjs");
  writeFileSync(entry, `require(${JSON.stringify(loader)}).runCached(require("node:path").join(__dirname, "cmd.bundle.cjs"));\n`);
  const r = spawnSync(process.execPath, [entry, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What the loader offers V8 for `file` in a fresh process, and whether V8 takes it. */
function cacheUse(file: string): { offered: boolean; rejected: boolean } {
  const r = node(`const c = loader.compileCached(${JSON.stringify(file)}); console.log(JSON.stringify({ offered: c.cache !== null, rejected: c.script.cachedDataRejected === true }));`);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { offered: boolean; rejected: boolean };
}

const idA = "a".repeat(32);
const idB = "b".repeat(32);
/** Prints what a command sees: its arguments, its file and that it has its own require. */
const program = (tag: string) => `console.log(${JSON.stringify(tag)}, JSON.stringify(process.argv.slice(2)), __filename.endsWith("cmd.bundle.cjs"), typeof require("node:path").join);\n`;

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "shardkv-code-cache-"));
  temps.push(d);
  return d;
}

describe("code cache loader", () => {
  it("writes the cache when the first run exits, and the next run compiles from it", () => {
    const file = writeBundle(tempDir(), idA, program("one"));
    const first = run(file, ["get", "k"]);
    expect(first).toEqual({ code: 0, stdout: 'one ["get","k"] true function\n', stderr: "" });
    expect(readFileSync(`${file}.v8cache`).subarray(0, 80).toString("latin1")).toMatch(new RegExp(`^shardkv-v8cache ${idA} \\d+ \\d+\\n`));
    expect(cacheUse(file)).toEqual({ offered: true, rejected: false });
    expect(run(file, ["x"])).toEqual({ code: 0, stdout: 'one ["x"] true function\n', stderr: "" });
  });

  it("does not use a cache made from other code of the same length, and replaces it", () => {
    const dir = tempDir();
    const file = writeBundle(dir, idA, program("old"));
    expect(run(file).code).toBe(0);
    // A rebuild: another code id, code of exactly the same length (V8 checks only the length).
    writeBundle(dir, idB, program("new"));
    expect(cacheUse(file).offered).toBe(false);
    expect(run(file)).toEqual({ code: 0, stdout: "new [] true function\n", stderr: "" });
    expect(readFileSync(`${file}.v8cache`).subarray(0, 80).toString("latin1")).toContain(` ${idB} `);
    expect(cacheUse(file)).toEqual({ offered: true, rejected: false });
  });

  it("runs correctly over a corrupt or truncated cache, and replaces it", () => {
    const dir = tempDir();
    const file = writeBundle(dir, idA, program("ok"));
    expect(run(file).code).toBe(0);
    const good = readFileSync(`${file}.v8cache`);
    for (const bad of [good.subarray(0, good.length >> 1), Buffer.concat([good.subarray(0, 60), Buffer.alloc(good.length - 60, 0x5a)])]) {
      writeFileSync(`${file}.v8cache`, bad);
      expect(run(file)).toEqual({ code: 0, stdout: "ok [] true function\n", stderr: "" });
      expect(cacheUse(file)).toEqual({ offered: true, rejected: false });
    }
  });

  it("runs uncached and silently where the cache cannot be written", () => {
    const dir = tempDir();
    const file = writeBundle(dir, idA, program("ro"));
    // A directory where the cache file belongs: it can be neither read nor replaced (even by root).
    mkdirSync(`${file}.v8cache`);
    for (let i = 0; i < 2; i++) expect(run(file)).toEqual({ code: 0, stdout: "ro [] true function\n", stderr: "" });
    expect(readdirSync(dir).sort()).toEqual(["cmd.bundle.cjs", "cmd.bundle.cjs.v8cache", "cmd.cjs"]);
    expect(statSync(`${file}.v8cache`).isDirectory()).toBe(true);
  });

  it("rewrites the cache after a run that compiled clearly more code, not after one that did not", () => {
    // 2,000 functions compiled only when the first argument is "big", and 200 ms more CPU (as
    // `get` loads and runs the client library and `--help` does not).
    const fns = Array.from({ length: 2000 }, (_, i) => `function f${i}(x) { const o = { a: x, b: [x, ${i}], c: String(x) + "${i}" }; return o.a + o.b.length + o.c.length; }`);
    const burn = "const c0 = process.cpuUsage(); for (;;) { const c = process.cpuUsage(c0); if (c.user + c.system > 200000) break; }";
    const code = `${fns.join("\n")}\nlet s = 0;\nif (process.argv[2] === "big") { ${fns.map((_, i) => `s += f${i}(${i});`).join(" ")} ${burn} }\nconsole.log(s > 0 ? "big" : "small");\n`;
    const file = writeBundle(tempDir(), idA, code);
    const cacheFile = `${file}.v8cache`;
    expect(run(file, ["small"]).stdout).toBe("small\n");
    const small = statSync(cacheFile);
    expect(run(file, ["big"]).stdout).toBe("big\n");
    const big = statSync(cacheFile);
    expect(big.ino === small.ino && big.mtimeMs === small.mtimeMs, "rewritten after the bigger run").toBe(false);
    expect(big.size).toBeGreaterThan(small.size);
    for (const arg of ["big", "small"]) {
      expect(run(file, [arg]).stdout).toBe(`${arg}\n`);
      const now = statSync(cacheFile);
      expect({ ino: now.ino, mtimeMs: now.mtimeMs }, `not rewritten after a "${arg}" run`).toEqual({ ino: big.ino, mtimeMs: big.mtimeMs });
    }
  });
});
