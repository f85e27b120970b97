/**
 * Clients of the real client library (client/shardkv.ts) for real-process tests of a
 * LocalCluster (deploy/local/cluster.ts): connected to the cluster's controllers, and closed
 * together when the suite ends (`closeAll` in its afterAll).
 */
import { ShardKV } from "../../client/shardkv";
import type { LocalCluster } from "../../deploy/local/cluster";

export class ClusterClients {
  private readonly open: ShardKV[] = [];

  /** A client of `cluster`; `deadlineMs` bounds each operation, retries included (default 30 s). */
  async connect(cluster: LocalCluster, deadlineMs = 30_000): Promise<ShardKV> {
    const kv = await ShardKV.connect({ controllers: cluster.controllerAddrs(), deadlineMs });
    this.open.push(kv);
    return kv;
  }

  closeAll(): void {
    for (const kv of this.open.splice(0)) kv.close();
  }
}
