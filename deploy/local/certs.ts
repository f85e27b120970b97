/**
 * The certificates of a local cluster, in `<dir>/certs/` (docs/operations.md, "Security"):
 *
 *   certs/ca/ca.crt, ca.key        the cluster CA (made by `up`; the key 0600, the directory 0700)
 *   certs/<node>/<node>.crt, .key  one node certificate per daemon (c1, g1n2), valid for the host
 *                                  of its address and localhost; with ca.crt (the daemon's --tls-dir)
 *   certs/admin/admin.*            an admin identity (shardctl, shardkv-local's own calls, `env`)
 *   certs/client/client.*          a client identity (data operations, no key prefix)
 *
 * Made with security/authority.ts, loaded only when certificates are made (it brings
 * @peculiar/x509).
 */
import { join } from "node:path";
import type { TlsFiles } from "../../security/tls-files";

/** The identities a local cluster issues besides its nodes. */
export type LocalIdentity = "admin" | "client";

/** How long the local cluster's CA and leaves are valid (days). */
const caDays = 3650;
const leafDays = 365;

/** `<dir>/certs`. */
export function certsDirOf(dir: string): string {
  return join(dir, "certs");
}

/** The directory of node `name`'s certificate (its --tls-dir). */
export function nodeTlsDirOf(dir: string, name: string): string {
  return join(certsDirOf(dir), name);
}

/** The TLS files of `who`. */
export function identityTlsFiles(dir: string, who: LocalIdentity): TlsFiles {
  const d = join(certsDirOf(dir), who);
  return { ca: join(d, "ca.crt"), cert: join(d, `${who}.crt`), key: join(d, `${who}.key`) };
}

/** Makes the cluster CA and the admin and client identities (the directory holds none yet). */
export async function makeClusterCa(dir: string): Promise<void> {
  const { initCa, issue } = await import("../../security/authority");
  const caDir = join(certsDirOf(dir), "ca");
  await initCa({ caDir, days: caDays, name: "shardkv local cluster CA" });
  for (const who of ["admin", "client"] as const) {
    await issue({ caDir, outDir: join(certsDirOf(dir), who), role: who, name: who, addrs: [], days: leafDays });
  }
}

/** Issues (or re-issues: a rotation) node `name`'s certificate for the host of `addr` and localhost. */
export async function issueNodeCert(dir: string, name: string, addr: string): Promise<void> {
  const { issue } = await import("../../security/authority");
  const host = addr.slice(0, addr.lastIndexOf(":")).replace(/^\[(.*)\]$/, "$1");
  const addrs = [...new Set([host, "localhost"])];
  await issue({ caDir: join(certsDirOf(dir), "ca"), outDir: nodeTlsDirOf(dir, name), role: "node", name, addrs, days: leafDays });
}
