/**
 * Partitions of the test hosts as grudges (Jepsen's model): host -> the hosts whose packets it
 * drops. Pure: faults.ts turns a grudge into nftables rules inside each host's namespace (a
 * rule in host B's input chain dropping packets from A cuts A -> B; both directions are cut by
 * rules on both hosts). A TCP connection needs both directions, so a one-way cut stops the
 * connections between the two hosts too, but only after the packets that did pass.
 */

/** host -> hosts it drops packets from. */
export type Grudge = Map<string, Set<string>>;

/** The partition kinds (`npm run hosts -- partition KIND`). */
export const partitionKinds = ["isolate", "halves", "bridge", "ring", "one-way"] as const;
export type PartitionKind = (typeof partitionKinds)[number];

/** Adds `from -> to` cuts for every pair (from in `froms`, to in `tos`, from != to). */
function cut(g: Grudge, froms: readonly string[], tos: readonly string[]): void {
  for (const to of tos) {
    for (const from of froms) {
      if (from === to) continue;
      let s = g.get(to);
      if (!s) g.set(to, (s = new Set()));
      s.add(from);
    }
  }
}

/** Cuts every pair of hosts that are not together in one of `components` (both directions). */
export function componentsGrudge(hosts: readonly string[], components: readonly (readonly string[])[]): Grudge {
  const g: Grudge = new Map();
  for (const a of hosts) {
    for (const b of hosts) {
      if (a !== b && !components.some((c) => c.includes(a) && c.includes(b))) cut(g, [a], [b]);
    }
  }
  return g;
}

/** `isolated` hosts cut from every other host of `all` (and from each other), both ways. */
export function isolateGrudge(all: readonly string[], isolated: readonly string[]): Grudge {
  const rest = all.filter((h) => !isolated.includes(h));
  return componentsGrudge(all, [rest, ...isolated.map((h) => [h])]);
}

/** Two halves (the first floor(n/2) hosts, the rest), cut from each other both ways. */
export function halvesGrudge(hosts: readonly string[]): Grudge {
  const mid = Math.floor(hosts.length / 2);
  return componentsGrudge(hosts, [hosts.slice(0, mid), hosts.slice(mid)]);
}

/**
 * Two majorities sharing one host: `[0..m]` and `[m..n-1]`, m = floor(n/2) (3 hosts: a-b and
 * b-c; 5: a-b-c and c-d-e). The bridge host sees everyone; the others each see a majority
 * (for odd n) that the other side's hosts do not.
 */
export function bridgeGrudge(hosts: readonly string[]): Grudge {
  if (hosts.length < 3) throw new Error(`a bridge needs at least 3 hosts, got ${hosts.length}`);
  const m = Math.floor(hosts.length / 2);
  return componentsGrudge(hosts, [hosts.slice(0, m + 1), hosts.slice(m)]);
}

/**
 * Majorities ring: the hosts on a ring, each connected (both ways) only to those within ring
 * distance d, d the smallest with 2d + 1 >= a majority; each host sees a majority, no two the
 * same one. Needs 5 hosts or more (with 3 or 4 every host would see all: use bridge).
 */
export function ringGrudge(hosts: readonly string[]): Grudge {
  const n = hosts.length;
  if (n < 5) throw new Error(`a ring partition needs at least 5 hosts, got ${n} (with 3 use bridge)`);
  const majority = Math.floor(n / 2) + 1;
  const d = Math.ceil((majority - 1) / 2);
  const g: Grudge = new Map();
  hosts.forEach((a, i) => hosts.forEach((b, j) => {
    const dist = Math.min(Math.abs(i - j), n - Math.abs(i - j));
    if (dist > d) cut(g, [b], [a]);
  }));
  return g;
}

/** Packets from every host of `froms` to every host of `tos` dropped; the other direction passes. */
export function oneWayGrudge(froms: readonly string[], tos: readonly string[]): Grudge {
  const g: Grudge = new Map();
  cut(g, froms, tos);
  return g;
}

/** Which hosts can send to which, for printing: "c1 -/-> g1n2" per cut, sorted. */
export function describeGrudge(g: Grudge): string[] {
  return [...g].flatMap(([to, froms]) => [...froms].map((from) => `${from} -/-> ${to}`)).sort();
}
