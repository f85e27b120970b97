/**
 * scripts/check-layers.ts on small fixture trees written to a temporary directory: a clean
 * tree passes, and each rule catches its violation at the right file and line.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkLayers, formatViolation, type CheckOptions, type Violation } from "../../scripts/check-layers";

const roots: string[] = [];

afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** Writes `files` (path relative to the root -> contents) into a fresh temporary root. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "shardkv-layers-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** A small tree that obeys every rule. */
const cleanTree: Record<string, string> = {
  "common/ids.ts": "export type NodeId = number & { readonly brand: 'NodeId' };\n",
  "common/env.ts": 'import type { NodeId } from "./ids";\nexport interface Clock { nowMs(): number; setTimeout(fn: () => void, ms: number): void }\nexport type Who = NodeId;\n',
  "common/real-env.ts": [
    'import { randomUUID } from "node:crypto";',
    'import { performance } from "node:perf_hooks";',
    "export const now = () => Date.now() + performance.now();",
    "export const rnd = () => Math.random();",
    "export const id = () => randomUUID();",
    "export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));",
    "export const tick = (fn: () => void) => { setInterval(fn, 10); setImmediate(fn); };",
    "",
  ].join("\n"),
  "raft/core/types.ts": 'import type { NodeId } from "../../common/ids";\nexport interface Msg { from: NodeId }\n',
  "raft/core/raft.ts": [
    'import type { Msg } from "./types";',
    'import type { Clock } from "../../common/env.js";',
    "// Date.now() and Math.random() are never called here; setTimeout neither.",
    'export const note = "Date.now() in a string is fine, so is setTimeout";',
    "export function step(m: Msg, clock: Clock): number {",
    "  clock.setTimeout(() => {}, 1);",
    "  const timer: ReturnType<typeof setTimeout> | undefined = undefined;",
    "  void timer;",
    "  return m.from + clock.nowMs();",
    "}",
    "",
  ].join("\n"),
  "raft/node.ts": 'import { step } from "./core/raft";\nimport { EventEmitter } from "node:events";\nexport { step, EventEmitter };\n',
  "controller/config.ts": "export interface Config { num: number }\n",
  "controller/config-model.ts": 'export type { Config } from "./config";\n',
  "controller/shard-of.ts": "export const shardOf = (key: Uint8Array, n: number) => key.length % n;\n",
  "controller/server.ts": 'import { step } from "../raft/node";\nimport type { Config } from "./config";\nexport const s = (c: Config) => step;\n',
  "client/client.ts": [
    'import type { Config } from "../controller/config-model";',
    'import { shardOf } from "../controller/shard-of.js";',
    'import { delay } from "../common/real-env";',
    'import { gen } from "../proto/gen/raft.js";',
    'import { GrpcTransport } from "./grpc-transport";',
    "export const route = (c: Config) => [shardOf, delay, gen, GrpcTransport, c];",
    "",
  ].join("\n"),
  "client/grpc-transport.ts": 'import * as grpc from "@grpc/grpc-js";\nimport { toServiceError } from "../common/grpc-errors";\nexport const GrpcTransport = [grpc, toServiceError];\n',
  "common/grpc-errors.ts": 'import * as grpc from "@grpc/grpc-js";\nexport const toServiceError = grpc;\n',
  "proto/gen/raft.js": "export const gen = 1;\n",
  "proto/gen/raft.d.ts": "export declare const gen: number;\n",
  "proto/gen/bad.ts": 'import { x } from "../../test/lib/h";\nexport const y = Date.now() + x;\n',
  "test/lib/h.ts": 'import { delay } from "../../common/real-env";\nexport const x = 1;\nexport const wait = () => delay(5);\n',
  "test/unit/a.test.ts": 'import { x } from "../lib/h";\nimport { route } from "../../client/client";\nexport const t = [x, route];\n',
  "scripts/tool.ts": 'const m = await import("../controller/server");\nexport { m };\n',
  "deploy/node_modules/pkg/index.ts": "export const z = Math.random();\n",
};

function rulesOf(violations: readonly Violation[]): string[] {
  return violations.map((v) => `${v.file}:${v.line}: ${v.rule}`);
}

function check(files: Record<string, string>, options?: CheckOptions) {
  return checkLayers(tree({ ...cleanTree, ...files }), options);
}

