/**
 * The test hosts of one run (deploy/hosts/): `<dir>/hosts.json`, next to the cluster files of
 * deploy/local/layout.ts (cluster.json, data/, logs/, certs/) in the same directory.
 *
 * Every host is a network namespace named `<prefix><host>` (prefix `skvh-<run>-`, run a fresh
 * 8-hex-digit id), with one veth `eth0` into the bridge `br0` of the run's hub namespace
 * `<prefix>hub`, its address on 10.77.0.0/16 and its loopback up. Nothing of a run is in the
 * machine's root namespace: the hub's bridge links only the run's hosts, so no packet of the
 * test hosts leaves them.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What a host runs: a daemon (named as in cluster.json), a client, or the harness's own calls. */
export type HostRole = "controller" | "server" | "client" | "ctl";

/** One test host. */
export interface HostEntry {
  /** `c1`, `g1n2` (the daemon's node name), `cl1`, `ctl`. */
  readonly name: string;
  readonly role: HostRole;
  /** Its network namespace. */
  readonly ns: string;
  /** Its IPv4 address on the run's subnet. */
  readonly ip: string;
  /** Its veth's end in the hub namespace (a port of the bridge). */
  readonly hubLink: string;
}

/** The content of `<dir>/hosts.json`. */
export interface HostsFile {
  /** The run id (8 hex digits); every name the run creates carries it. */
  readonly run: string;
  /** `skvh-<run>-`: the prefix of every namespace of the run. */
  readonly prefix: string;
  /** The hub namespace, holding the bridge. */
  readonly hub: string;
  readonly bridge: string;
  readonly subnet: string;
  /** The port every daemon listens on, at its host's IP. */
  readonly port: number;
  readonly hosts: readonly HostEntry[];
  /** The daemons run under libfaketime, each clock skewable (clock.ts; `up --faketime`). */
  readonly faketime?: boolean;
  /** The daemons whose data directories are on lazyfs, so that they can lose unsynced writes (disk.ts; `up --disk-faults`). */
  readonly diskFaults?: readonly string[];
}

export const hostsFileName = "hosts.json";

/** Every namespace of the harness starts with this (then the run id). */
export const nsPrefixRoot = "skvh-";

/** The namespace prefix of run `run`. */
export const prefixOf = (run: string): string => `${nsPrefixRoot}${run}-`;

/** The interface of a host on the bridge, inside its namespace. */
export const hostLink = "eth0";

/** Subnet of every run (each run has its own bridge, so runs never see each other's addresses). */
export const subnetBase = "10.77";
export const subnetBits = 16;

/** The port of every daemon (each host has its own address, so one port serves all). */
export const daemonPort = 7000;

/**
 * The address of a host: controllers 10.77.1.<id>, servers of group g 10.77.<10+g>.<id>,
 * clients 10.77.250.<n>, the control host 10.77.254.1.
 */
export function ipOf(role: HostRole, opts: { id: number; gid?: number }): string {
  const third = { controller: 1, server: 10 + (opts.gid ?? 0), client: 250, ctl: 254 }[role];
  if (!(third >= 1 && third <= 254 && opts.id >= 1 && opts.id <= 254)) throw new Error(`no address for ${role} ${opts.gid ?? ""}/${opts.id}: at most 240 groups of 254`);
  return `${subnetBase}.${third}.${opts.id}`;
}

export function readHostsFile(dir: string): HostsFile | undefined {
  const p = join(dir, hostsFileName);
  if (!existsSync(p)) return undefined;
  const h = JSON.parse(readFileSync(p, "utf8")) as HostsFile;
  if (typeof h.run !== "string" || !Array.isArray(h.hosts)) throw new Error(`${p} is not a hosts file of deploy/hosts`);
  return h;
}

export function writeHostsFile(dir: string, h: HostsFile): void {
  const p = join(dir, hostsFileName);
  writeFileSync(`${p}.tmp`, JSON.stringify(h, null, 2) + "\n");
  renameSync(`${p}.tmp`, p);
}

/** Host `name` of `h`; throws listing the hosts. */
export function hostOf(h: HostsFile, name: string): HostEntry {
  const host = h.hosts.find((x) => x.name === name);
  if (!host) throw new Error(`unknown host ${JSON.stringify(name)}; hosts: ${h.hosts.map((x) => x.name).join(" ")}`);
  return host;
}

/** The hosts running daemons (controllers and servers), in hosts.json order. */
export const daemonHosts = (h: HostsFile): HostEntry[] => h.hosts.filter((x) => x.role === "controller" || x.role === "server");
