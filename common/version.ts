/**
 * The shardkv version this process runs: package.json's `version`, read once. The file is
 * found next to the code's folder in both layouts (common/version.ts from source, dist/*.mjs
 * built), i.e. one level up from this module; "" when it cannot be read (a copy of dist/
 * without package.json).
 */
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function shardkvVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
    cached = pkg.name === "shardkv" && typeof pkg.version === "string" ? pkg.version : "";
  } catch {
    cached = "";
  }
  return cached;
}
