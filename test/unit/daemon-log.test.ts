/**
 * The daemons' logger (common/daemon-log.ts) and its rate limit (common/log-limit.ts): JSON
 * lines with level, time, gid, node, the bound term and the call's fields; level filtering;
 * repeated lines counted and summarized on a hand-driven clock (no sleeps); the human form
 * when stderr is a terminal; and the readable form shardkv-local shows (common/log-line.ts).
 */
import { describe, expect, it } from "vitest";
import { daemonLogger, type DaemonLoggerOptions } from "../../common/daemon-log";
import { RepeatLimiter, templateOf } from "../../common/log-limit";
import { readableLog, readableLogLine } from "../../common/log-line";
import { ManualClock } from "../lib/manual-clock";

/** A logger writing into `lines` (each write one line, its newline kept), on a manual clock. */
async function capture(o: Partial<DaemonLoggerOptions> = {}) {
  const lines: string[] = [];
  const clock = new ManualClock();
  const logger = await daemonLogger({ gid: 1, node: 2, level: "info", pretty: false, clock, destination: { write: (l: string) => lines.push(l) }, ...o });
  const json = (): Record<string, unknown>[] => lines.map((l) => {
    expect(l.endsWith("\n") && l.indexOf("\n") === l.length - 1, l).toBe(true);
    return JSON.parse(l) as Record<string, unknown>;
  });
  return { logger, lines, clock, json };
}

