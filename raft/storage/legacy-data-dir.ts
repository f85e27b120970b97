/**
 * Recognises a data directory written by an earlier version of the daemons, from before data
 * directories carried an identity file (common/data-dir.ts), by its state database
 * (`DIR/state`), opened read-only so that nothing is written to a directory that may not be
 * ours. The records it looks for are the frozen creation markers of those versions:
 *   controller    "ms" = shard count u32 BE            (controller/rocks-state.ts)
 *   shard server  "!g" = gid u64 BE ++ shard count u32 BE (shard-server/rocks-state.ts)
 * Anything else (no state database, neither record, or a database RocksDB cannot open) is
 * not recognised.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { LegacyContent } from "../../common/data-dir";
import { recordPayload } from "../../common/record";
import { openRocksKv } from "./rocks-kv";

const controllerMarker = Buffer.from("ms");
const shardMarker = Buffer.from("!g");

/** What an earlier version's directory `dir` holds, or undefined when it is not recognisable. */
export async function probeLegacyDataDir(dir: string): Promise<LegacyContent | undefined> {
  const stateDir = join(dir, "state");
  try {
    if (!(await stat(join(stateDir, "CURRENT"))).isFile()) return undefined;
  } catch {
    return undefined;
  }
  let db;
  try {
    db = await openRocksKv(stateDir, { readOnly: true });
  } catch {
    return undefined;
  }
  try {
    // A directory of this version (its identity file lost) stores the markers as records.
    const payload = async (key: Buffer) => {
      const v = await db!.get(key);
      return v === undefined ? undefined : recordPayload(key, v) ?? v;
    };
    const c = await payload(controllerMarker);
    if (c !== undefined && c.length === 4) return { kind: "controller", gid: 0, shardCount: c.readUInt32BE(0) };
    const g = await payload(shardMarker);
    if (g !== undefined && g.length === 12) return { kind: "shard-server", gid: Number(g.readBigUInt64BE(0)), shardCount: g.readUInt32BE(8) };
    return undefined;
  } finally {
    await db.close();
  }
}
