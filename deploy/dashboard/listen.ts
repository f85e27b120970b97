/** The dashboard's --listen flag (shardkv-dashboard, shardkv-local dashboard). */
import { UsageError, parseAddress, usage } from "../../common/cli-args";

/** Default --listen: loopback only (the dashboard has no authentication of its own). */
export const listenDefault = "127.0.0.1:7780";

/** A --listen value: host:port, port 0 meaning any free port. Throws UsageError. */
export function parseListen(field: string, s: string): string {
  const m = /^(.+):0$/.exec(s);
  if (m && !/[\s,=]/.test(m[1]!)) return s;
  try {
    return parseAddress(field, s);
  } catch (e) {
    if (e instanceof UsageError) throw usage(field, `want host:port (port 0: any free port), got ${JSON.stringify(s)}`);
    throw e;
  }
}
