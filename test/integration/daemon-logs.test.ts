/**
 * Real processes: the daemons' structured logs (common/daemon-log.ts) as an operator reads
 * them from stderr (a pipe, not a terminal, so JSON lines). A controller and a shard server
 * write only JSON lines, each with level, time, gid, node and msg, and once their Raft node
 * is open the term it is in; a SIGTERM ends in exit 0 with the "stopped" line. With
 * `--log-level warn` a daemon writes its warnings (the "running INSECURE" line) and none of
 * its info lines; a bad level is refused in one line.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePorts } from "../../deploy/local/process";
import { waitFor } from "../lib/wait";

const binDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin");
const controllerBin = join(binDir, "shardkv-controller");
const serverBin = join(binDir, "shardkv-server");

interface Daemon {
  readonly proc: ChildProcess;
  /** Every stderr line so far. */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

function start(bin: string, args: readonly string[]): Daemon {
  const proc = spawn(bin, [...args], { stdio: ["ignore", "ignore", "pipe"] });
  const lines: string[] = [];
  let rest = "";
  proc.stderr!.setEncoding("utf8").on("data", (s: string) => {
    const parts = (rest + s).split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, lines, exited };
}

const parsed = (d: Daemon): Record<string, unknown>[] => d.lines.map((l) => {
  expect(() => JSON.parse(l), l).not.toThrow();
  return JSON.parse(l) as Record<string, unknown>;
});

describe("daemon logs (real processes)", { timeout: 120_000 }, () => {
  let root: string;
  const running: Daemon[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "shardkv-daemon-logs-"));
  });
  afterAll(async () => {
    for (const d of running) d.proc.kill("SIGKILL");
    await Promise.all(running.map((d) => d.exited));
    rmSync(root, { recursive: true, force: true });
  });

  it("JSON lines with level, time, gid, node, msg, and the term once Raft runs; SIGTERM stops with exit 0", async () => {
    const [cport, sport] = await freePorts(2);
    const caddr = `127.0.0.1:${cport}`;
    const saddr = `127.0.0.1:${sport}`;
    const ctl = start(controllerBin, ["--id", "1", "--listen", caddr, "--peers", `1=${caddr}`, "--data", join(root, "c1"), "--insecure", "--tick-ms", "20", "--shards", "4"]);
    running.push(ctl);
    const srv = start(serverBin, ["--gid", "1", "--id", "1", "--listen", saddr, "--peers", `1=${saddr}`, "--data", join(root, "g1n1"),
      "--controllers", caddr, "--insecure", "--tick-ms", "20"]);
    running.push(srv);
    const leads = (d: Daemon) => d.lines.some((l) => / leader in term \d+/.test(l));
    await waitFor(() => leads(ctl) && leads(srv), { timeoutMs: 60_000, what: `both to lead: ${ctl.lines.join("\n")}\n${srv.lines.join("\n")}` });
    srv.proc.kill("SIGTERM");
    ctl.proc.kill("SIGTERM");
    expect(await srv.exited).toBe(0);
    expect(await ctl.exited).toBe(0);

    for (const [d, gid] of [[ctl, 0], [srv, 1]] as const) {
      const lines = parsed(d);
      for (const l of lines) {
        expect(l, JSON.stringify(l)).toMatchObject({ gid, node: 1 });
        expect(["debug", "info", "warn", "error"]).toContain(l["level"]);
        expect(l["time"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(typeof l["msg"]).toBe("string");
      }
      // From the role change on (the node is open), every line carries the term it is in.
      const lead = lines.findIndex((l) => / leader in term \d+/.test(l["msg"] as string));
      expect(lead).toBeGreaterThanOrEqual(0);
      const leaderTerm = Number(/ leader in term (\d+)/.exec(lines[lead]!["msg"] as string)![1]);
      expect(lines[lead]!["term"]).toBe(leaderTerm);
      for (const l of lines.slice(lead)) expect(typeof l["term"], JSON.stringify(l)).toBe("number");
      expect(lines.some((l) => l["msg"] === "SIGTERM: shutting down")).toBe(true);
      expect(lines.some((l) => / stopped$/.test(l["msg"] as string))).toBe(true);
      expect(lines.some((l) => l["level"] === "info")).toBe(true);
    }
  });

  it("--log-level warn writes warnings and no info line", async () => {
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const ctl = start(controllerBin, ["--id", "1", "--listen", addr, "--peers", `1=${addr}`, "--data", join(root, "c-warn"), "--insecure",
      "--tick-ms", "20", "--log-level", "warn"]);
    running.push(ctl);
    // The warning comes after the start, whose "listening on" (info) line the default level writes before it.
    await waitFor(() => ctl.lines.some((l) => l.includes("running INSECURE")), { timeoutMs: 60_000, what: `the INSECURE warning: ${ctl.lines.join("\n")}` });
    ctl.proc.kill("SIGTERM");
    expect(await ctl.exited).toBe(0);
    const lines = parsed(ctl);
    expect(lines.filter((l) => l["level"] === "info")).toEqual([]);
    expect(lines.filter((l) => l["level"] === "warn").map((l) => l["msg"])).toContain(
      "running INSECURE (--insecure): no TLS, no authentication; anyone who can reach this port can read and change all data");
  });

  it("a bad --log-level is refused in one line, exit 2", () => {
    const r = spawnSync(serverBin, ["--gid", "1", "--id", "1", "--listen", "127.0.0.1:1", "--peers", "1=127.0.0.1:1", "--data", join(root, "bad"),
      "--controllers", "127.0.0.1:2", "--insecure", "--log-level", "loud"], { encoding: "utf8", timeout: 30_000 });
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 2, stderr: 'shardkv-server: invalid --log-level: want one of error, warn, info, debug, got "loud" (--help for usage)\n',
    });
  });
});
