/**
 * The disk fault's mechanism (deploy/hosts/lazyfs.py, disk.ts), on its own: a lazyfs mounted
 * over a temporary backing directory loses exactly what was not fsynced when it is told to
 * drop. Files: one written and never synced is empty after the drop (its creation, a metadata
 * operation, is durable), one synced and then appended to keeps its synced bytes, one written,
 * synced, then truncated keeps its synced length, a rename of a synced file holds, and an
 * unsynced file renamed loses its data under the new name. RocksDB (the daemons' storage,
 * raft/storage/rocks-kv.ts, in a child process killed with SIGKILL): a batch written with
 * sync: true survives, one written after it with sync: false is gone. After the drop every call
 * fails with EIO; unmounting leaves no mount and no lazyfs process. Needs root and /dev/fuse.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, closeSync, writeSync, fsyncSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realRng } from "../../common/real-env";
import {
  type LazyfsPaths, dropUnsynced, ensureLazyfs, lazyfsNamePrefix, lazyfsPids, lazyMounts, mountLazyfs, unmountLazyfs,
} from "../../deploy/hosts/disk";
import { requireRoot } from "../../deploy/hosts/net";
import { repoRoot } from "../../deploy/local/process";
import { openRocksKv } from "../../raft/storage/rocks-kv";
import { waitFor } from "../lib/wait";

const dir = mkdtempSync(join(tmpdir(), "shardkv-lazyfs-"));
const p: LazyfsPaths = { backing: join(dir, "disk"), mountpoint: join(dir, "mnt"), report: join(dir, "dropped.json"), log: join(dir, "lazyfs.log") };
const name = `${lazyfsNamePrefix}t${realRng.int(2 ** 32).toString(16)}:x`;
const at = (f: string): string => join(p.mountpoint, f);

/** Writes `data` to `file` at the end (creating it), fsyncing when asked. */
function append(file: string, data: string, sync: boolean): void {
  const fd = openSync(file, "a");
  try {
    writeSync(fd, data);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether any process of group `pgid` is alive. */
function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs `code` (TypeScript, with `openRocksKv` and `db` in scope) in a child and SIGKILLs it once it prints "written". */
async function rocksChild(dbDir: string): Promise<void> {
  const code = `
    import { openRocksKv } from ${JSON.stringify(join(repoRoot, "raft/storage/rocks-kv.ts"))};
    const db = await openRocksKv(${JSON.stringify(dbDir)});
    const put = (k, v) => ({ type: "put", key: Buffer.from(k), value: Buffer.from(v) });
    await db.write([put("synced", "1")], { sync: true });
    await db.write([put("unsynced", "2")], { sync: false });
    console.log("written");
    setInterval(() => {}, 1000);
  `;
  // Its own process group: tsx runs the code in a node child of its own, which a SIGKILL of
  // tsx alone would leave running (holding the database).
  const child = spawn(join(repoRoot, "node_modules", ".bin", "tsx"), ["--input-type=module", "-e", code], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  await new Promise<void>((res, rej) => {
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      if (s.includes("written")) res();
    });
    child.once("exit", (c) => rej(new Error(`rocksdb child exited (${c}) before writing: ${err}`)));
  });
  const gone = new Promise((res) => child.once("exit", res));
  process.kill(-child.pid!, "SIGKILL");
  await gone;
  await waitFor(() => !processGroupAlive(child.pid!), { timeoutMs: 10_000, what: "the rocksdb child's process group gone" });
}

describe("lazyfs loses exactly the unsynced writes", () => {
  beforeAll(async () => {
    requireRoot();
    ensureLazyfs();
    await mountLazyfs(p, name);
  }, 120_000);

  afterAll(async () => {
    await unmountLazyfs(p.mountpoint);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("keeps what was fsynced and drops the rest, files and RocksDB", async () => {
    append(at("unsynced"), "never synced", false);
    append(at("synced"), "durable", true);
    append(at("synced"), "+later", false);
    append(at("truncated"), "0123456789", true);
    truncateSync(at("truncated"), 3);
    append(at("renamed.tmp"), "synced then renamed", true);
    renameSync(at("renamed.tmp"), at("renamed"));
    writeFileSync(at("moved.tmp"), "moved, never synced");
    renameSync(at("moved.tmp"), at("moved"));
    // Before the drop the process sees its writes (the cache), the backing directory only what was synced.
    expect(readFileSync(at("unsynced"), "utf8")).toBe("never synced");
    expect(readFileSync(at("synced"), "utf8")).toBe("durable+later");
    expect(readFileSync(at("truncated"), "utf8")).toBe("012");
    expect(readFileSync(join(p.backing, "synced"), "utf8")).toBe("durable");

    await rocksChild(at("db"));

    const dropped = await dropUnsynced(p);
    const byPath = new Map(dropped.files.map((f) => [f.path, f]));
    expect(byPath.get("/unsynced")).toMatchObject({ bytes: 12, size: 12, durableSize: 0 });
    expect(byPath.get("/synced")).toMatchObject({ bytes: 6, size: 13, durableSize: 7 });
    expect(byPath.get("/truncated")).toMatchObject({ size: 3, durableSize: 10 });
    expect(byPath.get("/moved")).toMatchObject({ bytes: 19, durableSize: 0 });
    expect(byPath.has("/renamed")).toBe(false);
    expect(dropped.bytes).toBeGreaterThanOrEqual(12 + 6 + 19);
    expect(() => readdirSync(p.mountpoint)).toThrow(/EIO|input\/output/i);

    await unmountLazyfs(p.mountpoint);
    expect(lazyMounts().filter((m) => m.name === name)).toEqual([]);
    expect(lazyfsPids(p.mountpoint)).toEqual([]);
    await mountLazyfs(p, name);

    expect(readFileSync(at("unsynced"), "utf8")).toBe("");
    expect(readFileSync(at("synced"), "utf8")).toBe("durable");
    expect(readFileSync(at("truncated"), "utf8")).toBe("0123456789");
    expect(readFileSync(at("renamed"), "utf8")).toBe("synced then renamed");
    expect(readFileSync(at("moved"), "utf8")).toBe("");
    const db = await openRocksKv(at("db"));
    try {
      expect((await db.get(Buffer.from("synced")))?.toString()).toBe("1");
      expect(await db.get(Buffer.from("unsynced"))).toBeUndefined();
    } finally {
      await db.close();
    }
  }, 120_000);
});
