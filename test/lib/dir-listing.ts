/**
 * What "left intact" compares in tests of data directories: every file below a directory with
 * its size and modification time.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Every file below `dir` as "<path relative to dir> <size> <mtime ms>", sorted. */
export function dirListing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        out.push(`${p.slice(dir.length)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}
