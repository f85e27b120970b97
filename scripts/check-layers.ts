/**
 * The layer and determinism rules of docs/design.md#1-layout and #21-pure-cores-io-at-the-edges, checked on every `npm test`
 * (`npm run lint:layers`). Parses each project .ts file with the TypeScript compiler API,
 * collects its module specifiers (import, import type, export ... from, import x = require(),
 * dynamic import(), require(), import("...") types), resolves relative ones to files, and
 * checks:
 *
 *  raft-core         raft/core imports only common/ and raft/core/ (no packages, no node built-ins).
 *  common            common/ imports nothing else of the project.
 *  security          security/ (certificates, TLS credentials) imports of the project only
 *                    common/ and security/.
 *  client            client/ imports of the project only proto/, common/, client/,
 *                    CLIENT_ALLOWED_SECURITY_MODULES (TLS credentials) and
 *                    CLIENT_ALLOWED_CONTROLLER_MODULES (controller's config model); and
 *                    client/cli.ts the entry of `shardkv bench` (BENCH_ENTRY).
 *  bench             nothing outside bench/ and test/ imports bench/ (the benchmark code is
 *                    no dependency of the product), but for BENCH_ENTRY from client/cli.ts.
 *  client-grpc       in client/, only CLIENT_GRPC_MODULES import @grpc/grpc-js or the gRPC
 *                    modules (common/grpc-*.ts, client/stubs.ts, security/credentials.ts):
 *                    the library runs over any
 *                    transport (client/transport.ts); client/grpc-transport.ts, the default
 *                    one, is the way in.
 *  test-import       nothing outside test/ imports test/.
 *  cycle             no import cycles among project files (type-only imports included).
 *  nondeterminism    no Date.now, new Date(), Math.random, setTimeout, setInterval,
 *                    setImmediate, performance.now, process.hrtime, crypto.randomUUID /
 *                    randomUUID as code outside common/real-env.ts (the real Env), except the
 *                    files in NONDETERMINISM_EXCEPTIONS.
 *  unresolved        a relative specifier that names no file (and outside-root ones).
 *
 * Prints `file:line: rule: detail` per violation and exits 1, or one summary line and exits 0.
 * `checkLayers(root)` is exported for test/unit/check-layers.test.ts.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { UsageError, exitUsage, flag, parseCommandLine } from "../common/cli-args";

/** Top-level folders whose .ts files are checked. */
export const SCANNED_DIRS = ["common", "security", "raft", "controller", "shard-server", "client", "bench", "deploy", "test", "scripts"] as const;

/** Paths (relative to the root, "/"-separated) never scanned. `node_modules` is skipped at any depth. */
export const SKIPPED_PATHS = ["proto/gen"] as const;

/**
 * The modules of controller/ that client/ may import: the config model (Config and its
 * helpers) and the key-to-shard function shared by client and server. `*` matches within one
 * path segment.
 */
export const CLIENT_ALLOWED_CONTROLLER_MODULES = ["controller/config*.ts", "controller/shard-of.ts"] as const;

/**
 * The modules of security/ that client/ may import: the TLS credentials its gRPC transport
 * connects with (a gRPC module: only CLIENT_GRPC_MODULES import it), the identities they
 * carry, the TLS files they are made of, the one-line reasons of a failed handshake and the
 * CLIs' TLS flags.
 */
export const CLIENT_ALLOWED_SECURITY_MODULES = ["security/credentials.ts", "security/identity.ts", "security/tls-files.ts", "security/tls-errors.ts", "security/tls-flags.ts"] as const;

/**
 * The one import of bench/ from outside it and test/: the data CLI's `bench` subcommand
 * (`shardkv bench`), imported with `import()` by client/cli.ts only when that subcommand runs.
 */
export const BENCH_ENTRY = { from: "client/cli.ts", to: "bench/shardkv-bench.ts" } as const;

/** The client's gRPC transport and its stubs: the client files that may know gRPC. */
export const CLIENT_GRPC_MODULES = ["client/grpc-transport.ts", "client/stubs.ts"] as const;

/** The real Env: the one module allowed to read clocks, start timers and draw randomness. */
export const REAL_ENV_MODULE = "common/real-env.ts";

