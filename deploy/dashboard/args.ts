/**
 * The command line of `shardkv-dashboard` (deploy/dashboard/main.ts), parsed strictly by the
 * rules of every shardkv command (common/cli-args.ts): a mistake is a UsageError of one line
 * naming the flag and what was sent.
 */
import { UsageError, addressListOrEnv, flag, parseCommandLine } from "../../common/cli-args";
import { clientTls, clientTlsFlags, clientTlsUsage } from "../../security/tls-flags";
import type { TlsFiles } from "../../security/tls-files";
import { listenDefault, parseListen } from "./listen";
import { historyMsDefault, intervalMsDefault } from "./poller";

export const usageText = `usage: shardkv-dashboard --controllers HOST:PORT,... [--listen ${listenDefault}]
                         [--metrics HOST:PORT,...] [--interval 1s] [--history 5m] [TLS flags]

Serves a live web page of the cluster: the shard map coloured by owning group and marked by
shard state, each group's replicas (role, term, applied index, lag), migrations in progress,
and ops/s and p99 per group (from the shard servers' /metrics) over the last minutes.

  --controllers LIST  the controller replicas (or $SHARDKV_CONTROLLERS)
  --listen HOST:PORT  where to serve the page (default ${listenDefault}; port 0: any free
                      port). No authentication: keep it on loopback or behind a proxy
  --metrics LIST      metrics endpoints (--metrics-listen of the daemons) to scrape; each
                      scrape's gid label says its group. Without: the charts say "no metrics"
  --interval D        time between polls (default ${intervalMsDefault / 1000}s)
  --history D         chart history kept in memory (default ${historyMsDefault / 60_000}m)
${clientTlsUsage}
                      (an admin identity: the dashboard reads every replica's Status)`;

const flags = {
  controllers: flag.addressList(),
  listen: flag.of(parseListen),
  metrics: flag.addressList(),
  interval: flag.duration({ maxMs: 60_000 }),
  history: flag.duration({ maxMs: 86_400_000 }),
  ...clientTlsFlags,
};

export interface DashboardArgs {
  readonly controllers: readonly string[];
  readonly listen: string;
  readonly metrics: readonly string[];
  readonly intervalMs: number;
  readonly historyMs: number;
  readonly tls: TlsFiles | undefined;
}

/** Parses argv (without node and the script); throws UsageError. */
export function parseDashboardArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): DashboardArgs | "help" {
  const cl = parseCommandLine(argv, flags, { positionals: 0, repeats: "refuse" });
  if (cl.help) return "help";
  const v = cl.values;
  const intervalMs = v.interval ?? intervalMsDefault;
  if (intervalMs < 100) throw new UsageError(`invalid --interval: at least 100ms, got ${intervalMs}ms`);
  return {
    controllers: addressListOrEnv(v.controllers, "--controllers", "SHARDKV_CONTROLLERS", env),
    listen: v.listen ?? listenDefault,
    metrics: v.metrics ?? [],
    intervalMs,
    historyMs: v.history ?? historyMsDefault,
    tls: clientTls(v, env),
  };
}

