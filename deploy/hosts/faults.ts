/**
 * Network faults of the test hosts, applied from outside the processes, inside the hosts'
 * namespaces: partitions as nftables rules (table `inet skvh_fault`, an input chain dropping
 * packets by source address), and `tc netem` on a host's link (delay with jitter, loss,
 * duplication, reordering; for every packet the host sends, or only for those to some hosts;
 * loss and duplication through nftables on a kernel without netem: see applyNetem).
 * Each has its inverse; healNetwork removes both from every host. The namespaces belong to
 * the run, so its rules vanish with them (`down`) even if heal never ran.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { procState, repoRoot, stopNode } from "../local/process";
import { type HostEntry, type HostsFile, hostLink, hostOf } from "./hosts-file";
import { type Grudge } from "./partition";
import { ensureTools, hasCommand, pidsIn, run, tryOutput, tryRun } from "./net";

/** The nftables table of the faults in each host namespace. */
export const faultTable = "skvh_fault";

/** An empty-then-delete preamble: makes the next lines replace the table whether or not it exists. */
const resetTable = `add table inet ${faultTable}\ndelete table inet ${faultTable}\n`;

const nft = (host: HostEntry, script: string): void => void run("ip", ["netns", "exec", host.ns, "nft", "-f", "-"], { input: script });

/**
 * Makes `g` the partition of the run: every host of the run gets exactly the drops `g` gives
 * it (a host `g` does not name drops nothing), replacing any earlier partition.
 */
export function applyGrudge(h: HostsFile, g: Grudge): void {
  for (const name of g.keys()) hostOf(h, name);
  for (const host of h.hosts) {
    const froms = [...(g.get(host.name) ?? [])].map((n) => hostOf(h, n).ip);
    if (froms.length === 0) {
      nft(host, resetTable);
      continue;
    }
    nft(host, `${resetTable}table inet ${faultTable} {\n  chain input {\n    type filter hook input priority filter; policy accept;\n`
      + `    ip saddr { ${froms.join(", ")} } drop\n  }\n}\n`);
  }
}

/** The addresses host `name` drops packets from, as its namespace's rules say ([] when none). */
export function droppedSources(h: HostsFile, name: string): string[] {
  const text = tryOutput("ip", ["netns", "exec", hostOf(h, name).ns, "nft", "list", "table", "inet", faultTable]);
  // nft prints a long set over several lines.
  const m = /ip saddr \{?([^}]*?)\}? drop/.exec(text);
  return m ? m[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "") : [];
}

/** What netem does to the packets a host sends. Percentages in [0, 100]. */
export interface NetemSpec {
  readonly delayMs?: number;
  /** Delay varies by up to this much either way (needs delayMs). */
  readonly jitterMs?: number;
  readonly lossPct?: number;
  readonly duplicatePct?: number;
  /** This share of packets is sent at once, the rest delayed (needs delayMs). */
  readonly reorderPct?: number;
}

/** netem's arguments for `s`; throws one line when it asks for nothing or lacks a delay. */
export function netemArgs(s: NetemSpec): string[] {
  if ((s.jitterMs !== undefined || s.reorderPct !== undefined) && !s.delayMs) {
    throw new Error("netem: --jitter and --reorder need --delay (netem reorders by delaying the other packets)");
  }
  const a: string[] = [];
  if (s.delayMs) a.push("delay", `${s.delayMs}ms`, ...(s.jitterMs ? [`${s.jitterMs}ms`] : []));
  if (s.lossPct) a.push("loss", `${s.lossPct}%`);
  if (s.duplicatePct) a.push("duplicate", `${s.duplicatePct}%`);
  if (s.reorderPct) a.push("reorder", `${s.reorderPct}%`);
  if (a.length === 0) throw new Error("netem: nothing to do; give --delay, --loss, --duplicate or --reorder (or --clear)");
  return a;
}

/** The nftables table of the link faults (loss, duplication) when the kernel has no netem. */
export const linkTable = "skvh_link";

