/**
 * The network of the test hosts (deploy/hosts/hosts-file.ts has the plan): creating a run's
 * namespaces, bridge and veths, and removing them with every process still inside. Runs `ip`
 * (iproute2) as root; nothing is created in the machine's root namespace: the bridge is made
 * in the hub namespace and each veth is created there with its peer placed straight into the
 * host's namespace (`ip -n HUB link add ... peer name eth0 netns NS`).
 */
import { spawnSync } from "node:child_process";
import { delay, realClock } from "../../common/real-env";
import { type HostEntry, type HostsFile, hostLink, nsPrefixRoot, subnetBits } from "./hosts-file";

/**
 * Runs `cmd args...` and returns its stdout; throws one line naming the command and its
 * first line of stderr when it fails. `input` goes to its stdin.
 */
export function run(cmd: string, args: readonly string[], opts: { input?: string } = {}): string {
  const r = spawnSync(cmd, [...args], { encoding: "utf8", input: opts.input, maxBuffer: 16 << 20 });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().split("\n")[0] ?? "";
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal}): ${why}`);
  }
  return r.stdout;
}

/** Like run, but a failure is ignored (teardown of what may already be gone). */
export function tryRun(cmd: string, args: readonly string[], opts: { input?: string } = {}): boolean {
  try {
    run(cmd, args, opts);
    return true;
  } catch {
    return false;
  }
}

/** run's stdout, or "" when it fails. */
export function tryOutput(cmd: string, args: readonly string[]): string {
  try {
    return run(cmd, args);
  } catch {
    return "";
  }
}

/** Whether `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

/** The Debian package of each tool the harness may need. */
export const toolPackages: Readonly<Record<string, string>> = { ip: "iproute2", tc: "iproute2", nft: "nftables", iptables: "iptables", python3: "python3", faketime: "faketime" };

/**
 * Installs the Debian packages of the missing `tools` with apt-get (as .ci/run does for
 * nats-server); throws one line naming what is missing when that is impossible.
 */
export function ensureTools(tools: readonly string[], say: (line: string) => void = () => undefined): void {
  const missing = tools.filter((t) => !hasCommand(t));
  if (missing.length === 0) return;
  aptRequire([...new Set(missing.map((t) => toolPackages[t] ?? t))], missing, say);
}

/**
 * Installs Debian packages `pkgs` with apt-get, for what is `missing` (named in the messages);
 * throws one line when that is impossible.
 */
export function aptRequire(pkgs: readonly string[], missing: readonly string[], say: (line: string) => void = () => undefined): void {
  say(`installing ${pkgs.join(" ")} (missing: ${missing.join(" ")})`);
  if (!aptInstall(pkgs)) {
    throw new Error(`${missing.join(", ")} missing and \`apt-get install ${pkgs.join(" ")}\` failed; install it and try again`);
  }
}

/**
 * `apt-get update` then `apt-get install -y` of the Debian packages `pkgs` (root needed);
 * whether both succeeded. Used by ensureTools and by the nemesis plot's font lookup.
 */
export function aptInstall(pkgs: readonly string[]): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args: string[]): boolean => spawnSync("apt-get", args, { stdio: "ignore", env }).status === 0;
  return hasCommand("apt-get") && apt(["update", "-qq"]) && apt(["install", "-y", "-qq", ...pkgs]);
}

/** Throws one line unless this process runs as root (namespaces, veths and rules need it). */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error("the test hosts need root (network namespaces, veths, nftables, tc); run as root");
}

/** The network namespaces of this machine (`ip netns list`), names only. */
export function listNamespaces(): string[] {
  return run("ip", ["netns", "list"]).split("\n").map((l) => l.split(" ")[0]!).filter((n) => n !== "");
}

/** The runs (ids) that have a namespace on this machine, oldest unknown: sorted. */
export function listRuns(): string[] {
  const ids = listNamespaces().filter((n) => n.startsWith(nsPrefixRoot)).map((n) => n.slice(nsPrefixRoot.length).split("-")[0]!);
  return [...new Set(ids)].sort();
}

/**
 * Creates the run's hub (namespace, bridge up) and every host (namespace, veth into the
 * bridge, address, links up). On failure it removes what it made and rethrows.
 */
export function createNetwork(h: HostsFile): void {
  try {
    run("ip", ["netns", "add", h.hub]);
    run("ip", ["-n", h.hub, "link", "set", "lo", "up"]);
    run("ip", ["-n", h.hub, "link", "add", h.bridge, "type", "bridge"]);
    run("ip", ["-n", h.hub, "link", "set", h.bridge, "up"]);
    for (const host of h.hosts) addHost(h, host);
  } catch (e) {
    removeNetwork(h.prefix);
    throw e;
  }
}

function addHost(h: HostsFile, host: HostEntry): void {
  run("ip", ["netns", "add", host.ns]);
  run("ip", ["-n", host.ns, "link", "set", "lo", "up"]);
  run("ip", ["-n", h.hub, "link", "add", host.hubLink, "type", "veth", "peer", "name", hostLink, "netns", host.ns]);
  run("ip", ["-n", h.hub, "link", "set", host.hubLink, "master", h.bridge, "up"]);
  run("ip", ["-n", host.ns, "addr", "add", `${host.ip}/${subnetBits}`, "dev", hostLink]);
  run("ip", ["-n", host.ns, "link", "set", hostLink, "up"]);
}

/** The pids of every process inside namespace `ns` (`ip netns pids`); [] when it is gone. */
export function pidsIn(ns: string): number[] {
  try {
    return run("ip", ["netns", "pids", ns]).split("\n").filter((l) => l !== "").map(Number).filter((p) => p > 0 && p !== process.pid);
  } catch {
    return [];
  }
}

/**
 * SIGKILLs every process inside a namespace of `prefix` (they can only be the run's: nothing
 * else enters its namespaces), again for any that appear meanwhile, until none is left or
 * `timeoutMs` passes (then it throws naming them); returns the pids it killed.
 */
export async function killInside(prefix: string, timeoutMs = 10_000): Promise<number[]> {
  const nss = listNamespaces().filter((n) => n.startsWith(prefix));
  const killed = new Set<number>();
  const end = realClock.nowMs() + timeoutMs;
  for (;;) {
    // A process that has exited leaves its namespaces at once, zombie or not: `ip netns pids` omits it.
    const pids = nss.flatMap(pidsIn);
    if (pids.length === 0) return [...killed];
    if (realClock.nowMs() >= end) throw new Error(`pids ${pids.join(" ")} in the namespaces ${prefix}* survived SIGKILL`);
    for (const p of pids) {
      killed.add(p);
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await delay(25);
  }
}

/**
 * Deletes every namespace whose name starts with `prefix` (hosts first, then the hub);
 * deleting a namespace deletes its veth ends and with the hub the bridge. Returns the names
 * it deleted. Kill the processes inside first (killInside): a namespace a process still holds
 * lives on, unnamed, until that process ends.
 */
export function removeNetwork(prefix: string): string[] {
  const nss = listNamespaces().filter((n) => n.startsWith(prefix));
  const ordered = [...nss.filter((n) => !n.endsWith("-hub")), ...nss.filter((n) => n.endsWith("-hub"))];
  for (const ns of ordered) tryRun("ip", ["netns", "delete", ns]);
  const left = listNamespaces().filter((n) => n.startsWith(prefix));
  if (left.length > 0) throw new Error(`could not delete the namespaces ${left.join(" ")}`);
  return ordered;
}
