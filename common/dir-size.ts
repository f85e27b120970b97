/**
 * The bytes a directory's files take (a replica's data directory, for its Status), walked on
 * demand and cached: a Status call never walks more often than once per `maxAgeMs`, and
 * concurrent callers share one walk. A data directory holds a few dozen RocksDB files, so a
 * walk is cheap (docs/operations.md, "Status fields", gives the measured cost); the cache
 * keeps a dashboard that polls every replica from turning it into steady disk work.
 *
 * A Status never waits for a walk once one has finished: `bytes` answers the last walk's
 * figure and starts the next walk in the background when that figure is older than
 * `maxAgeMs`. A walk's readdir and lstat calls queue in libuv's thread pool behind the
 * database's reads and writes, so under a heavy write load a walk can take longer than a
 * status probe's deadline (the restart-size benchmark's 1 GiB row); only the first walk
 * after the start is waited for.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "./env";

/** How long a DirSizeCache answers from its last walk. */
export const dirSizeMaxAgeMsDefault = 10_000;

/**
 * Sum of the sizes of the regular files under `dir` (symbolic links are not followed). Files
 * and directories that vanish during the walk (RocksDB compactions delete files) count as 0.
 */
export async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  // Breadth first over a queue, not recursion.
  const dirs = [dir];
  for (let i = 0; i < dirs.length; i++) {
    let entries;
    try {
      entries = await readdir(dirs[i]!, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = join(dirs[i]!, e.name);
      if (e.isDirectory()) dirs.push(p);
      else if (e.isFile()) total += await lstat(p).then((st) => st.size, () => 0);
    }
  }
  return total;
}

/** dirBytes of one directory, cached for `maxAgeMs` (see the module comment). */
export class DirSizeCache {
  private value = 0;
  private atMs = -Infinity;
  private walking: Promise<number> | undefined;

  constructor(
    private readonly dir: string,
    private readonly clock: Clock,
    private readonly maxAgeMs = dirSizeMaxAgeMsDefault,
  ) {}

  /**
   * The directory's size from the last walk; a walk older than `maxAgeMs` starts the next one
   * in the background (the figure is then older until it ends). Before the first walk has
   * ended, that walk is waited for.
   */
  bytes(): Promise<number> {
    if (this.clock.nowMs() - this.atMs < this.maxAgeMs) return Promise.resolve(this.value);
    this.walking ??= dirBytes(this.dir).then((n) => {
      this.value = n;
      this.atMs = this.clock.nowMs();
      this.walking = undefined;
      return n;
    });
    return this.atMs === -Infinity ? this.walking : Promise.resolve(this.value);
  }

  /** The time (the cache's clock) the figure `bytes` answers was walked at; -Infinity before the first walk. */
  get walkedAtMs(): number {
    return this.atMs;
  }
}
