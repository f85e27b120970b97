/**
 * Data directory identities (common/data-dir.ts) and the recognition of directories written
 * by earlier versions (raft/storage/legacy-data-dir.ts): created before anything else, checked
 * against the daemon's claim with one line naming both sides, never torn, nothing written when
 * refused; an earlier version's directory adopted only when its content is of the right kind.
 * The daemons' use of them over real processes: test/integration/data-dir-identity.test.ts.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  asDataDirError, claimDataDir, type DataDirClaim, decodeIdentity, identityFileName, type LegacyProbe, readIdentity, recordClusterId, writeIdentity,
} from "../../common/data-dir";
import { DataDirError } from "../../common/errors";
import type { GroupId } from "../../common/ids";
import { RocksControllerStateMachine } from "../../controller/rocks-state";
import { probeLegacyDataDir } from "../../raft/storage/legacy-data-dir";
import { RocksShardStateMachine } from "../../shard-server/rocks-state";
import { dirListing } from "../lib/dir-listing";

const noLegacy: LegacyProbe = async () => undefined;
const shard = (gid: number, nodeId: number, shardCount?: number): DataDirClaim => ({ kind: "shard-server", gid, nodeId, shardCount });
const controller = (nodeId: number, shardCount?: number): DataDirClaim => ({ kind: "controller", gid: 0, nodeId, shardCount });


/** The DataDirError `p` rejects with (fails the test if it resolves or throws anything else). */
async function refusal(p: Promise<unknown>): Promise<DataDirError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(DataDirError);
  return e as DataDirError;
}

