import { describe, expect, it } from "vitest";
import { waitFor } from "../lib/wait";

describe("waitFor", () => {
  it("resolves once the condition holds", async () => {
    let polls = 0;
    await waitFor(() => ++polls >= 3, { timeoutMs: 5_000, what: "three polls", intervalMs: 1 });
    expect(polls).toBe(3);
  });

  it("accepts an async condition", async () => {
    let polls = 0;
    await waitFor(async () => ++polls >= 2, { timeoutMs: 5_000, what: "two polls", intervalMs: 1 });
    expect(polls).toBe(2);
  });

  it("throws naming what it waited for, after checking at least twice", async () => {
    let polls = 0;
    await expect(waitFor(() => (polls++, false), { timeoutMs: 30, what: "a leader in group 1", intervalMs: 5 }))
      .rejects.toThrow("timed out after 30ms waiting for a leader in group 1");
    expect(polls).toBeGreaterThanOrEqual(2);
  });

  it("propagates an exception from the condition", async () => {
    await expect(waitFor(() => { throw new Error("boom"); }, { timeoutMs: 1_000, what: "x" })).rejects.toThrow("boom");
  });
});
