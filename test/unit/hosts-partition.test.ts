/**
 * The partitions of the test hosts (deploy/hosts/partition.ts) as grudges, and the command
 * line of `npm run hosts` (deploy/hosts/args.ts): pure, no namespaces.
 */
import { describe, expect, it } from "vitest";
import { UsageError } from "../../common/cli-args";
import { parseHostsArgs } from "../../deploy/hosts/args";
import { netemArgs } from "../../deploy/hosts/faults";
import { type Grudge, bridgeGrudge, halvesGrudge, isolateGrudge, oneWayGrudge, ringGrudge } from "../../deploy/hosts/partition";

/** Who `a` can hold a TCP connection with: both directions pass. */
function sees(g: Grudge, hosts: readonly string[], a: string): string[] {
  return hosts.filter((b) => b === a || (!g.get(a)?.has(b) && !g.get(b)?.has(a)));
}

const five = ["a", "b", "c", "d", "e"];
const three = ["a", "b", "c"];

describe("partitions", () => {
  it("isolate cuts the named hosts from every other, both ways, and nothing else", () => {
    const g = isolateGrudge(five, ["c"]);
    expect(sees(g, five, "c")).toEqual(["c"]);
    for (const x of ["a", "b", "d", "e"]) expect(sees(g, five, x)).toEqual(["a", "b", "d", "e"]);
  });

  it("halves split into two sides that do not see each other", () => {
    const g = halvesGrudge(five);
    expect(sees(g, five, "a")).toEqual(["a", "b"]);
    expect(sees(g, five, "e")).toEqual(["c", "d", "e"]);
  });

  it("bridge: two majorities sharing one host", () => {
    const g = bridgeGrudge(three);
    expect(sees(g, three, "a")).toEqual(["a", "b"]);
    expect(sees(g, three, "b")).toEqual(three);
    expect(sees(g, three, "c")).toEqual(["b", "c"]);
    const g5 = bridgeGrudge(five);
    expect(sees(g5, five, "a")).toEqual(["a", "b", "c"]);
    expect(sees(g5, five, "e")).toEqual(["c", "d", "e"]);
    expect(() => bridgeGrudge(["a", "b"])).toThrow("at least 3 hosts");
  });

  it("ring: every host sees a majority, no two the same", () => {
    for (const hosts of [five, ["a", "b", "c", "d", "e", "f", "g"]]) {
      const g = ringGrudge(hosts);
      const views = hosts.map((x) => sees(g, hosts, x).join(""));
      for (const v of views) {
        expect(v.length).toBeGreaterThanOrEqual(Math.floor(hosts.length / 2) + 1);
        expect(v.length).toBeLessThan(hosts.length);
      }
      expect(new Set(views).size).toBe(hosts.length);
    }
    expect(() => ringGrudge(three)).toThrow("at least 5 hosts, got 3 (with 3 use bridge)");
  });

  it("one-way drops only from the senders to the receivers", () => {
    const g = oneWayGrudge(["a"], ["b", "c"]);
    expect([...g].map(([to, from]) => [to, [...from]])).toEqual([["b", ["a"]], ["c", ["a"]]]);
  });
});

describe("netem arguments", () => {
  it("builds tc's words and refuses what netem cannot do", () => {
    expect(netemArgs({ delayMs: 100, jitterMs: 20, lossPct: 10, duplicatePct: 5, reorderPct: 25 }))
      .toEqual(["delay", "100ms", "20ms", "loss", "10%", "duplicate", "5%", "reorder", "25%"]);
    expect(() => netemArgs({ reorderPct: 25 })).toThrow("--jitter and --reorder need --delay");
    expect(() => netemArgs({})).toThrow("nothing to do");
  });
});

