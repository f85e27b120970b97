/**
 * The shardkv data CLI's pure half (client/cli-lib.ts): argument parsing (every command,
 * malformed input a usage error naming the argument) and output formatting.
 */
import { describe, expect, it } from "vitest";
import { type ParseResult, formatOutcome, parseArgs, timeoutMsDefault, usageText, valueToJson } from "../../client/cli-lib";

const C = ["--controllers", "h1:1,h2:2"];
const ctl = ["h1:1", "h2:2"];
const text = (t: string) => ({ kind: "text", text: t });
const stdin = { kind: "stdin" };

function command(r: ParseResult): unknown {
  if (r.kind !== "run") throw new Error(`expected a command, got ${JSON.stringify(r)}`);
  return r.invocation.command;
}

describe("parseArgs: commands", () => {
  const cases: [string, string[], unknown][] = [
    ["get", ["get", "k"], { kind: "get", key: "k" }],
    ["get a UTF-8 key", ["get", "ключ"], { kind: "get", key: "ключ" }],
    ["put", ["put", "k", "v"], { kind: "put", key: "k", value: text("v") }],
    ["put empty value", ["put", "k", ""], { kind: "put", key: "k", value: text("") }],
    ["put from stdin", ["put", "k", "-"], { kind: "put", key: "k", value: stdin }],
    ["append", ["append", "k", "v"], { kind: "append", key: "k", value: text("v") }],
    ["append from stdin", ["append", "k", "-"], { kind: "append", key: "k", value: stdin }],
    ["delete", ["delete", "k"], { kind: "delete", key: "k" }],
    ["cas", ["cas", "k", "old", "new"], { kind: "cas", key: "k", expected: text("old"), value: text("new") }],
    ["cas --absent", ["cas", "k", "--absent", "new"], { kind: "cas", key: "k", expected: undefined, value: text("new") }],
    ["cas --absent first", ["--absent", "cas", "k", "new"], { kind: "cas", key: "k", expected: undefined, value: text("new") }],
    ["cas new from stdin", ["cas", "k", "old", "-"], { kind: "cas", key: "k", expected: text("old"), value: stdin }],
    ["cas expected from stdin", ["cas", "k", "-", "new"], { kind: "cas", key: "k", expected: stdin, value: text("new") }],
    ["-- ends options", ["put", "--", "--k", "--v"], { kind: "put", key: "--k", value: text("--v") }],
    ["options after the command", ["get", "k", "--json"], { kind: "get", key: "k" }],
    ["a negative number is a value, not a flag", ["put", "counter", "-5"], { kind: "put", key: "counter", value: text("-5") }],
  ];
  it.each(cases)("%s", (_name, argv, want) => {
    expect(command(parseArgs([...C, ...argv]))).toEqual(want);
  });

  it("global options: before or after, = or separate value, defaults", () => {
    for (const argv of [
      ["--controllers", "h:1", "--json", "--timeout", "3s", "get", "k"],
      ["get", "k", "--controllers=h:1", "--timeout=3s", "--json"],
      ["--json", "get", "--timeout", "3000ms", "k", "--controllers", "h:1"],
    ]) {
      expect(parseArgs(argv)).toEqual({ kind: "run", invocation: { controllers: ["h:1"], json: true, timeoutMs: 3000, command: { kind: "get", key: "k" } } });
    }
    expect(parseArgs([...C, "get", "k"])).toEqual({
      kind: "run", invocation: { controllers: ctl, json: false, timeoutMs: timeoutMsDefault, command: { kind: "get", key: "k" } },
    });
  });

  it("controllers and NATS from the environment; flags win", () => {
    const env = { SHARDKV_CONTROLLERS: "e:1,e:2", SHARDKV_NATS: "nats://n:4222" };
    const r = parseArgs(["get", "k"], env);
    expect(r.kind === "run" && r.invocation).toMatchObject({ controllers: ["e:1", "e:2"], nats: "nats://n:4222" });
    const f = parseArgs(["--controllers", "f:1", "--nats", "nats://m:1", "get", "k"], env);
    expect(f.kind === "run" && f.invocation).toMatchObject({ controllers: ["f:1"], nats: "nats://m:1" });
  });

  it("$SHARDKV_NATS is checked as --nats is, naming the variable", () => {
    expect(parseArgs(["get", "k"], { SHARDKV_CONTROLLERS: "e:1", SHARDKV_NATS: "localhost:4222" })).toEqual({
      kind: "usage-error", message: 'invalid $SHARDKV_NATS: want a URL like nats://host:4222 (nats:// or tls://, a host, optionally a port), got "localhost:4222"',
    });
  });

  it.each([[["--help"]], [["-h"]], [["help"]], [[...C, "get", "--help"]]])("help: %j", (argv) => {
    expect(parseArgs(argv)).toEqual({ kind: "help" });
  });

  it("the help text documents the absent-key exit status and stdin", () => {
    expect(usageText).toMatch(/absent key\s+prints NOTHING and exits with status 1/);
    expect(usageText).toMatch(/"-": read the value from stdin/);
  });
});