describe("check-layers", () => {
  it("passes a clean tree and skips node_modules and proto/gen", () => {
    const result = checkLayers(tree(cleanTree));
    expect(result.violations.map(formatViolation)).toEqual([]);
    expect(result.files).toBe(Object.keys(cleanTree).filter((f) => f.endsWith(".ts") && !f.startsWith("proto/") && !f.includes("node_modules")).length);
  });

  it("raft-core: raft/core imports only common/ and raft/core/, no packages or node built-ins", () => {
    const { violations } = check({
      "raft/storage/store.ts": "export interface Store { x: number }\n",
      "raft/core/log.ts": [
        'import type { Store } from "../storage/store";',
        'import { readFileSync } from "node:fs";',
        'import { EventEmitter } from "events";',
        'import protobuf from "protobufjs";',
        'export { Msg } from "../../controller/config";',
        "export const later = () => import(\"../node\");",
        "export type S = Store | typeof readFileSync | typeof EventEmitter | typeof protobuf;",
        "",
      ].join("\n"),
    });
    expect(rulesOf(violations)).toEqual([1, 2, 3, 4, 5, 6].map((l) => `raft/core/log.ts:${l}: raft-core`));
    expect(formatViolation(violations[0]!)).toMatch(/^raft\/core\/log\.ts:1: raft-core: imports raft\/storage\/store\.ts/);
    expect(violations[1]!.detail).toContain('node built-in "node:fs"');
  });

  it("common: common/ imports nothing else of the project", () => {
    const { violations } = check({
      "common/errors.ts": 'import type { Msg } from "../raft/core/types";\nexport type E = Msg;\n',
    });
    expect(rulesOf(violations)).toEqual(["common/errors.ts:1: common"]);
  });

  it("security: security/ imports only common/ and security/ of the project", () => {
    const { violations } = check({
      "security/identity.ts": 'import { delay } from "../common/real-env";\nexport const id = delay;\n',
      "security/authority.ts": 'import { id } from "./identity";\nimport { s } from "../controller/server";\nimport * as x509 from "@peculiar/x509";\nexport const a = [id, s, x509];\n',
    });
    expect(rulesOf(violations)).toEqual(["security/authority.ts:2: security"]);
    expect(violations[0]!.detail).toContain("security/ imports only common/ and security/");
  });

  it("client: only proto/, common/, the TLS credentials and the controller's config model", () => {
    const { violations } = check({
      "client/router.ts": [
        'import { s } from "../controller/server";',
        'import type { Msg } from "../raft/core/types";',
        'import type { Config } from "../controller/config";',
        'import type { Identity } from "../security/identity";',
        'import { issue } from "../security/authority";',
        "export const r = [s, {} as Msg, {} as Config, {} as Identity, issue];",
        "",
      ].join("\n"),
      "security/identity.ts": "export interface Identity { name: string }\n",
      "security/authority.ts": "export const issue = 1;\n",
    });
    expect(rulesOf(violations)).toEqual(["client/router.ts:1: client", "client/router.ts:2: client", "client/router.ts:5: client"]);
    expect(violations[0]!.detail).toContain("controller/shard-of.ts");
  });

  it("bench: only bench/, test/ and the CLI's `shardkv bench` entry import bench/", () => {
    const { violations } = check({
      "bench/load.ts": 'import { delay } from "../common/real-env";\nexport const load = delay;\n',
      "bench/shardkv-bench.ts": 'import { load } from "./load";\nimport { route } from "../client/client";\nexport const main = [load, route];\n',
      "client/cli.ts": 'const { main } = await import("../bench/shardkv-bench");\nexport { main };\n',
      "client/other.ts": 'import { main } from "../bench/shardkv-bench";\nimport { load } from "../bench/load";\nexport const o = [main, load];\n',
      "shard-server/s.ts": 'import { load } from "../bench/load";\nexport const s = load;\n',
      "test/unit/b.test.ts": 'import { load } from "../../bench/load";\nexport const t = load;\n',
    });
    expect(rulesOf(violations)).toEqual([
      "client/other.ts:1: bench", "client/other.ts:2: bench", "shard-server/s.ts:1: bench",
    ]);
    expect(violations[0]!.detail).toContain("only bench/ and test/ may import bench/");
  });

  it("client-grpc: in client/ only the gRPC transport and its stubs import gRPC", () => {
    const { violations } = check({
      "client/channel.ts": [
        'import type * as grpc from "@grpc/grpc-js";',
        'import { fromServiceError } from "../common/grpc-errors";',
        'import { kvStub } from "./stubs";',
        'import { GrpcTransport } from "./grpc-transport";',
        'import { serverCredentials } from "../security/credentials";',
        "export const c = [{} as grpc.Client, fromServiceError, kvStub, GrpcTransport, serverCredentials];",
        "",
      ].join("\n"),
      "client/stubs.ts": 'import * as grpc from "@grpc/grpc-js";\nimport { serverCredentials } from "../security/credentials";\nexport const kvStub = [grpc, serverCredentials];\n',
      "security/credentials.ts": 'import * as grpc from "@grpc/grpc-js";\nexport const serverCredentials = grpc;\n',
    });
    expect(rulesOf(violations)).toEqual([
      "client/channel.ts:1: client-grpc", "client/channel.ts:2: client-grpc", "client/channel.ts:3: client-grpc", "client/channel.ts:5: client-grpc",
    ]);
    expect(violations[0]!.detail).toContain("client/transport.ts");
  });

  it("test-import: nothing outside test/ imports test/", () => {
    const { violations } = check({
      "deploy/launch.ts": 'export { x } from "../test/lib/h";\n',
      "scripts/tool.ts": 'const h = await import("../test/lib/h.js");\nexport { h };\n',
    });
    expect(rulesOf(violations)).toEqual(["deploy/launch.ts:1: test-import", "scripts/tool.ts:1: test-import"]);
  });

  it("cycle: reports the cycle path once per cycle", () => {
    const { violations } = check({
      "shard-server/a.ts": 'import { b } from "./b";\nexport const a = () => b;\n',
      "shard-server/b.ts": 'import type { C } from "./c";\nexport const b = 1 as unknown as C;\n',
      "shard-server/c.ts": '// comment\nimport { a } from "./a.js";\nexport type C = typeof a;\n',
      "shard-server/self.ts": 'import { me } from "./self";\nexport const me = 1;\nexport const again = me;\n',
    });
    expect(rulesOf(violations)).toEqual(["shard-server/a.ts:1: cycle", "shard-server/self.ts:1: cycle"]);
    expect(violations[0]!.detail).toBe("import cycle: shard-server/a.ts -> shard-server/b.ts -(type)-> shard-server/c.ts -> shard-server/a.ts");
    expect(violations[1]!.detail).toBe("import cycle: shard-server/self.ts -> shard-server/self.ts");
  });

  it("nondeterminism: clocks, timers and randomness as code outside common/real-env.ts", () => {
    const source = [
      "export const a = Date.now();", // 1
      "export const b = Math.random();", // 2
      "export const c = performance.now();", // 3
      "export const d = crypto.randomUUID();", // 4
      'import { randomUUID } from "node:crypto";', // 5
      "export const e = () => setTimeout(() => {}, 1);", // 6
      "export const f = () => setInterval(() => {}, 1);", // 7
      "export const g = () => setImmediate(() => {});", // 8
      "export const h = globalThis.setTimeout;", // 9
      "export const i = new Date();", // 10
      "export const j = process.hrtime.bigint();", // 11
      'export const k = Math["random"];', // 12
      "export const l = { setTimeout };", // 13
      "// Date.now() Math.random() setTimeout in a comment", // 14
      'export const m = "Date.now() setTimeout(" + `Math.random()`;', // 15
      "export const n = new Date(0).getTime() + Date.parse('2020-01-01');", // 16
      "export type T = ReturnType<typeof setTimeout>;", // 17
      "export const o = { setTimeout: 1 }.setTimeout;", // 18
      "export const p = randomUUID;", // 19
      "",
    ].join("\n");
    const { violations } = check({ "shard-server/sm.ts": source, "test/sim/harness.ts": source });
    const lines = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 19];
    expect(rulesOf(violations)).toEqual([
      ...lines.map((l) => `shard-server/sm.ts:${l}: nondeterminism`),
      ...lines.map((l) => `test/sim/harness.ts:${l}: nondeterminism`),
    ]);
    expect(violations[0]!.detail).toContain("Date.now outside common/real-env.ts");

    const excepted = check({ "test/sim/harness.ts": source }, { nondeterminismExceptions: { "test/sim/harness.ts": "measures wall time on purpose" } });
    expect(excepted.violations).toEqual([]);
  });

  it("unresolved: a relative import that names no file", () => {
    const { violations } = check({ "controller/rebalance.ts": '\n\nimport { nope } from "./missing";\nexport const r = nope;\n' });
    expect(rulesOf(violations)).toEqual(["controller/rebalance.ts:3: unresolved"]);
    expect(violations[0]!.detail).toBe('cannot resolve "./missing"');
  });
});