/**
 * Harness files in test/ or scripts/ allowed to use the nondeterministic APIs, each with the
 * reason. Keep it empty unless needed: waiting code uses `delay` / `realClock` from
 * common/real-env.ts instead.
 */
export const NONDETERMINISM_EXCEPTIONS: Readonly<Record<string, string>> = {};

export type Rule = "raft-core" | "common" | "security" | "client" | "client-grpc" | "bench" | "test-import" | "cycle" | "nondeterminism" | "unresolved";

export interface Violation {
  /** Relative to the root, "/"-separated. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly rule: Rule;
  readonly detail: string;
}

export interface CheckResult {
  /** Number of files scanned. */
  readonly files: number;
  /** Sorted by file, line, rule. */
  readonly violations: readonly Violation[];
}

export interface CheckOptions {
  /** Defaults to NONDETERMINISM_EXCEPTIONS. */
  readonly nondeterminismExceptions?: Readonly<Record<string, string>>;
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: ${v.rule}: ${v.detail}`;
}

/** One module specifier found in a file. */
interface ImportRef {
  readonly specifier: string;
  readonly line: number;
  /** `import type`, `export type ... from`, all specifiers `type`-qualified, or an import("x") type. */
  readonly typeOnly: boolean;
}

/** An import edge between two project files: the line of the first import, and whether every import of it is type-only. */
interface Edge {
  readonly line: number;
  readonly typeOnly: boolean;
}

/** file -> target file -> edge, project files only. */
type Graph = Map<string, Map<string, Edge>>;

/** Checks the tree under `root` (the project root, with common/, raft/, ... below it). */
export function checkLayers(root: string, options: CheckOptions = {}): CheckResult {
  const absRoot = resolve(root);
  const exceptions = options.nondeterminismExceptions ?? NONDETERMINISM_EXCEPTIONS;
  const files = listSourceFiles(absRoot);
  const violations: Violation[] = [];
  const graph: Graph = new Map();

  for (const file of files) {
    const text = readFileSync(join(absRoot, file), "utf8");
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const edges = new Map<string, Edge>();
    graph.set(file, edges);
    for (const ref of collectImports(sf)) {
      const target = resolveSpecifier(absRoot, file, ref.specifier);
      if (target.kind === "unresolved") {
        violations.push({ file, line: ref.line, rule: "unresolved", detail: `cannot resolve "${ref.specifier}"` });
        continue;
      }
      if (target.kind === "outside") {
        violations.push({ file, line: ref.line, rule: "unresolved", detail: `"${ref.specifier}" resolves outside the project root` });
        continue;
      }
      if (target.kind === "file") {
        const seen = edges.get(target.path);
        if (!seen) edges.set(target.path, { line: ref.line, typeOnly: ref.typeOnly });
        else if (!ref.typeOnly) edges.set(target.path, { line: seen.line, typeOnly: false });
      }
      const broken = checkImportRules(file, ref.specifier, target);
      if (broken) violations.push({ file, line: ref.line, rule: broken.rule, detail: broken.detail });
    }
    if (file !== REAL_ENV_MODULE && !(file in exceptions)) {
      for (const use of findNondeterminism(sf)) {
        violations.push({ file, line: use.line, rule: "nondeterminism", detail: `${use.what} outside ${REAL_ENV_MODULE} (use the Env: clock, rng)` });
      }
    }
  }
  violations.push(...findCycles(graph));
  violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
  return { files: files.length, violations };
}

// ---------------------------------------------------------------------------------------------
// Files

function toPosix(p: string): string {
  return sep === "/" ? p : p.split(sep).join("/");
}

function isSourceFile(name: string): boolean {
  return /\.(ts|mts|cts|tsx)$/.test(name) && !/\.d\.(ts|mts|cts)$/.test(name);
}

/** Source files under SCANNED_DIRS, relative and "/"-separated, sorted. */
function listSourceFiles(absRoot: string): string[] {
  const out: string[] = [];
  const stack = SCANNED_DIRS.map((d) => d as string).filter((d) => existsSync(join(absRoot, d)));
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of readdirSync(join(absRoot, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.name === "node_modules" || (SKIPPED_PATHS as readonly string[]).includes(rel)) continue;
      if (entry.isDirectory()) stack.push(rel);
      else if (entry.isFile() && isSourceFile(entry.name)) out.push(rel);
    }
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Imports

function lineOf(sf: ts.SourceFile, node: ts.Node): number {
  return sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
}

function stringValue(node: ts.Node | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import "x"`: a side effect, kept at run time
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return !!bindings && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return !!clause && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

/** Every module specifier in the file, in source order. */
function collectImports(sf: ts.SourceFile): ImportRef[] {
  const refs: ImportRef[] = [];
  const add = (spec: ts.Node | undefined, at: ts.Node, typeOnly: boolean) => {
    const s = stringValue(spec);
    if (s !== undefined) refs.push({ specifier: s, line: lineOf(sf, at), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node, isTypeOnlyImport(node));
    else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node, isTypeOnlyExport(node));
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node, node.isTypeOnly);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const isDynamicImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === "require";
      if ((isDynamicImport || isRequire) && node.arguments.length >= 1) add(node.arguments[0], node, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, node, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return refs;
}

type Target =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "package"; readonly name: string }
  | { readonly kind: "builtin"; readonly name: string }
  | { readonly kind: "unresolved" }
  | { readonly kind: "outside" };

const builtins = new Set(builtinModules);

const tsExtensionFor: Readonly<Record<string, readonly string[]>> = {
  ".js": [".ts", ".tsx", ".d.ts"],
  ".jsx": [".tsx"],
  ".mjs": [".mts", ".d.mts"],
  ".cjs": [".cts", ".d.cts"],
};
const probeExtensions = [".ts", ".tsx", ".mts", ".cts", ".d.ts", ".js", ".mjs", ".cjs", ".json"];

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Resolves like TypeScript's "Bundler" resolution does for relative specifiers. */
function resolveSpecifier(absRoot: string, fromFile: string, specifier: string): Target {
  if (specifier.startsWith("node:") || builtins.has(specifier) || builtins.has(specifier.split("/")[0]!)) {
    return { kind: "builtin", name: specifier };
  }
  const relativeSpec = specifier === "." || specifier === ".." || specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/");
  if (!relativeSpec) return { kind: "package", name: specifier };
  const base = resolve(join(absRoot, dirname(fromFile)), specifier);
  const candidates: string[] = [];
  const ext = /\.[cm]?jsx?$/.exec(base)?.[0];
  if (ext) for (const e of tsExtensionFor[ext] ?? []) candidates.push(base.slice(0, -ext.length) + e);
  candidates.push(base);
  for (const e of probeExtensions) candidates.push(base + e);
  for (const e of probeExtensions) candidates.push(join(base, "index" + e));
  const found = candidates.find(isFile);
  if (found === undefined) return { kind: "unresolved" };
  const rel = relative(absRoot, found);
  if (rel.startsWith("..") || resolve(absRoot, rel) !== found) return { kind: "outside" };
  return { kind: "file", path: toPosix(rel) };
}

// ---------------------------------------------------------------------------------------------
// Layer rules

function under(file: string, dir: string): boolean {
  return file.startsWith(dir + "/");
}

function globToRegExp(glob: string): RegExp {
  const body = glob.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*");
  return new RegExp(`^${body}$`);
}

const clientAllowedControllerRes = CLIENT_ALLOWED_CONTROLLER_MODULES.map(globToRegExp);

function describeTarget(t: Target): string {
  switch (t.kind) {
    case "file": return t.path;
    case "package": return `package "${t.name}"`;
    case "builtin": return `node built-in "${t.name}"`;
    default: return "?";
  }
}

/** The first layer rule the import breaks, if any. */
function checkImportRules(file: string, specifier: string, target: Target): { rule: Rule; detail: string } | undefined {
  const what = `imports ${describeTarget(target)}`;
  if (under(file, "raft/core")) {
    const ok = target.kind === "file" && (under(target.path, "common") || under(target.path, "raft/core"));
    if (!ok) return { rule: "raft-core", detail: `${what} ("${specifier}"); raft/core may import only common/ and raft/core/` };
  }
  if (under(file, "common") && target.kind === "file" && !under(target.path, "common")) {
    return { rule: "common", detail: `${what}; common/ imports nothing else of the project` };
  }
  if (under(file, "security") && target.kind === "file" && !under(target.path, "common") && !under(target.path, "security")) {
    return { rule: "security", detail: `${what}; security/ imports only common/ and security/ of the project` };
  }
  if (target.kind === "file" && under(target.path, "test") && !under(file, "test")) {
    return { rule: "test-import", detail: `${what}; only test/ may import test/` };
  }
  const benchEntry = file === BENCH_ENTRY.from && target.kind === "file" && target.path === BENCH_ENTRY.to;
  if (target.kind === "file" && under(target.path, "bench") && !under(file, "bench") && !under(file, "test") && !benchEntry) {
    return { rule: "bench", detail: `${what}; only bench/ and test/ may import bench/ (and ${BENCH_ENTRY.from} its entry ${BENCH_ENTRY.to})` };
  }
  if (under(file, "client") && target.kind === "file" && !benchEntry) {
    const p = target.path;
    const ok = under(p, "client") || under(p, "proto") || under(p, "common") || clientAllowedControllerRes.some((re) => re.test(p))
      || (CLIENT_ALLOWED_SECURITY_MODULES as readonly string[]).includes(p);
    if (!ok) {
      return {
        rule: "client",
        detail: `${what}; client/ may import only proto/, common/, ${CLIENT_ALLOWED_SECURITY_MODULES.join(", ")} and ${CLIENT_ALLOWED_CONTROLLER_MODULES.join(", ")}`,
      };
    }
  }
  if (under(file, "client") && !(CLIENT_GRPC_MODULES as readonly string[]).includes(file) && isGrpcModule(target)) {
    return { rule: "client-grpc", detail: `${what}; in client/ only ${CLIENT_GRPC_MODULES.join(" and ")} may use gRPC (go through client/transport.ts)` };
  }
  return undefined;
}

/** @grpc/grpc-js, or a project module built on it. */
function isGrpcModule(t: Target): boolean {
  if (t.kind === "package") return t.name === "@grpc/grpc-js" || t.name.startsWith("@grpc/grpc-js/");
  return t.kind === "file" && (/^common\/grpc-[^/]*\.ts$/.test(t.path) || t.path === "client/stubs.ts" || t.path === "security/credentials.ts");
}

// ---------------------------------------------------------------------------------------------
// Cycles

/**
 * One violation per strongly connected component with a cycle (Tarjan, iterative), reported at
 * the import that starts the shortest cycle through the component's first file.
 */
function findCycles(graph: Graph): Violation[] {
  const succ = (f: string): string[] => [...(graph.get(f)?.keys() ?? [])].filter((t) => graph.has(t)).sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: { node: string; next: string[] }[] = [];
    const open = (n: string) => {
      index.set(n, counter);
      low.set(n, counter);
      counter++;
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, next: succ(n) });
    };
    open(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const w = top.next.shift();
      if (w !== undefined) {
        if (!index.has(w)) open(w);
        else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]!.node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const comp: string[] = [];
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          comp.push(n);
        } while (n !== top.node);
        components.push(comp.sort());
      }
    }
  }
  const out: Violation[] = [];
  for (const comp of components) {
    const first = comp[0]!;
    const selfLoop = graph.get(first)?.has(first) ?? false;
    if (comp.length === 1 && !selfLoop) continue;
    const path = shortestCycle(first, new Set(comp), succ);
    let shown = path[0]!;
    for (let i = 1; i < path.length; i++) shown += (graph.get(path[i - 1]!)!.get(path[i]!)!.typeOnly ? " -(type)-> " : " -> ") + path[i]!;
    out.push({ file: first, line: graph.get(first)!.get(path[1]!)!.line, rule: "cycle", detail: `import cycle: ${shown}` });
  }
  return out;
}

