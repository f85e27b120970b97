/**
 * The TLS flags of every command line, parsed with common/cli-args.ts (the Security a daemon
 * builds from them: security/credentials.ts daemonSecurity; docs/design.md#94-secure-by-default):
 *
 * - daemons (shardkv-server, shardkv-controller): `--tls-dir DIR` (ca.crt, node.crt,
 *   node.key) or `--tls-ca`, `--tls-cert` and `--tls-key`; `--insecure` opts out. Given
 *   neither, a daemon refuses to start (secure by default, like CockroachDB).
 * - clients and CLIs (shardkv, shardctl, shardkv-failpoint): `--tls-ca`, `--tls-cert`,
 *   `--tls-key`, each else from $SHARDKV_TLS_CA, $SHARDKV_TLS_CERT, $SHARDKV_TLS_KEY;
 *   `--insecure` ignores the environment and connects without TLS. Given none, a client
 *   connects without TLS, which a secure cluster refuses at once with one line saying what
 *   to set.
 */
import { flag, usage } from "../common/cli-args";
import { type TlsFiles, TlsConfigError, clientTlsFiles, tlsEnv } from "./tls-files";

/** The TLS flags of a client or CLI. */
export const clientTlsFlags = {
  "tls-ca": flag.nonEmpty(),
  "tls-cert": flag.nonEmpty(),
  "tls-key": flag.nonEmpty(),
  insecure: flag.bool(),
};

/** The TLS flags of a daemon. */
export const daemonTlsFlags = { ...clientTlsFlags, "tls-dir": flag.nonEmpty() };

/** How a daemon secures its connections, as its command line says. */
export type DaemonTls =
  | { readonly insecure: true }
  /** A directory (its files found at start: security/tls-files.ts tlsFilesInDir) or the three files. */
  | { readonly insecure: false; readonly dir: string }
  | { readonly insecure: false; readonly files: TlsFiles };

export const daemonTlsUsage = `  --tls-dir DIR       mutual TLS with DIR/ca.crt, DIR/node.crt and DIR/node.key (as
                      shardctl certs issue node writes them); re-read when they change
  --tls-ca FILE, --tls-cert FILE, --tls-key FILE
                      the same three files named one by one (instead of --tls-dir)
  --insecure          no TLS and no authentication: anyone who reaches the port can read and
                      change everything; a daemon given neither this nor TLS files refuses to start`;

export const clientTlsUsage = `  --tls-ca FILE       CA certificate to verify the servers with (or $${tlsEnv.ca})
  --tls-cert FILE     this client's certificate (or $${tlsEnv.cert})
  --tls-key FILE      its key (or $${tlsEnv.key})
  --insecure          connect without TLS, ignoring $SHARDKV_TLS_*`;

type ClientTlsValues = { readonly "tls-ca"?: string; readonly "tls-cert"?: string; readonly "tls-key"?: string; readonly insecure?: true };

const three = ["tls-ca", "tls-cert", "tls-key"] as const;

/** A daemon's TLS flags as a setting; throws UsageError (one line) for none, a mix, or an incomplete set. */
export function daemonTls(v: ClientTlsValues & { readonly "tls-dir"?: string }): DaemonTls {
  const files = three.filter((k) => v[k] !== undefined);
  if (v.insecure === true) {
    const given = [...(v["tls-dir"] !== undefined ? ["--tls-dir"] : []), ...files.map((k) => `--${k}`)];
    if (given.length > 0) throw usage("--insecure", `cannot be combined with ${given.join(", ")}`);
    return { insecure: true };
  }
  if (v["tls-dir"] !== undefined) {
    if (files.length > 0) throw usage("--tls-dir", `give either --tls-dir or --tls-ca, --tls-cert and --tls-key, not both (also got --${files.join(", --")})`);
    return { insecure: false, dir: v["tls-dir"] };
  }
  if (files.length === 0) {
    throw usage("TLS settings", "none given: pass --tls-dir DIR (ca.crt, node.crt, node.key), or --tls-ca, --tls-cert and --tls-key; " +
      "or --insecure to run without TLS (anyone who reaches the port can then read and change everything)");
  }
  const missing = three.filter((k) => v[k] === undefined);
  if (missing.length > 0) throw usage(`--${missing[0]}`, `missing (--tls-ca, --tls-cert and --tls-key go together; or give --tls-dir)`);
  return { insecure: false, files: { ca: v["tls-ca"]!, cert: v["tls-cert"]!, key: v["tls-key"]! } };
}

/**
 * A client's TLS files from its flags, else $SHARDKV_TLS_*; undefined with --insecure or when
 * none is set. Throws UsageError for --insecure with TLS flags, or an incomplete set.
 */
export function clientTls(v: ClientTlsValues, env: Readonly<Record<string, string | undefined>>): TlsFiles | undefined {
  if (v.insecure === true) {
    const given = three.filter((k) => v[k] !== undefined);
    if (given.length > 0) throw usage("--insecure", `cannot be combined with --${given.join(", --")}`);
    return undefined;
  }
  try {
    return clientTlsFiles({ ca: v["tls-ca"], cert: v["tls-cert"], key: v["tls-key"] }, env);
  } catch (e) {
    if (e instanceof TlsConfigError) throw usage("TLS settings", e.message.replace(/^incomplete TLS settings: /, ""));
    throw e;
  }
}
