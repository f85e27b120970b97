// Installs node_modules when they are missing or out of date, so that `npm test`, `npm run sim`
// and `npm start` work on a fresh clone. Plain Node, no dependencies; does nothing (quickly)
// when the install is current.
//
// "Current" means: every direct dependency in package.json has a package.json under
// node_modules, and either our stamp (node_modules/.shardkv-deps.json, written after a
// successful install) records the same package.json + package-lock.json contents, or, when
// there is no stamp (someone ran `npm ci` by hand), npm's own hidden lockfile
// (node_modules/.package-lock.json) is not older than package.json or package-lock.json.
// Otherwise runs `npm ci` (with a package-lock.json) or `npm install`, inheriting stdio.
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
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const nodeModules = join(root, "node_modules");
const stampFile = join(nodeModules, ".shardkv-deps.json");
const manifest = join(root, "package.json");
const lockfile = join(root, "package-lock.json");

/** Packages whose absence makes the install unusable even if the stamp says otherwise. */
function keyPackages() {
  const pkg = JSON.parse(readFileSync(manifest, "utf8"));
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})].sort();
}

function manifestsDigest() {
  const h = createHash("sha256");
  for (const f of [manifest, lockfile]) {
    h.update(f === lockfile ? "lock\0" : "manifest\0");
    h.update(existsSync(f) ? readFileSync(f) : "(none)");
  }
  return h.digest("hex");
}

/** Why node_modules must be (re)installed, or null when it is current. */
function staleReason(digest) {
  if (!existsSync(nodeModules)) return "node_modules is missing";
  const missing = keyPackages().filter((p) => !existsSync(join(nodeModules, p, "package.json")));
  if (missing.length > 0) return `cannot resolve ${missing.join(", ")}`;
  if (existsSync(stampFile)) {
    let stamp = null;
    try { stamp = JSON.parse(readFileSync(stampFile, "utf8")); } catch { /* unreadable: reinstall */ }
    return stamp?.digest === digest ? null : "package.json or package-lock.json changed since the last install";
  }
  const hidden = join(nodeModules, ".package-lock.json");
  const installedMs = statSync(existsSync(hidden) ? hidden : nodeModules).mtimeMs;
  for (const f of [manifest, lockfile]) {
    if (existsSync(f) && statSync(f).mtimeMs > installedMs) return `node_modules is older than ${f.slice(root.length + 1)}`;
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

const digest = manifestsDigest();
const reason = staleReason(digest);
if (reason !== null) {
  const args = existsSync(lockfile) ? ["ci"] : ["install"];
  console.error(`ensure-deps: ${reason}; running npm ${args.join(" ")}`);
  runNpm(args);
  const missing = keyPackages().filter((p) => !existsSync(join(nodeModules, p, "package.json")));
  if (missing.length > 0) {
    console.error(`ensure-deps: npm ${args.join(" ")} succeeded but ${missing.join(", ")} still missing`);
    process.exit(1);
  }
  // `npm install` may have rewritten package-lock.json: digest what is there now.
  writeFileSync(stampFile, JSON.stringify({ digest: manifestsDigest(), installedBy: `npm ${args[0]}` }) + "\n");
}