/** Whether this kernel has the netem qdisc (probed once, on host `host`'s loopback). */
let netemKernel: boolean | undefined;
export function kernelHasNetem(host: HostEntry): boolean {
  if (netemKernel === undefined) {
    netemKernel = tryRun("tc", ["-n", host.ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
    if (netemKernel) tryRun("tc", ["-n", host.ns, "qdisc", "del", "dev", "lo", "root"]);
  }
  return netemKernel;
}

/**
 * netem on host `name`'s link, replacing what it had: for every packet it sends, or (with
 * `to`) only for packets to those hosts (an htb root whose default class passes everything
 * and whose second class, fed by one u32 filter per destination, holds the netem).
 *
 * A kernel without netem (CONFIG_NET_SCH_NETEM unset, as on this project's CI VMs) gets the
 * same faults another way, still in the host's kernel path, per destination host: loss and
 * duplication from nftables (table `ip skvh_link`, `numgen random` drawing which packets to
 * drop or `dup`); delay, jitter and reordering from an iptables NFQUEUE rule (chain
 * SKVH_DELAY of OUTPUT) whose queue nfq-delay.py, running in the host's namespace, releases
 * each packet after the delay plus a draw of jitter (so packets overtake each other), or at
 * once for the reorder share (see that file).
 */
export async function applyNetem(h: HostsFile, name: string, spec: NetemSpec, to?: readonly string[]): Promise<void> {
  const host = hostOf(h, name);
  const args = netemArgs(spec);
  const dests = (to ?? []).map((n) => hostOf(h, n));
  await clearNetem(h, name);
  if (!kernelHasNetem(host)) {
    const others = dests.length > 0 ? dests : h.hosts.filter((x) => x.name !== name);
    applyNftLink(host, spec, others);
    if (spec.delayMs) await startDelayer(host, spec, others);
    return;
  }
  const tc = (a: string[]): string => run("tc", ["-n", host.ns, ...a]);
  if (dests.length === 0) {
    tc(["qdisc", "add", "dev", hostLink, "root", "netem", ...args]);
    return;
  }
  tc(["qdisc", "add", "dev", hostLink, "root", "handle", "1:", "htb", "default", "1"]);
  tc(["class", "add", "dev", hostLink, "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit"]);
  tc(["class", "add", "dev", hostLink, "parent", "1:", "classid", "1:2", "htb", "rate", "10gbit"]);
  tc(["qdisc", "add", "dev", hostLink, "parent", "1:2", "handle", "20:", "netem", ...args]);
  for (const d of dests) tc(["filter", "add", "dev", hostLink, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", `${d.ip}/32`, "flowid", "1:2"]);
}

/** The delayer (a kernel without netem): deploy/hosts/nfq-delay.py. */
export const delayerScript = join(repoRoot, "deploy", "hosts", "nfq-delay.py");
/** Its iptables chain in each host namespace. */
export const delayChain = "SKVH_DELAY";

/**
 * Starts nfq-delay.py in `host`'s namespace (waiting for its line saying it bound the queue),
 * then queues to it what `host` sends to `dests`.
 */
async function startDelayer(host: HostEntry, spec: NetemSpec, dests: readonly HostEntry[]): Promise<void> {
  ensureTools(["iptables", "python3"]);
  const child = spawn("ip", ["netns", "exec", host.ns, "python3", delayerScript, "--queue", "0", "--delay-ms", String(spec.delayMs),
    "--jitter-ms", String(spec.jitterMs ?? 0), "--reorder-pct", String(spec.reorderPct ?? 0)], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const started = await new Promise<string | undefined>((res) => {
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (x: string) => (err += x));
    let line = "";
    child.stdout.setEncoding("utf8").on("data", (x: string) => {
      line += x;
      if (line.includes("\n")) res(undefined);
    });
    child.once("exit", (code) => res(`nfq-delay.py exited (${code}): ${err.trim().split("\n").at(-1) ?? ""}`));
    child.once("error", (e) => res(`cannot run python3: ${e.message}`));
  });
  child.stdout.destroy();
  child.stderr.destroy();
  child.unref();
  if (started !== undefined) throw new Error(`netem on ${host.name}: ${started}`);
  const ipt = (a: string[]): string => run("ip", ["netns", "exec", host.ns, "iptables", "-w", ...a]);
  ipt(["-N", delayChain]);
  ipt(["-A", "OUTPUT", "-j", delayChain]);
  for (const d of dests) ipt(["-A", delayChain, "-d", `${d.ip}/32`, "-m", "comment", "--comment", `to ${d.name}`, "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"]);
}

/** The pids of nfq-delay.py in `host`'s namespace. */
function delayerPids(host: HostEntry): number[] {
  return pidsIn(host.ns).filter((p) => procState(p, delayerScript) !== "gone");
}

/**
 * How many packets host `name`'s delay went through so far: those netem's qdisc sent, or those
 * its iptables rules queued to the delayer. Proof that a delay fault really hit traffic.
 */
export function netemDelayed(h: HostsFile, name: string): number {
  const host = hostOf(h, name);
  const netem = /qdisc netem[^\n]*\n\s*Sent \d+ bytes (\d+) pkt/.exec(tryOutput("tc", ["-n", host.ns, "-s", "qdisc", "show", "dev", hostLink]));
  if (netem) return Number(netem[1]);
  const out = tryOutput("ip", ["netns", "exec", host.ns, "iptables", "-w", "-L", delayChain, "-n", "-v", "-x"]);
  return out.split("\n").filter((l) => l.includes("NFQUEUE")).reduce((n, l) => n + Number(l.trim().split(/\s+/)[0]), 0);
}

/** Loss and duplication of what `host` sends to `dests`, with nftables (see applyNetem). */
function applyNftLink(host: HostEntry, spec: NetemSpec, dests: readonly HostEntry[]): void {
  // numgen draws 0..9999: percentages to two decimals.
  const share = (pct: number): number => Math.round(pct * 100);
  const rules = dests.flatMap((d) => [
    ...(spec.lossPct ? [`ip daddr ${d.ip} numgen random mod 10000 < ${share(spec.lossPct)} counter drop comment "loss ${spec.lossPct}% to ${d.name}"`] : []),
    ...(spec.duplicatePct ? [`ip daddr ${d.ip} numgen random mod 10000 < ${share(spec.duplicatePct)} counter dup to ${d.ip} comment "duplicate ${spec.duplicatePct}% to ${d.name}"`] : []),
  ]);
  if (rules.length === 0) return;
  run("ip", ["netns", "exec", host.ns, "nft", "-f", "-"], {
    input: `add table ip ${linkTable}\ndelete table ip ${linkTable}\ntable ip ${linkTable} {\n  chain output {\n`
      + `    type filter hook output priority filter; policy accept;\n${rules.map((r) => `    ${r}\n`).join("")}  }\n}\n`,
  });
}

/** Removes host `name`'s netem (its link back to the default queue), nftables link faults and delayer. */
export async function clearNetem(h: HostsFile, name: string): Promise<void> {
  const host = hostOf(h, name);
  // Deleting what is not there fails ("no qdisc", "no chain"): nothing to clear.
  tryRun("tc", ["-n", host.ns, "qdisc", "del", "dev", hostLink, "root"]);
  tryRun("ip", ["netns", "exec", host.ns, "nft", "-f", "-"], { input: `add table ip ${linkTable}\ndelete table ip ${linkTable}\n` });
  if (hasCommand("iptables")) {
    tryRun("ip", ["netns", "exec", host.ns, "iptables", "-w", "-D", "OUTPUT", "-j", delayChain]);
    tryRun("ip", ["netns", "exec", host.ns, "iptables", "-w", "-F", delayChain]);
    tryRun("ip", ["netns", "exec", host.ns, "iptables", "-w", "-X", delayChain]);
  }
  // The rule is gone first, so no packet is queued to a delayer that stops.
  for (const pid of delayerPids(host)) await stopNode(pid, delayerScript, 2000);
}

/** What host `name`'s link does to what it sends: the netem line, or the nftables faults; "" when nothing. */
export function netemOf(h: HostsFile, name: string): string {
  const host = hostOf(h, name);
  const line = tryOutput("tc", ["-n", host.ns, "qdisc", "show", "dev", hostLink]).split("\n").find((l) => l.includes("netem"));
  if (line) return line.replace(/^qdisc netem \S+ (root|parent \S+)\s*/, "").replace(/(refcnt|limit) \d+\s*/g, "").trim();
  const rules = tryOutput("ip", ["netns", "exec", host.ns, "nft", "list", "table", "ip", linkTable]);
  const delayer = delayerPids(host).map((p) => {
    const a = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
    const v = (flag: string): string => a[a.indexOf(flag) + 1] ?? "?";
    return `delay ${v("--delay-ms")}ms ±${v("--jitter-ms")}ms reorder ${v("--reorder-pct")}% (nfqueue)`;
  });
  return [...delayer, ...[...rules.matchAll(/comment "([^"]*)"/g)].map((m) => m[1])].join(", ");
}

/**
 * How many packets host `name`'s link faults dropped so far (netem's `dropped`, or the
 * counters of the nftables loss rules): proof that a loss fault really hit traffic.
 */
export function netemDrops(h: HostsFile, name: string): number {
  const host = hostOf(h, name);
  const stats = tryOutput("tc", ["-n", host.ns, "-s", "qdisc", "show", "dev", hostLink]);
  const netem = /qdisc netem[\s\S]*?dropped (\d+)/.exec(stats);
  if (netem) return Number(netem[1]);
  const rules = tryOutput("ip", ["netns", "exec", host.ns, "nft", "list", "table", "ip", linkTable]);
  return [...rules.matchAll(/counter packets (\d+) bytes \d+ drop/g)].reduce((n, m) => n + Number(m[1]), 0);
}

/** Removes every partition and netem of the run (what `heal` does to the network). */
export async function healNetwork(h: HostsFile): Promise<void> {
  for (const host of h.hosts) {
    nft(host, resetTable);
    await clearNetem(h, host.name);
  }
}
