/**
 * What each role may do (docs/design.md#942-what-each-role-may-do), over real processes: one
 * secure local cluster (deploy/local/cluster.ts LocalCluster with `tls`: its own CA, node,
 * admin and client certificates; one controller, two groups of one replica) and more
 * certificates issued from its CA (a client limited to "app/", a second node identity). The
 * attacks, each refused PERMISSION_DENIED at once with one line naming the identity and the
 * action, and each followed by a check that nothing changed: a client certificate joining a
 * group (the config stays), sending a Raft message at a far higher term into the group, as
 * does an admin certificate (the replica's term stays), pulling a shard and deleting one (its
 * keys stay); the client limited to "app/" writing "other/x" with the CLI (exit 3, absent
 * afterwards); a node certificate doing data operations. What nodes must do still works: a
 * shard moved by an admin is pulled and deleted between groups. Last, the same Raft message sent
 * with a node certificate does raise the term: what the earlier checks look at does change
 * when a message gets in.
 */
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { PermissionDeniedError } from "../../common/errors";
import { fromServiceError } from "../../common/grpc-errors";
import type { GroupId } from "../../common/ids";
import { realClock, wallClockMs } from "../../common/real-env";
import { ControllerClient } from "../../controller/client";
import { shardOf } from "../../controller/shard-of";
import { certsDirOf } from "../../deploy/local/certs";
import { LocalCluster } from "../../deploy/local/cluster";
import { shardkv as raftpb } from "../../proto/gen/raft.js";
import { raftTransportService } from "../../proto/gen/raft-grpc";
import { shardKVService } from "../../proto/gen/shardkv-grpc";
import { issue } from "../../security/authority";
import { Security } from "../../security/credentials";
import type { Role } from "../../security/identity";
import { TlsSource, type TlsFiles } from "../../security/tls-files";
import { runShardctl, runShardkv } from "../lib/run-cli";
import { waitFor } from "../lib/wait";

const shards = 4;

