/**
 * common/attempt-timer.ts: attempt deadlines from the round trips of answered attempts
 * (RFC 6298: srtt + 4 rttvar), with the initial deadline before any answer, the floor, the
 * time per byte, the doubling per timeout of the same operation after the first, and the cap.
 */
import { describe, expect, it } from "vitest";
import { AttemptTimer, attemptMsInitial, attemptMsMin, attemptMsPerByte } from "../../common/attempt-timer";

describe("AttemptTimer", () => {
  it("before any answer: the initial deadline, never above the cap", () => {
    expect(new AttemptTimer(2000).attemptMs()).toBe(attemptMsInitial);
    expect(new AttemptTimer(300).attemptMs()).toBe(300);
    expect(new AttemptTimer(5000).attemptMs(0, 2)).toBe(2 * attemptMsInitial);
  });

  it("fast answers: the floor, not the cap", () => {
    const t = new AttemptTimer(2000);
    for (let i = 0; i < 20; i++) t.observe(10);
    expect(t.attemptMs()).toBe(attemptMsMin);
  });

  it("srtt + 4 rttvar as RFC 6298 computes them", () => {
    const t = new AttemptTimer(10_000, 1);
    t.observe(400); // srtt 400, rttvar 200
    expect(t.attemptMs()).toBe(400 + 4 * 200);
    t.observe(200); // rttvar 0.75*200 + 0.25*200 = 200; srtt 0.875*400 + 0.125*200 = 375
    expect(t.attemptMs()).toBe(375 + 4 * 200);
    for (let i = 0; i < 200; i++) t.observe(300); // steady: rttvar decays, srtt converges
    expect(t.attemptMs()).toBeGreaterThan(300);
    expect(t.attemptMs()).toBeLessThan(310);
  });

  it("jittery answers widen the deadline", () => {
    const steady = new AttemptTimer(10_000);
    const jittery = new AttemptTimer(10_000);
    for (let i = 0; i < 50; i++) {
      steady.observe(100);
      jittery.observe(i % 2 === 0 ? 20 : 180);
    }
    expect(jittery.attemptMs()).toBeGreaterThan(steady.attemptMs());
    expect(jittery.attemptMs()).toBeGreaterThan(300);
  });

  it("time for the request's bytes; kept after a first timeout, doubled after each further one; at most the cap", () => {
    const t = new AttemptTimer(2000);
    for (let i = 0; i < 20; i++) t.observe(10);
    expect(t.attemptMs(1024 * 1024)).toBe(attemptMsMin + 1024 * 1024 * attemptMsPerByte);
    expect(1024 * 1024 * attemptMsPerByte).toBe(250);
    expect([0, 1, 2, 3, 4, 5].map((n) => t.attemptMs(0, n))).toEqual([200, 200, 400, 800, 1600, 2000]);
    expect(t.attemptMs(0, 1000)).toBe(2000);
  });

  it("ignores a negative or NaN sample", () => {
    const t = new AttemptTimer(2000);
    t.observe(-5);
    t.observe(NaN);
    expect(t.attemptMs()).toBe(attemptMsInitial);
  });
});
