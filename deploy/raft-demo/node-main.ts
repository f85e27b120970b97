/**
 * One replica of the Raft demo as an OS process: RocksDB log store + RocksDB state machine +
 * gRPC transport, driven by RaftNode. The parent (deploy/raft-demo/cluster.ts) controls it
 * with JSON lines on stdin and reads JSON lines on stdout:
 *
 *   in:  {"req":1,"op":"propose","data":"x"}      out: {"req":1,"ok":true,"index":7}
 *        {"req":2,"op":"status"}                   out: {"req":2,"ok":true,"status":{...}}
 *        {"req":3,"op":"values"}                   out: {"req":3,"ok":true,"values":[[7,"x"],...]}
 *        {"req":4,"op":"transfer","to":2}
 *   errors: {"req":1,"ok":false,"code":"NotLeader","message":"...","leaderHint":2}
 *   events: {"event":"listening","port":1234}, {"event":"role","role":"leader","term":3,"leader":1}
 *
 * Usage: node --import tsx deploy/raft-demo/node-main.ts --id 1 --listen 127.0.0.1:7001
 *          --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data DIR
 */
import * as grpc from "@grpc/grpc-js";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { UsageError, exitUsage, flag, parseCommandLine, parsePeers, required } from "../../common/cli-args";
import { consoleLogger, realClock, realRng } from "../../common/real-env";
import { ShardKVError } from "../../common/errors";
import type { GroupId, NodeId } from "../../common/ids";
import { RaftNode } from "../../raft/node";
import { RocksLogStore } from "../../raft/storage/rocks-log-store";
import { GrpcTransport, RaftTransportServer, listen, raftGrpcServerOptions } from "../../raft/transport/grpc-transport";
import { RocksLogStateMachine } from "./log-state-machine";

interface NodeArgs {
  id: NodeId; listen: string; peers: Map<NodeId, string>; data: string; tickMs: number; snapshotEvery: number;
}

const flags = {
  id: flag.int(1, Number.MAX_SAFE_INTEGER),
  listen: flag.address(),
  peers: flag.string(),
  data: flag.nonEmpty(),
  "tick-ms": flag.int(1, 60_000),
  "snapshot-every": flag.int(1, 1e9),
};

/** Parses the command line (the parent writes it, so "help" is not offered); throws UsageError. */
function parseNodeArgs(argv: readonly string[]): NodeArgs {
  const cl = parseCommandLine(argv, flags, { positionals: 0, repeats: "refuse" });
  if (cl.help) throw new UsageError("no help: this process is started by deploy/raft-demo/cluster.ts");
  const v = cl.values;
  const id = required(v.id, "id") as NodeId;
  return {
    id, listen: required(v.listen, "listen"), peers: parsePeers("--peers", required(v.peers, "peers"), id), data: required(v.data, "data"),
    tickMs: v["tick-ms"] ?? 50, snapshotEvery: v["snapshot-every"] ?? 2000,
  };
}

const out = (obj: unknown) => process.stdout.write(JSON.stringify(obj) + "\n");

async function main(): Promise<void> {
  let a: NodeArgs;
  try {
    a = parseNodeArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`raft-demo node: ${e.message}\n`);
    process.exit(exitUsage);
  }
  const logger = consoleLogger(`raft-demo n${a.id}`);
  const storage = await RocksLogStore.open(join(a.data, "raft"));
  const sm = await RocksLogStateMachine.open(join(a.data, "sm"));
  const server = new grpc.Server(raftGrpcServerOptions);
  const tserver = new RaftTransportServer(server, { logger });
  const port = await listen(server, a.listen);
  const transport = new GrpcTransport({ group: 1 as GroupId, self: a.id, peers: a.peers, clock: realClock, rng: realRng, logger }, tserver);
  let lastRole = "";
  const node: RaftNode<number> = await RaftNode.start<number>(
    {
      group: 1 as GroupId,
      raft: { id: a.id, voters: [...a.peers.keys()] },
      tickMs: a.tickMs,
      snapshotEveryEntries: a.snapshotEvery,
      compactKeepEntries: Math.floor(a.snapshotEvery / 10),
      onReady: (rd) => {
        if (rd.softState) {
          const key = `${rd.softState.role}/${rd.softState.term}/${rd.softState.leader}`;
          if (key !== lastRole) {
            lastRole = key;
            out({ event: "role", ...rd.softState });
          }
        }
      },
    },
    { clock: realClock, rng: realRng, transport, storage, logger },
    sm,
  );
  out({ event: "listening", port, applied: node.status().applied });

  const fail = (req: number, e: unknown) => {
    const err = e as Error & { leaderHint?: number };
    out({ req, ok: false, code: e instanceof ShardKVError ? e.code : "Internal", message: err.message, leaderHint: err.leaderHint });
  };
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    let msg: { req: number; op: string; data?: string; to?: number };
    try {
      msg = JSON.parse(line);
    } catch {
      out({ ok: false, code: "InvalidArgument", message: `not JSON: ${line.slice(0, 80)}` });
      return;
    }
    const { req } = msg;
    switch (msg.op) {
      case "propose":
        node.propose(Buffer.from(msg.data ?? "")).then((index) => out({ req, ok: true, index }), (e) => fail(req, e));
        break;
      case "status":
        out({ req, ok: true, status: node.status() });
        break;
      case "values":
        sm.values().then((vs) => out({ req, ok: true, values: vs.map(([i, v]) => [i, v.toString()]) }), (e) => fail(req, e));
        break;
      case "read":
        node.readBarrier().then(() => out({ req, ok: true }), (e) => fail(req, e));
        break;
      case "transfer":
        node.transferLeader(msg.to as NodeId);
        out({ req, ok: true });
        break;
      default:
        out({ req, ok: false, code: "InvalidArgument", message: `unknown op ${JSON.stringify(msg.op)}` });
    }
  });
  const shutdown = async () => {
    await node.stop();
    await sm.close();
    server.forceShutdown();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown());
  process.on("SIGINT", () => void shutdown());
  rl.on("close", () => void shutdown());
}

main().catch((e) => {
  process.stderr.write(`raft-demo node failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
