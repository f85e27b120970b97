/**
 * A nemesis workload worker: one process per client host, run inside the host's namespace by
 * the nemesis (run.ts) as `tsx deploy/nemesis/worker.ts SPEC-JSON`, with the cluster's CLI
 * environment ($SHARDKV_CONTROLLERS, the admin identity's TLS files). It drives the real
 * client library (client/shardkv.ts) and writes every operation to
 * `<out>/history/<client>.jsonl` (history.ts).
 *
 * Load phase (until `untilMs`): `registers` loops on register keys shared by every worker
 * (get, put of a unique value, cas from the last value this worker saw) and `appenders` loops
 * appending unique tokens to keys of this worker alone (one append at a time per key, as the
 * append check wants). Keys rotate every `keyPeriodMs` (`r<slot>.<period>`,
 * `a.<client>.<slot>.<period>`), so every register key has a bounded history, and a worker
 * stops writing to a register key after `unknownMaxPerKey` writes with unknown outcomes (it
 * only reads it until the next period): pending writes are what makes the linearizability
 * search blow up.
 *
 * Final phase (`final: true`, after the nemesis healed everything): reads every key this
 * client's history names, retrying each until it answers or `finalReadMs` passes, recorded
 * with `final: true`.
 *
 * Start: once its client is connected the worker prints `ready` and waits for a line
 * `go <t0WallMs>` on stdin, the time base's start (the nemesis sends it when every worker is
 * ready, so a slow start on a loaded machine does not eat into the workload).
 *
 * Exit status 0; 2 with one line for a bad spec; 3 with one line when the client cannot start.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ShardKV } from "../../client/shardkv";
import { addressListOrEnv, exitFailure, exitUsage } from "../../common/cli-args";
import { delay, wallClockMs } from "../../common/real-env";
import { SimRng } from "../../common/seeded-rng";
import { clientTlsFiles } from "../../security/tls-files";
import { historyDir, type OpKind, type OpRecord } from "./history";

/** What the workers do, the same on every client host (part of the schedule). */
export interface WorkloadShape {
  /** Register loops (get, put, cas on keys shared by every worker). */
  readonly registers: number;
  /** Append loops (unique tokens, keys of this worker alone). */
  readonly appenders: number;
  /** Keys rotate this often. */
  readonly keyPeriodMs: number;
  /** Deadline of one operation, retries included. */
  readonly opDeadlineMs: number;
  /** A worker stops writing to a register key after this many writes of unknown outcome. */
  readonly unknownMaxPerKey: number;
  /** Each loop waits a uniform 0..thinkMsMax between operations. */
  readonly thinkMsMax: number;
}

/** What a worker is told to do (its one argument, as JSON). */
export interface WorkerSpec extends WorkloadShape {
  readonly client: string;
  readonly out: string;
  /** Load phase: stop issuing at this many ms after t0. */
  readonly untilMs: number;
  readonly seed: number;
  /** Run the final reads instead of the load. */
  readonly final?: boolean;
  /** Final phase: how long to retry the read of one key. */
  readonly finalReadMs?: number;
}

const errorText = (e: unknown): string => `${(e as Error)?.constructor?.name ?? "Error"}: ${String((e as Error)?.message ?? e).split("\n")[0]}`;

class Recorder {
  private readonly file: string;
  /** `t0WallMs`: the wall-clock ms (Date.now) the workload's time base starts at. */
  constructor(private readonly spec: WorkerSpec, private readonly t0WallMs: number) {
    mkdirSync(historyDir(spec.out), { recursive: true });
    this.file = join(historyDir(spec.out), `${spec.client}.jsonl`);
  }

  now(): number {
    return wallClockMs() - this.t0WallMs;
  }

  /** Runs `call`, records it (synchronously appended, so a killed worker loses nothing it returned). */
  async run<T>(base: { proc: number; op: OpKind; key: string; value?: string; expected?: string | null; final?: true },
    call: () => Promise<T>, done: (v: T) => Partial<OpRecord>): Promise<T | undefined> {
    const callMs = this.now();
    let rec: OpRecord;
    let v: T | undefined;
    try {
      v = await call();
      rec = { client: this.spec.client, ...base, callMs, returnMs: this.now(), outcome: "ok", ...done(v) };
    } catch (e) {
      rec = { client: this.spec.client, ...base, callMs, returnMs: this.now(), outcome: base.op === "get" ? "fail" : "unknown", error: errorText(e) };
    }
    appendFileSync(this.file, `${JSON.stringify(rec)}\n`);
    return rec.outcome === "ok" ? v : undefined;
  }

  keysSeen(): string[] {
    let text = "";
    try {
      text = readFileSync(this.file, "utf8");
    } catch {
      return [];
    }
    const keys = new Set<string>();
    for (const line of text.split("\n")) {
      try {
        if (line.trim() !== "") keys.add((JSON.parse(line) as OpRecord).key);
      } catch {
        continue;
      }
    }
    return [...keys].sort();
  }
}