describe("data directory identity", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "shardkv-datadir-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("a missing or empty directory is created with the claim as its identity, written first", async () => {
    const dir = join(root, "a", "g2n1");
    const id = await claimDataDir(dir, shard(2, 1, 16), noLegacy);
    expect(id).toEqual({ kind: "shard-server", gid: 2, nodeId: 1, shardCount: 16 });
    expect(readdirSync(dir)).toEqual([identityFileName]);
    expect(JSON.parse(readFileSync(join(dir, identityFileName), "utf8"))).toEqual({ format: 1, kind: "shard-server", gid: 2, node: 1, shards: 16 });
    mkdirSync(join(root, "empty", "lost+found"), { recursive: true });
    expect(await claimDataDir(join(root, "empty"), controller(3), noLegacy)).toEqual({ kind: "controller", gid: 0, nodeId: 3, shardCount: undefined });
  });

  it("the same claim finds it again; the shard count is added once known and must match afterwards", async () => {
    const dir = join(root, "g1n2");
    await claimDataDir(dir, shard(1, 2), noLegacy);
    expect((await claimDataDir(dir, shard(1, 2), noLegacy)).shardCount).toBeUndefined();
    expect((await claimDataDir(dir, shard(1, 2, 8), noLegacy)).shardCount).toBe(8);
    expect(await readIdentity(dir)).toEqual({ kind: "shard-server", gid: 1, nodeId: 2, shardCount: 8 });
    expect((await claimDataDir(dir, shard(1, 2), noLegacy)).shardCount).toBe(8);
    mkdirSync(join(dir, "state"));
    const e = await refusal(claimDataDir(dir, shard(1, 2, 64), noLegacy));
    expect(e.message).toBe(`data directory ${dir} was created with 8 shards, --shards says 64`);
    expect(e.misuse).toBe(true);
  });

  it.each([
    [shard(2, 1), controller(1), "shard group 2 replica 1, not controller replica 1"],
    [controller(1), shard(2, 1), "controller replica 1, not shard group 2 replica 1"],
    [shard(1, 1), shard(2, 1), "shard group 1 replica 1, not shard group 2 replica 1"],
    [shard(1, 1), shard(1, 3), "shard group 1 replica 1, not shard group 1 replica 3"],
    [controller(1), controller(2), "controller replica 1, not controller replica 2"],
  ])("a directory of %j is refused to %j with one line naming both, nothing written", async (made, claim, names) => {
    const dir = join(root, "d");
    await claimDataDir(dir, made, noLegacy);
    mkdirSync(join(dir, "raft"));
    writeFileSync(join(dir, "raft", "CURRENT"), "MANIFEST-000001\n");
    const before = dirListing(dir);
    const e = await refusal(claimDataDir(dir, claim, noLegacy));
    expect(e.message).toBe(`data directory ${dir} belongs to ${names}`);
    expect(e.misuse).toBe(true);
    expect(dirListing(dir)).toEqual(before);
  });

  it("another replica's identity on a directory holding nothing else is replaced by the claim (nothing to protect)", async () => {
    const dir = join(root, "typo");
    await claimDataDir(dir, shard(2, 1), noLegacy); // started with a mistyped --gid, stopped before creating anything
    expect(await claimDataDir(dir, shard(1, 1, 4), noLegacy)).toEqual({ kind: "shard-server", gid: 1, nodeId: 1, shardCount: 4 });
    expect(await readIdentity(dir)).toEqual({ kind: "shard-server", gid: 1, nodeId: 1, shardCount: 4 });
  });

  it("a file, or a path through a file, is one line, not EEXIST", async () => {
    const file = join(root, "f");
    writeFileSync(file, "x");
    expect((await refusal(claimDataDir(file, shard(1, 1), noLegacy))).message).toBe(`data directory ${file} is a file, not a directory`);
    const e = await refusal(claimDataDir(join(file, "sub"), shard(1, 1), noLegacy));
    expect(e.message).toBe(`cannot use data directory ${join(file, "sub")}: a component of the path is a file, not a directory`);
    expect(e.misuse).toBe(true);
  });

  it("a non-empty directory without an identity that the probe does not recognise is refused, nothing written", async () => {
    const dir = join(root, "home");
    mkdirSync(dir);
    for (const f of ["notes.txt", "photo.jpg", "a", "b"]) writeFileSync(join(dir, f), "mine");
    const before = dirListing(dir);
    const e = await refusal(claimDataDir(dir, shard(1, 1, 4), probeLegacyDataDir));
    expect(e.message).toBe(`data directory ${dir} has no ${identityFileName} and holds no shardkv data (a, b, notes.txt, ... (4 entries)); ` +
      "not shard group 1 replica 1's: use an empty or new directory");
    expect(dirListing(dir)).toEqual(before);
  });

  it("a malformed identity is refused, naming the file", async () => {
    const dir = join(root, "m");
    mkdirSync(dir);
    writeFileSync(join(dir, identityFileName), "{\"format\":1,\"kind\":\"router\"}");
    const e = await refusal(claimDataDir(dir, shard(1, 1), noLegacy));
    expect(e.message).toBe(`data directory ${dir}: identity.json is not a shardkv identity (kind "router"); restore it or use another directory`);
    expect(() => decodeIdentity(dir, "{")).toThrow(/not JSON/);
    expect(() => decodeIdentity(dir, JSON.stringify({ format: 1, kind: "controller", gid: 3, node: 1 }))).toThrow(/gid 3 for a controller/);
    expect(() => decodeIdentity(dir, JSON.stringify({ format: 1, kind: "shard-server", gid: 1, node: 1, cluster: "A B" }))).toThrow(/cluster "A B"/);
  });

  it("is replaced whole (temporary file, rename): a leftover temporary file changes nothing", async () => {
    const dir = join(root, "t");
    await claimDataDir(dir, shard(1, 1, 4), noLegacy);
    writeFileSync(join(dir, "identity.json.tmp"), "{\"torn");
    expect(await readIdentity(dir)).toEqual({ kind: "shard-server", gid: 1, nodeId: 1, shardCount: 4 });
    await writeIdentity(dir, { kind: "shard-server", gid: 1, nodeId: 1, shardCount: 4, clusterId: "c1" });
    expect(readdirSync(dir).sort()).toEqual([identityFileName]);
    expect((await readIdentity(dir))?.clusterId).toBe("c1");
  });

  it("RocksDB's storage failures become the same one line; other errors pass unchanged", () => {
    const full = asDataDirError("/d", new Error("IO error: No space left on deviceWhile appending to file: /d/raft/000004.log: No space left on device"));
    expect(full).toEqual(new DataDirError("/d", "cannot write data directory /d: no space left on the device", false));
    expect((asDataDirError("/d", new Error("IO error: While open a file for appending: /d/state/LOG: Read-only file system")) as Error).message)
      .toBe("cannot write data directory /d: the file system is read-only");
    const other = new Error("corrupt data in /d/raft: entry 3: checksum mismatch");
    expect(asDataDirError("/d", other)).toBe(other);
  });

  it("the cluster id is recorded once; another one is refused naming both", async () => {
    const dir = join(root, "c");
    const id = await claimDataDir(dir, shard(3, 1, 4), noLegacy);
    const withCluster = await recordClusterId(dir, id, "abc", "the cluster of the controllers at x:1");
    expect(await readIdentity(dir)).toEqual({ ...id, clusterId: "abc" });
    expect(await recordClusterId(dir, withCluster, "abc", "unused")).toBe(withCluster);
    const e = await refusal(recordClusterId(dir, withCluster, "def", "the cluster of the controllers at x:1"));
    expect(e.message).toBe(`data directory ${dir} belongs to cluster abc, not to cluster def (the cluster of the controllers at x:1)`);
    expect((await readIdentity(dir))?.clusterId).toBe("abc");
  });
});