describe("daemon logger: JSON lines", () => {
  it("level, time, gid, node, then the call's fields and msg; term once bound, as it is now", async () => {
    const { logger, json } = await capture();
    logger.info("started", { port: 7001 });
    let term = 3;
    logger.bindTerm(() => term);
    logger.warn("a warning");
    term = 4;
    logger.info("later");
    const [a, b, c] = json();
    expect(Object.keys(a!)).toEqual(["level", "time", "gid", "node", "port", "msg"]);
    expect(a).toMatchObject({ level: "info", gid: 1, node: 2, port: 7001, msg: "started" });
    expect(a!["time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(b).toMatchObject({ level: "warn", term: 3, msg: "a warning" });
    expect(c).toMatchObject({ level: "info", term: 4, msg: "later" });
  });

  it("a message with newlines and quotes stays one line", async () => {
    const { logger, json } = await capture();
    logger.warn('request failed: Error: "boom"\n    at f (x.ts:1:1)');
    expect(json()[0]!["msg"]).toBe('request failed: Error: "boom"\n    at f (x.ts:1:1)');
  });

  it("a controller is gid 0", async () => {
    const { logger, json } = await capture({ gid: 0, node: 3 });
    logger.info("x");
    expect(json()[0]).toMatchObject({ gid: 0, node: 3 });
  });
});

describe("daemon logger: levels", () => {
  it("warn drops info and debug lines", async () => {
    const { logger, json } = await capture({ level: "warn" });
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(json().map((l) => [l["level"], l["msg"]])).toEqual([["warn", "w"], ["error", "e"]]);
    expect(logger.debugEnabled).toBe(false);
  });

  it("error keeps only errors; debug keeps everything and says so", async () => {
    const err = await capture({ level: "error" });
    err.logger.warn("w");
    err.logger.error("e");
    expect(err.json().map((l) => l["msg"])).toEqual(["e"]);
    const dbg = await capture({ level: "debug" });
    dbg.logger.debug("d", { peer: "n3" });
    dbg.logger.info("i");
    expect(dbg.json().map((l) => [l["level"], l["msg"]])).toEqual([["debug", "d"], ["info", "i"]]);
    expect(dbg.json()[0]!["peer"]).toBe("n3");
    expect(dbg.logger.debugEnabled).toBe(true);
  });
});

describe("daemon logger: repeated lines", () => {
  it("a template repeated within a second is written once, then one line with the count when the second ends", async () => {
    const { logger, json, clock } = await capture();
    for (let i = 0; i < 50; i++) {
      logger.warn(`raft transport g1/2: dropped MsgApp to unknown peer ${i}`, { peer: i });
      clock.advance(10);
    }
    // 500 ms: one line so far; the other 49 are counted.
    expect(json().map((l) => l["msg"])).toEqual(["raft transport g1/2: dropped MsgApp to unknown peer 0"]);
    clock.advance(500);
    const lines = json();
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({
      level: "warn", msg: "raft transport g1/2: dropped MsgApp to unknown peer 49 (repeated 49 times in the last 1.0 s)", repeated: 49, peer: 49,
    });
    // Quiet for a while: the next one is written at once.
    clock.advance(5000);
    logger.warn("raft transport g1/2: dropped MsgApp to unknown peer 7");
    expect(json()).toHaveLength(3);
  });

  it("a line repeated without end: about one line a second, each summary counting the ones it stands for", async () => {
    const { logger, json, clock } = await capture();
    for (let i = 0; i < 1000; i++) {
      logger.warn("NATS: publishing config 5 failed: timeout");
      clock.advance(10); // 100 a second for 10 s
    }
    // The first line, then at the end of each second a summary (which opens the next second).
    const lines = json();
    expect(lines).toHaveLength(11);
    expect(lines.slice(1).map((l) => l["repeated"])).toEqual([99, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    expect(lines.at(-1)!["msg"]).toBe("NATS: publishing config 5 failed: timeout (repeated 100 times in the last 1.0 s)");
  });

  it("other templates, other levels and debug lines are not held back; flush writes the pending counts", async () => {
    const { logger, json } = await capture({ level: "debug" });
    logger.warn("shard 1 received");
    logger.warn("shard 2 received");
    logger.info("shard 3 received");
    logger.warn("config watch ended");
    logger.debug("d");
    logger.debug("d");
    expect(json().map((l) => `${l["level"]} ${l["msg"]}`)).toEqual(["warn shard 1 received", "info shard 3 received", "warn config watch ended", "debug d", "debug d"]);
    logger.flush();
    expect(json().at(-1)).toMatchObject({ level: "warn", msg: "shard 2 received (repeated once in the last 0.0 s)", repeated: 1 });
  });

  it("lines a level drops are not counted", async () => {
    const { logger, json, clock } = await capture({ level: "warn" });
    logger.info("x");
    logger.info("x");
    clock.advance(2000);
    expect(json()).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it("the template is the text without its numbers", () => {
    expect(templateOf("g12 n3: leader in term 41, leader 3")).toBe("g# n#: leader in term #, leader #");
  });

  it("a summary opens the next window; memory is bounded by the number of templates", () => {
    const clock = new ManualClock();
    const out: string[] = [];
    const l = new RepeatLimiter({ clock, write: (level, msg) => out.push(`${level} ${msg}`), windowMs: 100 });
    for (let i = 0; i < 1500; i++) l.log("info", `template ${"x".repeat(i)}`);
    expect(out).toHaveLength(1500);
    l.log("info", "template ");
    expect(out).toHaveLength(1501); // forgotten with the reset at 1000 templates: written again
  });
});

describe("daemon logger: on a terminal", () => {
  it("human-readable lines: time, level, replica, term, message and fields on one line", async () => {
    const { logger, lines } = await capture({ pretty: true, colors: false });
    logger.bindTerm(() => 7);
    logger.warn("running INSECURE (--insecure): no TLS", { peer: "127.0.0.1:5" });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.startsWith("{")).toBe(false);
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: g1n2 t7: running INSECURE \(--insecure\): no TLS .*"peer":"127\.0\.0\.1:5"/);
    expect(line.trimEnd()).not.toContain("\n");
  });
});

describe("readable log lines (shardkv-local)", () => {
  it("a JSON line as text: time, LEVEL, replica, term, msg, other fields", () => {
    expect(readableLogLine('{"level":"warn","time":"2026-12-06T05:00:00.000Z","gid":1,"node":2,"term":7,"peer":"1.2.3.4:5","repeated":3,"msg":"x y"}'))
      .toBe("2026-12-06T05:00:00.000Z WARN g1n2 t7 x y peer=1.2.3.4:5 repeated=3");
    expect(readableLogLine('{"level":"info","time":"2026-12-06T05:00:00.000Z","gid":0,"node":3,"msg":"controller 3 stopped"}'))
      .toBe("2026-12-06T05:00:00.000Z INFO c3 controller 3 stopped");
  });

  it("other lines as they are", () => {
    for (const l of ["shardkv-server: stopping: data directory d belongs to cluster a", "{not json", '{"no":"msg"}', ""]) expect(readableLogLine(l)).toBe(l);
    expect(readableLog('{"level":"info","time":"t","gid":1,"node":1,"msg":"a"}\nplain\n')).toBe("t INFO g1n1 a\nplain\n");
  });
});
