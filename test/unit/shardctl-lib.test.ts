/**
 * shardctl's pure half (controller/shardctl-lib.ts): argument parsing (every command, every
 * malformed input a usage error naming the argument), config and status formatting.
 */
import { describe, expect, it } from "vitest";
import type { ConfigNum, GroupId } from "../../common/ids";
import type { Config } from "../../controller/config";
import {
  type ParseResult, configToJson, forceWarning, formatConfig, formatIntentStored, formatRanges, formatReplicaColumns,
  formatReplicaListing, formatServersWait, formatStatus, parseArgs, replicaListing, replicaListingToJson, serversWaitMsDefault, statusToJson,
  timeoutMsDefault, waitTimeoutMsDefault,
} from "../../controller/shardctl-lib";
import { makeConfig } from "../../controller/config";
import type { NodeId } from "../../common/ids";

const C = ["--controllers", "h1:1,h2:2,h3:3"];
const ctl = ["h1:1", "h2:2", "h3:3"];
const gids = (m: ReadonlyMap<GroupId, readonly string[]>) => [...m].map(([g, s]) => [g, [...s]]);

/** The command of a successful parse, with Maps made comparable. */
function command(r: ParseResult): unknown {
  if (r.kind !== "run") throw new Error(`expected a command, got ${JSON.stringify(r)}`);
  const c = r.invocation.command;
  return c.kind === "join" ? { kind: "join", groups: gids(c.groups), ...(c.force ? { force: true } : {}) } : c;
}