describe("roles over real processes (a secure local cluster)", () => {
  let dir: string;
  let c: LocalCluster;
  let failed = false;
  const securities: Security[] = [];
  const grpcClients: grpc.Client[] = [];
  const files = new Map<string, TlsFiles>();

  /** Issues a certificate from the cluster's CA into <dir>/certs/<name>. */
  async function issueFrom(role: Role, name: string, prefix?: string): Promise<TlsFiles> {
    const outDir = join(certsDirOf(dir), name);
    const r = await issue({
      caDir: join(certsDirOf(dir), "ca"), outDir, role, name, addrs: role === "node" ? ["127.0.0.1", "localhost"] : [], days: 2,
      ...(prefix !== undefined ? { prefix: Buffer.from(prefix) } : {}),
    });
    return { ca: join(outDir, "ca.crt"), cert: r.certFile, key: r.keyFile };
  }

  function security(who: string): Security {
    const s = Security.tls(new TlsSource(files.get(who)!, { reloadIntervalMs: 0 }));
    securities.push(s);
    return s;
  }

  function rawClient(address: string, who: string): grpc.Client {
    const cl = new grpc.Client(address, security(who).channelCredentials());
    grpcClients.push(cl);
    return cl;
  }

  /** The CLIs' environment for identity `who`. */
  function envOf(who: string): string[] {
    const f = files.get(who)!;
    return ["--controllers", c.controllerAddrs().join(","), "--tls-ca", f.ca, "--tls-cert", f.cert, "--tls-key", f.key];
  }

  /** Sends one Raft heartbeat at term 1000 into replica 1 of group 1, as `who`; the call's outcome. */
  function sendRaft(who: string): Promise<grpc.ServiceError | undefined> {
    const m = raftTransportService.send;
    const cl = rawClient(c.groupAddrs(1)[0]!, who);
    return new Promise((resolve) => {
      const s = cl.makeClientStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, new grpc.Metadata(), { deadline: wallClockMs() + 10_000 },
        (e) => resolve(e ?? undefined));
      s.write({ group: 1, from: 2, to: 1, messages: [{ type: raftpb.raft.MessageType.MSG_HEARTBEAT, from: 2, to: 1, term: 1000 }] });
      s.end();
    });
  }

  async function replicaTerm(): Promise<number> {
    const st = await c.serverStatus(c.groupAddrs(1)[0]!, 2000);
    return Number(st.term);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "shardkv-authz-"));
    c = await LocalCluster.up({ dir, tls: true, controllers: 1, groups: 2, replicas: 1, shards, tickMs: 50 });
    files.set("admin", c.tlsFiles("admin")!);
    files.set("client", c.tlsFiles("client")!);
    files.set("app2", await issueFrom("client", "app2", "app/"));
    files.set("intruder", await issueFrom("node", "intruder"));
    const put = await runShardkv([...envOf("admin"), "put", "seed", "1"]);
    expect(put.code, put.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    for (const cl of grpcClients) cl.close();
    for (const s of securities) s.close();
    await c?.down();
    if (failed) console.log(`kept ${dir} for its logs`);
    else rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /** Runs `fn` and checks it was quick: refused at once, not retried until a deadline. */
  async function quickly<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = realClock.nowMs();
    const r = await fn();
    expect(realClock.nowMs() - t0).toBeLessThan(8000);
    return r;
  }

  it("a client certificate may not Join: one line, exit 3, the config unchanged", async () => {
    onTestFailed(() => void (failed = true));
    const before = await c.controller().query();
    const admin = new ControllerClient({ controllers: c.controllerAddrs(), security: security("client"), deadlineMs: 10_000 });
    try {
      const err = await quickly(() => admin.join(new Map([[9 as GroupId, ["127.0.0.1:1"]]]), { force: true }).then(() => undefined, (e: unknown) => e));
      expect(err).toBeInstanceOf(PermissionDeniedError);
      expect((err as Error).message).toBe('permission denied: client "client" may not Join (admin only)');
    } finally {
      admin.close();
    }
    const cli = await quickly(() => runShardctl([...envOf("client"), "join", "9=127.0.0.1:1", "--force"]));
    expect(cli.code).toBe(3);
    // --force skips the check of the group's servers (and says so in a warning line first).
    expect(cli.stderr.trimEnd().split("\n").at(-1)).toBe('shardctl: permission denied: client "client" may not Join (admin only)');
    const after = await c.controller().query();
    expect(after.num).toBe(before.num);
    expect([...after.groups.keys()]).toEqual([...before.groups.keys()]);
  });

  it("client and admin certificates may not send Raft messages: the replica's term stays", async () => {
    onTestFailed(() => void (failed = true));
    const term = await replicaTerm();
    for (const [who, name] of [["client", 'client "client"'], ["admin", 'admin "admin"']] as const) {
      const e = await quickly(() => sendRaft(who));
      expect(e?.code, who).toBe(grpc.status.PERMISSION_DENIED);
      expect(fromServiceError(e).message).toBe(`permission denied: ${name} may not Send (node only)`);
    }
    expect(await replicaTerm()).toBe(term);
    expect(term).toBeLessThan(1000);
  });

  it("a client certificate may not pull or delete a shard: its keys stay", async () => {
    onTestFailed(() => void (failed = true));
    const shard = shardOf(Buffer.from("seed"), shards);
    const config = await c.controller().query();
    const num = config.num;
    const owner = c.groupAddrs(config.shards[shard]!)[0]!;
    const cl = rawClient(owner, "client");
    const pull = await new Promise<grpc.ServiceError | undefined>((resolve) => {
      const m = shardKVService.pullShard;
      const s = cl.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, { configNum: num, shard }, new grpc.Metadata(), { deadline: wallClockMs() + 10_000 });
      const chunks: unknown[] = [];
      s.on("data", (d) => chunks.push(d));
      s.on("error", (e: grpc.ServiceError) => resolve(e));
      s.on("end", () => resolve(undefined));
    });
    expect(pull?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(fromServiceError(pull).message).toBe('permission denied: client "client" may not PullShard (node only)');
    const del = await new Promise<grpc.ServiceError | null>((resolve) => {
      const m = shardKVService.deleteShard;
      cl.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, { configNum: num, shard }, new grpc.Metadata(), { deadline: wallClockMs() + 10_000 }, (e) => resolve(e));
    });
    expect(del?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(fromServiceError(del).message).toBe('permission denied: client "client" may not DeleteShard (node only)');
    const get = await runShardkv([...envOf("admin"), "get", "seed"]);
    expect(get.stdout).toBe("1\n");
    const st = await c.serverStatus(owner, 2000);
    expect(st.shards.find((s) => s.shard === shard)?.keys).toBe(1);
  });

  it("node certificates move a shard between groups (PullShard, DeleteShard): the key is served by its new group", async () => {
    onTestFailed(() => void (failed = true));
    const shard = shardOf(Buffer.from("seed"), shards);
    const from = (await c.controller().query()).shards[shard]!;
    const to = (from === 1 ? 2 : 1) as GroupId;
    await c.controller().move(shard, to);
    const keysAt = async (gid: number): Promise<number | undefined> => {
      const st = await c.serverStatus(c.groupAddrs(gid)[0]!, 2000);
      const sh = st.shards.find((x) => x.shard === shard);
      return sh === undefined ? undefined : Number(sh.keys);
    };
    // The new owner pulled it (PullShard) and the old one deleted its copy once told (DeleteShard).
    await waitFor(async () => (await keysAt(to)) === 1 && !((await keysAt(from)) ?? 0), { timeoutMs: 60_000, what: `shard ${shard} to move from group ${from} to ${to}` });
    expect((await runShardkv([...envOf("admin"), "get", "seed"])).stdout).toBe("1\n");
  });

  it("a client limited to app/ may not write other/x (exit 3, one line, not written) and may write app/x", async () => {
    onTestFailed(() => void (failed = true));
    const refused = await quickly(() => runShardkv([...envOf("app2"), "put", "other/x", "v"]));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toBe('shardkv: permission denied: client "app2" may not write key "other/x" (its certificate allows keys starting with "app/" only)\n');
    const read = await quickly(() => runShardkv([...envOf("app2"), "get", "other/x"]));
    expect(read.code).toBe(3);
    expect(read.stderr).toMatch(/^shardkv: permission denied: client "app2" may not read key "other\/x" /);
    expect((await runShardkv([...envOf("app2"), "put", "app/x", "v"])).code).toBe(0);
    expect((await runShardkv([...envOf("admin"), "get", "other/x"])).code).toBe(1);
    expect((await runShardkv([...envOf("admin"), "get", "app/x"])).stdout).toBe("v\n");
  });

  it("a node certificate may not do data operations", async () => {
    onTestFailed(() => void (failed = true));
    const r = await quickly(() => runShardkv([...envOf("intruder"), "put", "seed", "2"]));
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('shardkv: permission denied: node "intruder" may not Batch (admins and clients only)\n');
    expect((await runShardkv([...envOf("admin"), "get", "seed"])).stdout).toBe("1\n");
  });

  it("the daemon logged the refusals, one line each", async () => {
    onTestFailed(() => void (failed = true));
    const log = [...c.nodesOf(1), ...c.nodesOf(2)].map((n) => c.logOf(n)).join("\n");
    // Readable lines (cluster.logOf): the refusal's message, then where the call came from.
    expect(log).toMatch(/ WARN g\dn\d t\d+ permission denied: client "client" may not Send \(node only\) peer=\S+/);
    expect(log).toMatch(/permission denied: client "app2" may not write key "other\/x"/);
  });

  it("(control) the same Raft message with a node certificate gets in: the term rises", async () => {
    onTestFailed(() => void (failed = true));
    expect(await sendRaft("intruder")).toBeUndefined();
    await waitFor(async () => (await replicaTerm()) >= 1000, { timeoutMs: 10_000, what: "the replica's term to reach 1000" });
  });
});