/** Breadth-first: the shortest path from `start` back to itself inside `members`. */
function shortestCycle(start: string, members: ReadonlySet<string>, succ: (f: string) => string[]): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i]!;
    for (const w of succ(n)) {
      if (!members.has(w)) continue;
      if (w === start) {
        const inner: string[] = [];
        for (let p = n; p !== start; p = prev.get(p)!) inner.unshift(p);
        return [start, ...inner, start];
      }
      if (w !== start && !prev.has(w)) {
        prev.set(w, n);
        queue.push(w);
      }
    }
  }
  return [start, start]; // not reached: every member of a cyclic component lies on a cycle through start
}

// ---------------------------------------------------------------------------------------------
// Nondeterminism

/** Globals that are nondeterministic when referenced bare (or as globalThis.X). */
const forbiddenGlobals = new Set(["setTimeout", "setInterval", "setImmediate", "randomUUID"]);
/** `object.member` pairs; `*` = on any object. */
const forbiddenMembers: readonly (readonly [string, string])[] = [
  ["Date", "now"],
  ["Math", "random"],
  ["performance", "now"],
  ["process", "hrtime"],
  ["*", "randomUUID"],
];
const globalObjects = new Set(["globalThis", "global", "window", "self"]);

/** The rightmost name of an expression: `a.b.c` -> "c", `x` -> "x". */
function rightmostName(e: ts.Expression): string | undefined {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}