async function load(spec: WorkerSpec, kv: ShardKV, rec: Recorder): Promise<void> {
  const rng = new SimRng(spec.seed).fork(spec.client);
  const opts = { deadlineMs: spec.opDeadlineMs };
  const lastSeen = new Map<string, string | null>();
  const unknowns = new Map<string, number>();
  let seq = 0;
  const period = (): number => Math.floor(Math.max(0, rec.now()) / spec.keyPeriodMs);
  const think = async (r: SimRng): Promise<void> => {
    if (spec.thinkMsMax > 0) await delay(r.int(spec.thinkMsMax + 1));
  };
  const registerLoop = async (slot: number): Promise<void> => {
    const r = rng.fork(`r${slot}`);
    while (rec.now() < spec.untilMs) {
      const key = `r${slot}.${period()}`;
      const roll = (unknowns.get(key) ?? 0) >= spec.unknownMaxPerKey ? 0 : r.float();
      const proc = slot;
      if (roll < 0.4) {
        const v = await rec.run({ proc, op: "get", key }, () => kv.getString(key, opts), (x) => ({ read: x ?? null }));
        if (v !== undefined) lastSeen.set(key, v);
      } else {
        const value = `${spec.client}-${seq++}`;
        const isPut = roll < 0.75;
        const expected = lastSeen.get(key) ?? null;
        if (isPut) {
          const ok = await rec.run({ proc, op: "put", key, value }, async () => (await kv.put(key, value, opts), true), () => ({}));
          if (ok === undefined) unknowns.set(key, (unknowns.get(key) ?? 0) + 1);
          else lastSeen.set(key, value);
        } else {
          const ok = await rec.run({ proc, op: "cas", key, value, expected }, () => kv.cas(key, expected, value, opts), (x) => ({ swapped: x.swapped }));
          if (ok === undefined) unknowns.set(key, (unknowns.get(key) ?? 0) + 1);
          else lastSeen.set(key, ok.swapped ? value : ok.current === undefined ? null : new TextDecoder().decode(ok.current));
        }
      }
      await think(r);
    }
  };
  const appendLoop = async (slot: number): Promise<void> => {
    const r = rng.fork(`a${slot}`);
    while (rec.now() < spec.untilMs) {
      const key = `a.${spec.client}.${slot}.${period()}`;
      const token = `${spec.client}-${seq++};`;
      await rec.run({ proc: spec.registers + slot, op: "append", key, value: token }, () => kv.append(key, token, opts), () => ({}));
      await think(r);
    }
  };
  await Promise.all([
    ...Array.from({ length: spec.registers }, (_, i) => registerLoop(i)),
    ...Array.from({ length: spec.appenders }, (_, i) => appendLoop(i)),
  ]);
}

/** The final reads: every key of this client's history, each retried until it answers. */
async function finalReads(spec: WorkerSpec, kv: ShardKV, rec: Recorder): Promise<void> {
  const keys = rec.keysSeen();
  const proc = spec.registers + spec.appenders;
  await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
    for (let i = lane; i < keys.length; i += 4) {
      const key = keys[i]!;
      const end = rec.now() + (spec.finalReadMs ?? 60_000);
      for (;;) {
        const v = await rec.run({ proc: proc + lane, op: "get", key, final: true }, () => kv.getString(key, { deadlineMs: 10_000 }), (x) => ({ read: x ?? null }));
        if (v !== undefined || rec.now() >= end) break;
        await delay(200);
      }
    }
  }));
}

/** The t0 of the line `go <t0WallMs>` on stdin; exits 2 on anything else (or 0 when stdin ends first: the nemesis gave up). */
function goLine(): Promise<number> {
  return new Promise((resolve) => {
    let buf = "";
    const ended = (): never => process.exit(0);
    process.stdin.once("end", ended);
    process.stdin.setEncoding("utf8").on("data", (s: string) => {
      buf += s;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      const m = /^go (\d+)$/.exec(buf.slice(0, nl).trim());
      if (!m) {
        process.stderr.write(`nemesis worker: want "go <t0WallMs>" on stdin, got ${JSON.stringify(buf.slice(0, nl))}\n`);
        process.exit(exitUsage);
      }
      process.stdin.removeListener("end", ended);
      process.stdin.pause();
      resolve(Number(m[1]));
    });
  });
}

async function main(): Promise<void> {
  let spec: WorkerSpec;
  try {
    spec = JSON.parse(process.argv[2] ?? "") as WorkerSpec;
    if (typeof spec.client !== "string" || typeof spec.out !== "string") throw new Error("client and out are required");
  } catch (e) {
    process.stderr.write(`nemesis worker: invalid spec (one JSON argument): ${(e as Error).message}; got ${JSON.stringify(process.argv[2] ?? "")}\n`);
    process.exit(exitUsage);
  }
  let kv: ShardKV;
  try {
    const controllers = addressListOrEnv(undefined, "--controllers", "SHARDKV_CONTROLLERS", process.env);
    kv = await ShardKV.connect({ controllers, tls: clientTlsFiles({}, process.env), deadlineMs: 30_000, attemptMs: 1000 });
  } catch (e) {
    process.stderr.write(`nemesis worker ${spec.client}: cannot start the client: ${errorText(e)}\n`);
    process.exit(exitFailure);
  }
  process.stdout.write("ready\n");
  const t0WallMs = await goLine();
  const rec = new Recorder(spec, t0WallMs);
  if (spec.final) await finalReads(spec, kv, rec);
  else await load(spec, kv, rec);
  kv.close();
  process.exit(0);
}

void main();
