/**
 * Measures how long moving one large shard between groups takes, with real processes
 * (deploy/local/cluster.ts): 3 controllers, groups 1 and 2 (3 replicas each, 8 shards).
 * Group 1 joins; N MiB of 256 KiB values are written into shard 0 only (concurrency 8); group
 * 2 joins and shard 0 is moved to it. Reports the seconds from the change that gives shard 0
 * to group 2 until group 2's leader serves it with every key, and until every group 1 replica
 * holds 0 keys of it (GC), plus the peak RSS (VmHWM) of the receiving and sending leaders.
 *
 *   npx tsx test/perf/measure-shard-move.ts [--mb 100]
 *
 * Writes through the client library (client/shardkv.ts), 8 clients at once.
 *
 * Also reports the CPU the shard servers spent (user + system, from /proc/<pid>/stat) during
 * the write phase and from the move's start until the gc ended, per MiB moved, for the sending
 * and the receiving group: the cost of a move per MiB (docs/benchmarks.md).
 *
 *   --server-args="--migration-window 4"   flags appended to every shard server's command line
 *   --prof DIR                             every daemon writes a CPU profile into DIR (node
 *                                          --cpu-prof; the cluster is stopped with 60 s of grace)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GroupId } from "../../common/ids";
import { realClock } from "../../common/real-env";
import { shardOf } from "../../controller/shard-of";
import { LocalCluster, serverName, shardStateName } from "../../deploy/local/cluster";
import { ShardKV } from "../../client/shardkv";
import { exitUsage, flag, parseCommandLine, UsageError } from "../../common/cli-args";
import { waitFor } from "../lib/wait";

const SHARDS = 8;
const SHARD = 0;
const VALUE_BYTES = 256 * 1024;
const CONCURRENCY = 8;

const usageText = "usage: npx tsx test/perf/measure-shard-move.ts [--mb N] [--server-args=FLAGS] [--prof DIR]\n" +
  "  --mb N              MiB written into the moved shard (default 100)\n" +
  "  --server-args=FLAGS appended to every shard server's command line (split at spaces)\n" +
  "  --prof DIR          every daemon writes a CPU profile (node --cpu-prof) into DIR\n";

interface Args {
  readonly mb: number;
  readonly serverArgs: string[];
  readonly prof: string | undefined;
}

/** The command line; undefined for --help. Throws UsageError. */
function args(): Args | undefined {
  const cl = parseCommandLine(process.argv.slice(2), { mb: flag.int(1, 1_000_000), "server-args": flag.string(), prof: flag.nonEmpty() }, { positionals: 0 });
  if (cl.help) return undefined;
  const extra = cl.values["server-args"]?.trim();
  return { mb: cl.values.mb ?? 100, serverArgs: extra ? extra.split(/\s+/) : [], prof: cl.values.prof };
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat), 0 if unreadable. */
function cpuSeconds(pid: number | null | undefined): number {
  if (pid === null || pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / clockTicksPerSec;
  } catch {
    return 0;
  }
}

/** USER_HZ: 100 on Linux whatever the kernel's HZ. */
const clockTicksPerSec = 100;

/**
 * User + system CPU seconds of a process's threads so far, summed by thread name: "main" (the
 * event loop), "node" (the others of that name: libuv's pool, where RocksDB's reads and writes
 * run, and V8's workers), "rocksdb:low"/"rocksdb:high" (compactions, flushes).
 */
function threadCpuSeconds(pid: number | null | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (pid === null || pid === undefined) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      // The main thread (tid = pid) apart from the other threads named "node" (libuv's pool, V8's workers).
      const name = tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[0-9]+$/, "");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / clockTicksPerSec);
    }
  } catch {
    // gone
  }
  return out;
}

const log = (m: string) => process.stderr.write(`[measure] ${m}\n`);
const g = (n: number) => n as GroupId;

