/**
 * The pure parts of the nemesis (deploy/nemesis/): the seeded schedule (same seed, same
 * schedule; faults of one layer never overlap; every kind comes up), its command line, and
 * the checks over a history (a stale read, a lost or doubled append, a key never read back,
 * availability figures). The whole run is test/integration/nemesis.test.ts.
 */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../common/cli-args";
import { parseNemesisArgs } from "../../deploy/nemesis/args";
import { availabilityIn, checkAppends, checkFinalReads, checkRegisters, quietAvailability } from "../../deploy/nemesis/checks";
import type { OpRecord } from "../../deploy/nemesis/history";
import { faultKind, faultKinds } from "../../deploy/nemesis/kinds";
import { allKinds, planSchedule } from "../../deploy/nemesis/schedule";

const topology = { controllers: 3, groups: 2, replicas: 3, clients: 3, shards: 12 };

describe("nemesis schedule", () => {
  it("is a function of its seed, time, kinds and topology", () => {
    const a = planSchedule({ seed: 42, timeMs: 300_000, kinds: allKinds(), topology });
    expect(planSchedule({ seed: 42, timeMs: 300_000, kinds: allKinds(), topology })).toEqual(a);
    expect(planSchedule({ seed: 43, timeMs: 300_000, kinds: allKinds(), topology }).faults).not.toEqual(a.faults);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a); // what schedule.json holds is all of it
  });

  it("keeps windows inside the run, every kind in it, and faults of one layer apart", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const s = planSchedule({ seed, timeMs: 300_000, kinds: allKinds(), topology });
      expect(new Set(s.faults.map((f) => f.kind))).toEqual(new Set(allKinds()));
      for (const f of s.faults) {
        expect(f.startMs).toBeGreaterThan(0);
        expect(f.endMs).toBeLessThan(s.timeMs);
        expect(f.endMs).toBeGreaterThan(f.startMs);
      }
      for (const f of s.faults) {
        for (const g of s.faults) {
          if (f === g || faultKind(f.kind).layer !== faultKind(g.kind).layer) continue;
          expect(f.endMs <= g.startMs || g.endMs <= f.startMs, `seed ${seed}: ${f.kind} and ${g.kind} overlap`).toBe(true);
        }
      }
    }
  });

  it("fits a one-minute run with a few kinds", () => {
    const s = planSchedule({ seed: 5, timeMs: 60_000, kinds: ["partition", "kill", "pause", "netem"], topology });
    expect(s.faults.length).toBeGreaterThanOrEqual(4);
    expect(new Set(s.faults.map((f) => f.kind))).toEqual(new Set(["partition", "kill", "pause", "netem"]));
  });

  it("has one entry per kind, with unique names", () => {
    expect(new Set(faultKinds.map((k) => k.name)).size).toBe(faultKinds.length);
    expect(() => faultKind("disk2")).toThrow(/unknown fault kind "disk2" \(kinds: partition, /);
  });
});

