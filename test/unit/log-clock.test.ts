/**
 * shard-server/log-clock.ts: the timestamps of proposed commands (by which duplicate records
 * expire) follow the monotonic clock from the log's own time, never a wall clock that jumps.
 */
import { describe, expect, it } from "vitest";
import { LogClock } from "../../shard-server/log-clock";
import { ManualClock } from "../lib/manual-clock";

const hourMs = 3_600_000;

describe("LogClock", () => {
  it("seeds from the wall clock only while it knows no log time, then ignores its jumps", () => {
    const mono = new ManualClock();
    let wall = 1_000_000;
    const c = new LogClock(mono, () => undefined, () => wall);
    expect(c.nowMs()).toBe(1_000_000);
    mono.advance(500);
    wall += hourMs; // the wall clock jumps an hour ahead
    expect(c.nowMs()).toBe(1_000_500);
    wall -= 2 * hourMs; // and an hour behind
    mono.advance(250);
    expect(c.nowMs()).toBe(1_000_750);
  });

  it("continues from the newest log time it has applied, and never goes back", () => {
    const mono = new ManualClock();
    let known: number | undefined = 5_000;
    const c = new LogClock(mono, () => known, () => 9 * hourMs);
    expect(c.nowMs()).toBe(5_000); // the wall clock is not consulted
    mono.advance(100);
    expect(c.nowMs()).toBe(5_100);
    known = 7_000; // a previous leader's entries, ahead of this replica's running time
    expect(c.nowMs()).toBe(7_000);
    mono.advance(10);
    expect(c.nowMs()).toBe(7_010);
    known = 6_000; // older than the running time: no effect
    mono.advance(10);
    expect(c.nowMs()).toBe(7_020);
  });

  it("runs its timers on the monotonic clock", () => {
    const mono = new ManualClock();
    const c = new LogClock(mono, () => undefined, () => 0);
    let fired = 0;
    c.after(100, () => fired++);
    mono.advance(99);
    expect(fired).toBe(0);
    mono.advance(1);
    expect(fired).toBe(1);
  });
});