/** VmHWM of a process in MiB, or undefined if unreadable. */
function peakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  let a: Args | undefined;
  try {
    a = args();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`measure-shard-move: ${e.message} (--help for usage)\n`);
    process.exitCode = exitUsage;
    return;
  }
  if (a === undefined) {
    process.stdout.write(usageText);
    return;
  }
  const mb = a.mb;
  const keyCount = Math.ceil((mb * 1024 * 1024) / VALUE_BYTES);
  const keys: string[] = [];
  for (let i = 0; keys.length < keyCount; i++) {
    const k = `big-${i}`;
    if (shardOf(k, SHARDS) === SHARD) keys.push(k);
  }
  const dir = mkdtempSync(join(tmpdir(), "shardkv-measure-"));
  log(`dir ${dir}; ${mb} MiB = ${keyCount} keys of ${VALUE_BYTES} bytes into shard ${SHARD}`);
  const env = a.prof === undefined ? undefined : { SHARDKV_NODE_FLAGS: `--initial-old-space-size=256 --cpu-prof --cpu-prof-dir=${a.prof}` };
  const c = await LocalCluster.up({ dir, shards: SHARDS, groups: 2, join: false, tickMs: 50, serverArgs: a.serverArgs, ...(env ? { env } : {}) });
  const groupCpu = (gid: number): number => c.groupAddrs(gid).reduce((sum, _, i) => sum + cpuSeconds(c.node(serverName(gid, i + 1)).pid), 0);
  /** Per group, its servers' CPU seconds by thread name. */
  const groupThreads = (gid: number): Map<string, number> => {
    const sum = new Map<string, number>();
    c.groupAddrs(gid).forEach((_, i) => {
      for (const [k, v] of threadCpuSeconds(c.node(serverName(gid, i + 1)).pid)) sum.set(k, (sum.get(k) ?? 0) + v);
    });
    return sum;
  };
  let ok = false;
  try {
    const [addrs1, addrs2] = [c.groupAddrs(1), c.groupAddrs(2)];
    await c.controller().join(new Map([[g(1), addrs1]]));

    // Write phase.
    const cpuW0 = groupCpu(1);
    const tw = realClock.nowMs();
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      const kv = await ShardKV.connect({ controllers: c.controllerAddrs(), deadlineMs: 60000 });
      try {
        for (;;) {
          const i = next++;
          if (i >= keys.length) return;
          await kv.put(keys[i]!, `${i}:`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26))));
        }
      } finally {
        kv.close();
      }
    }));
    const writeS = (realClock.nowMs() - tw) / 1000;
    const writeCpuPerMiB = (groupCpu(1) - cpuW0) / mb;
    log(`wrote ${keyCount} keys in ${writeS.toFixed(1)}s`);
    const l1 = await c.waitLeader(1);
    const s1 = (await c.replicaStatus(serverName(1, l1)))!;
    log(`group 1 leader n${l1}: shard ${SHARD} keys=${s1.shards[SHARD]!.keys} bytes=${s1.shards[SHARD]!.bytes}`);
    const senderPid = c.node(serverName(1, l1)).pid ?? undefined;
    const senderRssBefore = peakRssMiB(senderPid);

    // Join group 2 and let the shards it gets (empty unless shard 0) settle first.
    let t0 = realClock.nowMs();
    const joinNum = await c.controller().join(new Map([[g(2), addrs2]]));
    const joinCfg = await c.controller().query(joinNum);
    const joined = joinCfg.shards.map((gid, s) => (gid === 2 ? s : -1)).filter((s) => s >= 0);
    log(`join (config ${joinNum}) gives group 2 shards [${joined.join(",")}]`);
    let num = joinNum;
    let via = "join";
    if (!joined.includes(SHARD)) {
      await waitFor(async () => {
        const l2 = await c.waitLeader(2);
        const s2 = await c.replicaStatus(serverName(2, l2));
        if (!s2 || Number(s2.configNum) < joinNum) return false;
        if (!joined.every((s) => shardStateName(s2.shards[s]!.state) === "serving")) return false;
        for (const id of c.aliveIds(1)) {
          const s = await c.replicaStatus(serverName(1, id));
          if (!s || Number(s.configNum) < joinNum) return false;
          if (!joined.every((x) => shardStateName(s.shards[x]!.state) === "notOwned")) return false;
        }
        return true;
      }, { timeoutMs: 60000, what: "join's shard moves to settle", intervalMs: 100 });
      log(`join settled after ${((realClock.nowMs() - t0) / 1000).toFixed(2)}s; moving shard ${SHARD} to group 2`);
      t0 = realClock.nowMs();
      num = await c.controller().move(SHARD, g(2));
      via = "move";
    } else {
      // Make it explicit anyway (no change of ownership).
      num = await c.controller().move(SHARD, g(2));
    }
    log(`shard ${SHARD} assigned to group 2 by ${via} (config ${num})`);
    // The CPU of the move: from here to the end of gc (the join's moves, of empty shards, came before).
    const cpuM0 = [groupCpu(1), groupCpu(2)];
    const threads0 = [groupThreads(1), groupThreads(2)];
    // And by role: the sending leader, the receiving leader and the receiving followers (the
    // leaders as of the move's start; a change of leader during the move mixes the roles).
    const l2AtMove = await c.waitLeader(2);
    const roles: { readonly name: string; readonly servers: string[] }[] = [
      { name: "sender leader", servers: [serverName(1, l1)] },
      { name: "sender followers", servers: c.groupAddrs(1).map((_, i) => i + 1).filter((id) => id !== l1).map((id) => serverName(1, id)) },
      { name: "receiver leader", servers: [serverName(2, l2AtMove)] },
      { name: "receiver followers", servers: c.groupAddrs(2).map((_, i) => i + 1).filter((id) => id !== l2AtMove).map((id) => serverName(2, id)) },
    ];
    const roleThreads = (servers: readonly string[]): Map<string, number> => {
      const sum = new Map<string, number>();
      for (const s of servers) for (const [k, v] of threadCpuSeconds(c.node(s).pid)) sum.set(k, (sum.get(k) ?? 0) + v);
      return sum;
    };
    const roles0 = roles.map((r) => roleThreads(r.servers));

    let receiverPid: number | undefined;
    let maxReceiverRss = 0;
    const sampleReceiver = async (): Promise<number | undefined> => {
      const l2 = await c.waitLeader(2);
      receiverPid = c.node(serverName(2, l2)).pid ?? undefined;
      maxReceiverRss = Math.max(maxReceiverRss, peakRssMiB(receiverPid) ?? 0);
      return l2;
    };
    let pollLast = "";
    await waitFor(async () => {
      const l2 = await sampleReceiver();
      const s2 = l2 === undefined ? undefined : await c.replicaStatus(serverName(2, l2));
      if (!s2) return false;
      const st = s2.shards[SHARD]!;
      const line = `g2 n${l2} cfg=${s2.configNum} shard ${SHARD} ${shardStateName(st.state)} keys=${st.keys}`;
      if (line !== pollLast) log(`${((realClock.nowMs() - t0) / 1000).toFixed(2)}s ${line}`);
      pollLast = line;
      return Number(s2.configNum) >= num && shardStateName(st.state) === "serving" && Number(st.keys) === keyCount;
    }, { timeoutMs: 15 * 60000, what: `group 2 serving shard ${SHARD} with ${keyCount} keys`, intervalMs: 100 });
    const moveS = (realClock.nowMs() - t0) / 1000;
    log(`group 2 serves shard ${SHARD} after ${moveS.toFixed(2)}s`);

    await waitFor(async () => {
      await sampleReceiver();
      for (const id of c.aliveIds(1)) {
        const s = await c.replicaStatus(serverName(1, id));
        if (!s || Number(s.configNum) < num) return false;
        const st = s.shards[SHARD]!;
        if (Number(st.keys) !== 0 || shardStateName(st.state) !== "notOwned") return false;
      }
      return true;
    }, { timeoutMs: 15 * 60000, what: `every group 1 replica to hold 0 keys of shard ${SHARD}`, intervalMs: 100 });
    const gcS = (realClock.nowMs() - t0) / 1000;
    const [sendCpu, recvCpu] = [(groupCpu(1) - cpuM0[0]!) / mb, (groupCpu(2) - cpuM0[1]!) / mb];
    const perMiB = (now: Map<string, number>, before: Map<string, number>): string => {
      const by = [...now].map(([k, v]) => [k, (v - (before.get(k) ?? 0)) / mb] as const).filter(([, v]) => v >= 0.001).sort((x, y) => y[1] - x[1]);
      const total = by.reduce((t, [, v]) => t + v, 0);
      return `${total.toFixed(3)} (${by.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(", ")})`;
    };
    [1, 2].forEach((gid, i) => log(`group ${gid} CPU s/MiB of the move by thread: ${perMiB(groupThreads(gid), threads0[i]!)}`));
    roles.forEach((r, i) => log(`${r.name} (${r.servers.join(", ")}) CPU s/MiB of the move by thread: ${perMiB(roleThreads(r.servers), roles0[i]!)}`));
    await sampleReceiver();
    const senderRss = peakRssMiB(senderPid);
    const fmt = (x: number | undefined) => (x === undefined ? "n/a" : `${x.toFixed(0)}MiB`);
    log(`sender (g1 n${l1}) VmHWM before move ${fmt(senderRssBefore)}`);
    process.stdout.write(
      `size=${mb}MiB keys=${keyCount} write=${writeS.toFixed(1)}s assigned-by=${via} move=${moveS.toFixed(2)}s gc=${gcS.toFixed(2)}s ` +
      `peakRSS receiver(g2 leader)=${fmt(maxReceiverRss || undefined)} sender(g1 leader)=${fmt(senderRss)} ` +
      `cpu-s/MiB write=${writeCpuPerMiB.toFixed(3)} move=${(sendCpu + recvCpu).toFixed(3)} (sender ${sendCpu.toFixed(3)}, receiver ${recvCpu.toFixed(3)})\n`,
    );
    ok = true;
  } catch (e) {
    log(`FAILED: ${e instanceof Error ? e.message : String(e)}`);
    process.stderr.write(c.logTails(20) + "\n");
    process.exitCode = 1;
  } finally {
    await c.down(a.prof === undefined ? undefined : 60_000);
    if (ok) rmSync(dir, { recursive: true, force: true });
    else log(`logs kept in ${dir}`);
  }
}

await main();
