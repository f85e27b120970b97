/**
 * Data-driven Raft traces: runs every test/unit/testdata/raft/*.txt through the trace runner
 * (test/lib/trace-runner.ts documents the format and commands). The expected output in each
 * file is a specification reviewed against Raft semantics, not a recording.
 *
 * REWRITE=1 npx vitest run test/unit/raft-trace.test.ts rewrites the expected outputs in
 * place (when behaviour changes on purpose; review the diff line by line).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { lineDiff, rewriteTrace, runTrace } from "../lib/trace-runner";

const dir = join(fileURLToPath(new URL(".", import.meta.url)), "testdata", "raft");
const files = readdirSync(dir).filter((f) => f.endsWith(".txt")).sort();
const rewrite = process.env["REWRITE"] === "1";

describe("raft traces", () => {
  it("has traces", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const f of files) {
    it(f, () => {
      const path = join(dir, f);
      const name = relative(process.cwd(), path);
      const text = readFileSync(path, "utf8");
      const { lines, blocks, actual } = runTrace(text, name);
      if (rewrite) {
        const next = rewriteTrace(lines, blocks, actual);
        if (next !== text) writeFileSync(path, next);
        return;
      }
      const bad = blocks.findIndex((b, i) => b.expected !== actual[i]);
      if (bad < 0) return;
      const b = blocks[bad]!;
      const others = blocks.filter((x, i) => i > bad && x.expected !== actual[i]).length;
      expect.fail(
        `${name}:${b.line}: output of "${b.cmd}" differs (- expected, + actual)` +
        `${others > 0 ? `; ${others} later block(s) differ too` : ""}\n` +
        `${lineDiff(b.expected, actual[bad]!)}\n` +
        "(REWRITE=1 rewrites the expected outputs; review the diff)",
      );
    });
  }
});