describe("parseArgs: commands", () => {
  const cases: [string, string[], unknown][] = [
    ["join one", ["join", "1=a:1"], { kind: "join", groups: [[1, ["a:1"]]] }],
    ["join several servers", ["join", "7=a:1,b:2,[::1]:3"], { kind: "join", groups: [[7, ["a:1", "b:2", "[::1]:3"]]] }],
    ["join several groups", ["join", "2=a:1", "1=b:1,c:1"], { kind: "join", groups: [[2, ["a:1"]], [1, ["b:1", "c:1"]]] }],
    ["join --force", ["join", "--force", "7=a:1,b:2"], { kind: "join", groups: [[7, ["a:1", "b:2"]]], force: true }],
    ["--force before the command", ["--force", "join", "7=a:1"], { kind: "join", groups: [[7, ["a:1"]]], force: true }],
    ["leave one", ["leave", "3"], { kind: "leave", gids: [3] }],
    ["leave several", ["leave", "3", "1", "2"], { kind: "leave", gids: [3, 1, 2] }],
    ["move", ["move", "0", "5"], { kind: "move", shard: 0, gid: 5 }],
    ["query latest", ["query"], { kind: "query", num: -1 }],
    ["query num", ["query", "0"], { kind: "query", num: 0 }],
    ["query num 12", ["query", "12"], { kind: "query", num: 12 }],
    ["status", ["status"], { kind: "status" }],
    ["status --group", ["status", "--group", "3"], { kind: "status", of: { gid: 3 } }],
    ["status --all", ["status", "--all"], { kind: "status", of: "all" }],
    ["watch", ["watch"], { kind: "watch" }],
    ["watch --from", ["watch", "--from", "4"], { kind: "watch", fromNum: 4 }],
    ["watch --from=", ["watch", "--from=0"], { kind: "watch", fromNum: 0 }],
    ["--from before the command", ["--from", "2", "watch"], { kind: "watch", fromNum: 2 }],
    ["-- ends options", ["--", "query", "3"], { kind: "query", num: 3 }],
  ];
  it.each(cases)("%s", (_name, argv, want) => {
    expect(command(parseArgs([...C, ...argv]))).toEqual(want);
  });

  it("reads global options before or after the command, = or separate value", () => {
    for (const argv of [
      ["--controllers", "h:1", "--json", "--timeout", "3s", "status"],
      ["status", "--controllers=h:1", "--timeout=3s", "--json"],
      ["--json", "status", "--timeout", "3000ms", "--controllers", "h:1"],
    ]) {
      expect(parseArgs(argv)).toEqual({ kind: "run", invocation: { controllers: ["h:1"], json: true, timeoutMs: 3000, command: { kind: "status" } } });
    }
  });

  it("defaults: no --json, the default timeout", () => {
    const r = parseArgs([...C, "status"]);
    expect(r).toEqual({ kind: "run", invocation: { controllers: ctl, json: false, timeoutMs: timeoutMsDefault, command: { kind: "status" } } });
  });

  it("takes the controllers from SHARDKV_CONTROLLERS; --controllers wins over it", () => {
    const env = { SHARDKV_CONTROLLERS: "e:1,e:2" };
    const fromEnv = parseArgs(["query"], env);
    expect(fromEnv.kind === "run" && fromEnv.invocation.controllers).toEqual(["e:1", "e:2"]);
    const fromFlag = parseArgs(["--controllers", "f:1", "query"], env);
    expect(fromFlag.kind === "run" && fromFlag.invocation.controllers).toEqual(["f:1"]);
    expect(parseArgs(["query"], { SHARDKV_CONTROLLERS: "e:1,nope" })).toEqual({
      kind: "usage-error", message: 'invalid $SHARDKV_CONTROLLERS: want host:port, got "nope"',
    });
  });

  it("--wait: the invocation waits, and --timeout defaults to the whole wait's", () => {
    const r = parseArgs([...C, "join", "--wait", "1=a:1"]);
    expect(r.kind === "run" && { wait: r.invocation.wait, timeoutMs: r.invocation.timeoutMs }).toEqual({ wait: true, timeoutMs: waitTimeoutMsDefault });
    const given = parseArgs([...C, "--timeout", "30s", "replica", "replace", "7", "2", "5=h:5", "--wait"]);
    expect(given.kind === "run" && { wait: given.invocation.wait, timeoutMs: given.invocation.timeoutMs }).toEqual({ wait: true, timeoutMs: 30_000 });
    const without = parseArgs([...C, "leave", "1"]);
    expect(without.kind === "run" && without.invocation.wait).toBeUndefined();
  });

  it("join --wait-servers: how long a join refused only for servers that gave no answer is asked again (default 30 s, 0: once; none with --force)", () => {
    const waitOf = (argv: string[]): unknown => {
      const r = parseArgs([...C, ...argv]);
      return r.kind === "run" && r.invocation.command.kind === "join" ? r.invocation.command.serversWaitMs : r;
    };
    expect(serversWaitMsDefault).toBe(30_000);
    expect(waitOf(["join", "1=a:1"])).toBe(serversWaitMsDefault);
    expect(waitOf(["join", "--wait-servers", "2m", "1=a:1"])).toBe(120_000);
    expect(waitOf(["join", "1=a:1", "--wait-servers=0"])).toBe(0);
    expect(waitOf(["--wait-servers", "500ms", "join", "--wait", "1=a:1"])).toBe(500);
    expect(waitOf(["join", "--force", "1=a:1"])).toBe(0);
  });

  it("a later repeat of an option wins", () => {
    const r = parseArgs(["--timeout", "1s", ...C, "--timeout", "2s", "status"]);
    expect(r.kind === "run" && r.invocation.timeoutMs).toBe(2000);
  });

  it("hands `certs` and every other argument to the certs parser, needing no controllers", () => {
    expect(parseArgs(["certs", "show", "--json", "a.crt"])).toEqual({ kind: "certs", argv: ["show", "--json", "a.crt"] });
    expect(parseArgs(["--json", "certs", "--help"])).toEqual({ kind: "certs", argv: ["--json", "--help"] });
  });

  it.each([[["--help"]], [["-h"]], [["help"]], [[...C, "join", "--help"]], [["-h", "--bogus"]]])("help: %j", (argv) => {
    expect(parseArgs(argv)).toEqual({ kind: "help" });
  });
});

