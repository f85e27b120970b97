/**
 * Runs `bin/shardkv` or `bin/shardctl` as a user would, against a cluster's controllers: the
 * environment's SHARDKV_CONTROLLERS, SHARDKV_NATS and SHARDKV_TLS_* are removed (so only the flags given count), stdin gets
 * `input` (or is closed), and the result is the exit code with everything printed.
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const shardkvBin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "shardkv");
export const shardctlBin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "shardctl");

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `bin/shardkv <argv...>`; resolves when it exits. */
export function runShardkv(argv: readonly string[], input?: string | Buffer): Promise<CliRun> {
  return runCli(shardkvBin, argv, input);
}

/** `bin/shardctl <argv...>` (the same environment as runShardkv); resolves when it exits. */
export function runShardctl(argv: readonly string[]): Promise<CliRun> {
  return runCli(shardctlBin, argv);
}

function runCli(bin: string, argv: readonly string[], input?: string | Buffer): Promise<CliRun> {
  return startCli(bin, argv, input).done;
}

/** A CLI still running: what it printed so far, and its result once it exits. */
export interface RunningCli {
  stdout(): string;
  stderr(): string;
  readonly done: Promise<CliRun>;
}

/** `bin/shardctl <argv...>` started (the same environment as runShardctl); its output can be read while it runs. */
export function startShardctl(argv: readonly string[]): RunningCli {
  return startCli(shardctlBin, argv);
}

function startCli(bin: string, argv: readonly string[], input?: string | Buffer): RunningCli {
  const env = { ...process.env };
  delete env["SHARDKV_CONTROLLERS"];
  delete env["SHARDKV_NATS"];
  for (const k of ["SHARDKV_TLS_CA", "SHARDKV_TLS_CERT", "SHARDKV_TLS_KEY"]) delete env[k];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const done = new Promise<CliRun>((resolve, reject) => {
    const p = spawn(bin, [...argv], { env, stdio: ["pipe", "pipe", "pipe"] });
    p.stdout.on("data", (b: Buffer) => out.push(b));
    p.stderr.on("data", (b: Buffer) => err.push(b));
    p.once("error", reject);
    p.once("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    p.stdin.end(input ?? "");
  });
  return { stdout: () => Buffer.concat(out).toString(), stderr: () => Buffer.concat(err).toString(), done };
}
