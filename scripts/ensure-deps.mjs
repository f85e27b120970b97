// Installs node_modules when they are missing or out of date, then compiles the commands into
// dist/ when a source changed (scripts/build.mjs), so that `npm test`, `npm run sim` and
// `npm start` work on a fresh clone and always run current code. Plain Node, no dependencies
// until the install is done; does nothing (quickly) when both are current.
//
// "Current" means what npm itself would install: every direct dependency in package.json has
// a package.json under node_modules, package.json's dependency ranges are the ones
// package-lock.json was made from, and npm's record of what it installed
// (node_modules/.package-lock.json, written by every npm install or ci) has every package of
// package-lock.json at the same version and integrity (optional ones only if installed, as
// npm skips those of other platforms). Editing package.json's scripts or bin entries, or
// touching a file, installs nothing. Otherwise runs `npm ci` (`npm install` when package.json's
// dependencies no longer match the lock, which `npm ci` would refuse), inheriting stdio.
//
// Install scripts: npm >= 11 runs dependency install scripts only when package.json
// "allowScripts" approves them. None is needed here, so package.json denies them explicitly
// (which also silences npm's "not yet covered by allowScripts" warning):
//   rocksdb     `node-gyp-build` only checks for a prebuilt binary; node-gyp-build finds
//               prebuilds/linux-x64 at load time anyway, and we never want a source build.
//   esbuild     install.js only verifies the platform binary that the optional dependency
//               @esbuild/<platform> already installs.
//   protobufjs  (7.x under @grpc/proto-loader) prints a version-scheme warning, nothing else.
// If a new dependency needs its script, `npm install-scripts approve <pkg>` records it.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nodeModules = join(root, "node_modules");
const manifest = join(root, "package.json");
const lockfile = join(root, "package-lock.json");
const installedLock = join(nodeModules, ".package-lock.json");
const depFields = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];

const readJson = (f) => JSON.parse(readFileSync(f, "utf8"));

/** Packages whose absence makes the install unusable whatever npm's records say. */
function keyPackages() {
  const pkg = readJson(manifest);
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].sort();
}

/** Why package-lock.json no longer describes package.json's dependencies, or null. */
function lockMismatch() {
  if (!existsSync(lockfile)) return "there is no package-lock.json";
  const pkg = readJson(manifest);
  const locked = readJson(lockfile).packages?.[""] ?? {};
  for (const field of depFields) {
    const sorted = (deps) => JSON.stringify(Object.entries(deps ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
    if (sorted(pkg[field]) !== sorted(locked[field])) return `package.json's ${field} differ from package-lock.json`;
  }
  return null;
}

/** Why node_modules must be (re)installed, or null when it is current. */
function staleReason() {
  if (!existsSync(nodeModules)) return "node_modules is missing";
  const missing = keyPackages().filter((p) => !existsSync(join(nodeModules, p, "package.json")));
  if (missing.length > 0) return `cannot resolve ${missing.join(", ")}`;
  const mismatch = lockMismatch();
  if (mismatch !== null) return mismatch;
  if (!existsSync(installedLock)) return "node_modules has no record of what npm installed";
  let installed;
  try { installed = readJson(installedLock).packages ?? {}; } catch { return "node_modules/.package-lock.json is unreadable"; }
  for (const [path, want] of Object.entries(readJson(lockfile).packages ?? {})) {
    if (path === "" || want.link) continue;
    const have = installed[path];
    if (have === undefined) {
      if (want.optional || want.devOptional) continue;
      return `${path} is not installed`;
    }
    if (have.version !== want.version || have.integrity !== want.integrity) return `${path} is ${have.version}, package-lock.json wants ${want.version}`;
  }
  return null;
}

/** Runs npm: the same npm that runs us when started by an npm script, else `npm` on PATH. */
function runNpm(args) {
  const npmCli = process.env.npm_execpath;
  const [cmd, cmdArgs] = npmCli && /npm-cli\.c?js$/.test(npmCli)
    ? [process.execPath, [npmCli, ...args]]
    : [process.platform === "win32" ? "npm.cmd" : "npm", args];
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  if (r.error) {
    console.error(`ensure-deps: could not run npm ${args.join(" ")}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    console.error(`ensure-deps: npm ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

const reason = staleReason();
if (reason !== null) {
  const args = lockMismatch() === null ? ["ci"] : ["install"];
  console.error(`ensure-deps: ${reason}; running npm ${args.join(" ")}`);
  runNpm(args);
  const missing = keyPackages().filter((p) => !existsSync(join(nodeModules, p, "package.json")));
  if (missing.length > 0) {
    console.error(`ensure-deps: npm ${args.join(" ")} succeeded but ${missing.join(", ")} still missing`);
    process.exit(1);
  }
}

// Imported only now: the build needs esbuild from node_modules.
const { ensureBuilt } = await import("./build.mjs");
try {
  await ensureBuilt((s) => console.error(s));
} catch (e) {
  console.error(`ensure-deps: building dist/ failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  process.exit(1);
}