function isForbiddenMember(object: ts.Expression, member: string): boolean {
  const obj = rightmostName(object);
  if (obj === undefined) return false;
  return forbiddenMembers.some(([o, m]) => m === member && (o === "*" || o === obj));
}

/** Whether an identifier is a reference to a binding (not a property name or a declaration's name). */
function isBareReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === id) return false;
  if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p)
    || ts.isMethodSignature(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p) || ts.isEnumMember(p)) && p.name === id) return false;
  if ((ts.isVariableDeclaration(p) || ts.isFunctionDeclaration(p) || ts.isParameter(p) || ts.isClassDeclaration(p)) && p.name === id) return false;
  if (ts.isBindingElement(p) && p.propertyName === id) return false;
  if (ts.isQualifiedName(p)) return false;
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
  return true;
}

/** Uses of clocks, timers and randomness as code (comments, strings and types do not count). */
function findNondeterminism(sf: ts.SourceFile): { line: number; what: string }[] {
  const found: { line: number; what: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTypeNode(node) && !ts.isExpressionWithTypeArguments(node)) return; // `typeof setTimeout` in a type
    if (ts.isPropertyAccessExpression(node) && isForbiddenMember(node.expression, node.name.text)) {
      found.push({ line: lineOf(sf, node), what: `${rightmostName(node.expression)}.${node.name.text}` });
    } else if (ts.isElementAccessExpression(node) && stringValue(node.argumentExpression) !== undefined
      && isForbiddenMember(node.expression, stringValue(node.argumentExpression)!)) {
      found.push({ line: lineOf(sf, node), what: `${rightmostName(node.expression)}["${stringValue(node.argumentExpression)}"]` });
    } else if (ts.isPropertyAccessExpression(node) && forbiddenGlobals.has(node.name.text)
      && ts.isIdentifier(node.expression) && globalObjects.has(node.expression.text)) {
      found.push({ line: lineOf(sf, node), what: `${node.expression.text}.${node.name.text}` });
    } else if (ts.isIdentifier(node) && forbiddenGlobals.has(node.text) && isBareReference(node)) {
      found.push({ line: lineOf(sf, node), what: node.text });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression)
      && node.expression.text === "Date" && (node.arguments?.length ?? 0) === 0) {
      found.push({ line: lineOf(sf, node), what: ts.isNewExpression(node) ? "new Date() (the current time)" : "Date() (the current time)" });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Command line

function main(): void {
  let cl;
  try {
    cl = parseCommandLine(process.argv.slice(2), { root: flag.nonEmpty() }, { positionals: 0 });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`check-layers: ${e.message} (usage: check-layers [--root DIR])`);
    process.exit(exitUsage);
  }
  if (cl.help) {
    console.log("usage: check-layers [--root DIR]   (default: this repository)");
    return;
  }
  const root = cl.values.root !== undefined ? resolve(cl.values.root) : join(dirname(fileURLToPath(import.meta.url)), "..");
  const { files, violations } = checkLayers(root);
  for (const v of violations) console.error(formatViolation(v));
  console.log(`layers: ${files} files, ${violations.length} violation${violations.length === 1 ? "" : "s"}`);
  if (violations.length > 0) process.exit(1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
