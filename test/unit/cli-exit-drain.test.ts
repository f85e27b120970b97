/**
 * The commands end only once their output is written (common/cli-args.ts exitWhenWritten):
 * `shardkv-local status --json` piped to another process was cut at 65,536 bytes, the pipe's
 * buffer, because the process exited right after its write. Each way a shardkv command ends
 * (runCommandMain: shardctl, shardkv; commandMain: shardkv-local, `npm run hosts`, also after
 * a failure) prints 1 MiB into a pipe whose reader starts only after the write was issued
 * (test/unit/fixtures/big-output.ts); every byte must arrive.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

const bytes = 1 << 20;

/** Runs the fixture in `mode`; reads its stdout once it said it printed. Resolves with what arrived and the exit code. */
function runPiped(mode: string): Promise<{ received: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/unit/fixtures/big-output.ts", mode, String(bytes)], { stdio: ["ignore", "pipe", "pipe"] });
    let received = 0;
    let stderr = "";
    let reading = false;
    // Paused until the fixture printed: a reader slower than the writer.
    child.stdout.pause();
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      stderr += s;
      if (!reading && stderr.includes("printed\n")) {
        reading = true;
        child.stdout.on("data", (b: Buffer) => { received += b.length; });
        child.stdout.resume();
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ received, code, stderr }));
  });
}

describe("commands end once their output is written", () => {
  it("runCommandMain (shardctl, shardkv): 1 MiB through a pipe, whole", async () => {
    const r = await runPiped("run-command-main");
    expect(r.received).toBe(bytes);
    expect(r.code).toBe(0);
  }, 60_000);

  it("commandMain (shardkv-local): 1 MiB through a pipe, whole", async () => {
    const r = await runPiped("command-main");
    expect(r.received).toBe(bytes);
    expect(r.code).toBe(0);
  }, 60_000);

  it("commandMain, a command that printed then failed: the output whole, the failure's line, exit 3", async () => {
    const r = await runPiped("command-main-failing");
    expect(r.received).toBe(bytes);
    expect(r.stderr).toContain("big-output print: failed after printing\n");
    expect(r.code).toBe(3);
  }, 60_000);
});