describe("npm run hosts command line", () => {
  it("parses each command", () => {
    expect(parseHostsArgs(["up", "--groups", "2", "--dir", "/tmp/x"])).toEqual({
      kind: "up", dir: "/tmp/x", controllers: 3, groups: 2, replicas: 3, clients: 1, shards: 12, tickMs: undefined, timeoutMs: undefined, faketime: false,
    });
    expect(parseHostsArgs(["up", "--disk-faults", "servers"])).toMatchObject({ kind: "up", diskFaults: "servers" });
    expect(parseHostsArgs(["up", "--disk-faults", "g1n1,c2"])).toMatchObject({ kind: "up", diskFaults: ["g1n1", "c2"] });
    expect(() => parseHostsArgs(["up", "--disk-faults", "G1"])).toThrow("--disk-faults");
    expect(() => parseHostsArgs(["down", "--disk-faults", "all"])).toThrow("--disk-faults");
    expect(parseHostsArgs(["lose-unsynced", "g1n2"])).toMatchObject({ kind: "lose-unsynced", node: "g1n2" });
    expect(() => parseHostsArgs(["lose-unsynced"])).toThrow("one node name");
    expect(parseHostsArgs(["skew", "g1n2", "-5m"])).toMatchObject({ kind: "skew", node: "g1n2", offsetMs: -300_000 });
    expect(parseHostsArgs(["skew", "c1", "+1h"])).toMatchObject({ offsetMs: 3_600_000 });
    expect(parseHostsArgs(["skew", "c1", "0"])).toMatchObject({ offsetMs: 0 });
    expect(parseHostsArgs(["exec", "cl1", "--", "bin/shardkv", "--json", "get", "k"])).toMatchObject({ kind: "exec", host: "cl1", cmd: ["bin/shardkv", "--json", "get", "k"] });
    expect(parseHostsArgs(["partition", "bridge", "--group", "controllers"])).toMatchObject({ spec: { kind: "bridge", group: "controllers" } });
    expect(parseHostsArgs(["partition", "one-way", "c1,c2", "g1n1"])).toMatchObject({ spec: { kind: "one-way", from: ["c1", "c2"], to: ["g1n1"] } });
    expect(parseHostsArgs(["partition", "leader", "1"])).toMatchObject({ spec: { kind: "leader", group: 1 } });
    expect(parseHostsArgs(["netem", "g1n1", "--delay", "100ms", "--jitter", "20ms", "--loss", "0.5", "--to", "g1n2,g1n3"]))
      .toMatchObject({ host: "g1n1", to: ["g1n2", "g1n3"], spec: { delayMs: 100, jitterMs: 20, lossPct: 0.5 } });
    expect(parseHostsArgs(["down", "--run", "0a1b2c3d"])).toMatchObject({ kind: "down", run: "0a1b2c3d", allRuns: false });
  });

  it("refuses mistakes with one line naming what was wrong", () => {
    const refused = (argv: string[]): string => {
      try {
        parseHostsArgs(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${argv.join(" ")}`);
    };
    expect(refused(["netem", "g1n1", "--loss", "150"])).toBe('invalid --loss: want a percentage in [0, 100] like 10 or 0.5, got "150"');
    expect(refused(["netem", "g1n1"])).toBe("netem needs --delay, --loss, --duplicate or --reorder (or --clear)");
    expect(refused(["partition", "square"])).toBe('partition needs a kind (isolate, halves, bridge, ring, one-way, leader), got "square"');
    expect(refused(["partition", "isolate", "C1"])).toBe('invalid HOST: want host names like c1,g1n2,cl1 separated by commas, got "C1"');
    expect(refused(["exec", "cl1"])).toBe("exec needs a command after --: exec HOST -- CMD [ARGS...]");
    expect(refused(["down", "--run", "xyz"])).toBe('invalid --run: want a run id of 8 hex digits (see `runs`), got "xyz"');
    expect(refused(["kill", "g1n1", "--delay", "1s"])).toMatch(/--delay/);
    expect(refused(["skew", "g1n1", "soon"])).toBe('invalid OFFSET: want an offset like +30s, -5m, +1h or 0 (at most a year), got "soon"');
    expect(refused(["skew", "g1n1"])).toBe("skew takes a node and an offset (skew g1n2 +30s), got 1 arguments");
  });
});
