/**
 * The one command-line parser (common/cli-args.ts) every shardkv command and daemon uses: the
 * rules they share (forms of a flag, help, `--`, negative numbers, repeats, stray arguments),
 * the one-line messages, and the typed values (integers, durations, addresses, NATS URLs, peers).
 */
import { describe, expect, it } from "vitest";
import {
  UsageError, addressListOrEnv, checkCommandFlags, commandWordIndex, flag, parseAddress, parseAddressList, parseCommandLine,
  parseDuration, parseInteger, parseNatsUrl, parsePeers, required,
} from "../../common/cli-args";
import type { NodeId } from "../../common/ids";
import { usageMessage } from "../lib/usage-message";

const flags = {
  name: flag.string(),
  count: flag.int(1, 10),
  json: flag.bool(),
  verbose: flag.bool("v"),
  timeout: flag.duration(),
  from: flag.int(0, Number.MAX_SAFE_INTEGER),
};

function run(argv: string[], opts: Parameters<typeof parseCommandLine>[2] = {}) {
  const cl = parseCommandLine(argv, flags, opts);
  if (cl.help) return "help";
  return { values: cl.values, positionals: cl.positionals };
}

describe("parseCommandLine: the rules", () => {
  it("--flag value and --flag=value, before or after positionals; values converted", () => {
    expect(run(["a", "--name", "x", "--count=3", "b", "--json", "--timeout", "1.5s"])).toEqual({
      values: { name: "x", count: 3, json: true, timeout: 1500 }, positionals: ["a", "b"],
    });
  });

  it("flags not given are absent; an empty inline value is a value", () => {
    expect(run([])).toEqual({ values: {}, positionals: [] });
    expect(run(["--name="])).toEqual({ values: { name: "" }, positionals: [] });
  });

  it("-- ends the flags; - and -1 are positional; a value may start with one dash", () => {
    expect(run(["--", "--json", "-v"])).toEqual({ values: {}, positionals: ["--json", "-v"] });
    expect(run(["-", "-1", "-1.5", "-2=x"])).toEqual({ values: {}, positionals: ["-", "-1", "-1.5", "-2=x"] });
    expect(run(["--name", "-x", "--from", "3"])).toEqual({ values: { name: "-x", from: 3 }, positionals: [] });
    expect(run(["--name=--x"])).toEqual({ values: { name: "--x" }, positionals: [] });
  });

  it("a short alias", () => {
    expect(run(["-v"])).toEqual({ values: { verbose: true }, positionals: [] });
  });

  it("-h and --help anywhere before -- win over every error", () => {
    for (const argv of [["--help"], ["-h"], ["x", "--bogus", "-h"], ["--count", "0", "--help"]]) expect(run(argv)).toBe("help");
    expect(run(["--", "--help"])).toEqual({ values: {}, positionals: ["--help"] });
    expect(run(["--name", "-h"])).toEqual({ values: { name: "-h" }, positionals: [] });
  });

  it("repeats: the last wins, or refused", () => {
    expect(run(["--count", "1", "--count", "2"])).toEqual({ values: { count: 2 }, positionals: [] });
    expect(usageMessage(() => run(["--count", "1", "--count", "2"], { repeats: "refuse" }))).toBe("invalid --count: given twice");
  });

  it.each([
    [["--bogus"], 'unknown flag "--bogus"'],
    [["--bogus=1"], 'unknown flag "--bogus"'],
    [["-x"], 'unknown flag "-x"'],
    [["-vx"], 'unknown flag "-vx"'],
    [["--name"], "invalid --name: missing value"],
    [["--name", "--json"], "invalid --name: missing value"],
    [["--json=yes"], 'invalid --json: takes no value, got "--json=yes"'],
    [["--count", "11"], 'invalid --count: want an integer in [1, 10], got "11"'],
    [["--count", "-1"], 'invalid --count: want an integer in [1, 10], got "-1"'],
    [["--timeout", "soon"], 'invalid --timeout: want a duration like 500ms, 10s or 2m (at least 1ms, at most 24h), got "soon"'],
  ])("%j -> %s", (argv, want) => {
    expect(usageMessage(() => run(argv))).toBe(want);
  });

  it("positionals: a limit refuses the first one beyond it", () => {
    expect(usageMessage(() => run(["a", "b"], { positionals: 1 }))).toBe('unexpected argument "b"');
    expect(usageMessage(() => run(["--json", "stray"], { positionals: 0 }))).toBe('unexpected argument "stray"');
  });
});

