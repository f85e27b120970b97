/**
 * Certificates for tests: a temporary directory with CAs made and leaves issued by the
 * production code (security/authority.ts), laid out as `shardctl certs` lays them out.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initCa, issue } from "../../security/authority";
import type { Role } from "../../security/identity";
import type { TlsFiles } from "../../security/tls-files";

export interface LeafOptions {
  readonly role: Role;
  readonly name: string;
  /** The CA directory's name under the root (default "ca"). */
  readonly ca?: string;
  /** The output directory's name under the root (default: the name). */
  readonly dir?: string;
  readonly addrs?: readonly string[];
  readonly prefix?: Uint8Array;
  readonly days?: number;
  /** Issue it as if now were this (ms since the epoch): an expired or not yet valid one. */
  readonly nowMs?: number;
}

export class TestPki {
  readonly root = mkdtempSync(join(tmpdir(), "shardkv-pki-"));

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** Makes CA `name` (a directory under the root); returns its ca.crt. */
  async ca(name = "ca"): Promise<string> {
    const r = await initCa({ caDir: this.path(name), days: 30, name: `test CA ${name}` });
    return r.certFile;
  }

  /** Issues a leaf; returns its files (the output directory's ca.crt, <name>.crt, <name>.key). */
  async leaf(o: LeafOptions): Promise<TlsFiles & { readonly serial: string }> {
    const outDir = this.path(o.dir ?? o.name);
    const r = await issue({
      caDir: this.path(o.ca ?? "ca"), outDir, role: o.role, name: o.name,
      addrs: o.addrs ?? (o.role === "node" ? ["127.0.0.1", "localhost"] : []), days: o.days ?? 2,
      ...(o.prefix !== undefined ? { prefix: o.prefix } : {}), ...(o.nowMs !== undefined ? { nowMs: o.nowMs } : {}),
    });
    return { ca: join(outDir, "ca.crt"), cert: r.certFile, key: r.keyFile, serial: r.cert.serialNumber };
  }

  /** Replaces `file` atomically with the concatenation of `sources` (a CA bundle). */
  writeBundle(file: string, sources: readonly string[]): void {
    writeFileSync(`${file}.tmp`, sources.map((s) => readFileSync(s, "utf8")).join(""));
    renameSync(`${file}.tmp`, file);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