describe("directories of earlier versions (no identity file)", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "shardkv-legacy-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A controller's and a shard server's directory as the previous version left them. */
  async function legacyDirs(): Promise<{ ctl: string; srv: string }> {
    const ctl = join(root, "c1");
    const srv = join(root, "g2n1");
    await (await RocksControllerStateMachine.open(join(ctl, "state"), 16)).close();
    await (await RocksShardStateMachine.open(join(srv, "state"), { gid: 2 as GroupId, shardCount: 16, dedupTtlMs: 60_000 })).close();
    mkdirSync(join(ctl, "raft"));
    mkdirSync(join(srv, "raft"));
    return { ctl, srv };
  }

  it("are recognised read-only by their state database", async () => {
    const { ctl, srv } = await legacyDirs();
    const before = [dirListing(ctl), dirListing(srv)];
    expect(await probeLegacyDataDir(ctl)).toEqual({ kind: "controller", gid: 0, shardCount: 16 });
    expect(await probeLegacyDataDir(srv)).toEqual({ kind: "shard-server", gid: 2, shardCount: 16 });
    expect(await probeLegacyDataDir(root)).toBeUndefined();
    expect([dirListing(ctl), dirListing(srv)]).toEqual(before);
  });

  it("are adopted by their own kind and group (identity from the content and the command line)", async () => {
    const { ctl, srv } = await legacyDirs();
    expect(await claimDataDir(srv, shard(2, 3), probeLegacyDataDir)).toEqual({ kind: "shard-server", gid: 2, nodeId: 3, shardCount: 16 });
    expect(await readIdentity(srv)).toEqual({ kind: "shard-server", gid: 2, nodeId: 3, shardCount: 16 });
    expect(await claimDataDir(ctl, controller(1), probeLegacyDataDir)).toEqual({ kind: "controller", gid: 0, nodeId: 1, shardCount: 16 });
  });

  it.each([
    ["srv", controller(1), "has no identity.json and holds the data of a shard server; not controller replica 1's: use an empty or new directory"],
    ["ctl", shard(2, 1), "has no identity.json and holds the data of a controller; not shard group 2 replica 1's: use an empty or new directory"],
    ["srv", shard(5, 1), "belongs to shard group 2 replica 1, not shard group 5 replica 1"],
    ["ctl", controller(1, 64), "was created with 16 shards, --shards says 64"],
  ] as const)("of another kind, group or shard count are refused (%s as %j), nothing written", async (which, claim, why) => {
    const dirs = await legacyDirs();
    const dir = dirs[which];
    const before = dirListing(dir);
    const e = await refusal(claimDataDir(dir, claim, probeLegacyDataDir));
    expect(e.message).toBe(`data directory ${dir} ${why}`);
    expect(dirListing(dir)).toEqual(before);
  });
});
