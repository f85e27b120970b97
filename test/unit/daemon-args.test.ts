/**
 * The daemons' command lines (controller/daemon-args.ts, shard-server/daemon-args.ts), parsed
 * with the shared parser: every flag, the defaults left to the daemon, and a strict refusal
 * (one line naming the flag) of unknown, repeated, missing and malformed flags. The same as
 * users meet it through the processes: test/integration/shard-daemon-args.test.ts and
 * controller-processes.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parseDaemonArgs, usage as controllerUsage } from "../../controller/daemon-args";
import { parseShardDaemonArgs, usage as serverUsage } from "../../shard-server/daemon-args";

const noEnv = {};
/** Every flag a daemon needs but the TLS ones (each case adds --insecure or TLS files). */
const ctl = ["--id", "1", "--listen", "127.0.0.1:7001", "--peers", "1=127.0.0.1:7001,2=127.0.0.1:7002", "--data", "d"];
const srv = ["--gid", "3", "--id", "2", "--listen", "127.0.0.1:9002", "--peers", "1=127.0.0.1:9001,2=127.0.0.1:9002", "--data", "g",
  "--controllers", "127.0.0.1:7001,127.0.0.1:7002"];
const insecure = ["--insecure"];

/** The one-line message the parse throws. */
function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect((e as Error).message).not.toContain("\n");
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

describe("shardkv-controller command line", () => {
  it("the required flags; optional ones absent", () => {
    expect(parseDaemonArgs([...ctl, ...insecure], noEnv)).toEqual({
      id: 1, listen: "127.0.0.1:7001", peers: new Map([[1, "127.0.0.1:7001"], [2, "127.0.0.1:7002"]]), data: "d", tls: { insecure: true },
    });
  });

  it("every flag, = or separate value", () => {
    expect(parseDaemonArgs([...ctl, ...insecure, "--shards=16", "--nats", "nats://127.0.0.1:4222", "--tick-ms", "50", "--snapshot-every", "10",
      "--failpoints", "on", "--join", "--log-level=debug", "--no-quiesce"], noEnv)).toMatchObject({
      shards: 16, nats: "nats://127.0.0.1:4222", tickMs: 50, snapshotEvery: 10, failpoints: {}, join: true, logLevel: "debug", quiesce: false,
    });
  });

  it("quiescence is on by default: --quiesce is accepted and changes nothing, --no-quiesce turns it off, not both", () => {
    expect(parseDaemonArgs([...ctl, ...insecure, "--quiesce"], noEnv)).not.toHaveProperty("quiesce");
    expect(parseDaemonArgs([...ctl, ...insecure, "--no-quiesce"], noEnv)).toMatchObject({ quiesce: false });
    expect(() => parseDaemonArgs([...ctl, ...insecure, "--quiesce", "--no-quiesce"], noEnv)).toThrow("--quiesce and --no-quiesce contradict each other");
    expect(() => parseShardDaemonArgs([...srv, ...insecure, "--no-quiesce", "--quiesce"], noEnv)).toThrow("--quiesce and --no-quiesce contradict each other");
  });

  it("help, wherever it is", () => {
    expect(parseDaemonArgs(["--bogus", "-h"], noEnv)).toBe("help");
    expect(controllerUsage).toMatch(/--snapshot-every N/);
  });

  it.each([
    [[...ctl, "--force"], 'unknown flag "--force"'],
    [[...ctl, "--shards", "0"], 'invalid --shards: want an integer in [1, 16384], got "0"'],
    [[...ctl, "--tick-ms"], "invalid --tick-ms: missing value"],
    [[...ctl, "--nats", "localhost"], 'invalid --nats: want a URL like nats://host:4222'],
    [[...ctl, "--id", "1"], "invalid --id: given twice"],
    [ctl.slice(2), "invalid --id: missing (required)"],
    [ctl.slice(0, 6), "invalid --data: missing (required)"],
    [["--id", "3", ...ctl.slice(2)], "invalid --peers: must include this replica's --id 3"],
    [["--id", "1", "--listen", "nohost", ...ctl.slice(4)], 'invalid --listen: want host:port, got "nohost"'],
    [[...ctl.slice(0, 6), "--data="], "invalid --data: must not be empty"],
    [[...ctl, "stray"], 'unexpected argument "stray"'],
    [[...ctl, "--profile", "staging"], 'invalid --profile: want one of development, production, got "staging"'],
    [[...ctl, "--log-level", "verbose"], 'invalid --log-level: want one of error, warn, info, debug, got "verbose"'],
  ])("%j: %s", (argv, want) => {
    expect(message(() => parseDaemonArgs([...argv, ...insecure], noEnv))).toContain(want);
  });
});

