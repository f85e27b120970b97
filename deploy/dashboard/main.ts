/**
 * `shardkv-dashboard`: the live web dashboard of any shardkv cluster (docs/operations.md,
 * "Dashboard"). Polls the controllers, every replica's Status and the given metrics endpoints
 * about once a second and serves the page on --listen until SIGINT or SIGTERM. Prints its URL
 * on start. Errors are one line on stderr; exit status 2 for a bad command line, 3 when it
 * cannot start (the address in use, unreadable TLS files).
 */
import { UsageError, exitFailure, exitUsage } from "../../common/cli-args";
import { InvalidArgumentError } from "../../common/errors";
import { type Security, securityOf } from "../../security/credentials";
import { type DashboardArgs, parseDashboardArgs, usageText } from "./args";
import { startDashboard } from "./dashboard";

async function main(): Promise<number> {
  let args: DashboardArgs | "help";
  try {
    args = parseDashboardArgs(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`shardkv-dashboard: ${e.message} (--help for usage)\n`);
    return exitUsage;
  }
  if (args === "help") {
    process.stdout.write(`${usageText}\n`);
    return 0;
  }
  const a = args;
  let security: Security;
  try {
    security = securityOf(a.tls);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    process.stderr.write(`shardkv-dashboard: ${e.message}\n`);
    return exitFailure;
  }
  const metrics = a.metrics.map((m) => ({ metrics: m }));
  const dashboard = await startDashboard({
    source: { controllers: () => a.controllers, metricsTargets: () => metrics },
    security, listen: a.listen, intervalMs: a.intervalMs, historyMs: a.historyMs,
  });
  process.stdout.write(`dashboard: ${dashboard.url}\n(controllers ${a.controllers.join(",")}; ${a.metrics.length} metrics endpoints; Ctrl-C stops it)\n`);
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve());
  });
  await dashboard.stop();
  security.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`shardkv-dashboard: ${(e as Error).message.split("\n")[0]}\n`);
    process.exit(exitFailure);
  },
);