describe("nemesis command line", () => {
  it("takes the defaults and the flags", () => {
    expect(parseNemesisArgs([])).toMatchObject({ kind: "run", timeMs: 300_000, faults: allKinds(), clients: 3, groups: 2, keep: false });
    expect(parseNemesisArgs(["--time", "60", "--faults", "partition,kill", "--seed", "9", "--keep"]))
      .toMatchObject({ timeMs: 60_000, faults: ["partition", "kill"], seed: 9, keep: true });
  });

  it("refuses bad input with one line naming the flag and what was sent", () => {
    const refused = (argv: string[]): string => {
      try {
        parseNemesisArgs(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${argv.join(" ")}`);
    };
    expect(refused(["--faults", "partition,flood"])).toBe('invalid --faults: unknown fault kind "flood" (kinds: partition, netem, kill, pause, restart, clock, move, transfer, member, disk, or all)');
    expect(refused(["--time", "3"])).toMatch(/^invalid --time: .*"3"/);
    expect(refused(["--schedule", "s.json", "--seed", "4"])).toBe("--schedule replays its file's --seed; give either the schedule or them");
    expect(refused(["run"])).toMatch(/unexpected argument "run"/);
    expect(refused(["--groups", "1"])).toMatch(/^invalid --groups: .*"1"/);
  });
});

let t = 0;
const op = (o: Partial<OpRecord> & Pick<OpRecord, "op" | "key">): OpRecord => {
  t += 10;
  return { client: "cl1", proc: 0, callMs: t, returnMs: t + 5, outcome: "ok", ...o };
};

describe("nemesis checks", () => {
  it("passes a linearizable register history and fails a stale read, naming the key and the history", () => {
    const good = [op({ op: "put", key: "r0.0", value: "a" }), op({ op: "get", key: "r0.0", read: "a" }),
      op({ op: "cas", key: "r0.0", expected: "a", value: "b", swapped: true }), op({ op: "get", key: "r0.0", read: "b", final: true })];
    expect(checkRegisters(good, 5000).status).toBe("pass");
    const stale = [...good, op({ op: "get", key: "r0.0", read: "a" })];
    const c = checkRegisters(stale, 5000);
    expect(c.status).toBe("fail");
    expect(c.failures[0]!.key).toBe("r0.0");
    expect(c.failures[0]!.history.at(-1)).toMatch(/get\("r0.0"\) -> "a"/);
  });

  it("lets a write of unknown outcome take effect or not, and leaves failed reads out", () => {
    const h = [op({ op: "put", key: "r1.0", value: "x", outcome: "unknown" }), op({ op: "get", key: "r1.0", outcome: "fail" }),
      op({ op: "get", key: "r1.0", read: null }), op({ op: "get", key: "r1.0", read: "x" })];
    expect(checkRegisters(h, 5000).status).toBe("pass");
    // ...but not take effect, be undone and take effect again.
    expect(checkRegisters([...h, op({ op: "get", key: "r1.0", read: null })], 5000).status).toBe("fail");
  });

  it("finds a lost acknowledged append and a doubled one in the final read", async () => {
    const appends = [op({ op: "append", key: "a.cl1.0.0", value: "t1;" }), op({ op: "append", key: "a.cl1.0.0", value: "t2;", outcome: "unknown" }),
      op({ op: "append", key: "a.cl1.0.0", value: "t3;" })];
    const read = (v: string): OpRecord => op({ op: "get", key: "a.cl1.0.0", read: v, final: true });
    expect((await checkAppends([...appends, read("t1;t3;")])).status).toBe("pass");
    expect((await checkAppends([...appends, read("t1;t2;t3;")])).summary).toMatch(/1 unacknowledged, 1 of them applied/);
    const lost = await checkAppends([...appends, read("t1;t2;")]);
    expect(lost.status).toBe("fail");
    expect(lost.failures[0]!.reason).toMatch(/acknowledged t3; missing/);
    expect((await checkAppends([...appends, read("t1;t1;t3;")])).failures[0]!.reason).toMatch(/applied twice/);
  });

  it("fails a key no final read answered", () => {
    const c = checkFinalReads([op({ op: "put", key: "r2.0", value: "v" }), op({ op: "get", key: "r2.0", final: true, outcome: "fail", error: "TimeoutError: x" })]);
    expect(c.status).toBe("fail");
    expect(c.failures[0]).toMatchObject({ key: "r2.0", reason: "no final read answered (1 tries; last: TimeoutError: x)" });
  });

  it("counts availability and latency per window and outside them", () => {
    const recs: OpRecord[] = [
      { client: "cl1", proc: 0, op: "get", key: "r0.0", callMs: 100, returnMs: 110, outcome: "ok", read: null },
      { client: "cl1", proc: 0, op: "put", key: "r0.0", value: "v", callMs: 1000, returnMs: 4000, outcome: "unknown" },
      { client: "cl1", proc: 1, op: "get", key: "r0.0", callMs: 1500, returnMs: 1530, outcome: "ok", read: null },
      { client: "cl1", proc: 1, op: "get", key: "r0.0", callMs: 1600, returnMs: 4600, outcome: "fail" },
    ];
    const w = availabilityIn(recs, { label: "kill", startMs: 1000, endMs: 2000 });
    expect(w).toMatchObject({ ops: 3, ok: 1, fail: 1, unknown: 1, latencyMsP50: 30, latencyMsP99: 30 });
    expect(quietAvailability(recs, [w], 5000)).toMatchObject({ ops: 1, ok: 1, latencyMsP50: 10 });
  });
});