describe("shardkv-server command line", () => {
  it("the required flags; optional ones absent", () => {
    expect(parseShardDaemonArgs([...srv, ...insecure], noEnv)).toEqual({
      gid: 3, id: 2, listen: "127.0.0.1:9002", peers: new Map([[1, "127.0.0.1:9001"], [2, "127.0.0.1:9002"]]), data: "g",
      controllers: ["127.0.0.1:7001", "127.0.0.1:7002"], tls: { insecure: true },
    });
  });

  it("every flag", () => {
    expect(parseShardDaemonArgs([...srv, ...insecure, "--shards", "64", "--tick-ms", "20", "--nats", "tls://n:4443", "--dedup-ttl", "30s",
      "--snapshot-every", "500", "--migration-rate", "0.5", "--migration-window", "1.5", "--length-cache-keys", "0", "--join", "--log-level", "warn", "--no-quiesce"], noEnv)).toMatchObject({
      join: true, shards: 64, tickMs: 20, nats: "tls://n:4443", dedupTtlMs: 30_000, snapshotEvery: 500, migrationRateMiB: 0.5, migrationWindowMiB: 1.5, lengthCacheKeys: 0,
      logLevel: "warn", quiesce: false,
    });
  });

  it("help", () => {
    expect(parseShardDaemonArgs(["--help"], noEnv)).toBe("help");
    expect(serverUsage).toMatch(/--length-cache-keys N/);
  });

  it.each([
    [[...srv, "--dedup-ttl", "5x"], 'invalid --dedup-ttl: want a duration like 500ms, 10s or 2m (at least 1ms, at most 24h), got "5x"'],
    [[...srv, "--snapshot-every", "0"], 'invalid --snapshot-every: want an integer in [1, 100000000], got "0"'],
    [[...srv, "--migration-rate", "-1"], 'invalid --migration-rate: want MiB per second, a number in [0, 1048576] (0 = no cap), got "-1"'],
    [[...srv, "--migration-window", "65"], 'invalid --migration-window: want MiB, a number in [0, 64] (0 = one chunk at a time), got "65"'],
    [[...srv, "--length-cache-keys", "-1"], 'invalid --length-cache-keys: want an integer in [0, 100000000], got "-1"'],
    [[...srv.slice(0, -2), "--controllers", "a:1,a:1"], 'invalid --controllers: "a:1" is listed twice'],
    [srv.slice(2), "invalid --gid: missing (required)"],
    [srv.slice(0, -2), "invalid --controllers: missing (required)"],
    [["--gid", "x", ...srv.slice(2)], 'invalid --gid: want a positive integer, got "x"'],
    [[...srv, "--nats", "nats://h:4222/path"], "invalid --nats"],
    [[...srv, "--failpoints", "bogus"], 'invalid --failpoints: unknown failpoint "bogus"'],
    [[...srv, "--log-level", "WARN"], 'invalid --log-level: want one of error, warn, info, debug, got "WARN"'],
  ])("%j: %s", (argv, want) => {
    expect(message(() => parseShardDaemonArgs([...argv, ...insecure], noEnv))).toContain(want);
  });
});

describe("the daemons' --metrics-listen", () => {
  it("an address for both daemons; absent by default", () => {
    expect(parseDaemonArgs([...ctl, ...insecure, "--metrics-listen", "127.0.0.1:9100"], noEnv)).toMatchObject({ metricsListen: "127.0.0.1:9100" });
    expect(parseShardDaemonArgs([...srv, ...insecure, "--metrics-listen=0.0.0.0:9101"], noEnv)).toMatchObject({ metricsListen: "0.0.0.0:9101" });
    expect(parseDaemonArgs([...ctl, ...insecure], noEnv)).not.toHaveProperty("metricsListen");
    expect(controllerUsage).toMatch(/--metrics-listen host:port/);
    expect(serverUsage).toMatch(/--metrics-listen host:port/);
  });

  it.each([
    [["--metrics-listen", "9100"], 'invalid --metrics-listen: want host:port, got "9100"'],
    [["--metrics-listen", "h:70000"], 'invalid --metrics-listen: want host:port, got "h:70000"'],
    [["--metrics-listen"], "invalid --metrics-listen: missing value"],
  ])("%j: %s", (flags, want) => {
    expect(message(() => parseDaemonArgs([...ctl, ...insecure, ...flags], noEnv))).toContain(want);
    expect(message(() => parseShardDaemonArgs([...srv, ...insecure, ...flags], noEnv))).toContain(want);
  });
});

describe("the daemons' TLS flags (secure by default)", () => {
  it("--tls-dir, or the three files, or --insecure", () => {
    expect(parseDaemonArgs([...ctl, "--tls-dir", "certs/c1"], noEnv)).toMatchObject({ tls: { insecure: false, dir: "certs/c1" } });
    expect(parseShardDaemonArgs([...srv, "--tls-ca", "ca.crt", "--tls-cert", "n.crt", "--tls-key", "n.key"], noEnv))
      .toMatchObject({ tls: { insecure: false, files: { ca: "ca.crt", cert: "n.crt", key: "n.key" } } });
    expect(controllerUsage).toMatch(/--tls-dir DIR/);
    expect(serverUsage).toMatch(/--insecure/);
  });

  it.each([
    [[], "invalid TLS settings: none given: pass --tls-dir DIR (ca.crt, node.crt, node.key), or --tls-ca, --tls-cert and --tls-key; or --insecure"],
    [["--insecure", "--tls-dir", "d"], "invalid --insecure: cannot be combined with --tls-dir"],
    [["--insecure", "--tls-ca", "ca.crt"], "invalid --insecure: cannot be combined with --tls-ca"],
    [["--tls-dir", "d", "--tls-key", "k"], "invalid --tls-dir: give either --tls-dir or --tls-ca, --tls-cert and --tls-key, not both"],
    [["--tls-ca", "ca.crt", "--tls-key", "k"], "invalid --tls-cert: missing (--tls-ca, --tls-cert and --tls-key go together; or give --tls-dir)"],
    [["--tls-dir="], "invalid --tls-dir: must not be empty"],
    [["--insecure", "--insecure"], "invalid --insecure: given twice"],
  ])("%j: %s", (tls, want) => {
    expect(message(() => parseDaemonArgs([...ctl, ...tls], noEnv))).toContain(want);
    expect(message(() => parseShardDaemonArgs([...srv, ...tls], noEnv))).toContain(want);
  });
});