describe("parseArgs: replica and controller commands", () => {
  const cases: [string, string[], unknown][] = [
    ["replica add", ["replica", "add", "7", "4=h:9"], { kind: "replica", gid: 7, change: { kind: "addLearner", id: 4, address: "h:9" }, force: false }],
    ["replica add --force", ["replica", "add", "--force", "7", "4=[::1]:9"], { kind: "replica", gid: 7, change: { kind: "addLearner", id: 4, address: "[::1]:9" }, force: true }],
    ["replica promote", ["replica", "promote", "7", "4"], { kind: "replica", gid: 7, change: { kind: "promote", id: 4 }, force: false }],
    ["replica remove", ["replica", "remove", "7", "2", "--force"], { kind: "replica", gid: 7, change: { kind: "remove", id: 2 }, force: true }],
    ["replica replace", ["replica", "replace", "7", "2", "5=h:5"], { kind: "replica", gid: 7, change: { kind: "replace", oldId: 2, newId: 5, address: "h:5" }, force: false }],
    ["replica cancel", ["replica", "cancel", "7"], { kind: "replica-cancel", gid: 7 }],
    ["replica list", ["replica", "list", "7"], { kind: "replica-list", gid: 7 }],
    ["controller add", ["controller", "add", "4=c:4"], { kind: "replica", gid: 0, change: { kind: "addLearner", id: 4, address: "c:4" }, force: false }],
    ["controller remove", ["controller", "remove", "3"], { kind: "replica", gid: 0, change: { kind: "remove", id: 3 }, force: false }],
    ["controller replace", ["controller", "replace", "3", "4=c:4", "--force"], { kind: "replica", gid: 0, change: { kind: "replace", oldId: 3, newId: 4, address: "c:4" }, force: true }],
    ["controller list", ["controller", "list"], { kind: "replica-list", gid: 0 }],
  ];
  it.each(cases)("%s", (_name, argv, want) => {
    expect(command(parseArgs([...C, ...argv]))).toEqual(want);
  });
});

