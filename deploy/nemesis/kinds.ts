/**
 * The nemesis's fault kinds: one table (`faultKinds`), one entry per kind. An entry draws the
 * parameters of one fault from the schedule's seeded PRNG (`plan`: pure, so a schedule file
 * holds every choice and replays exactly) and applies it to a running test-hosts cluster
 * (`start`: returns the active fault, whose `stop` undoes it). Adding a kind is adding an
 * entry; `layer` keeps two faults that would fight over the same thing (two partitions, two
 * link faults) out of the same time.
 *
 * Daemons are named in parameters by their group and position (`{ group: 1, index: 2 }`: the
 * third replica of group 1 in cluster.json at the time the fault starts), not by name, since a
 * membership change replaces a replica by one with a new name.
 */
import { join } from "node:path";
import { realClock } from "../../common/real-env";
import type { SimRng } from "../../common/seeded-rng";
import { LocalCluster } from "../local/cluster";
import { skewClock } from "../hosts/clock";
import { applyGrudge, applyNetem, clearNetem, type NetemSpec } from "../hosts/faults";
import { diskFaultNodes } from "../hosts/disk";
import { execIn, leaderOf, loadHosts, loseUnsyncedWrites, partition, restartNode } from "../hosts/harness";
import type { PartitionSpec } from "../hosts/args";

/** A fault's parameters as the schedule file stores them. */
export type FaultParams = Readonly<Record<string, unknown>>;

/** The cluster a schedule is planned for. */
export interface Topology {
  readonly controllers: number;
  readonly groups: number;
  readonly replicas: number;
  readonly clients: number;
  readonly shards: number;
}

/** What a starting fault gets: the run's hosts directory, its window length and a progress line. */
export interface FaultContext {
  readonly dir: string;
  readonly durationMs: number;
  readonly log: (line: string) => void;
}

/** A fault in effect. */
export interface ActiveFault {
  /** What it did, for the report ("isolate g1n2", "kill -9 c3"). */
  readonly label: string;
  /** Undoes it (heals the partition, restarts the node, ...); waits for an operation it started. */
  stop(): Promise<void>;
}

/** Faults of one layer never overlap in a schedule. */
export type FaultLayer = "partition" | "link" | "process" | "clock" | "topology";

export interface FaultKind {
  readonly name: string;
  readonly layer: FaultLayer;
  /** One line for the usage text and docs. */
  readonly what: string;
  /** The daemons run under libfaketime (hosts up --faketime). */
  readonly needsFaketime?: boolean;
  /** The shard replicas' data directories are on lazyfs (hosts up --disk-faults servers). */
  readonly needsDiskFaults?: boolean;
  plan(rng: SimRng, topo: Topology): FaultParams;
  start(ctx: FaultContext, params: FaultParams): Promise<ActiveFault>;
}

/** A daemon by position: the `index`-th node of `group` (a gid or "controllers"). */
type Slot = { readonly group: number | "controllers"; readonly index: number };

const pickGroup = (rng: SimRng, topo: Topology, controllers = true): number | "controllers" => {
  const gids = Array.from({ length: topo.groups }, (_, i) => i + 1);
  return rng.pick<number | "controllers">(controllers ? ["controllers", ...gids] : gids);
};
const pickSlot = (rng: SimRng, topo: Topology): Slot => {
  const group = pickGroup(rng, topo);
  return { group, index: rng.int(group === "controllers" ? topo.controllers : topo.replicas) };
};

/** The node of `slot` now (cluster.json); throws naming the group when it has fewer nodes. */
function nodeOf(dir: string, p: FaultParams): string {
  const slot = p as unknown as Slot;
  const c = LocalCluster.load(dir);
  try {
    const names = c.nodesOf(slot.group);
    const name = names[slot.index % names.length];
    if (name === undefined) throw new Error(`${slot.group === "controllers" ? "the controllers have" : `group ${slot.group} has`} no nodes`);
    return name;
  } finally {
    c.close();
  }
}

/** The host a daemon runs on: its own, or for a replacement replica the host it was started on (kinds.ts member). */
function hostOfNode(dir: string, node: string): string {
  const h = loadHosts(dir);
  if (h.hosts.some((x) => x.name === node)) return node;
  const c = LocalCluster.load(dir);
  const addr = c.node(node).addr;
  c.close();
  const host = h.hosts.find((x) => addr.startsWith(`${x.ip}:`));
  if (!host) throw new Error(`${node} (${addr}) runs on no host of run ${h.run}`);
  return host.name;
}