describe("parseArgs: usage errors", () => {
  const cases: [string, string[], string][] = [
    ["no command", [...C], "invalid command: missing"],
    ["unknown command", [...C, "frob"], 'unknown command "frob"'],
    ["unknown option", [...C, "--bogus", "get", "k"], 'unknown flag "--bogus"'],
    ["--json with a value", [...C, "--json=yes", "get", "k"], "invalid --json: takes no value"],
    ["no controllers", ["get", "k"], "invalid --controllers: missing (or set $SHARDKV_CONTROLLERS)"],
    ["--controllers without value", ["get", "k", "--controllers"], "invalid --controllers: missing value"],
    ["--controllers followed by a flag", ["--controllers", "--json", "get", "k"], "invalid --controllers: missing value"],
    ["--controllers no port", ["--controllers", "a:1,b", "get", "k"], 'invalid --controllers: want host:port, got "b"'],
    ["--controllers duplicate", ["--controllers", "a:1,a:1", "get", "k"], '"a:1" is listed twice'],
    ["--timeout malformed", [...C, "--timeout", "soon", "get", "k"], "invalid --timeout: want a duration"],
    ["--timeout zero", [...C, "--timeout", "0", "get", "k"], "invalid --timeout"],
    ["--nats malformed", [...C, "--nats", "localhost", "get", "k"], "invalid --nats: want a URL like nats://host:4222"],
    ["--nats not a NATS scheme", [...C, "--nats", "ws://h:4222", "get", "k"], 'invalid --nats: want a URL like nats://host:4222 (nats:// or tls://, a host, optionally a port), got "ws://h:4222"'],
    ["a flag-like argument", [...C, "put", "k", "-x"], 'unknown flag "-x"'],
    ["get without key", [...C, "get"], "invalid get: want get KEY, got 0 arguments"],
    ["get two keys", [...C, "get", "a", "b"], "invalid get: want get KEY, got 2 arguments"],
    ["put without value", [...C, "put", "k"], "invalid put: want put KEY VALUE|-, got 1 argument"],
    ["append too many", [...C, "append", "k", "v", "w"], "invalid append: want append KEY VALUE|-, got 3 arguments"],
    ["delete without key", [...C, "delete"], "invalid delete: want delete KEY"],
    ["cas missing new", [...C, "cas", "k", "old"], "invalid cas: want cas KEY EXPECTED|--absent NEW|-, got 2 arguments"],
    ["cas --absent plus expected", [...C, "cas", "k", "--absent", "old", "new"], "invalid cas: want cas KEY EXPECTED|--absent NEW|-, got 3 arguments"],
    ["cas two stdins", [...C, "cas", "k", "-", "-"], 'at most one argument may be "-"'],
    ["--absent outside cas", [...C, "--absent", "put", "k", "v"], "invalid --absent: only valid with cas, not put"],
  ];
  it.each(cases)("%s", (_name, argv, want) => {
    const r = parseArgs(argv);
    expect(r.kind).toBe("usage-error");
    expect(r.kind === "usage-error" && r.message).toContain(want);
  });
});

describe("formatOutcome", () => {
  const b = (s: string) => new TextEncoder().encode(s);
  const str = (o: Uint8Array | string) => (typeof o === "string" ? o : new TextDecoder().decode(o));

  it("get: the value and a newline; absent prints nothing, exit 1", () => {
    const found = formatOutcome(false, { kind: "get", value: b("hello") });
    expect([str(found.stdout), found.exitCode]).toEqual(["hello\n", 0]);
    const absent = formatOutcome(false, { kind: "get", value: undefined });
    expect([str(absent.stdout), absent.exitCode]).toEqual(["", 1]);
  });

  it("get --json", () => {
    expect(str(formatOutcome(true, { kind: "get", value: b("hi") }).stdout)).toBe('{"found":true,"value":"hi"}\n');
    expect(formatOutcome(true, { kind: "get", value: undefined })).toEqual({ stdout: '{"found":false}\n', exitCode: 1 });
    expect(JSON.parse(str(formatOutcome(true, { kind: "get", value: new Uint8Array([0xff, 0]) }).stdout)))
      .toEqual({ found: true, value: "/wA=", encoding: "base64" });
  });

  it("put, append, delete, cas", () => {
    expect(formatOutcome(false, { kind: "put" })).toEqual({ stdout: "", exitCode: 0 });
    expect(formatOutcome(true, { kind: "append" })).toEqual({ stdout: '{"ok":true}\n', exitCode: 0 });
    expect(formatOutcome(false, { kind: "delete", existed: true })).toEqual({ stdout: "deleted\n", exitCode: 0 });
    expect(formatOutcome(false, { kind: "delete", existed: false })).toEqual({ stdout: "absent\n", exitCode: 0 });
    expect(formatOutcome(true, { kind: "delete", existed: false })).toEqual({ stdout: '{"existed":false}\n', exitCode: 0 });
    expect(formatOutcome(false, { kind: "cas", swapped: true, current: b("old") })).toEqual({ stdout: "swapped\n", exitCode: 0 });
    expect(formatOutcome(false, { kind: "cas", swapped: false, current: undefined })).toEqual({ stdout: "not swapped (key is absent)\n", exitCode: 1 });
    const ns = formatOutcome(false, { kind: "cas", swapped: false, current: b("other") });
    expect([str(ns.stdout), ns.exitCode]).toEqual(["not swapped; current value: other\n", 1]);
    expect(formatOutcome(true, { kind: "cas", swapped: false, current: b("x") })).toEqual({
      stdout: '{"swapped":false,"found":true,"value":"x"}\n', exitCode: 1,
    });
  });

  it("valueToJson: UTF-8 text or base64", () => {
    expect(valueToJson(b("é"))).toEqual({ value: "é" });
    expect(valueToJson(new Uint8Array([0xc3]))).toEqual({ value: "ww==", encoding: "base64" });
  });
});