describe("helpers", () => {
  it("required", () => {
    expect(required(3, "id")).toBe(3);
    expect(usageMessage(() => required(undefined, "id"))).toBe("invalid --id: missing (required)");
  });

  it("checkCommandFlags names the commands taking a flag", () => {
    checkCommandFlags({ from: 1 }, "watch", { from: ["watch"] });
    checkCommandFlags({}, "query", { from: ["watch"] });
    expect(usageMessage(() => checkCommandFlags({ from: 1 }, "query", { from: ["watch"] }))).toBe("invalid --from: only valid with watch, not query");
    expect(usageMessage(() => checkCommandFlags({ r: 1 }, "down", { r: ["up", "add-group", "x"] }))).toBe("invalid --r: only valid with up, add-group and x, not down");
  });

  it("commandWordIndex skips flags and their values; none after --", () => {
    expect(commandWordIndex(["--name", "bench", "--json", "go", "x"], flags)).toBe(3);
    expect(commandWordIndex(["--name=a", "go"], flags)).toBe(1);
    expect(commandWordIndex(["--json", "--", "go"], flags)).toBeUndefined();
    expect(commandWordIndex([], flags)).toBeUndefined();
  });

  it("addressListOrEnv: the flag, else the variable, else missing", () => {
    expect(addressListOrEnv(["a:1"], "--controllers", "V", { V: "b:1" })).toEqual(["a:1"]);
    expect(addressListOrEnv(undefined, "--controllers", "V", { V: "b:1,c:2" })).toEqual(["b:1", "c:2"]);
    expect(usageMessage(() => addressListOrEnv(undefined, "--controllers", "V", { V: "" }))).toBe("invalid --controllers: missing (or set $V)");
    expect(usageMessage(() => addressListOrEnv(undefined, "--controllers", "V", { V: "b" }))).toBe('invalid $V: want host:port, got "b"');
  });
});

describe("typed values", () => {
  it("integers: digits only, in range; the message names the range", () => {
    expect(parseInteger("n", "007", 0, 10)).toBe(7);
    for (const bad of ["", "-1", "+1", "1.5", "1e3", " 1", "0x10", "9007199254740993"]) {
      expect(() => parseInteger("n", bad, 0, Number.MAX_SAFE_INTEGER)).toThrow(UsageError);
    }
    expect(usageMessage(() => parseInteger("gid", "0", 1, Number.MAX_SAFE_INTEGER))).toBe('invalid gid: want a positive integer, got "0"');
    expect(usageMessage(() => parseInteger("shard", "x", 0, Number.MAX_SAFE_INTEGER))).toBe('invalid shard: want a non-negative integer, got "x"');
  });

  it.each([["10s", 10000], ["500ms", 500], ["2m", 120000], ["1.5s", 1500], ["3", 3000], ["1ms", 1], ["1440m", 86_400_000]])(
    "duration %s -> %i ms", (s, ms) => expect(parseDuration("--timeout", s)).toBe(ms));

  it("durations: zero only when allowed; a maximum", () => {
    expect(() => parseDuration("--t", "0")).toThrow(UsageError);
    expect(parseDuration("--t", "0ms", { zero: true })).toBe(0);
    expect(parseDuration("--t", "10m", { zero: true, maxMs: 600_000 })).toBe(600_000);
    expect(usageMessage(() => parseDuration("--grace", "601s", { zero: true, maxMs: 600_000 })))
      .toBe('invalid --grace: want a duration like 500ms, 10s or 2m (0 for none, at most 10m), got "601s"');
    for (const bad of ["-1s", "1h", "s", "1 s", "0.0001ms"]) expect(() => parseDuration("--t", bad)).toThrow(UsageError);
  });

  it("addresses", () => {
    expect(parseAddress("--listen", "127.0.0.1:7001")).toBe("127.0.0.1:7001");
    expect(usageMessage(() => parseAddress("--listen", "nohost"))).toBe('invalid --listen: want host:port, got "nohost"');
    expect(parseAddressList("--c", "a:1,[::1]:2")).toEqual(["a:1", "[::1]:2"]);
    expect(usageMessage(() => parseAddressList("--c", ""))).toBe("invalid --c: empty address list");
    expect(usageMessage(() => parseAddressList("--c", "a:1,,b:2"))).toBe('invalid --c: empty address in "a:1,,b:2"');
    expect(usageMessage(() => parseAddressList("--c", "a:1,a:1"))).toBe('invalid --c: "a:1" is listed twice');
  });

  it.each(["nats://127.0.0.1:4222", "nats://localhost", "tls://nats.example.com:4443", "nats://[::1]:4222", "nats://h:4222/"])(
    "NATS URL %s is accepted", (u) => expect(parseNatsUrl("--nats", u)).toBe(u));

  it.each(["localhost:4222", "http://h:4222", "ws://h:4222", "nats://", "nats://h:0", "nats://h:99999", "nats://u:p@h:4222",
    "nats://h:4222/x", "nats://h:4222?x=1", "nats:// h:1", ""])("NATS URL %j is refused, naming the flag", (u) => {
    expect(usageMessage(() => parseNatsUrl("--nats", u)))
      .toBe(`invalid --nats: want a URL like nats://host:4222 (nats:// or tls://, a host, optionally a port), got ${JSON.stringify(u)}`);
  });

  it("peers: id=host:port, ids unique, this replica included", () => {
    expect([...parsePeers("--peers", "1=a:1,2=b:2", 2 as NodeId)]).toEqual([[1, "a:1"], [2, "b:2"]]);
    expect(usageMessage(() => parsePeers("--peers", "1=a:1", 2 as NodeId))).toBe("invalid --peers: must include this replica's --id 2");
    expect(usageMessage(() => parsePeers("--peers", "1=a:1,1=b:2", 1 as NodeId))).toBe("invalid --peers: id 1 listed twice");
    expect(usageMessage(() => parsePeers("--peers", "a:1", 1 as NodeId))).toBe('invalid --peers: want id=host:port, got "a:1"');
    expect(usageMessage(() => parsePeers("--peers", "0=a:1", 1 as NodeId))).toBe('invalid --peers: want a positive integer, got "0"');
    expect(usageMessage(() => parsePeers("--peers", "1=a", 1 as NodeId))).toBe('invalid --peers: want host:port, got "a"');
  });
});