/** The hosts of the nodes of `group` now. */
function groupHostsNow(dir: string, group: number | "controllers"): string[] {
  const c = LocalCluster.load(dir);
  try {
    return [...new Set(c.nodesOf(group).map((n) => hostOfNode(dir, n)))];
  } finally {
    c.close();
  }
}

/** Runs shardctl on the control host; throws its error line. */
async function shardctl(dir: string, args: readonly string[]): Promise<string> {
  const r = await execIn(dir, "ctl", ["bin/shardctl", "--timeout", "20s", ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`shardctl ${args.join(" ")}: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`}`);
  return r.stdout;
}

const noStop = async (): Promise<void> => undefined;

const partitionShapes = ["isolate", "halves", "ring", "bridge", "one-way", "leader"] as const;

const partitionKind: FaultKind = {
  name: "partition",
  layer: "partition",
  what: "nftables partitions of the daemon hosts: a node isolated, halves, a majorities ring, a bridge, one-way, a group's leader isolated",
  plan(rng, topo) {
    const shape = rng.pick(partitionShapes);
    switch (shape) {
      case "isolate": case "one-way":
        return { shape, ...pickSlot(rng, topo) };
      case "halves":
        return { shape, ...(rng.bool() ? { group: pickGroup(rng, topo) } : {}) };
      case "ring":
        return { shape };
      case "bridge": case "leader":
        return { shape, group: pickGroup(rng, topo) };
    }
  },
  async start(ctx, p) {
    const group = p.group as number | "controllers" | undefined;
    const of = group === undefined ? "every daemon" : group === "controllers" ? "the controllers" : `g${group}`;
    let spec: PartitionSpec;
    let label: string;
    switch (p.shape as (typeof partitionShapes)[number]) {
      case "isolate": {
        const host = hostOfNode(ctx.dir, nodeOf(ctx.dir, p));
        spec = { kind: "isolate", hosts: [host] };
        label = `isolate ${host}`;
        break;
      }
      case "one-way": {
        // The node hears nothing from the rest of its group (it still sends to them).
        const host = hostOfNode(ctx.dir, nodeOf(ctx.dir, p));
        spec = { kind: "one-way", from: groupHostsNow(ctx.dir, group!).filter((x) => x !== host), to: [host] };
        label = `one-way: ${host} hears none of ${of}`;
        break;
      }
      case "leader": {
        const leader = await leaderOf(ctx.dir, group!, 20_000);
        spec = { kind: "isolate", hosts: [hostOfNode(ctx.dir, leader)] };
        label = `leader of ${of} isolated (${leader})`;
        break;
      }
      default: {
        const kind = p.shape as "halves" | "ring" | "bridge";
        spec = { kind, hosts: group === undefined ? daemonHostNames(ctx.dir) : groupHostsNow(ctx.dir, group) };
        label = `${kind} of ${of}`;
      }
    }
    const cuts = await partition(ctx.dir, spec);
    return { label: `partition ${label} (${cuts.length} cuts)`, stop: async () => applyGrudge(loadHosts(ctx.dir), new Map()) };
  },
};

/** Every daemon host of the run. */
const daemonHostNames = (dir: string): string[] => loadHosts(dir).hosts.filter((x) => x.role === "controller" || x.role === "server").map((x) => x.name);

const netemVariants = ["delay", "loss", "duplicate", "reorder", "mixed"] as const;

const netemKind: FaultKind = {
  name: "netem",
  layer: "link",
  what: "a daemon host's link: delay with jitter, loss, duplication or reordering (to every host, or to its group's peers)",
  plan(rng, topo) {
    const variant = rng.pick(netemVariants);
    const spec: NetemSpec = {
      delay: { delayMs: rng.range(50, 250), jitterMs: rng.range(10, 60) },
      loss: { lossPct: rng.range(5, 30) },
      duplicate: { duplicatePct: rng.range(5, 25) },
      reorder: { delayMs: rng.range(30, 100), reorderPct: rng.range(25, 50) },
      mixed: { delayMs: rng.range(20, 100), jitterMs: rng.range(5, 30), lossPct: rng.range(2, 10), duplicatePct: rng.range(2, 10) },
    }[variant];
    return { ...pickSlot(rng, topo), variant, spec, peersOnly: rng.bool(0.3) };
  },
  async start(ctx, p) {
    const host = hostOfNode(ctx.dir, nodeOf(ctx.dir, p));
    const spec = p.spec as NetemSpec;
    const to = p.peersOnly ? groupHostsNow(ctx.dir, p.group as number | "controllers").filter((x) => x !== host) : undefined;
    await applyNetem(loadHosts(ctx.dir), host, spec, to);
    const parts = [spec.delayMs && `delay ${spec.delayMs}ms${spec.jitterMs ? `±${spec.jitterMs}` : ""}`, spec.lossPct && `loss ${spec.lossPct}%`,
      spec.duplicatePct && `dup ${spec.duplicatePct}%`, spec.reorderPct && `reorder ${spec.reorderPct}%`].filter(Boolean);
    return { label: `netem ${host}${to ? " to its peers" : ""}: ${parts.join(" ")}`, stop: () => clearNetem(loadHosts(ctx.dir), host) };
  },
};

/** Process faults: a signal at the start, its undoing at the end. */
function processKind(name: string, what: string, verb: string, start: (c: LocalCluster, node: string) => Promise<unknown>,
  stop: (dir: string, node: string) => Promise<void>): FaultKind {
  return {
    name, layer: "process", what,
    plan: (rng, topo) => pickSlot(rng, topo),
    async start(ctx, p) {
      const node = nodeOf(ctx.dir, p);
      const c = LocalCluster.load(ctx.dir);
      try {
        await start(c, node);
      } finally {
        c.close();
      }
      return { label: `${verb} ${node}`, stop: () => stop(ctx.dir, node) };
    },
  };
}

const resume = async (dir: string, node: string): Promise<void> => {
  const c = LocalCluster.load(dir);
  try {
    await c.resume(node);
  } finally {
    c.close();
  }
};

const clockOffsetsMs = [-1_200_000, -120_000, -15_000, 15_000, 120_000, 1_200_000, 3_600_000] as const;

const clockKind: FaultKind = {
  name: "clock",
  layer: "clock",
  needsFaketime: true,
  what: "a daemon's wall clock skewed, then jumped to another offset half-way (libfaketime; the monotonic clock untouched)",
  plan: (rng, topo) => ({ ...pickSlot(rng, topo), offsetsMs: [rng.pick(clockOffsetsMs), rng.pick(clockOffsetsMs)] }),
  async start(ctx, p) {
    const node = nodeOf(ctx.dir, p);
    const host = hostOfNode(ctx.dir, node);
    const [a, b] = p.offsetsMs as [number, number];
    skewClock(ctx.dir, loadHosts(ctx.dir), host, a);
    const cancel = realClock.after(ctx.durationMs / 2, () => skewClock(ctx.dir, loadHosts(ctx.dir), host, b));
    const s = (ms: number): string => `${ms < 0 ? "-" : "+"}${Math.abs(ms) / 1000}s`;
    return {
      label: `clock ${host} ${s(a)} then ${s(b)}`,
      stop: async () => {
        cancel();
        skewClock(ctx.dir, loadHosts(ctx.dir), host, 0);
      },
    };
  },
};

const moveKind: FaultKind = {
  name: "move",
  layer: "topology",
  what: "a shard moved to another group (shardctl move on the control host; its migration runs during the window)",
  plan: (rng, topo) => ({ shard: rng.int(topo.shards) }),
  async start(ctx, p) {
    const shard = p.shard as number;
    const cfg = JSON.parse(await shardctl(ctx.dir, ["--json", "query"])) as { shards: number[]; groups: Record<string, string[]> };
    const gids = Object.keys(cfg.groups).map(Number).sort((x, y) => x - y);
    const from = cfg.shards[shard]!;
    const to = gids[(gids.indexOf(from) + 1) % gids.length]!;
    await shardctl(ctx.dir, ["move", String(shard), String(to)]);
    return { label: `move shard ${shard} g${from} -> g${to}`, stop: noStop };
  },
};

const transferKind: FaultKind = {
  name: "transfer",
  layer: "topology",
  what: "a group's leadership handed to another replica (shardctl handoff on the control host)",
  plan: (rng, topo) => ({ group: pickGroup(rng, topo) }),
  async start(ctx, p) {
    const group = p.group as number | "controllers";
    const leader = await leaderOf(ctx.dir, group, 20_000);
    const c = LocalCluster.load(ctx.dir);
    const addr = c.node(leader).addr;
    c.close();
    await shardctl(ctx.dir, ["handoff", addr]);
    return { label: `transfer: ${leader} hands off leadership`, stop: noStop };
  },
};

const memberKind: FaultKind = {
  name: "member",
  layer: "topology",
  what: "a replica replaced by a new one (new id, empty data directory, same host, next port) through the controller's replica change",
  plan: (rng, topo) => ({ group: pickGroup(rng, topo, false), index: rng.int(topo.replicas) }),
  async start(ctx, p) {
    const node = nodeOf(ctx.dir, p);
    const host = hostOfNode(ctx.dir, node);
    // The replacement runs on the control host's nemesis command (it speaks gRPC to the
    // cluster); the window's end waits for it.
    const done = execIn(ctx.dir, "ctl", [...nemesisCli, "ctl-replace", node, "--dir", ctx.dir], { timeoutMs: 300_000 });
    return {
      label: `member: replace ${node} (on ${host})`,
      stop: async () => {
        const r = await done;
        if (r.code !== 0) throw new Error(`replacing ${node}: ${r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`}`);
      },
    };
  },
};

