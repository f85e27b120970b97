/**
 * Real processes: the etcd load generator (bench/etcd-load.ts) against a 3-member etcd cluster
 * (bench/etcd-cluster.ts) sends its whole load to etcd's leader, as shardkv's client sends to
 * its groups' leaders. `etcdLeader` names the member whose own metrics say it leads; given
 * every member's endpoint, a run of puts reaches that member only (each member's count of
 * served Put calls, etcd's `grpc_server_handled_total`); its JSON line has the client's CPU
 * per operation. Needs the etcd binary: Debian's etcd-server, installed with apt-get when
 * missing, as `npm run bench` does (the test fails saying why when it cannot be).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster, ensureEtcd } from "../../bench/etcd-cluster";
import { etcdLeader } from "../../bench/etcd-load";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The text of http://`addr`/metrics. */
function metrics(addr: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`http://${addr}/metrics`, { timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    }).on("error", reject).on("timeout", function (this: { destroy(e: Error): void }) {
      this.destroy(new Error(`GET http://${addr}/metrics timed out`));
    });
  });
}

/** A counter or gauge of the metrics text (0 when absent): the first line starting with `prefix`. */
function metric(text: string, prefix: string): number {
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

const putsServed = (text: string): number =>
  metric(text, 'grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV"');

describe("etcd load generator against a 3-member etcd cluster", () => {
  let dir: string;
  let cluster: EtcdCluster | undefined;

  beforeAll(async () => {
    ensureEtcd();
    dir = mkdtempSync(join(tmpdir(), "shardkv-bench-etcd-"));
    cluster = await EtcdCluster.start({ dir, members: 3 });
  });

  afterAll(async () => {
    await cluster?.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  });

  it("names the member that leads", async () => {
    const client = new Etcd3({ hosts: cluster!.endpoints.map((a) => `http://${a}`) });
    try {
      const leader = await etcdLeader(client);
      const leading = [];
      for (const addr of cluster!.endpoints) {
        if (metric(await metrics(addr), "etcd_server_is_leader ") === 1) leading.push(`http://${addr}`);
      }
      expect(leading).toEqual([leader.url]);
      expect(leader.name).toMatch(/^e[123]$/);
    } finally {
      client.close();
    }
  });

  it("sends every put to the leader, none to a follower, and reports its CPU per op", async () => {
    const client = new Etcd3({ hosts: cluster!.endpoints.map((a) => `http://${a}`) });
    let leaderUrl: string;
    try {
      leaderUrl = (await etcdLeader(client)).url;
    } finally {
      client.close();
    }
    const before = await Promise.all(cluster!.endpoints.map(async (a) => putsServed(await metrics(a))));
    const ops = 300;
    const r = spawnSync(process.execPath, [
      "--import", "tsx", join(root, "bench", "etcd-load.ts"), "--endpoints", cluster!.endpoints.join(","),
      "--workload", "put", "--concurrency", "8", "--keys", "50", "--ops", String(ops), "--json",
    ], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ops).toBe(ops);
    expect(j.errors.total).toBe(0);
    expect(j.clientCpuUsPerOp).toBeGreaterThan(0);
    const after = await Promise.all(cluster!.endpoints.map(async (a) => putsServed(await metrics(a))));
    const served = Object.fromEntries(cluster!.endpoints.map((a, i) => [`http://${a}`, after[i]! - before[i]!]));
    const expected = Object.fromEntries(cluster!.endpoints.map((a) => [`http://${a}`, `http://${a}` === leaderUrl ? ops : 0]));
    expect(served).toEqual(expected);
  });
});
