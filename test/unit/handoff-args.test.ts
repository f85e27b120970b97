/**
 * `shardctl handoff`'s command line (controller/handoff-command.ts) and its dispatch from
 * shardctl's parser: its own flags, no controller needed; mistakes are one line naming what
 * was wrong; the outcome lines.
 */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../common/cli-args";
import { describeTransfer, parseHandoffArgs } from "../../controller/handoff-command";
import { parseArgs } from "../../controller/shardctl-lib";

describe("shardctl handoff", () => {
  it("is dispatched with its own arguments, flags before or after the command word", () => {
    expect(parseArgs(["handoff", "h:1"])).toEqual({ kind: "handoff", argv: ["h:1"] });
    expect(parseArgs(["--json", "handoff", "--timeout", "5s", "h:1"])).toEqual({ kind: "handoff", argv: ["--json", "--timeout", "5s", "h:1"] });
  });

  it("parses ADDR, --timeout (default 2 s, at most 60 s), --json and the TLS files", () => {
    expect(parseHandoffArgs(["pod-0.svc:7000"], {})).toEqual({ address: "pod-0.svc:7000", timeoutMs: 2000, json: false });
    expect(parseHandoffArgs(["--timeout", "500ms", "--json", "127.0.0.1:7000"], { SHARDKV_TLS_CA: "a", SHARDKV_TLS_CERT: "b", SHARDKV_TLS_KEY: "c" }))
      .toEqual({ address: "127.0.0.1:7000", timeoutMs: 500, json: true, tls: { ca: "a", cert: "b", key: "c" } });
    expect(parseHandoffArgs(["--help"], {})).toBe("help");
  });

  it("refuses a missing or malformed ADDR, a second one, and a timeout beyond 60 s, in one line each", () => {
    const refusal = (argv: string[]): string => {
      try {
        parseHandoffArgs(argv, {});
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${argv.join(" ")}`);
    };
    expect(refusal([])).toBe("handoff: missing ADDR, the host:port of the replica to hand leadership off");
    expect(refusal(["nohost"])).toBe('invalid ADDR: want host:port, got "nohost"');
    expect(refusal(["a:1", "b:2"])).toBe('unexpected argument "b:2"');
    expect(refusal(["--timeout", "2m", "a:1"])).toMatch(/^invalid --timeout: want a duration like 500ms, 10s or 2m \(at least 1ms, at most 1m\), got "2m"$/);
  });

  it("says what happened in one line; only a hand-off done or not needed is a success", () => {
    expect(describeTransfer("a:1", { outcome: "transferred", id: 1, leader: 2, term: 7, reason: "" }))
      .toEqual({ ok: true, line: "replica 1 at a:1 handed leadership to replica 2 (term 7)" });
    expect(describeTransfer("a:1", { outcome: "not_leader", id: 1, leader: 0, term: 7, reason: "" }))
      .toEqual({ ok: true, line: "replica 1 at a:1 does not lead (leader unknown, term 7); nothing to hand off" });
    expect(describeTransfer("a:1", { outcome: "stepped_down", id: 1, leader: 0, term: 8, reason: "" }))
      .toEqual({ ok: true, line: "replica 1 at a:1 stepped down for term 8; the group is electing its new leader" });
    expect(describeTransfer("a:1", { outcome: "no_voter", id: 1, leader: 1, term: 7, reason: "no other voter was heard from within an election timeout" }).ok).toBe(false);
    expect(describeTransfer("a:1", { outcome: "failed", id: 1, leader: 0, term: 8, reason: "replica 2 did not take over within 2000 ms" }))
      .toEqual({ ok: false, line: "replica 1 at a:1: leadership hand-off failed in term 8: replica 2 did not take over within 2000 ms" });
  });
});