/** The command that runs the nemesis's own CLI (its ctl-* commands run inside the control host). */
export const nemesisCli = [join("node_modules", ".bin", "tsx"), join("deploy", "nemesis", "main.ts")] as const;

/** Every fault kind, in the order `all` lists them. */
/**
 * Lost unsynced writes (deploy/hosts/disk.ts): a shard replica killed with SIGKILL, every
 * write it had not fsynced dropped by its lazyfs, restarted on what was synced. A replica that
 * a membership change put in since `up` is not on lazyfs: the next one of its group that is
 * takes the fault.
 */
const diskKind: FaultKind = {
  name: "disk",
  layer: "process",
  needsDiskFaults: true,
  what: "a shard replica killed with SIGKILL and restarted after losing every write it had not fsynced (lazyfs)",
  plan: (rng, topo) => ({ group: pickGroup(rng, topo, false), index: rng.int(topo.replicas) }),
  async start(ctx, p) {
    const onLazyfs = diskFaultNodes(loadHosts(ctx.dir));
    const c = LocalCluster.load(ctx.dir);
    let names: string[];
    try {
      names = c.nodesOf(p.group as number);
    } finally {
      c.close();
    }
    const from = (p.index as number) % Math.max(1, names.length);
    const node = [...names.slice(from), ...names.slice(0, from)].find((n) => onLazyfs.includes(n));
    if (node === undefined) throw new Error(`no replica of group ${String(p.group)} is on lazyfs (members: ${names.join(" ")})`);
    const lost = await loseUnsyncedWrites(ctx.dir, node);
    return { label: `lost unsynced writes of ${node} (${lost.bytes} B in ${lost.files.length} files)`, stop: async () => undefined };
  },
};

export const faultKinds: readonly FaultKind[] = [
  partitionKind,
  netemKind,
  processKind("kill", "kill -9 of a daemon, restarted at the window's end", "kill -9", (c, n) => c.kill(n), restartNode),
  processKind("pause", "SIGSTOP of a daemon, SIGCONT at the window's end", "SIGSTOP", (c, n) => c.pause(n), resume),
  processKind("restart", "a daemon stopped gracefully (SIGTERM: it hands off leadership), started at the window's end", "SIGTERM", (c, n) => c.stop(n), restartNode),
  clockKind,
  moveKind,
  transferKind,
  memberKind,
  diskKind,
];

/** The kind named `name`; throws listing the kinds. */
export function faultKind(name: string): FaultKind {
  const k = faultKinds.find((x) => x.name === name);
  if (!k) throw new Error(`unknown fault kind ${JSON.stringify(name)} (kinds: ${faultKinds.map((x) => x.name).join(", ")})`);
  return k;
}