describe("parseArgs: usage errors name the argument", () => {
  const cases: [string, string[], string][] = [
    // global
    ["no command", [...C], "missing command"],
    ["unknown command", [...C, "frobnicate"], 'unknown command "frobnicate"'],
    ["unknown flag", [...C, "--bogus", "query"], 'unknown flag "--bogus"'],
    ["unknown flag with value", [...C, "query", "--verbose=1"], 'unknown flag "--verbose"'],
    ["unknown short flag", [...C, "-x", "query"], 'unknown flag "-x"'],
    ["--json with a value", [...C, "--json=yes", "query"], 'invalid --json: takes no value, got "--json=yes"'],
    ["no controllers", ["query"], "invalid --controllers: missing (or set $SHARDKV_CONTROLLERS)"],
    ["--controllers without value", ["query", "--controllers"], "invalid --controllers: missing value"],
    ["--controllers followed by a flag", ["--controllers", "--json", "query"], "invalid --controllers: missing value"],
    ["--controllers empty", ["--controllers=", "query"], "invalid --controllers: empty address list"],
    ["--controllers empty element", ["--controllers", "a:1,,b:2", "query"], 'invalid --controllers: empty address in "a:1,,b:2"'],
    ["--controllers no port", ["--controllers", "a:1,b", "query"], 'invalid --controllers: want host:port, got "b"'],
    ["--controllers port 0", ["--controllers", "a:0", "query"], 'invalid --controllers: want host:port, got "a:0"'],
    ["--controllers twice the same", ["--controllers", "a:1,a:1", "query"], 'invalid --controllers: "a:1" is listed twice'],
    ["--timeout without value", [...C, "query", "--timeout"], "invalid --timeout: missing value"],
    ["--timeout malformed", [...C, "--timeout", "soon", "query"], 'invalid --timeout: want a duration like 500ms, 10s or 2m (at least 1ms, at most 24h), got "soon"'],
    ["--timeout zero", [...C, "--timeout", "0s", "query"], "invalid --timeout"],
    ["--timeout negative", [...C, "--timeout", "-5s", "query"], "invalid --timeout"],
    ["--timeout hours", [...C, "--timeout", "10h", "query"], "invalid --timeout"],
    ["--from outside watch", [...C, "--from", "3", "query"], "invalid --from: only valid with watch, not query"],
    ["--force outside join", [...C, "leave", "--force", "3"], "invalid --force: only valid with join, replica and controller, not leave"],
    ["--force with a value", [...C, "join", "--force=yes", "3=a:1"], 'invalid --force: takes no value, got "--force=yes"'],
    // join
    ["join nothing", [...C, "join"], "invalid join: want at least one GID=ADDR[,ADDR...]"],
    ["join without =", [...C, "join", "3"], 'invalid join argument: want GID=ADDR[,ADDR...], got "3"'],
    ["join gid 0", [...C, "join", "0=a:1"], 'invalid gid: want a positive integer, got "0"'],
    ["join gid negative", [...C, "join", "-1=a:1"], 'invalid gid: want a positive integer, got "-1"'],
    ["join gid not a number", [...C, "join", "x=a:1"], 'invalid gid: want a positive integer, got "x"'],
    ["join gid fraction", [...C, "join", "1.5=a:1"], 'invalid gid: want a positive integer, got "1.5"'],
    ["join gid exponent", [...C, "join", "1e3=a:1"], 'invalid gid: want a positive integer, got "1e3"'],
    ["join gid empty", [...C, "join", "=a:1"], 'invalid gid: want a positive integer, got ""'],
    ["join gid too large", [...C, "join", "9007199254740993=a:1"], "invalid gid: want a positive integer"],
    ["join empty list", [...C, "join", "3="], "invalid servers: group 3 has an empty server list"],
    ["join empty address", [...C, "join", "3=a:1,"], 'invalid servers of group 3: empty address in "a:1,"'],
    ["join address without port", [...C, "join", "3=a"], 'invalid servers of group 3: want host:port, got "a"'],
    ["join address bad port", [...C, "join", "3=a:70000"], 'invalid servers of group 3: want host:port, got "a:70000"'],
    ["join address with =", [...C, "join", "3=a=b:1"], 'invalid servers of group 3: want host:port, got "a=b:1"'],
    ["join same server twice", [...C, "join", "3=a:1,a:1"], 'invalid servers of group 3: "a:1" is listed twice'],
    ["join same gid twice", [...C, "join", "3=a:1", "3=b:1"], "invalid gid: group 3 is listed twice"],
    ["join too many servers", [...C, "join", `3=${Array.from({ length: 65 }, (_, i) => `h:${i + 1}`).join(",")}`], "invalid servers: group 3 lists 65 servers, at most 64"],
    // leave
    ["leave nothing", [...C, "leave"], "invalid leave: want at least one GID"],
    ["leave gid 0", [...C, "leave", "0"], 'invalid gid: want a positive integer, got "0"'],
    ["leave gid negative", [...C, "leave", "-2"], 'invalid gid: want a positive integer, got "-2"'],
    ["leave gid not a number", [...C, "leave", "1", "two"], 'invalid gid: want a positive integer, got "two"'],
    ["leave same gid twice", [...C, "leave", "1", "2", "1"], "invalid gid: group 1 is listed twice"],
    // move
    ["move nothing", [...C, "move"], "invalid move: want SHARD GID, got 0 arguments"],
    ["move one argument", [...C, "move", "3"], "invalid move: want SHARD GID, got 1 argument"],
    ["move three arguments", [...C, "move", "3", "1", "2"], "invalid move: want SHARD GID, got 3 arguments"],
    ["move shard negative", [...C, "move", "-1", "1"], 'invalid shard: want a non-negative integer, got "-1"'],
    ["move shard not a number", [...C, "move", "x", "1"], 'invalid shard: want a non-negative integer, got "x"'],
    ["move shard fraction", [...C, "move", "1.5", "1"], 'invalid shard: want a non-negative integer, got "1.5"'],
    ["move gid 0", [...C, "move", "1", "0"], 'invalid gid: want a positive integer, got "0"'],
    ["move gid not a number", [...C, "move", "1", "g"], 'invalid gid: want a positive integer, got "g"'],
    // query, status, watch
    ["query two numbers", [...C, "query", "1", "2"], "invalid query: want at most one config number, got 2 arguments"],
    ["query negative", [...C, "query", "-1"], 'invalid config number: want a non-negative integer, got "-1"'],
    ["query not a number", [...C, "query", "latest"], 'invalid config number: want a non-negative integer, got "latest"'],
    ["status with an argument", [...C, "status", "x"], 'invalid status: takes no arguments (use --group GID or --all), got "x"'],
    ["status --group 0", [...C, "status", "--group", "0"], 'invalid --group: want a positive integer, got "0"'],
    ["status --group and --all", [...C, "status", "--group", "2", "--all"], "invalid --all: give --group GID or --all, not both"],
    ["--group outside status", [...C, "query", "--group", "2"], "invalid --group: only valid with status, not query"],
    ["--wait-servers malformed", [...C, "join", "--wait-servers", "soon", "1=a:1"], 'invalid --wait-servers: want a duration like 500ms, 10s or 2m (0 for none, at most 24h), got "soon"'],
    ["--wait-servers negative", [...C, "join", "--wait-servers", "-1s", "1=a:1"], 'invalid --wait-servers: want a duration like 500ms, 10s or 2m (0 for none, at most 24h), got "-1s"'],
    ["--wait-servers without value", [...C, "join", "1=a:1", "--wait-servers"], "invalid --wait-servers: missing value"],
    ["--wait-servers outside join", [...C, "leave", "--wait-servers", "5s", "1"], "invalid --wait-servers: only valid with join, not leave"],
    ["--wait-servers with --force", [...C, "join", "--force", "--wait-servers", "5s", "1=a:1"], "invalid --wait-servers: not with --force, which skips the join check (nothing is waited for)"],
    ["--wait outside the changes", [...C, "status", "--wait"], "invalid --wait: only valid with join, leave, move, replica and controller, not status"],
    ["--wait with replica list", [...C, "replica", "list", "3", "--wait"], "invalid --wait: only valid with replica add, promote, remove and replace, not replica list"],
    ["--wait with controller cancel", [...C, "controller", "cancel", "--wait"], "invalid --wait: only valid with controller add, promote, remove and replace, not controller cancel"],
    ["watch with an argument", [...C, "watch", "3"], 'invalid watch: takes no arguments (use --from NUM), got "3"'],
    ["watch --from malformed", [...C, "watch", "--from", "x"], 'invalid --from: want a non-negative integer, got "x"'],
    ["watch --from negative", [...C, "watch", "--from", "-1"], 'invalid --from: want a non-negative integer, got "-1"'],
    // replica, controller
    ["replica nothing", [...C, "replica"], "invalid replica: missing subcommand (add, promote, remove, replace, cancel, list)"],
    ["replica unknown subcommand", [...C, "replica", "grow", "3"], 'invalid replica: unknown subcommand "grow" (want add, promote, remove, replace, cancel, list)'],
    ["replica add without gid", [...C, "replica", "add", "4=h:1"], "invalid replica add: want GID ID=HOST:PORT, got 1 argument"],
    ["replica add without =", [...C, "replica", "add", "3", "4"], 'invalid replica: want ID=HOST:PORT, got "4"'],
    ["replica add id 0", [...C, "replica", "add", "3", "0=h:1"], 'invalid replica id: want a positive integer, got "0"'],
    ["replica add bad address", [...C, "replica", "add", "3", "4=h"], 'invalid replica address: want host:port, got "h"'],
    ["replica add gid 0", [...C, "replica", "add", "0", "4=h:1"], 'invalid gid: want a positive integer, got "0"'],
    ["replica promote two ids", [...C, "replica", "promote", "3", "4", "5"], "invalid replica promote: want GID ID, got 3 arguments"],
    ["replica promote --force", [...C, "replica", "promote", "--force", "3", "4"], "invalid --force: only valid with replica add, remove and replace, not replica promote"],
    ["replica remove id not a number", [...C, "replica", "remove", "3", "x"], 'invalid replica id: want a positive integer, got "x"'],
    ["replica replace same id", [...C, "replica", "replace", "3", "2", "2=h:1"], "invalid new replica id: 2 is the replica being replaced; give the new replica another id"],
    ["replica replace missing new", [...C, "replica", "replace", "3", "2"], "invalid replica replace: want GID OLD-ID NEW-ID=HOST:PORT, got 2 arguments"],
    ["replica cancel extra", [...C, "replica", "cancel", "3", "4"], "invalid replica cancel: want GID, got 2 arguments"],
    ["replica list --force", [...C, "replica", "list", "--force", "3"], "invalid --force: only valid with replica add, remove and replace, not replica list"],
    ["controller add with a gid", [...C, "controller", "add", "3", "4=h:1"], "invalid controller add: want ID=HOST:PORT, got 2 arguments"],
    ["controller list with an argument", [...C, "controller", "list", "0"], "invalid controller list: want no arguments, got 1 argument"],
  ];
  it.each(cases)("%s", (_name, argv, want) => {
    const r = parseArgs(argv);
    expect(r.kind).toBe("usage-error");
    if (r.kind === "usage-error") {
      expect(r.message).toContain(want);
      expect(r.message).not.toContain("\n");
    }
  });
});

