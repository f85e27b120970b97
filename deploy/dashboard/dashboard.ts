/**
 * Starting and stopping a dashboard (poller + HTTP server), for its three callers:
 * `shardkv-dashboard` (deploy/dashboard/main.ts: any cluster, from flags),
 * `shardkv-local dashboard` and `npm start` (a local cluster, from its cluster.json:
 * localClusterSource).
 */
import type { NodeEntry } from "../local/layout";
import { readClusterFile } from "../local/layout";
import { identityTlsFiles } from "../local/certs";
import { resolve } from "node:path";
import type { TlsFiles } from "../../security/tls-files";
import type { Security } from "../../security/credentials";
import { type ClusterSource, DashboardPoller, type MetricsTarget } from "./poller";
import { type DashboardServer, startDashboardServer } from "./server";

export interface RunningDashboard {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts polling `source` and serving on `listen`; resolves once the first poll is done and it listens. */
export async function startDashboard(opts: {
  source: ClusterSource; security: Security; listen: string; intervalMs?: number; historyMs?: number;
}): Promise<RunningDashboard> {
  const poller = new DashboardPoller({
    source: opts.source, security: opts.security,
    ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}),
    ...(opts.historyMs !== undefined ? { historyMs: opts.historyMs } : {}),
  });
  let server: DashboardServer;
  try {
    server = await startDashboardServer(poller, opts.listen);
  } catch (e) {
    poller.stop();
    throw e;
  }
  try {
    await poller.start();
  } catch (e) {
    poller.stop();
    await server.close();
    throw e;
  }
  return {
    url: server.url,
    stop: async () => {
      poller.stop();
      await server.close();
    },
  };
}

/** A node of cluster.json with the metrics endpoint shardkv-local may record (`metrics`). */
type NodeWithMetrics = NodeEntry & { readonly metrics?: unknown };

/** The metrics endpoint of a cluster.json node, if it has one. */
const metricsOf = (n: NodeWithMetrics): string | undefined => (typeof n.metrics === "string" && n.metrics !== "" ? n.metrics : undefined);

/**
 * The cluster described by `<dir>/cluster.json`, re-read at every poll (a group added, a
 * replica replaced): its controllers, and every node's metrics endpoint when cluster.json
 * records one (`metrics`, beside `addr`).
 */
export function localClusterSource(dir: string): ClusterSource {
  const abs = resolve(dir);
  let last = readClusterFile(abs);
  if (!last) throw new Error(`no cluster in ${abs} (no cluster.json); start one with: shardkv-local up --dir ${dir}`);
  // A cluster.json being replaced is renamed into place (atomic); one that cannot be read
  // now (removed by hand) leaves the last one read in use.
  const layout = () => {
    try {
      last = readClusterFile(abs) ?? last;
    } catch {
      // keep the last one
    }
    return last!;
  };
  return {
    controllers: () => layout().controllers.map((n) => n.addr),
    metricsTargets: () => {
      const l = layout();
      const out: MetricsTarget[] = [];
      for (const n of l.controllers as NodeWithMetrics[]) {
        const m = metricsOf(n);
        if (m) out.push({ metrics: m, addr: n.addr, gid: 0 });
      }
      for (const g of l.groups) {
        for (const n of g.servers as NodeWithMetrics[]) {
          const m = metricsOf(n);
          if (m) out.push({ metrics: m, addr: n.addr, gid: g.gid });
        }
      }
      return out;
    },
  };
}

/** The admin identity's TLS files of the local cluster in `dir`; undefined for an insecure one. */
export function localAdminTls(dir: string): TlsFiles | undefined {
  const abs = resolve(dir);
  return readClusterFile(abs)?.tls === true ? identityTlsFiles(abs, "admin") : undefined;
}