describe("formatRanges", () => {
  it.each<[number[], string]>([
    [[], "-"],
    [[5], "5"],
    [[0, 1], "0-1"],
    [[0, 1, 2, 3, 7, 9, 10], "0-3,7,9-10"],
    [[32, ...Array.from({ length: 16 }, (_, i) => i)], "0-15,32"],
    [[4, 2, 3, 9], "2-4,9"],
  ])("%j -> %s", (shards, want) => expect(formatRanges(shards)).toBe(want));
});

function config(num: number, shards: number[], groups: [number, string[]][]): Config {
  return { num: num as ConfigNum, shards: shards as GroupId[], groups: new Map(groups.map(([g, s]) => [g as GroupId, s])) };
}

describe("formatConfig", () => {
  it("config 0: no groups, every shard unassigned", () => {
    expect(formatConfig(config(0, [0, 0, 0, 0], []))).toBe("config 0: 4 shards, 0 groups\nunassigned: 4 (0-3)");
  });

  it("groups by gid with servers, counts and ranges; unassigned none", () => {
    const c = config(4, [2, 2, 1, 1, 1, 10, 10, 2], [[10, ["c:1"]], [1, ["a:1", "a:2"]], [2, ["b:1"]]]);
    expect(formatConfig(c)).toBe([
      "config 4: 8 shards, 3 groups",
      "GID  SERVERS  COUNT  SHARDS",
      "1    a:1,a:2  3      2-4",
      "2    b:1      3      0-1,7",
      "10   c:1      2      5-6",
      "unassigned: none",
    ].join("\n"));
  });

  it("a group owning nothing and unassigned shards", () => {
    const c = config(2, [1, 0, 1, 0, 0], [[1, ["a:1"]], [3, ["c:1"]]]);
    expect(formatConfig(c)).toBe([
      "config 2: 5 shards, 2 groups",
      "GID  SERVERS  COUNT  SHARDS",
      "1    a:1      2      0,2",
      "3    c:1      0      -",
      "unassigned: 3 (1,3-4)",
    ].join("\n"));
  });

  it("shows shards owned by a gid missing from the groups (a controller bug) instead of hiding them", () => {
    expect(formatConfig(config(1, [1, 9], [[1, ["a:1"]]]))).toContain("owned by unknown group 9: 1 (1)");
  });

  it("JSON: {num, shards, groups: {gid: [addrs]}}, gids ascending, round-trips through JSON", () => {
    const c = config(3, [2, 1, 2, 0], [[2, ["b:1", "b:2"]], [1, ["a:1"]]]);
    const j = configToJson(c);
    expect(j).toEqual({ num: 3, shards: [2, 1, 2, 0], groups: { 1: ["a:1"], 2: ["b:1", "b:2"] } });
    expect(Object.keys(j.groups)).toEqual(["1", "2"]);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

describe("formatStatus", () => {
  const up = (address: string, id: number, role: string) => ({
    address,
    status: { id, role, term: 3, leader: 2, leaderAddress: "h2:2", commitIndex: 9, appliedIndex: 9, latestConfigNum: 4, shardCount: 64 },
  });
  const rs = [up("h1:1", 1, "follower"), up("h2:2", 2, "leader"), { address: "h3:3", error: "connection refused" }];

  it("one row per replica, down ones with the reason, and a summary", () => {
    expect(formatStatus(rs)).toBe([
      "ADDRESS  STATE  ID  ROLE      TERM  LEADER    APPLIED  CONFIG  LAG  LOG  SNAPSHOT  DATA  UPTIME  ERROR",
      "h1:1     up     1   follower  3     2 (h2:2)  9        4       -    -    -         -     -",
      "h2:2     up     2   leader    3     2 (h2:2)  9        4       -    -    -         -     -",
      "h3:3     down   -   -         -     -         -        -       -    -    -         -     -       connection refused",
      "2/3 up, leader h2:2",
    ].join("\n"));
  });

  it("a replica's lag, log (entries and bytes), last snapshot, data directory size and uptime", () => {
    const detail = {
      leaderCommitIndex: 1510, lag: 10, firstIndex: 1201, lastIndex: 1510, logEntries: 310, logBytes: 2048, snapshotIndex: 1500,
      snapshotBytes: 3 * 1024 * 1024, dataDirBytes: 12 * 1024 * 1024 + 300 * 1024, uptimeMs: 3_725_000, version: "0.1.0",
    };
    const row = formatStatus([{ address: "h1:1", status: { ...up("h1:1", 1, "follower").status, ...detail } }]).split("\n")[1];
    expect(row).toMatch(/ 9 +4 +10 +310 \(2\.0 KiB\) +1500 \(3\.0 MiB\) +12\.3 MiB +1h02m$/);
    // The leader's word on how far behind its log the replica is wins over the replica's own count.
    const led = formatStatus([{ address: "h1:1", status: { ...up("h1:1", 1, "follower").status, ...detail, matchIndex: 1490, behindLeader: 20 } }]).split("\n")[1];
    expect(led).toMatch(/ 9 +4 +20 +310 /);
    // A snapshot of unknown size shows its index alone; none at all says so.
    expect(formatReplicaColumns({ ...detail, snapshotBytes: 0 })[1]).toBe("1500");
    expect(formatReplicaColumns({ ...detail, snapshotIndex: 0, snapshotBytes: 0 })[1]).toBe("none");
  });

  it("the summary names the cluster the replicas answered (each once; none when none did)", () => {
    const inCluster = (r: ReturnType<typeof up>, clusterId: string) => ({ ...r, status: { ...r.status, clusterId } });
    expect(formatStatus([inCluster(up("h1:1", 1, "follower"), "c0ffee"), inCluster(up("h2:2", 2, "leader"), "c0ffee")]))
      .toMatch(/\n2\/2 up, leader h2:2, cluster c0ffee$/);
    expect(formatStatus([inCluster(up("h1:1", 1, "follower"), ""), inCluster(up("h2:2", 2, "leader"), "c0ffee"), inCluster(up("h3:3", 3, "follower"), "beef")]))
      .toMatch(/\n3\/3 up, leader h2:2, cluster c0ffee and beef$/);
  });

  it("no leader known", () => {
    const r = { address: "h1:1", status: { ...up("h1:1", 1, "candidate").status, leader: 0, leaderAddress: "" } };
    expect(formatStatus([r])).toMatch(/candidate {2}3 {5}none .*\n1\/1 up, no leader$/);
  });

  it("JSON: an array, one object per replica", () => {
    const j = JSON.parse(JSON.stringify(statusToJson(rs)));
    expect(j).toHaveLength(3);
    expect(j[1]).toEqual({ address: "h2:2", up: true, id: 2, role: "leader", term: 3, leader: 2, leaderAddress: "h2:2", commitIndex: 9, appliedIndex: 9, latestConfigNum: 4, shardCount: 64 });
    expect(j[2]).toEqual({ address: "h3:3", up: false, error: "connection refused" });
  });
});

describe("formatServersWait", () => {
  it("names the servers that gave no answer, what happened, and the seconds left, in one line", () => {
    expect(formatServersWait([{ address: "127.0.0.1:20123", reason: "connection refused" }], 26_100))
      .toBe("waiting for shard server 127.0.0.1:20123 to answer (connection refused); 27 s left");
    expect(formatServersWait([{ address: "a:1", reason: "connection refused" }, { address: "a:2", reason: "gave no answer within 2 s" }], 500))
      .toBe("waiting for shard servers a:1 (connection refused), a:2 (gave no answer within 2 s) to answer; 1 s left");
  });
});

describe("forceWarning", () => {
  it("says which groups skip the check and what it risks, in one line", () => {
    expect(forceWarning([7 as GroupId])).toBe(
      "shardctl: warning: --force: group 7 is joined without checking its servers; if they never come up, the shards assigned to it stay unavailable");
    expect(forceWarning([7 as GroupId, 8 as GroupId])).toBe(
      "shardctl: warning: --force: groups 7, 8 are joined without checking their servers; if they never come up, the shards assigned to them stay unavailable");
  });
});

describe("replica list and intents for people and scripts", () => {
  const mem = (id: number, address: string, learner = false) => ({ id: id as NodeId, address, learner });
  const cfg = makeConfig({
    num: 5 as ConfigNum, shards: [7, 7] as GroupId[],
    members: new Map([[7 as GroupId, [mem(1, "h:1"), mem(2, "h:2"), mem(4, "h:4", true)]], [8 as GroupId, [mem(0, "k:1")]]]),
  });
  const intents = new Map([[7 as GroupId, { change: { kind: "promote" as const, id: 4 as NodeId }, force: false, blocked: "learner 4 is 5000 entries behind" }]]);
  const replicas = { intents, controllers: [mem(1, "c:1"), mem(2, "c:2")] };

  it("members with roles, the pending change and why it is blocked; no step until one is known", () => {
    const l = replicaListing(cfg, replicas, 7 as GroupId)!;
    expect(formatReplicaListing(l)).toBe([
      "group 7 in config 5: 3 replicas",
      "ID  ROLE     ADDRESS",
      "1   voter    h:1",
      "2   voter    h:2",
      "4   learner  h:4",
      "pending change: promote learner 4 to voter",
      "blocked: learner 4 is 5000 entries behind",
    ].join("\n"));
    expect(formatReplicaListing(replicaListing(cfg, replicas, 7 as GroupId, "catchingUp")!)).toContain("\nstep: catchingUp\n");
  });

  it("unknown ids show as ?, with what that means; no pending change says none", () => {
    const text = formatReplicaListing(replicaListing(cfg, replicas, 8 as GroupId)!);
    expect(text).toContain("?   voter  k:1");
    expect(text).toContain("?: id not known to the controller");
    expect(text).toContain("pending change: none");
  });

  it("the controller group's listing comes from its own record; an absent group has none", () => {
    expect(formatReplicaListing(replicaListing(cfg, replicas, 0 as GroupId)!)).toMatch(/^the controller group in config 5: 2 replicas\n/);
    expect(replicaListing(cfg, replicas, 9 as GroupId)).toBeUndefined();
  });

  it("JSON: members with roles and the intent (null when none)", () => {
    expect(replicaListingToJson(replicaListing(cfg, replicas, 7 as GroupId)!)).toEqual({
      gid: 7, config: 5,
      members: [{ id: 1, address: "h:1", role: "voter" }, { id: 2, address: "h:2", role: "voter" }, { id: 4, address: "h:4", role: "learner" }],
      intent: { change: { kind: "promote", id: 4 }, description: "promote learner 4 to voter", force: false, blocked: "learner 4 is 5000 entries behind" },
    });
    expect(replicaListingToJson(replicaListing(cfg, replicas, 8 as GroupId)!)).toMatchObject({ intent: null });
  });

  it("the stored line says what was stored and where to follow it, in one line", () => {
    const line = formatIntentStored(7 as GroupId, { kind: "replace", oldId: 2 as NodeId, newId: 5 as NodeId, address: "h:5" }, true);
    expect(line).toBe("group 7: stored: replace replica 2 by 5 at h:5 (--force); its leader carries it out (shardctl replica list 7 shows it)");
    expect(formatIntentStored(0 as GroupId, { kind: "remove", id: 3 as NodeId }, false)).toMatch(/^the controller group: stored: remove replica 3; .*shardctl controller list/);
  });
});
